/**
 * Measure what needs no labels: the output's files, predict latency of both models, the size table
 * (each variant written in memory, reloaded and, with data, evaluated) and FLOPs per sample.
 */
import { ModelFormatError } from '../errors.js';
import type { FactorizedModel } from '../factorize/index.js';
import { buildModelFiles, modelFiles, type ModelFiles, type ModelJson, type StoredWeight } from '../io/index.js';
import { ONE_WEIGHT_AT_A_TIME_ABOVE } from '../io/layers-model.js';
import { elementCount, storedElementBytes } from '../io/model-json.js';
import { countFlops } from '../measure/flops.js';
import { decodedWeightBytes } from '../io/capacity.js';
import { measureBytes, medianPredictMs, type CountedBytes } from '../measure/latency.js';
import { keptAsStored, measureStoredVariants, measureVariant, restoreFiles, storeWeightAs, type EvaluationContext, type Storage } from '../measure/sizes.js';
import { writtenVariant, type FlopsReport, type SizeVariant, type SizeVariantName, type SpeedReport } from '../report/schema.js';
import type { tf } from '../tf.js';
import type { InputShapes } from '../train/tensors.js';
import type { Prepared } from './prepare.js';

export interface Measured {
  /** Weight bytes of the input as stored, and gzipped. */
  inputBytes: CountedBytes;
  /** The files to write: the low-rank output, quantized with --quantize. */
  written: ModelFiles;
  sizes: SizeVariant[];
  speed: SpeedReport[];
  flops: FlopsReport;
  measureMs: number;
}

export async function measure(run: Prepared, factorized: FactorizedModel, context: EvaluationContext | null): Promise<Measured> {
  const { options, stored, original, shapes } = run;
  run.emit({ status: 'stage', stage: 'measure', message: 'measuring size and speed' });
  const started = performance.now();
  const files = modelFiles(factorized.model, {
    originals: stored.weights,
    base: {
      ...(stored.json.generatedBy !== undefined ? { generatedBy: stored.json.generatedBy } : {}),
      ...(stored.json.trainingConfig ? { trainingConfig: stored.json.trainingConfig } : {}),
      ...(stored.json.userDefinedMetadata ? { userDefinedMetadata: stored.json.userDefinedMetadata } : {}),
    },
  });
  const speed = await latency(original, factorized.model, shapes, originalTooLargeToTime(stored.json));
  const { sizes, written, input: inputBytes } = await measureSizes(options.model, stored.json, stored.weights, files, options.quantize, (variant, f) => measureVariant(variant, f, context), {
    // Without data to evaluate, a large model's rows are counted weight by weight (no whole files).
    streamLarge: context === null,
    params: original.countParams(),
  });
  const flops = flopsOf(original, factorized.model, shapes);
  return { inputBytes, written, sizes, speed, flops, measureMs: performance.now() - started };
}

/** Decoded weight bytes above which the original is not timed (see originalTooLargeToTime). */
export const TIME_ORIGINAL_UP_TO = 256 * 2 ** 20;

/**
 * Why the original is not timed, or null when it is. Predicting makes XNNPACK pack a copy of every
 * Dense and convolution kernel, kept while the model lives; wasm's heap never shrinks, so timing holds
 * the weights twice for the rest of the run. A 100M-parameter model (382 MiB) then peaked at 2.8–3.2×
 * its weight bytes however the stages were ordered (timed first and rebuilt: 2.8×; the weights, their
 * packed copies and Node alone are 2.3×), against issue 11's 2.5× bound; untimed, 2.0×. So above
 * TIME_ORIGINAL_UP_TO of weights only the output is timed, and the report says why.
 */
export function originalTooLargeToTime(json: ModelJson): string | null {
  const bytes = decodedWeightBytes(json);
  if (bytes <= TIME_ORIGINAL_UP_TO) return null;
  const mib = (n: number): string => `${Math.round(n / 2 ** 20)} MiB`;
  return `the original has ${mib(bytes)} of weights, and timing it would keep a packed copy of each kernel beside them (models above ${mib(TIME_ORIGINAL_UP_TO)} are not timed)`;
}

/**
 * Median predict time of both models at batch 1 and 32, or of the output alone when `skipOriginal`
 * says why the original is not timed; none without fixed input sizes.
 */
async function latency(original: tf.LayersModel, output: tf.LayersModel, shapes: InputShapes | null, skipOriginal: string | null): Promise<SpeedReport[]> {
  const speed: SpeedReport[] = [];
  if (shapes === null) return speed;
  for (const batchSize of [1, 32]) {
    if (skipOriginal !== null) {
      const b = await medianPredictMs(output, shapes, batchSize);
      speed.push({ batchSize, runs: b.runs, originalMs: null, originalNotMeasured: skipOriginal, outputMs: b.ms });
      continue;
    }
    const a = await medianPredictMs(original, shapes, batchSize);
    const b = await medianPredictMs(output, shapes, batchSize);
    speed.push({ batchSize, runs: Math.min(a.runs, b.runs), originalMs: a.ms, outputMs: b.ms });
  }
  return speed;
}

function flopsOf(original: tf.LayersModel, output: tf.LayersModel, shapes: InputShapes | null): FlopsReport {
  const before = countFlops(original, shapes);
  const after = countFlops(output, shapes);
  const uncounted = [...before.uncounted, ...after.uncounted.filter((u) => !before.uncounted.some((b) => b.name === u.name))];
  return { original: before.flops, output: after.flops, uncountedLayers: uncounted };
}

const STORAGES: ReadonlyArray<[SizeVariantName, Storage]> = [
  ['float32', 'float32'],
  ['float16', 'float16'],
  ['uint8', 'uint8'],
];

/**
 * The size table: the original re-stored as float32, float16 and uint8, and the low-rank output as
 * computed and quantized, each written in memory and measured by `measureOne` (reloaded and evaluated,
 * or for a model that cannot run, its bytes only); and the input's own bytes as stored. With
 * `large.streamLarge`, a model above ONE_WEIGHT_AT_A_TIME_ABOVE has the original's rows counted
 * weight by weight in one pass instead (measureStoredVariants), `large.params` being its parameter
 * count. Returns the files of the variant to write (the low-rank output, quantized with --quantize).
 */
export async function measureSizes(
  modelPath: string,
  json: ModelJson,
  weights: readonly StoredWeight[],
  lowrank: ModelFiles,
  quantize: 'float16' | 'uint8' | undefined,
  measureOne: (variant: SizeVariantName, files: ModelFiles) => Promise<SizeVariant> | SizeVariant,
  large: { streamLarge: boolean; params: number },
): Promise<{ sizes: SizeVariant[]; written: ModelFiles; input: CountedBytes }> {
  const { weightsManifest: _, ...base } = json;
  const sizes: SizeVariant[] = [];
  let input: CountedBytes | null = null;
  // A large model whose rows need no reload (no data to evaluate, or a model that cannot run): its
  // rows are counted weight by weight, never as whole files (sizes from the manifest: reading a
  // large model's bytes means reading them from disk).
  const storedBytes = weights.reduce((sum, w) => sum + elementCount(w.entry.shape) * storedElementBytes(w.entry), 0);
  if (large.streamLarge && storedBytes > ONE_WEIGHT_AT_A_TIME_ABOVE) {
    const streamed = await measureStoredVariants(STORAGES, base, weights, large.params);
    for (const row of streamed.rows) if (row !== null) sizes.push(row);
    input = streamed.input;
  } else {
    for (const [variant, storage] of STORAGES) {
      const files = reencode(() => buildModelFiles(base, weights.map((w) => storeWeightAs(w, storage))));
      // A weight with Inf/NaN has no uint8 range: that row is left out rather than failing the run.
      if (files === null) continue;
      const row = await measureOne(variant, files);
      sizes.push(row);
      // The row's shards hold the stored bytes themselves: the input's count is the row's.
      if (weights.every((w) => keptAsStored(w.entry, storage))) input = { weightBytes: row.weightBytes, gzipBytes: row.gzipBytes };
    }
    input ??= await measureBytes((function* () {
      for (const w of weights) yield w.bytes;
    })());
  }
  sizes.push(await measureOne('lowrank', lowrank));
  let written = lowrank;
  for (const storage of ['float16', 'uint8'] as const) {
    const files = reencode(() => restoreFiles(lowrank, storage));
    if (files === null) {
      if (quantize === storage) throw new ModelFormatError(modelPath, `--quantize ${storage}: a weight has non-finite values, which ${storage} cannot hold (use float16 or no --quantize)`);
      continue;
    }
    sizes.push(await measureOne(writtenVariant(storage), files));
    if (quantize === storage) written = files;
  }
  return { sizes, written, input };
}

function reencode(build: () => ModelFiles): ModelFiles | null {
  try {
    return build();
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}
