/**
 * High-level model IO: `loadModel` (read + build a live tfjs model) and `saveModel` (a live model to a
 * standard model.json + shards folder, written atomically).
 */
import { tf } from '../tf.js';
import { VERSION } from '../version.js';
import { checkFinite, readModel, type LoadedModel, type StoredWeight } from './load.js';
import { checkWasmCapacity } from './capacity.js';
import { checkTopologySizes } from '../graph/check.js';
import { readTopology, walkLayers } from '../graph/topology.js';
import { matchWeightNames, type WeightRename } from './keras3.js';
import { collectWeights, topologyWeights, toLayersModel } from './layers-model.js';
import { buildModelFiles, modelFolderFiles, writeFolderAtomically, type ModelFiles } from './save.js';
import type { ModelJson } from './model-json.js';
import { UnsupportedLayerError } from '../errors.js';
import { classList, runSetup, unknownLayerClasses } from './setup.js';

export { readModel, type LoadedModel, type StoredWeight } from './load.js';
export { toLayersModel, collectWeights, decodeWeight } from './layers-model.js';
export { buildModelFiles, writeFolderAtomically, modelFolderFiles, checkOutputFree, SHARD_BYTES, type ModelFiles } from './save.js';
export type { ModelJson, WeightEntry } from './model-json.js';
export { runSetup, unknownLayerClasses, classList } from './setup.js';
export type { Change, ChangeKind, Conversion, WeightRename } from './keras3.js';

/** A model read from disk and built into a live tfjs model. */
export interface OpenedModel {
  stored: LoadedModel;
  model: tf.LayersModel;
}

/** How a model is read: NaN/Infinity allowed, and the user's --setup module that registers custom classes. */
export interface LoadOptions {
  allowNonfinite?: boolean;
  /** Run this module's setup(tf) first (see setup.ts); its classes are then known to tfjs. */
  setup?: string;
  /** What the caller wants the model for, named when its classes are missing ("evaluating"). */
  purpose?: string;
  /** The wasm heap's limit to check against (tests); by default the limit wasm32 addresses. */
  wasmHeapBytes?: number;
}

/** A model read and checked without building it: enough to plan, factorize and write. */
export interface ReadModel {
  stored: LoadedModel;
  /** Layer classes tfjs does not know (after --setup); empty when the model can be built. */
  unknownClasses: string[];
}

/**
 * Read model.json + shards and check everything that can be checked on the stored bytes and the
 * topology, without building a tfjs model: NaN/Infinity in the weights (unless `allowNonfinite`) and
 * the sizes layers declare. Runs --setup first, since reading asks tfjs which classes it knows.
 */
export async function readModelChecked(file: string, options: LoadOptions = {}): Promise<ReadModel> {
  if (options.setup !== undefined) await runSetup(options.setup);
  // On wasm, a model its heap cannot hold is refused from model.json alone, before anything is read.
  const onWasm = activeBackend() === 'wasm';
  const read = await readModel(file, onWasm ? { beforeWeights: (json) => checkWasmCapacity(file, json, options.wasmHeapBytes) } : {});
  if (options.allowNonfinite !== true) checkFinite(file, read.weights);
  checkTopologySizes(file, read.json.modelTopology, read.weights.map((w) => w.entry));
  const unknownClasses = unknownLayerClasses(file, read.json.modelTopology);
  if (options.setup !== undefined && unknownClasses.length > 0) {
    throw new UnsupportedLayerError(file, `--setup ${options.setup} did not register the layer class(es) ${classList(unknownClasses)} this model uses`);
  }
  return { stored: read, unknownClasses };
}

/** The one-line refusal for work that needs a running model of a model with classes tfjs lacks. */
export function needsClassesError(file: string, classes: readonly string[], what: string): UnsupportedLayerError {
  return new UnsupportedLayerError(
    file,
    `${what} needs a running model, and the layer class(es) ${classList(classes)} are not standard TF.js layers: give --setup <module>, a JS module exporting setup(tf) that registers them`,
  );
}

/**
 * Read model.json + shards and build the live model (uncompiled). Everything that can be checked on
 * the stored bytes and the topology is checked before tfjs allocates anything: NaN/Infinity in the
 * weights (unless `allowNonfinite`) and the sizes layers declare.
 */
export async function loadModel(file: string, options: LoadOptions = {}): Promise<OpenedModel> {
  const { stored: read, unknownClasses } = await readModelChecked(file, options);
  if (unknownClasses.length > 0) throw needsClassesError(file, unknownClasses, options.purpose ?? 'this command');
  return buildModel(file, read);
}

/** Build the live model of a model read by readModelChecked. */
export async function buildModel(file: string, read: LoadedModel): Promise<OpenedModel> {
  // Keras 3 names weights after the model (`sequential/dense/kernel`) or its own layout: ask tfjs
  // which weights the topology has and pair the manifest with them first.
  const stored = needsNameMatching(file, read)
    ? renameWeights(read, matchWeightNames(file, await topologyWeights(file, read.json.modelTopology), read.weights.map((w) => w.entry)))
    : read;
  return { stored, model: await toLayersModel(file, stored.json.modelTopology, stored.weights) };
}

/** The active backend's name, or undefined when none is ready yet. */
function activeBackend(): string | undefined {
  try {
    return tf.getBackend();
  } catch {
    return undefined;
  }
}

/**
 * Names need matching for a model that was in the Keras 3 form, or when a weight's name does not start
 * with a layer's name. Models tfjs wrote skip the extra build this takes.
 */
function needsNameMatching(file: string, stored: LoadedModel): boolean {
  if (stored.conversion.changes.length > 0) return true;
  const names = new Set(walkLayers(file, readTopology(file, stored.json.modelTopology)).flatMap((site) => site.path));
  return stored.weights.some((w) => w.entry.group !== 'optimizer' && !names.has(w.entry.name.split('/')[0] as string));
}

/** The stored model with manifest entries renamed to the topology's weight names. */
function renameWeights(stored: LoadedModel, renames: readonly WeightRename[]): LoadedModel {
  if (renames.length === 0) return stored;
  const to = new Map(renames.map((r) => [r.from, r.to]));
  const rename = <T extends { name: string }>(entry: T): T => {
    const name = to.get(entry.name);
    return name === undefined ? entry : { ...entry, name };
  };
  return {
    ...stored,
    json: { ...stored.json, weightsManifest: stored.json.weightsManifest.map((g) => ({ ...g, weights: g.weights.map(rename) })) },
    // A getter, not the bytes: a large model's weights are read on demand and must stay so.
    weights: stored.weights.map((w) => ({
      entry: rename(w.entry),
      get bytes(): Uint8Array {
        return w.bytes;
      },
    })),
    conversion: { ...stored.conversion, renames: [...renames] },
  };
}

export interface SaveModelOptions {
  /** Weights stored before; those whose values did not change keep their stored bytes (and quantization). */
  originals?: readonly StoredWeight[];
  /** Extra model.json fields to keep (trainingConfig, userDefinedMetadata, generatedBy). */
  base?: Partial<Omit<ModelJson, 'weightsManifest' | 'modelTopology'>>;
  /** Replace an existing non-empty folder. */
  force?: boolean;
}

/** The files `saveModel` would write, without writing them. */
export function modelFiles(model: tf.LayersModel, options: SaveModelOptions = {}): ModelFiles {
  const modelTopology = model.toJSON(null, false) as unknown as Record<string, unknown>;
  const weights = collectWeights(model, options.originals);
  return buildModelFiles(
    { ...options.base, format: 'layers-model', convertedBy: `lowrank ${VERSION}`, modelTopology },
    weights,
  );
}

/** Save a live model as a standard TF.js Layers model folder (model.json + group1-shardNofM.bin). */
export async function saveModel(model: tf.LayersModel, dir: string, options: SaveModelOptions = {}): Promise<ModelFiles> {
  const files = modelFiles(model, options);
  await writeFolderAtomically(dir, modelFolderFiles(files), options.force ?? false);
  return files;
}
