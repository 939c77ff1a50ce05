/**
 * The adapted model as a standard functional topology. Each adapted layer L becomes
 *
 *   x ─┬─ L (same weights, activation now linear) ─────────────┐
 *      └─ L_lora_a ─ L_lora_b [─ L_lora_scale (Rescaling)] ───── L_lora_add ─ L_lora_act (L's activation)
 *
 * so the activation applies to W·x + b + ΔW·x, as in the merged model, and everything that read L now
 * reads the last layer of its block. L keeps its name and weights, so the base's weights load into it
 * unchanged. A Sequential model is first written as the equivalent functional one (an InputLayer, then
 * each layer calling the previous). Only top-level layers are adapted.
 */
import { ModelFormatError } from '../errors.js';
import { INPUT_KEYS, without } from '../graph/keras-format.js';
import { freshName } from '../graph/rewrite.js';
import { LayerJsonSchema, type LayerJson } from '../graph/topology.js';
import type { AdapterLayers } from './layers.js';

/** A functional model config: `{name, layers, input_layers, output_layers}` plus whatever else it holds. */
interface FunctionalConfig extends Record<string, unknown> {
  layers: LayerJson[];
  output_layers: unknown[];
}

type NodeRef = [string, number, number, Record<string, unknown>];

/** The root model config, and how to put a changed one back into modelTopology. */
function root(file: string, modelTopology: Record<string, unknown>): { model: Record<string, unknown>; wrap(model: Record<string, unknown>): Record<string, unknown> } {
  const wrapped = modelTopology['model_config'] !== undefined && modelTopology['model_config'] !== null;
  const model = (wrapped ? modelTopology['model_config'] : modelTopology) as Record<string, unknown> | undefined;
  if (model === undefined || typeof model !== 'object' || typeof model['class_name'] !== 'string') {
    throw new ModelFormatError(file, 'modelTopology has no class_name: not a Keras model topology');
  }
  return { model, wrap: (next) => (wrapped ? { ...modelTopology, model_config: next } : next) };
}

function parseLayers(file: string, raw: unknown): LayerJson[] {
  if (!Array.isArray(raw)) throw new ModelFormatError(file, 'modelTopology has no layer list');
  return raw.map((layer, i) => {
    const parsed = LayerJsonSchema.safeParse(layer);
    if (!parsed.success) throw new ModelFormatError(file, `modelTopology layer ${i} is not {class_name, config: {name}}`);
    return parsed.data;
  });
}

/** The model as a functional config: unchanged when it is one, written out when it is Sequential. */
function functionalConfig(file: string, model: Record<string, unknown>): FunctionalConfig {
  const config = model['config'];
  if (model['class_name'] !== 'Sequential') {
    const c = config as Record<string, unknown>;
    return { ...c, layers: parseLayers(file, c['layers']), output_layers: (c['output_layers'] as unknown[]) ?? [] };
  }
  // Keras 2.2 Sequential stored the layer list directly as config.
  const layers = parseLayers(file, Array.isArray(config) ? config : (config as Record<string, unknown>)['layers']);
  const name = Array.isArray(config) ? 'sequential' : String((config as Record<string, unknown>)['name'] ?? 'sequential');
  const first = layers[0];
  if (first === undefined) throw new ModelFormatError(file, 'the Sequential model has no layers');
  const taken = new Set(layers.map((l) => l.config.name));
  let input: LayerJson;
  let rest: LayerJson[];
  if (first.class_name === 'InputLayer') {
    input = { ...first, name: first.config.name, inbound_nodes: [] };
    rest = layers.slice(1);
  } else {
    const batchShape = first.config['batch_input_shape'] ?? (Array.isArray(first.config['input_shape']) ? [null, ...(first.config['input_shape'] as unknown[])] : undefined);
    if (batchShape === undefined) throw new ModelFormatError(file, `the Sequential model's first layer ${first.config.name} states no batch_input_shape, so its input is unknown`);
    const inputName = freshName('input', taken);
    input = { class_name: 'InputLayer', name: inputName, config: { name: inputName, batch_input_shape: batchShape, dtype: first.config['dtype'] ?? 'float32', sparse: false }, inbound_nodes: [] };
    // An Embedding's input_dim is its vocabulary, not a statement about the model's input.
    const inputKeys = first.class_name === 'Embedding' ? INPUT_KEYS.filter((k) => k !== 'input_dim') : INPUT_KEYS;
    rest = [{ ...first, config: without(first.config, inputKeys) as LayerJson['config'] }, ...layers.slice(1)];
  }
  const chained: LayerJson[] = [input];
  for (const layer of rest) {
    const previous = chained[chained.length - 1] as LayerJson;
    chained.push({ ...layer, name: layer.config.name, inbound_nodes: [[[previous.config.name, 0, 0, {}]]] });
  }
  const last = chained[chained.length - 1] as LayerJson;
  return { name, layers: chained, input_layers: [[input.config.name, 0, 0]], output_layers: [[last.config.name, 0, 0]] };
}

/** Every layer name in the model's top level. */
export function topLevelNames(file: string, modelTopology: Record<string, unknown>): Set<string> {
  return new Set(functionalConfig(file, root(file, modelTopology).model).layers.map((l) => l.config.name));
}

/** How the adapted graph is laid out: with a Rescaling layer for scale ≠ 1 (training), or the scale folded into B. */
export interface GraphOptions {
  scaleLayer: boolean;
}

/**
 * The functional topology with an adapter branch beside each layer of `adapters` (by name). Names of
 * the new layers are taken from `taken`, which holds every name in the model.
 */
export function adaptedTopology(file: string, modelTopology: Record<string, unknown>, adapters: readonly AdapterLayers[], taken: Set<string>, options: GraphOptions): Record<string, unknown> {
  const { model, wrap } = root(file, modelTopology);
  const config = functionalConfig(file, model);
  const byName = new Map(adapters.map((a) => [a.layer.name, a]));
  // The layer that now stands for each adapted layer's output, named before any reference is rewritten.
  const outputs = new Map<string, { add: string; act: string | null; scale: string | null }>();
  for (const layer of config.layers) {
    const adapter = byName.get(layer.config.name);
    if (adapter === undefined) continue;
    const activation = activationOf(layer);
    const needsScale = options.scaleLayer && adapter.layer.scale !== 1;
    outputs.set(layer.config.name, {
      scale: needsScale ? freshName(`${layer.config.name}_lora_scale`, taken) : null,
      add: freshName(`${layer.config.name}_lora_add`, taken),
      act: activation === 'linear' ? null : freshName(`${layer.config.name}_lora_act`, taken),
    });
  }
  const finalName = (name: string): string => {
    const o = outputs.get(name);
    return o === undefined ? name : (o.act ?? o.add);
  };
  const layers: LayerJson[] = [];
  for (const original of config.layers) {
    const layer = { ...original, inbound_nodes: rewireNodes(original.inbound_nodes, finalName) };
    const adapter = byName.get(layer.config.name);
    const names = outputs.get(layer.config.name);
    if (adapter === undefined || names === undefined) {
      layers.push(layer);
      continue;
    }
    const nodes = layer.inbound_nodes ?? [];
    const activation = activationOf(layer);
    const call = (from: string): unknown[] => nodes.map((_, i) => [[from, i, 0, {}]]);
    const base = layer.class_name === 'Embedding' ? layer : { ...layer, config: { ...layer.config, activation: 'linear' } };
    layers.push(base);
    const aName = adapter.aJson.config.name;
    const bName = adapter.bJson.config.name;
    layers.push({ ...adapter.aJson, name: aName, inbound_nodes: nodes });
    layers.push({ ...adapter.bJson, name: bName, inbound_nodes: call(aName) });
    let branch = bName;
    if (names.scale !== null) {
      layers.push({ class_name: 'Rescaling', name: names.scale, config: { name: names.scale, scale: adapter.layer.scale, offset: 0, trainable: true }, inbound_nodes: call(bName) });
      branch = names.scale;
    }
    layers.push({ class_name: 'Add', name: names.add, config: { name: names.add, trainable: true }, inbound_nodes: nodes.map((_, i) => [[layer.config.name, i, 0, {}], [branch, i, 0, {}]]) });
    if (names.act !== null) layers.push({ class_name: 'Activation', name: names.act, config: { name: names.act, activation, trainable: true }, inbound_nodes: call(names.add) });
  }
  const outputLayers = config.output_layers.map((ref) => (Array.isArray(ref) && typeof ref[0] === 'string' ? [finalName(ref[0]), ...ref.slice(1)] : ref));
  const className = model['class_name'] === 'Sequential' ? 'Model' : model['class_name'];
  return wrap({ ...model, class_name: className, config: { ...config, layers, output_layers: outputLayers } });
}

/** The activation a layer applies after its kernel (Embedding: none). */
function activationOf(layer: LayerJson): string {
  const a = layer.config['activation'];
  return typeof a === 'string' && a !== '' ? a : 'linear';
}

/** inbound_nodes with every reference to a layer name replaced by `rename(name)`. */
function rewireNodes(nodes: unknown[] | undefined, rename: (name: string) => string): unknown[] | undefined {
  if (nodes === undefined) return undefined;
  return nodes.map((node) =>
    Array.isArray(node)
      ? node.map((ref) => (Array.isArray(ref) && typeof ref[0] === 'string' ? ([rename(ref[0]), ...ref.slice(1)] as unknown as NodeRef) : ref))
      : node,
  );
}
