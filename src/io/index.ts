/**
 * High-level model IO: `loadModel` (read + build a live tfjs model) and `saveModel` (a live model to a
 * standard model.json + shards folder, written atomically).
 */
import { tf } from '../tf.js';
import { VERSION } from '../version.js';
import { checkFinite, readModel, type LoadedModel, type StoredWeight } from './load.js';
import { checkTopologySizes } from '../graph/check.js';
import { collectWeights, toLayersModel } from './layers-model.js';
import { buildModelFiles, modelFolderFiles, writeFolderAtomically, type ModelFiles } from './save.js';
import type { ModelJson } from './model-json.js';

export { readModel, type LoadedModel, type StoredWeight } from './load.js';
export { toLayersModel, collectWeights, decodeWeight } from './layers-model.js';
export { buildModelFiles, writeFolderAtomically, modelFolderFiles, checkOutputFree, SHARD_BYTES, type ModelFiles } from './save.js';
export type { ModelJson, WeightEntry } from './model-json.js';

/** A model read from disk and built into a live tfjs model. */
export interface OpenedModel {
  stored: LoadedModel;
  model: tf.LayersModel;
}

/**
 * Read model.json + shards and build the live model (uncompiled). Everything that can be checked on
 * the stored bytes and the topology is checked before tfjs allocates anything: NaN/Infinity in the
 * weights (unless `allowNonfinite`) and the sizes layers declare.
 */
export async function loadModel(file: string, options: { allowNonfinite?: boolean } = {}): Promise<OpenedModel> {
  const stored = await readModel(file);
  if (options.allowNonfinite !== true) checkFinite(file, stored.weights);
  checkTopologySizes(file, stored.json.modelTopology, stored.weights.map((w) => w.entry));
  const model = await toLayersModel(file, stored.json.modelTopology, stored.weights);
  return { stored, model };
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
