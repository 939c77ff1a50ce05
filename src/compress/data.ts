/**
 * The run's data: the --data file read whole or streamed, the held-out part every model is measured
 * on (a split of it, or --validation-data), and the label checks against the model's outputs.
 */
import { DatasetError, UsageError } from '../errors.js';
import { readDataset, splitDataset } from '../data/dataset.js';
import { openStream, shouldStream, type BatchSource, type StreamedData } from '../data/stream.js';
import type { Dataset } from '../data/types.js';
import { checkLabels, readForMeasuring, readOptionsFor } from '../train/model-data.js';
import type { LossKind } from '../train/loss.js';
import type { InputShapes } from '../train/tensors.js';
import { DEFAULT_DISTILL } from './defaults.js';
import type { CompressOptions } from './options.js';

/** The data of a run: where it came from, what trains, and the held-out part that measures. */
export interface SplitData {
  file: string;
  /** Rows in the --data file. */
  samples: number;
  labelSize: number;
  train: Dataset | BatchSource;
  validation: Dataset;
  /** Check the labels against the model's outputs (every row, streamed or not). */
  checkLabels(loss: LossKind, classes: number): void;
}

/** The options readData reads (compress's, and adapt's, which share these flags). */
export type DataOptions = Pick<CompressOptions, 'data' | 'validationData' | 'validationSplit' | 'label' | 'labels' | 'validationLabels' | 'inputScale' | 'imageShape' | 'stream' | 'seed'>;

export async function readData(options: DataOptions, shapes: InputShapes): Promise<SplitData | undefined> {
  if (options.data === undefined) return undefined;
  // With data, the models are always evaluated on a held-out part: there must be one.
  if (options.validationSplit === 0 && options.validationData === undefined) {
    throw new DatasetError(options.data, '--validation-split 0 holds nothing out of it, so there would be nothing to measure the model on; give --validation-data, or a split above 0');
  }
  const base = readOptionsFor(shapes, options);
  const read = {
    ...base,
    ...(options.label !== undefined ? { label: options.label } : {}),
    ...(options.labels !== undefined ? { labels: options.labels } : {}),
  };
  const separate =
    options.validationData === undefined
      ? undefined
      : await readForMeasuring(options.validationData, { ...base, ...(options.validationLabels !== undefined ? { labels: options.validationLabels } : {}) }, options.label);
  const checkSeparate = (loss: LossKind, classes: number): void => {
    if (separate !== undefined) checkLabels(separate, loss, classes);
  };
  if (await shouldStream(options.data, options.stream)) {
    const streamed = await openStream(options.data, read, options.validationSplit, options.seed, separate);
    return {
      file: options.data,
      samples: streamed.samples,
      labelSize: streamed.labelSize,
      train: streamed.train,
      validation: streamed.validation,
      checkLabels: (loss, classes) => {
        checkStreamedLabels(options.data as string, streamed.labels, loss, classes);
        checkSeparate(loss, classes);
      },
    };
  }
  const all = await readDataset(options.data, read);
  const { train, validation } = separate === undefined ? splitDataset(all, options.validationSplit, options.seed) : { train: all, validation: separate };
  return {
    file: all.file,
    samples: all.count,
    labelSize: all.labelSize,
    train,
    validation,
    checkLabels: (loss, classes) => {
      checkLabels(all, loss, classes);
      checkSeparate(loss, classes);
    },
  };
}

/** The label checks of checkLabels, from the summary a streamed pass keeps. */
function checkStreamedLabels(file: string, labels: StreamedData['labels'], loss: LossKind, classes: number): void {
  if (labels === undefined || loss !== 'sparse-categorical-crossentropy') return;
  const bad = labels.fractionalLine ?? (labels.min < 0 ? labels.minLine : labels.max >= classes ? labels.maxLine : undefined);
  if (bad !== undefined) {
    const value = bad === labels.minLine ? labels.min : bad === labels.maxLine ? labels.max : 'a fraction';
    throw new DatasetError(file, `line ${bad}: label ${value} is not a class index of this model (0..${classes - 1})`);
  }
}

/** α of the objective: the user's --distill, else DEFAULT_DISTILL with labels and 1 (pure distillation) without. */
export function distillWeight(options: CompressOptions, data: SplitData): number {
  if (data.labelSize === 0) {
    if (options.distill !== undefined && options.distill < 1) {
      throw new UsageError(`--distill ${options.distill} mixes in a label loss, but ${data.file} has no labels (omit --distill: without labels lowrank learns the original model's outputs)`);
    }
    return 1;
  }
  return options.distill ?? DEFAULT_DISTILL;
}

