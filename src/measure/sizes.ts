/**
 * Size as users pay it: a model stored in several encodings (float32, float16, uint8 as tfjs-converter
 * writes them), each measured the same way: its model.json and shards built in memory exactly as they
 * would be written, reloaded from those bytes by tfjs, and evaluated on the held-out samples. Nothing
 * is estimated from parameter counts.
 */
import { buildModelFiles, decodeWeight, modelFolderFiles, SHARD_BYTES, toLayersModel, type ModelFiles, type ModelJson, type StoredWeight } from '../io/index.js';
import { elementCount, ModelJsonSchema, storedElementBytes, type WeightEntry } from '../io/model-json.js';
import { quantizeWeight } from '../io/quantize.js';
import { splitWeights } from '../io/load.js';
import type { tf } from '../tf.js';
import type { Dataset } from '../data/dataset.js';
import { evaluateModel } from '../train/evaluate.js';
import type { Loss } from '../train/loss.js';
import type { InputShapes } from '../train/tensors.js';
import { byteCounter, measureBytes, type ByteCounter, type CountedBytes } from './latency.js';
import type { SizeVariant, SizeVariantName } from '../report/schema.js';
export { writtenVariant } from '../report/schema.js';

/** An encoding for float weights. */
export type Storage = 'float32' | 'float16' | 'uint8';

const ELEMENT_BYTES: Record<Storage, number> = { float32: 4, float16: 2, uint8: 1 };

/**
 * Whether a weight stored as `entry` keeps its bytes as they are in `storage`: not a float, already
 * that width (float32), or already as narrow or narrower (a uint8 weight is not widened to float16).
 */
export function keptAsStored(entry: WeightEntry, storage: Storage): boolean {
  if (entry.dtype !== 'float32') return true;
  const current = entry.quantization === undefined ? 4 : storedElementBytes(entry);
  return storage === 'float32' ? current === 4 : current <= ELEMENT_BYTES[storage];
}

/**
 * One weight in `storage`. float32 decodes any quantized weight back to float32; float16 and uint8
 * quantize from the decoded values, but keep a weight already stored as narrow or narrower (see
 * keptAsStored). Integer and bool weights stay as stored.
 * Throws RangeError when a weight with non-finite values would have to become uint8.
 */
export function storeWeightAs(weight: StoredWeight, storage: Storage): StoredWeight {
  const { entry } = weight;
  if (keptAsStored(entry, storage)) return weight;
  const values = decodeWeight(weight) as Float32Array;
  const plain: WeightEntry = { ...entry };
  delete plain.quantization;
  if (storage === 'float32') return { entry: plain, bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
  return quantizeWeight({ entry: plain, values }, storage);
}

/** The weights of model files, split out of the shards by the manifest. */
export function weightsOf(files: ModelFiles): StoredWeight[] {
  const weights: StoredWeight[] = [];
  for (const group of files.modelJson.weightsManifest) {
    const parts = group.paths.map((p) => files.shards.get(p) ?? new Uint8Array(0));
    weights.push(...splitWeights(group.weights, Buffer.concat(parts)));
  }
  return weights;
}

/** The same model files with every float weight stored in `storage` (see storeWeightAs). */
export function restoreFiles(files: ModelFiles, storage: Storage): ModelFiles {
  const { weightsManifest: _, ...base } = files.modelJson;
  return buildModelFiles(base, weightsOf(files).map((w) => storeWeightAs(w, storage)));
}

/**
 * Load model files as tfjs would from disk: model.json parsed from the text that would be written,
 * weights from the shard bytes. `name` labels the model in errors.
 */
export async function loadModelFiles(files: ModelFiles, name: string): Promise<tf.LayersModel> {
  const text = modelFolderFiles(files).get('model.json') as string;
  const modelJson = ModelJsonSchema.parse(JSON.parse(text));
  return toLayersModel(name, modelJson.modelTopology, weightsOf({ modelJson, shards: files.shards }));
}

/** The held-out samples every variant is evaluated on, and the original's predictions on them. */
export interface EvaluationContext {
  loss: Loss;
  data: Dataset;
  shapes: InputShapes;
  reference: tf.Tensor;
}

/**
 * Measure one variant's bytes only, for a model lowrank cannot run (layer classes it lacks): no reload,
 * no evaluation; params are counted from the manifest.
 */
export async function measureVariantBytes(variant: SizeVariantName, files: ModelFiles): Promise<SizeVariant> {
  const { weightBytes, gzipBytes } = await measureBytes(files.shards.values());
  const modelJsonBytes = Buffer.byteLength(modelFolderFiles(files).get('model.json') as string);
  const params = files.modelJson.weightsManifest.flatMap((g) => g.weights).filter((w) => w.group !== 'optimizer').reduce((sum, w) => sum + elementCount(w.shape), 0);
  return { variant, params, weightBytes, totalBytes: weightBytes + modelJsonBytes, gzipBytes, metrics: null };
}

/**
 * Measure one variant: bytes of its files, then reload it from them and (with `context`) evaluate it.
 * The reload happens with or without data: it proves the bytes make a loadable model.
 */
export async function measureVariant(variant: SizeVariantName, files: ModelFiles, context: EvaluationContext | null): Promise<SizeVariant> {
  const { weightBytes, gzipBytes } = await measureBytes(files.shards.values());
  const modelJsonBytes = Buffer.byteLength(modelFolderFiles(files).get('model.json') as string);
  const model = await loadModelFiles(files, `${variant} variant`);
  try {
    let metrics: SizeVariant['metrics'] = null;
    if (context !== null) {
      const { metrics: m, predictions } = evaluateModel(model, context.loss, context.data, context.shapes, context.reference);
      predictions.dispose();
      metrics = m;
    }
    return { variant, params: model.countParams(), weightBytes, totalBytes: weightBytes + modelJsonBytes, gzipBytes, metrics };
  } finally {
    model.dispose();
  }
}

/**
 * The size rows of a stored model re-encoded in each of `storages`, for models too large to build
 * whole files of, and the bytes of the weights as stored (the input's size). One pass over the
 * weights: each is read once, encoded for every storage, and fed to one gzip stream per row, the
 * streams deflating at the same time in libuv's thread pool (gzip is most of this time on a large
 * model, and the rows are independent, so they take both cores). A stream whose bytes are the stored
 * ones (float32 of a float32 model: keptAsStored) gives the input's count too, instead of a second
 * deflate of the same bytes. model.json is laid out as buildModelFiles would write it; the files are
 * not reloaded (without data there is nothing to evaluate); `params` is the model's. A row is null
 * when a weight cannot be stored that way (non-finite values in uint8), as for the whole-file rows.
 */
export async function measureStoredVariants(
  variants: ReadonlyArray<readonly [SizeVariantName, Storage]>,
  base: Omit<ModelJson, 'weightsManifest'>,
  weights: readonly StoredWeight[],
  params: number,
): Promise<{ rows: Array<SizeVariant | null>; input: CountedBytes }> {
  const rows = variants.map(([variant, storage]) => ({ variant, storage, entries: [] as WeightEntry[], counter: byteCounter() as ByteCounter | null }));
  // The row whose bytes are the stored bytes, if any; otherwise the input gets a stream of its own.
  const asStored = rows.find((r) => weights.every((w) => keptAsStored(w.entry, r.storage)));
  const input = asStored === undefined ? byteCounter() : null;
  for (const weight of weights) {
    // Read once (a large model's bytes come from disk on every access: io/load.ts).
    const read: StoredWeight = { entry: weight.entry, bytes: weight.bytes };
    const writes: Array<Promise<void>> = input === null ? [] : [input.write(read.bytes)];
    for (const row of rows) {
      if (row.counter === null) continue;
      let stored: StoredWeight;
      try {
        stored = storeWeightAs(read, row.storage);
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        row.counter.abandon();
        row.counter = null;
        continue;
      }
      row.entries.push(stored.entry);
      writes.push(row.counter.write(stored.bytes));
    }
    await Promise.all(writes);
  }
  const counted = await Promise.all(rows.map((r) => r.counter?.end() ?? null));
  const out = rows.map((row, i): SizeVariant | null => {
    const bytes = counted[i];
    if (bytes === null || bytes === undefined) return null;
    const count = Math.max(1, Math.ceil(bytes.weightBytes / SHARD_BYTES));
    const paths = Array.from({ length: count }, (_, k) => `group1-shard${k + 1}of${count}.bin`);
    const modelJson = { ...base, weightsManifest: [{ paths, weights: row.entries }] };
    const totalBytes = bytes.weightBytes + Buffer.byteLength(JSON.stringify(modelJson));
    return { variant: row.variant, params, weightBytes: bytes.weightBytes, totalBytes, gzipBytes: bytes.gzipBytes, metrics: null };
  });
  const inputBytes = input !== null ? await input.end() : (counted[rows.indexOf(asStored as (typeof rows)[number])] as CountedBytes);
  return { rows: out, input: inputBytes };
}
