/**
 * The on-disk Keras topology (snake_case JSON) as lowrank reads and rewrites it. Kept apart from the
 * runtime tfjs objects, as tfjs-layers keeps keras_format/ apart: we rewrite JSON and let tfjs build it.
 */
import { z } from 'zod';
import { ModelFormatError } from '../errors.js';

/** One layer entry of a model config: `{class_name, config: {name, ...}, inbound_nodes?}`. */
export const LayerJsonSchema = z.looseObject({
  class_name: z.string().min(1),
  config: z.looseObject({ name: z.string().min(1) }),
  name: z.string().optional(),
  inbound_nodes: z.array(z.unknown()).optional(),
});
export type LayerJson = z.infer<typeof LayerJsonSchema>;

const ModelJsonTopologySchema = z.looseObject({
  class_name: z.string().min(1),
  config: z.union([z.array(z.unknown()), z.looseObject({ layers: z.array(z.unknown()) })]),
});

/** A model topology with its layer list, and how to put a changed list back into the original JSON. */
export interface Topology {
  /** 'Sequential', or 'Model'/'Functional' for functional graphs. */
  className: string;
  layers: LayerJson[];
  /** The whole modelTopology with `layers` substituted (the input is never mutated). */
  withLayers(layers: LayerJson[]): Record<string, unknown>;
}

export function isSequential(t: Topology): boolean {
  return t.className === 'Sequential';
}

/** Read the layer list out of a modelTopology (plain or wrapped in `model_config`). */
export function readTopology(file: string, modelTopology: Record<string, unknown>): Topology {
  const wrapped = modelTopology['model_config'] !== undefined && modelTopology['model_config'] !== null;
  const root = wrapped ? modelTopology['model_config'] : modelTopology;
  const parsed = ModelJsonTopologySchema.safeParse(root);
  if (!parsed.success) {
    throw new ModelFormatError(file, 'modelTopology has no class_name and config.layers: not a Keras model topology');
  }
  const model = parsed.data;
  // Keras 2.2 Sequential stored the layer list directly as config.
  const rawLayers = Array.isArray(model.config) ? model.config : model.config.layers;
  const layers = rawLayers.map((layer, i) => {
    const result = LayerJsonSchema.safeParse(layer);
    if (!result.success) throw new ModelFormatError(file, `modelTopology layer ${i} is not {class_name, config: {name}}`);
    return result.data;
  });
  const withLayers = (next: LayerJson[]): Record<string, unknown> => {
    const config = Array.isArray(model.config) ? next : { ...model.config, layers: next };
    const newModel = { ...model, config };
    return wrapped ? { ...modelTopology, model_config: newModel } : newModel;
  };
  return { className: model.class_name, layers, withLayers };
}

/** Layer classes that hold a model of their own (a Sequential or functional model used as a layer). */
const CONTAINER_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

export function isContainer(layer: LayerJson): boolean {
  return CONTAINER_CLASSES.has(layer.class_name);
}

/** A layer and where it sits: the names of the models around it, then its own. */
export interface LayerSite {
  path: string[];
  json: LayerJson;
}

/** Key of a site as plans and reports name it: `outer/inner/layer`, or just `layer` at the top. */
export function siteKey(path: readonly string[]): string {
  return path.join('/');
}

/** Every non-container layer of the topology, nested models included, in order. */
export function walkLayers(file: string, topology: Topology, prefix: string[] = []): LayerSite[] {
  const sites: LayerSite[] = [];
  for (const layer of topology.layers) {
    const path = [...prefix, layer.config.name];
    if (isContainer(layer)) sites.push(...walkLayers(file, readTopology(file, layer), path));
    else sites.push({ path, json: layer });
  }
  return sites;
}
