/**
 * Dataset readers: CSV/TSV, JSON Lines, JSON, NumPy .npy (npy.ts) and folders of images with one
 * subfolder per class (images.ts), each turned into flat Float32 feature and label arrays. Every
 * problem with the input is a DatasetError whose message names the line, column, record, field,
 * element or image, so the CLI can print it as one line.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { DatasetError, UsageError } from '../errors.js';
import { parseDelimited } from './csv.js';
import { IMAGE_EXTENSIONS, readImageFolder } from './images.js';
import { parseJson, parseJsonLines } from './json.js';
import { readNpyDataset } from './npy.js';
import { createRng } from './random.js';
import { describeReadError, type Dataset, type ReadDatasetOptions } from './types.js';

export { describeReadError, type Dataset, type ReadDatasetOptions } from './types.js';

/** Samples read from a file, stored row-major. */
/** File extensions readDataset understands; a folder is read as images, one subfolder per class. */
export const SUPPORTED_EXTENSIONS = ['.csv', '.tsv', '.json', '.jsonl', '.ndjson', '.npy'] as const;

/**
 * Reads a dataset, choosing the format by extension; a folder (whose name has none of these
 * extensions) is read as images with one subfolder per class.
 */
export async function readDataset(file: string, options: ReadDatasetOptions = {}): Promise<Dataset> {
  const scale = options.inputScale;
  if (scale !== undefined && !(Number.isFinite(scale) && scale > 0)) {
    throw new RangeError(`inputScale must be a finite number above 0, got ${scale}`);
  }
  const extension = extname(file).toLowerCase();
  const isFileFormat = (SUPPORTED_EXTENSIONS as readonly string[]).includes(extension);
  let isFolder = false;
  if (!isFileFormat) {
    try {
      isFolder = (await stat(file)).isDirectory();
    } catch (err) {
      // A path without an extension is most likely a folder of images that is not there.
      if (extension === '') {
        const reason = describeReadError(err);
        throw new DatasetError(file, `cannot read: ${reason === 'no such file' ? 'no such file or folder' : reason}`);
      }
    }
  }
  if (options.labels !== undefined && extension !== '.npy') {
    const where = isFolder ? 'an image folder takes its labels from its class subfolders' : 'CSV and JSON files hold their labels themselves (see --label)';
    throw new UsageError(`--labels is for .npy features only; ${where}`);
  }
  if (extension === '.npy') return readNpyDataset(file, options);
  if (isFolder) return readImageFolder(file, options);
  if (!isFileFormat) {
    const what = extension === '' ? 'file has no extension' : `unsupported extension "${extension}"`;
    const hint = (IMAGE_EXTENSIONS as readonly string[]).includes(extension) ? ' (for images, give the folder that holds one subfolder per class)' : '';
    throw new DatasetError(file, `${what}; supported: ${SUPPORTED_EXTENSIONS.join(', ')}, or a folder of images with one subfolder per class${hint}`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DatasetError(file, `cannot read file: ${describeReadError(err)}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte order mark
  switch (extension) {
    case '.csv':
      return parseDelimited(file, text, ',', options);
    case '.tsv':
      return parseDelimited(file, text, '\t', options);
    case '.jsonl':
    case '.ndjson':
      return parseJsonLines(file, text, options);
    default:
      return parseJson(file, text, options);
  }
}

/**
 * Splits `ds` into a training and a validation part by a seeded shuffle: the same seed always
 * picks the same validation samples. Each part keeps the file order of its samples.
 * `validationSplit` is the fraction held out, in [0, 1); above 0, heldOutCount says how many (a
 * DatasetError when the dataset is too small for the split). At 0 nothing is held out.
 */
export function splitDataset(
  ds: Dataset,
  validationSplit: number,
  seed: number,
): { train: Dataset; validation: Dataset } {
  if (!(validationSplit >= 0 && validationSplit < 1)) {
    throw new RangeError(`validationSplit must be in [0, 1), got ${validationSplit}`);
  }
  const n = ds.count;
  const validationCount = heldOutCount(ds.file, n, validationSplit);
  const order = createRng(seed).permutation(n);
  const trainIndices = order.slice(0, n - validationCount).sort();
  const validationIndices = order.slice(n - validationCount).sort();
  return { train: takeSamples(ds, trainIndices), validation: takeSamples(ds, validationIndices) };
}

/**
 * How many of the `count` samples of `file` a split of `validationSplit` holds out: round(count ·
 * split), at least one, and it must leave at least one to train on, so a split needs 2 samples or
 * more. A split that cannot is a DatasetError stating what would work. None at split 0. Streamed
 * files follow the same rule, under their cap.
 */
export function heldOutCount(file: string, count: number, validationSplit: number): number {
  if (!(validationSplit > 0)) return 0;
  const held = Math.max(1, Math.round(count * validationSplit));
  if (held < count) return held;
  if (count === 1) {
    throw new DatasetError(
      file,
      `only 1 sample: holding out part of the data for validation (--validation-split ${validationSplit}) needs at least 2 samples, one to train on and one to measure on; add samples, or measure on another file with --validation-data`,
    );
  }
  let needed = count + 1;
  while (Math.max(1, Math.round(needed * validationSplit)) >= needed) needed++;
  const digits = 10 ** (String(count).length + 1);
  const largest = Math.floor(((count - 1) / count) * digits) / digits;
  throw new DatasetError(
    file,
    `--validation-split ${validationSplit} would hold out all ${count} samples, leaving none to train on; use a split of at most ${largest}, or at least ${needed} samples`,
  );
}

/** A new dataset holding the samples at `indices`, in that order. */
function takeSamples(ds: Dataset, indices: Int32Array): Dataset {
  const { featureSize, labelSize } = ds;
  const x = new Float32Array(indices.length * featureSize);
  const y = ds.y === undefined ? undefined : new Float32Array(indices.length * labelSize);
  indices.forEach((sample, row) => {
    x.set(ds.x.subarray(sample * featureSize, (sample + 1) * featureSize), row * featureSize);
    if (y !== undefined && ds.y !== undefined) {
      y.set(ds.y.subarray(sample * labelSize, (sample + 1) * labelSize), row * labelSize);
    }
  });
  return { file: ds.file, count: indices.length, featureSize, x, y, labelSize, ...(ds.classNames ? { classNames: ds.classNames } : {}) };
}
