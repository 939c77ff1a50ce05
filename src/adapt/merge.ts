/**
 * `merge()`: an adapter and its base as one standard, stock-loadable Layers model.
 * - default: W + scale·A·B folded into each adapted kernel; the base's architecture, every other weight
 *   kept as stored (quantization included);
 * - keepAdapters: the functional model in which each adapted layer is Add(L-linear(x), B(A(x))) then L's
 *   activation, the scale folded into B, the base's weights in one shard group (as the base stores them)
 *   and the adapter's in a second, so several adapters can share one cached base.
 * Refused before anything is written: an adapter made for another base (the hashes differ), layers the
 * base lacks, shapes that do not fit.
 *
 * `loadAdapted()` builds the model adapt trained (scale through a Rescaling layer), for checking merges.
 */
import path from 'node:path';
import { z } from 'zod';
import { AdapterMismatchError, UsageError } from '../errors.js';
import { buildModel, checkOutputFree, collectWeights, needsClassesError, readModelChecked, writeFolderAtomically, type LoadedModel } from '../io/index.js';
import { modelFiles } from '../io/index.js';
import type { ModelJson, StoredWeight } from '../io/model-json.js';
import { BackendSchema, parseOptions } from '../options.js';
import { initBackend, tf } from '../tf.js';
import { VERSION } from '../version.js';
import { readAdapterFolder, type AdapterFolder } from './folder.js';
import { baseHash } from './format.js';
import { mergedKernel } from './layers.js';
import { buildAdaptedModel, float32Of, kernelOf, matchAdapters, type FactorValues } from './model.js';
import { resolveMergeOptions, type MergeInput } from './options.js';
import type { AdapterLayers } from './layers.js';
import { SHARD_BYTES } from '../io/save.js';

export interface MergeResult {
  /** Absolute paths of the files written. */
  files: string[];
  /** The base model's hash, which the adapter's matched. */
  baseHash: string;
  keepAdapters: boolean;
}

/** A base read and checked, with an adapter that fits it. */
interface Opened {
  stored: LoadedModel;
  base: tf.LayersModel;
  adapter: AdapterFolder;
  adapters: AdapterLayers[];
  values: Map<string, FactorValues>;
  hash: string;
}

const FirstSchema = z.object({
  model: z.string({ error: 'the model path must be a string' }).min(1, 'the model path is empty'),
  adapter: z.string({ error: 'the adapter folder must be a string' }).min(1, 'the adapter folder is empty'),
  backend: BackendSchema,
  allowNonfinite: z.boolean().default(false),
  setup: z.string().min(1, '--setup is empty').optional(),
});

/** Read the base and the adapter and check they belong together; the caller disposes `base`. */
async function open(input: z.input<typeof FirstSchema>, purpose: string): Promise<Opened> {
  const first = parseOptions(FirstSchema, input);
  await initBackend(first.backend);
  const read = await readModelChecked(first.model, { allowNonfinite: first.allowNonfinite, ...(first.setup !== undefined ? { setup: first.setup } : {}) });
  if (read.unknownClasses.length > 0) throw needsClassesError(first.model, read.unknownClasses, purpose);
  const hash = baseHash(read.stored.json.modelTopology, read.stored.weights);
  const adapter = await readAdapterFolder(first.adapter);
  if (adapter.json.base.hash !== hash) {
    throw new AdapterMismatchError(adapter.file, `was trained on another base model: it names ${adapter.json.base.hash} (${adapter.json.base.file}), but ${first.model} is ${hash}`);
  }
  const { stored, model: base } = await buildModel(first.model, read.stored);
  try {
    const adapters = matchAdapters(adapter.file, first.model, stored, base, adapter.json.layers, adapter.weights);
    const values = new Map<string, FactorValues>(
      adapters.map(({ layer }) => [layer.name, { a: float32Of(adapter.weights.get(layer.a.weight) as StoredWeight), b: float32Of(adapter.weights.get(layer.b.weight) as StoredWeight) }]),
    );
    return { stored, base, adapter, adapters, values, hash };
  } catch (err) {
    base.dispose();
    throw err;
  }
}

/** The base with the adapter applied as adapt trained it (scale through a Rescaling layer when ≠ 1). */
export async function loadAdapted(input: z.input<typeof FirstSchema>): Promise<tf.LayersModel> {
  const opened = await open(input, 'applying an adapter');
  try {
    return await buildAdaptedModel(input.model, opened.stored, opened.adapters, opened.values, { scaleLayer: true });
  } finally {
    opened.base.dispose();
  }
}

export async function merge(input: MergeInput & { signal?: AbortSignal }): Promise<MergeResult> {
  const options = resolveMergeOptions(input);
  const opened = await open(options, 'merging');
  const { stored, base, adapter, adapters, values, hash } = opened;
  try {
    const out = path.resolve(options.out);
    for (const inputPath of [options.model, adapter.file]) {
      if (path.resolve(inputPath).startsWith(out + path.sep)) throw new UsageError(`--out ${options.out} holds the input ${inputPath}; write the merged model somewhere else`);
    }
    await checkOutputFree(options.out, options.force);
    const extras: Partial<ModelJson> = {
      ...(stored.json.trainingConfig != null ? { trainingConfig: stored.json.trainingConfig } : {}),
      ...(stored.json.userDefinedMetadata !== undefined ? { userDefinedMetadata: stored.json.userDefinedMetadata } : {}),
    };
    const files = options.keepAdapters ? await keepAdapterFiles(options.model, stored, adapters, values, extras) : foldedFiles(base, stored, adapters, values, extras);
    const record = {
      tool: { name: 'lowrank', version: VERSION },
      createdAt: new Date().toISOString(),
      base: { file: options.model, hash },
      adapter: { file: adapter.file, layers: adapter.json.layers.map((l) => l.name), rank: adapter.json.rank, alpha: adapter.json.alpha },
      keepAdapters: options.keepAdapters,
    };
    files.set('merge.json', `${JSON.stringify(record, null, 2)}\n`);
    await writeFolderAtomically(options.out, files, options.force, input.signal);
    return { files: [...files.keys()].map((name) => path.resolve(options.out, name)), baseHash: hash, keepAdapters: options.keepAdapters };
  } finally {
    base.dispose();
  }
}

/** The base's architecture with W + scale·A·B in each adapted kernel; other weights kept as stored. */
function foldedFiles(base: tf.LayersModel, stored: LoadedModel, adapters: readonly AdapterLayers[], values: ReadonlyMap<string, FactorValues>, extras: Partial<ModelJson>): Map<string, Uint8Array | string> {
  for (const { layer } of adapters) {
    const kernel = kernelOf(base.getLayer(layer.name));
    const v = values.get(layer.name);
    if (kernel === undefined || v === undefined) throw new Error(`merge: ${layer.name} has no kernel or factors`);
    const merged = mergedKernel(layer, kernel.read(), v.a, v.b);
    kernel.write(merged);
    merged.dispose();
  }
  const files = modelFiles(base, { originals: stored.weights, base: extras });
  return folderOf(files.modelJson, files.shards);
}

/**
 * The functional model with the adapters as their own layers: the base's weights (as stored) in shard
 * group 1, laid out as the base lays them out when it stores one group, the factors in group 2.
 */
async function keepAdapterFiles(file: string, stored: LoadedModel, adapters: readonly AdapterLayers[], values: ReadonlyMap<string, FactorValues>, extras: Partial<ModelJson>): Promise<Map<string, Uint8Array | string>> {
  const model = await buildAdaptedModel(file, stored, adapters, values, { scaleLayer: false });
  try {
    const factorLayers = new Set(adapters.flatMap((a) => [a.aJson.config.name, a.bJson.config.name]));
    const weights = collectWeights(model, stored.weights);
    const isFactor = (w: StoredWeight): boolean => factorLayers.has(w.entry.name.slice(0, w.entry.name.lastIndexOf('/')));
    const groups = [weights.filter((w) => !isFactor(w)), weights.filter(isFactor)];
    const shards = new Map<string, Uint8Array>();
    const weightsManifest: ModelJson['weightsManifest'] = [];
    groups.forEach((group, g) => {
      const { paths, data } = shardGroup(group, g + 1);
      data.forEach((bytes, i) => shards.set(paths[i] as string, bytes));
      weightsManifest.push({ paths, weights: group.map((w) => w.entry) });
    });
    const modelJson: ModelJson = {
      ...extras,
      format: 'layers-model',
      convertedBy: `lowrank ${VERSION}`,
      modelTopology: model.toJSON(null, false) as unknown as Record<string, unknown>,
      weightsManifest,
    };
    return folderOf(modelJson, shards);
  } finally {
    model.dispose();
  }
}

/** One group's weights as tfjs lays them out: concatenated, cut into shards of at most SHARD_BYTES. */
function shardGroup(weights: readonly StoredWeight[], group: number): { paths: string[]; data: Uint8Array[] } {
  const total = weights.reduce((s, w) => s + w.bytes.byteLength, 0);
  const all = new Uint8Array(total);
  let offset = 0;
  for (const w of weights) {
    all.set(w.bytes, offset);
    offset += w.bytes.byteLength;
  }
  const count = Math.max(1, Math.ceil(total / SHARD_BYTES));
  const paths: string[] = [];
  const data: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    paths.push(`group${group}-shard${i + 1}of${count}.bin`);
    data.push(all.subarray(i * SHARD_BYTES, Math.min(total, (i + 1) * SHARD_BYTES)));
  }
  return { paths, data };
}

function folderOf(modelJson: ModelJson, shards: ReadonlyMap<string, Uint8Array>): Map<string, Uint8Array | string> {
  const files = new Map<string, Uint8Array | string>();
  files.set('model.json', JSON.stringify(modelJson));
  for (const [name, data] of shards) files.set(name, data);
  return files;
}
