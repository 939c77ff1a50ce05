/**
 * Keras 3 model.json → the Keras 2 form TF.js Layers reads.
 *
 * Since Keras 3 (TensorFlow 2.16+), `tensorflowjs_converter` writes topologies that stock tfjs 4.x
 * refuses: InputLayer `batch_shape` (tfjs#8328, #8358, #8489, #8494), call records instead of node
 * arrays ("Corrupted configuration, expected array for nodeData"), weight names prefixed with the
 * model's name (tfjs#8321), plus dtype policies, `module`/`registered_name`/`build_config` fields and
 * renamed options. Each rewrite below answers one of those differences (METHODS.md lists them) and is a
 * no-op on the form tfjs itself writes, so every model passes through here on load.
 *
 * Pure functions on JSON: they return a new topology and the list of what they changed, and throw a
 * LowrankError (exit 2) for what TF.js cannot express. Weight names are matched separately
 * (matchWeightNames), once tfjs has said which weights the topology has.
 */
import { z } from 'zod';
import { ModelFormatError, UnsupportedLayerError } from '../errors.js';
import type { WeightEntry } from './model-json.js';

type Json = Record<string, unknown>;

/** What kind of difference a change answered; the text renderer groups changes by kind and detail. */
export type ChangeKind =
  | 'input-shape'
  | 'dtype'
  | 'keras3-fields'
  | 'call-records'
  | 'call-arguments'
  | 'model-ends'
  | 'option'
  | 'activation'
  | 'initializer'
  | 'regularizer';

/** One rewrite of the topology: what changed, and in which layer (null: the model as a whole). */
export interface Change {
  kind: ChangeKind;
  layer: string | null;
  detail: string;
}

/** How tfjs's class registry answers for a class name: a layer, something else (initializer, ...), or unknown. */
export type ClassLookup = (className: string) => 'layer' | 'other' | undefined;

/** Everything reading a model rewrote: the topology's changes and the weights renamed to match it. */
export interface Conversion {
  changes: Change[];
  renames: WeightRename[];
}

export interface NormalizeOptions {
  /**
   * tfjs's registry (custom classes registered with tfjs included). With it, a Keras 3 model naming a
   * layer class, activation or initializer tfjs lacks is refused here, naming it; without it, tfjs says so
   * when it builds the model.
   */
  lookup?: ClassLookup;
}

export interface NormalizedTopology {
  topology: Json;
  /** Empty when the topology was already in the form tfjs reads. */
  changes: Change[];
}

/** Layer classes that hold a model of their own. */
const CONTAINERS = new Set(['Sequential', 'Model', 'Functional']);

/** Keras 3 fields of serialized objects that tfjs has no use for. */
const KERAS3_FIELDS = ['module', 'registered_name', 'build_config', 'compile_config'] as const;

interface Context {
  file: string;
  keras3: boolean;
  lookup: ClassLookup | undefined;
  changes: Change[];
  /** Serialized objects whose Keras 3 fields were removed (reported once, as a count). */
  stripped: number;
  compileConfig: boolean;
}

/**
 * Rewrite a modelTopology (plain or wrapped in `model_config`) into the form tfjs-layers reads, and
 * list what changed. The input is never mutated.
 */
export function normalizeTopology(file: string, modelTopology: Json, options: NormalizeOptions = {}): NormalizedTopology {
  const wrapped = isObject(modelTopology['model_config']);
  const root = (wrapped ? modelTopology['model_config'] : modelTopology) as Json;
  const ctx: Context = { file, keras3: looksLikeKeras3(modelTopology), lookup: options.lookup, changes: [], stripped: 0, compileConfig: false };
  const model = normalizeModel(ctx, root, null);
  if (ctx.stripped > 0) {
    ctx.changes.push({ kind: 'keras3-fields', layer: null, detail: `module, registered_name, build_config removed (${ctx.stripped} objects)` });
  }
  if (ctx.compileConfig) {
    ctx.changes.push({ kind: 'keras3-fields', layer: null, detail: 'compile_config removed (training settings tfjs does not read)' });
  }
  return { topology: wrapped ? { ...modelTopology, model_config: model } : model, changes: ctx.changes };
}

/**
 * True when the topology carries a mark only Keras 3 writes: keras_version 3.x, `registered_name`
 * fields, or `__keras_tensor__` call arguments. Only then are unknown classes refused here.
 */
export function looksLikeKeras3(modelTopology: Json): boolean {
  const version = modelTopology['keras_version'];
  if (typeof version === 'string' && /^3\./.test(version)) return true;
  const seen = (value: unknown): boolean => {
    if (Array.isArray(value)) return value.some(seen);
    if (!isObject(value)) return false;
    if ('registered_name' in value || value['class_name'] === '__keras_tensor__') return true;
    return Object.values(value).some(seen);
  };
  return seen(modelTopology);
}

// ---------------------------------------------------------------------------------------------------
// Models and layers

/** A model object `{class_name, config: {layers, ...}}`: the root, or a nested model used as a layer. */
function normalizeModel(ctx: Context, model: Json, layerName: string | null): Json {
  const out = stripKeras3Fields(ctx, model);
  const name = typeof (model['config'] as Json | undefined)?.['name'] === 'string' ? ((model['config'] as Json)['name'] as string) : layerName;
  // Class Functional stays: tfjs registers it (Keras 2.4+ writes it too).
  const config = model['config'];
  if (Array.isArray(config)) {
    // Keras 2.2 Sequential: the layer list is the config itself.
    out['config'] = config.map((layer) => normalizeLayer(ctx, layer));
    return out;
  }
  if (!isObject(config) || !Array.isArray(config['layers'])) return out; // readTopology names the problem
  const cfg: Json = { ...config };
  normalizeDtype(ctx, cfg, name);
  const rawLayers = config['layers'] as unknown[];
  const layers = rawLayers.map((layer) => normalizeLayer(ctx, layer));
  if (model['class_name'] === 'Sequential') sequentialInput(ctx, name, cfg, layers, rawLayers[0], model['build_config']);
  delete cfg['build_input_shape'];
  cfg['layers'] = layers;
  for (const key of ['input_layers', 'output_layers'] as const) {
    if (key in cfg) cfg[key] = normalizeEnds(ctx, name, key, cfg[key]);
  }
  out['config'] = cfg;
  return out;
}

function normalizeLayer(ctx: Context, entry: unknown): unknown {
  if (!isObject(entry) || typeof entry['class_name'] !== 'string' || !isObject(entry['config'])) return entry;
  const className = entry['class_name'];
  const config = entry['config'];
  const name = typeof config['name'] === 'string' ? config['name'] : typeof entry['name'] === 'string' ? entry['name'] : null;
  if (CONTAINERS.has(className)) {
    const out = normalizeModel(ctx, entry, name);
    if (Array.isArray(entry['inbound_nodes'])) out['inbound_nodes'] = convertNodes(ctx, name, entry['inbound_nodes']);
    return out;
  }
  refuseUnknownLayer(ctx, className, name, entry['registered_name']);
  const out = stripKeras3Fields(ctx, entry);
  out['config'] = normalizeLayerConfig(ctx, className, name, config);
  if (Array.isArray(entry['inbound_nodes'])) out['inbound_nodes'] = convertNodes(ctx, name, entry['inbound_nodes']);
  return out;
}

function refuseUnknownLayer(ctx: Context, className: string, layer: string | null, registeredName: unknown): void {
  if (!ctx.keras3 || ctx.lookup === undefined || ctx.lookup(className) === 'layer') return;
  const custom = typeof registeredName === 'string' && registeredName !== className;
  throw new UnsupportedLayerError(
    ctx.file,
    custom
      ? `layer "${layer ?? '?'}" is the custom class ${className} (registered as "${registeredName}"): TF.js cannot load it without its code`
      : `layer "${layer ?? '?'}" is a ${className}, a Keras 3 layer TF.js has no implementation of`,
  );
}

/** Remove `module`, `registered_name`, `build_config` and `compile_config`; the rest is copied. */
function stripKeras3Fields(ctx: Context, value: Json): Json {
  const out: Json = { ...value };
  let found = false;
  for (const key of KERAS3_FIELDS) {
    if (!(key in out)) continue;
    if (key === 'compile_config') ctx.compileConfig = true;
    else found = true;
    delete out[key];
  }
  if (found) ctx.stripped++;
  return out;
}

function note(ctx: Context, kind: ChangeKind, layer: string | null, detail: string): void {
  ctx.changes.push({ kind, layer, detail });
}

// ---------------------------------------------------------------------------------------------------
// Layer configs

function normalizeLayerConfig(ctx: Context, className: string, layer: string | null, config: Json): Json {
  const c: Json = { ...config };
  normalizeDtype(ctx, c, layer);
  if (className === 'InputLayer') inputLayerConfig(ctx, layer, c);
  for (const [key, value] of Object.entries(c)) {
    if (key.endsWith('_initializer') && isSerialized(value)) c[key] = initializer(ctx, layer, key, value);
    else if (key.endsWith('_regularizer') && isSerialized(value)) c[key] = regularizer(ctx, layer, key, value);
    else if (key.endsWith('_constraint') && isSerialized(value)) c[key] = stripKeras3Fields(ctx, value);
    else if (key === 'activation' || key === 'recurrent_activation') c[key] = activation(ctx, layer, key, value);
    // Wrappers (TimeDistributed, Bidirectional) and RNN cells hold whole layers.
    else if (key === 'layer' || key === 'backward_layer' || key === 'cell') c[key] = normalizeLayer(ctx, value);
    else if (key === 'cells' && Array.isArray(value)) c[key] = value.map((cell) => normalizeLayer(ctx, cell));
  }
  OPTION_RULES[className]?.(ctx, layer ?? '?', className, c);
  return c;
}

/** Keras 3 InputLayer: `batch_shape` (or `shape` + `batch_size`) for Keras 2's `batch_input_shape`. */
function inputLayerConfig(ctx: Context, layer: string | null, c: Json): void {
  if (c['batch_input_shape'] === undefined && Array.isArray(c['batch_shape'])) {
    c['batch_input_shape'] = c['batch_shape'];
    note(ctx, 'input-shape', layer, 'InputLayer batch_shape → batch_input_shape');
  } else if (c['batch_input_shape'] === undefined && Array.isArray(c['shape'])) {
    const batch = typeof c['batch_size'] === 'number' ? c['batch_size'] : null;
    c['batch_input_shape'] = [batch, ...c['shape']];
    note(ctx, 'input-shape', layer, 'InputLayer shape → batch_input_shape');
  }
  if (c['batch_input_shape'] !== undefined && ('batch_shape' in c || 'shape' in c)) {
    // tfjs refuses batch_size next to a batch shape; the shape fields are now redundant.
    delete c['batch_shape'];
    delete c['shape'];
    delete c['batch_size'];
  }
  for (const flag of ['sparse', 'ragged'] as const) {
    if (c[flag] === true) throw new UnsupportedLayerError(ctx.file, `layer "${layer ?? '?'}" (InputLayer) takes ${flag} tensors, which TF.js Layers models cannot`);
  }
}

/** A Sequential model whose shape is only in build_config gets it as the first layer's batch_input_shape. */
function sequentialInput(ctx: Context, model: string | null, cfg: Json, layers: unknown[], rawFirst: unknown, modelBuild: unknown): void {
  const first = layers[0];
  if (!isObject(first) || first['class_name'] === 'InputLayer' || !isObject(first['config'])) return;
  const config = first['config'];
  if (config['batch_input_shape'] !== undefined || config['input_shape'] !== undefined) return;
  const candidates: Array<[unknown, string]> = [
    [isObject(rawFirst) && isObject(rawFirst['build_config']) ? rawFirst['build_config']['input_shape'] : undefined, 'the first layer\'s build_config'],
    [cfg['build_input_shape'], 'the model\'s build_input_shape'],
    [isObject(modelBuild) ? modelBuild['input_shape'] : undefined, 'the model\'s build_config'],
  ];
  for (const [shape, from] of candidates) {
    if (!isShape(shape)) continue;
    first['config'] = { ...config, batch_input_shape: shape };
    note(ctx, 'input-shape', typeof config['name'] === 'string' ? config['name'] : model, `input shape [${shape.map(String).join(', ')}] from ${from} → batch_input_shape`);
    return;
  }
}

function isShape(value: unknown): value is Array<number | null> {
  return Array.isArray(value) && value.length >= 1 && value.every((d) => d === null || (typeof d === 'number' && Number.isSafeInteger(d) && d >= 0));
}

// dtype ------------------------------------------------------------------------------------------------

/** The dtypes tfjs tensors have. */
const TFJS_DTYPES = new Set(['float32', 'int32', 'bool', 'string', 'complex64']);

const DTypePolicySchema = z.looseObject({
  class_name: z.string(),
  config: z.looseObject({ name: z.string().optional(), mode: z.string().optional(), source_name: z.string().optional() }),
});

/** Keras 3 `dtype` (a DTypePolicy object, or a name tfjs has no tensors of) → a tfjs dtype name. */
function normalizeDtype(ctx: Context, c: Json, layer: string | null): void {
  const value = c['dtype'];
  if (value === undefined || (typeof value === 'string' && TFJS_DTYPES.has(value))) return;
  if (value === null) {
    delete c['dtype'];
    return;
  }
  if (typeof value === 'string') {
    const mapped = tfjsDtype(value);
    if (mapped === undefined) return; // tfjs names it when it builds the layer
    c['dtype'] = mapped.dtype;
    note(ctx, 'dtype', layer, `dtype "${value}" → "${mapped.dtype}"${mapped.why}`);
    return;
  }
  const policy = DTypePolicySchema.safeParse(value);
  if (!policy.success) throw new ModelFormatError(ctx.file, `layer "${layer ?? '?'}": dtype ${JSON.stringify(value).slice(0, 120)} is neither a dtype name nor a Keras DTypePolicy`);
  const { class_name: className, config } = policy.data;
  if (className.startsWith('Quantized') || config.mode !== undefined) {
    throw new UnsupportedLayerError(ctx.file, `layer "${layer ?? '?'}" has the quantized dtype policy ${config.name ?? className} (Keras-quantized weights), which TF.js cannot run`);
  }
  const name = config.name ?? 'float32';
  const mapped = tfjsDtype(name) ?? { dtype: name, why: '' };
  c['dtype'] = mapped.dtype;
  note(ctx, 'dtype', layer, `dtype policy "${name}" → "${mapped.dtype}"${mapped.why}`);
}

/** A Keras dtype name as tfjs runs it; undefined for names this does not know. */
function tfjsDtype(name: string): { dtype: string; why: string } | undefined {
  if (TFJS_DTYPES.has(name)) return { dtype: name, why: '' };
  // Mixed precision keeps variables in float32 and computes in 16 bits; tfjs computes in float32.
  if (/^mixed_b?float16$/.test(name)) return { dtype: 'float32', why: ' (mixed precision; weights are float32, TF.js computes in float32)' };
  if (/^(b?float16|float64)$/.test(name)) return { dtype: 'float32', why: ' (TF.js computes in float32)' };
  if (/^u?int(8|16|32|64)$/.test(name)) return { dtype: 'int32', why: ' (TF.js integer tensors are int32)' };
  return undefined;
}

// Serialized objects: initializers, regularizers, activations ---------------------------------------

function isSerialized(value: unknown): value is Json & { class_name: string } {
  return isObject(value) && typeof value['class_name'] === 'string' && 'config' in value;
}

/** Keras 3 initializer class names tfjs spells differently. */
const INITIALIZER_NAMES: Record<string, string> = { LecunNormal: 'LeCunNormal', LecunUniform: 'LeCunUniform', IdentityInitializer: 'Identity' };

function initializer(ctx: Context, layer: string | null, key: string, value: Json & { class_name: string }): Json {
  const out = stripKeras3Fields(ctx, value);
  const renamed = INITIALIZER_NAMES[value.class_name];
  if (renamed !== undefined) {
    out['class_name'] = renamed;
    note(ctx, 'initializer', layer, `${key} ${value.class_name} → ${renamed}`);
  }
  const config = isObject(value['config']) ? { ...value['config'] } : {};
  // Keras 3 says "untruncated_normal" for what tfjs calls "normal".
  if (out['class_name'] === 'VarianceScaling' && config['distribution'] === 'untruncated_normal') {
    config['distribution'] = 'normal';
    out['config'] = config;
    note(ctx, 'initializer', layer, `${key} distribution untruncated_normal → normal`);
  }
  if (ctx.keras3 && ctx.lookup !== undefined && ctx.lookup(out['class_name'] as string) === undefined) {
    // An initializer only fills weights before training; a loaded model's weights come from its shards.
    note(ctx, 'initializer', layer, `${key} ${value.class_name} has no TF.js equivalent → Zeros (initializers do not change loaded weights)`);
    return { class_name: 'Zeros', config: {} };
  }
  return out;
}

/** Keras 3's L1 and L2 are tfjs's L1L2 with the other factor 0; regularizers tfjs lacks are dropped. */
function regularizer(ctx: Context, layer: string | null, key: string, value: Json & { class_name: string }): Json | null {
  const out = stripKeras3Fields(ctx, value);
  const config = isObject(value['config']) ? value['config'] : {};
  if (value.class_name === 'L1' || value.class_name === 'L2') {
    const l1 = value.class_name === 'L1' ? (config['l1'] ?? 0.01) : 0;
    const l2 = value.class_name === 'L2' ? (config['l2'] ?? 0.01) : 0;
    note(ctx, 'regularizer', layer, `${key} ${value.class_name} → L1L2`);
    return { class_name: 'L1L2', config: { l1, l2 } };
  }
  if (ctx.keras3 && ctx.lookup !== undefined && ctx.lookup(value.class_name) === undefined) {
    note(ctx, 'regularizer', layer, `${key} ${value.class_name} has no TF.js equivalent → none (it only adds a training penalty)`);
    return null;
  }
  return out;
}

/** Keras 3 activation names tfjs knows under another name. */
const ACTIVATION_NAMES: Record<string, string> = { silu: 'swish' };

function activation(ctx: Context, layer: string | null, key: string, value: unknown): unknown {
  // A built-in function may be serialized as {class_name: "function", config: "relu"}.
  const given = isSerialized(value) && value.class_name === 'function' && typeof value['config'] === 'string' ? value['config'] : value;
  if (typeof given !== 'string') return isSerialized(value) ? stripKeras3Fields(ctx, value) : value;
  if (given !== value) ctx.stripped++;
  let name: string = given;
  const renamed = ACTIVATION_NAMES[name];
  if (renamed !== undefined) {
    note(ctx, 'activation', layer, `${key} ${name} → ${renamed}`);
    name = renamed;
  }
  // tfjs camel-cases names before the lookup (hard_sigmoid → hardSigmoid).
  if (ctx.keras3 && ctx.lookup !== undefined && ctx.lookup(camelCase(name)) === undefined) {
    throw new UnsupportedLayerError(ctx.file, `layer "${layer ?? '?'}": activation "${name}" has no TF.js implementation`);
  }
  return name;
}

function camelCase(name: string): string {
  return name.replace(/_+(\w)/g, (_, c: string) => c.toUpperCase());
}

// Options whose Keras 3 names or values differ from tfjs-layers' ----------------------------------------

type OptionRule = (ctx: Context, layer: string, className: string, c: Json) => void;

/** Refuse an option value tfjs has no way to run. */
function refuseUnless(ctx: Context, layer: string, className: string, c: Json, key: string, allowed: (v: unknown) => boolean, why: string): void {
  if (key in c && !allowed(c[key])) {
    throw new UnsupportedLayerError(ctx.file, `layer "${layer}" (${className}): ${key}=${JSON.stringify(c[key])} ${why}`);
  }
}

const isNullish = (v: unknown): boolean => v === null || v === undefined;
const isFalse = (v: unknown): boolean => v === false || isNullish(v);
const isZero = (v: unknown): boolean => v === 0 || isNullish(v);
const isOne = (v: unknown): boolean => v === 1 || isNullish(v);

const noLora: OptionRule = (ctx, layer, cls, c) =>
  refuseUnless(ctx, layer, cls, c, 'lora_rank', isNullish, 'adds LoRA weights TF.js has no layer for (merge them into the kernel before converting)');
const noGroups: OptionRule = (ctx, layer, cls, c) => refuseUnless(ctx, layer, cls, c, 'groups', isOne, 'has no TF.js equivalent (grouped convolution)');
const noKeepdims: OptionRule = (ctx, layer, cls, c) => refuseUnless(ctx, layer, cls, c, 'keepdims', isFalse, 'has no TF.js equivalent');

/**
 * Per layer class, where Keras 3's config departs from tfjs-layers' keras_format/ for a layer both
 * have. Options tfjs does not know at their default value are left in place (tfjs ignores them).
 */
const OPTION_RULES: Record<string, OptionRule> = {
  // Keras 3 renamed LeakyReLU's alpha to negative_slope (same default, 0.3).
  LeakyReLU: (ctx, layer, _cls, c) => {
    if ('negative_slope' in c && !('alpha' in c)) {
      c['alpha'] = c['negative_slope'];
      delete c['negative_slope'];
      note(ctx, 'option', layer, 'LeakyReLU negative_slope → alpha');
    }
  },
  ReLU: (ctx, layer, cls, c) => {
    refuseUnless(ctx, layer, cls, c, 'negative_slope', isZero, 'has no TF.js equivalent (TF.js ReLU has max_value only)');
    refuseUnless(ctx, layer, cls, c, 'threshold', isZero, 'has no TF.js equivalent (TF.js ReLU has max_value only)');
  },
  Dense: noLora,
  Embedding: noLora,
  Conv1D: noGroups,
  Conv2D: noGroups,
  Conv3D: noGroups,
  Conv2DTranspose: (ctx, layer, cls, c) => {
    noGroups(ctx, layer, cls, c);
    refuseUnless(ctx, layer, cls, c, 'output_padding', isNullish, 'has no TF.js equivalent');
  },
  Conv3DTranspose: (ctx, layer, cls, c) => refuseUnless(ctx, layer, cls, c, 'output_padding', isNullish, 'has no TF.js equivalent'),
  BatchNormalization: (ctx, layer, cls, c) => refuseUnless(ctx, layer, cls, c, 'renorm', isFalse, 'has no TF.js equivalent'),
  LayerNormalization: (ctx, layer, cls, c) => refuseUnless(ctx, layer, cls, c, 'rms_scaling', isFalse, 'has no TF.js equivalent'),
  GlobalAveragePooling1D: noKeepdims,
  GlobalAveragePooling2D: noKeepdims,
  GlobalMaxPooling1D: noKeepdims,
  GlobalMaxPooling2D: noKeepdims,
  // Keras 3's GRU defaults to reset_after=true, which tfjs's GRU does not implement.
  GRU: (ctx, layer, cls, c) => refuseUnless(ctx, layer, cls, c, 'reset_after', isFalse, '(Keras\'s default) has no TF.js implementation; train with reset_after=False'),
  Resizing: (ctx, layer, cls, c) => refuseUnless(ctx, layer, cls, c, 'pad_to_aspect_ratio', isFalse, 'has no TF.js equivalent'),
};

// Call records → node arrays ------------------------------------------------------------------------

const KerasHistorySchema = z.tuple([z.string().min(1), z.number().int().nonnegative(), z.number().int().nonnegative()]);
const KerasTensorSchema = z.looseObject({
  class_name: z.literal('__keras_tensor__'),
  config: z.looseObject({ keras_history: KerasHistorySchema }),
});
const CallRecordSchema = z.looseObject({
  args: z.array(z.unknown()),
  kwargs: z.record(z.string(), z.unknown()).nullable().optional(),
});

type TensorRef = [string, number, number];

function isKerasTensor(value: unknown): boolean {
  return isObject(value) && value['class_name'] === '__keras_tensor__';
}

function containsKerasTensor(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(containsKerasTensor);
  if (!isObject(value)) return false;
  return isKerasTensor(value) || Object.values(value).some(containsKerasTensor);
}

/**
 * Keras 3 records each call of a layer as `{args, kwargs}` with `__keras_tensor__` arguments; tfjs
 * reads one array per call of `[layer, node, tensor, kwargs]` per input tensor. A merge layer's one
 * list argument becomes one call with that many inputs.
 */
function convertNodes(ctx: Context, layer: string | null, nodes: unknown[]): unknown[] {
  let converted = false;
  const out = nodes.map((node, i) => {
    if (Array.isArray(node)) return node;
    converted = true;
    const where = `layer "${layer ?? '?'}": inbound_nodes[${i}]`;
    const record = CallRecordSchema.safeParse(node);
    if (!record.success) throw new ModelFormatError(ctx.file, `${where} is neither a node array nor a Keras 3 call record {args, kwargs}`);
    const refs: TensorRef[] = [];
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (isKerasTensor(value)) {
        const tensor = KerasTensorSchema.safeParse(value);
        if (!tensor.success) throw new ModelFormatError(ctx.file, `${where} has a __keras_tensor__ without keras_history [layer, node, tensor]`);
        refs.push(tensor.data.config.keras_history);
      } else if (value !== null) {
        throw new UnsupportedLayerError(ctx.file, `${where} passes the constant ${JSON.stringify(value).slice(0, 80)}, which TF.js Layers models cannot express`);
      }
    };
    collect(record.data.args);
    if (refs.length === 0) throw new ModelFormatError(ctx.file, `${where} is called on no tensor`);
    const list = record.data.args.length === 1 && Array.isArray(record.data.args[0]) ? (record.data.args[0] as unknown[]) : undefined;
    if (list !== undefined) note(ctx, 'call-arguments', layer, `one list argument of ${list.length} tensors → ${refs.length} node inputs`);
    const kwargs = convertKwargs(ctx, layer, where, record.data.kwargs ?? {});
    return refs.map((ref) => [...ref, kwargs]);
  });
  if (converted) note(ctx, 'call-records', layer, 'inbound_nodes {args, kwargs} → node arrays');
  return out;
}

/** Keyword arguments tfjs passes to the layer's call: plain values stay; null ones are the default. */
function convertKwargs(ctx: Context, layer: string | null, where: string, kwargs: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(kwargs)) {
    if (value === null) continue;
    if (containsKerasTensor(value)) {
      // tfjs propagates each input's mask to the layer itself (computeMask), which is what Keras
      // records here when a masking layer feeds this one.
      if (key === 'mask') {
        note(ctx, 'call-arguments', layer, 'mask argument dropped (TF.js passes masks along from the inputs)');
        continue;
      }
      throw new UnsupportedLayerError(ctx.file, `${where} passes a tensor as "${key}", which TF.js Layers models cannot express`);
    }
    out[key] = value;
  }
  return out;
}

/**
 * `input_layers`/`output_layers` as tfjs reads them: a list of `[layer, node, tensor]`. Keras 3 writes
 * one such triple alone for a single tensor, or nests lists and dicts as the model's inputs are nested
 * (dict keys in sorted order, as Keras flattens them).
 */
function normalizeEnds(ctx: Context, model: string | null, key: string, value: unknown): unknown {
  const refs: unknown[] = [];
  const collect = (v: unknown): boolean => {
    if (KerasHistorySchema.safeParse(v).success) refs.push(v);
    else if (Array.isArray(v)) return v.every(collect);
    else if (isObject(v)) return Object.keys(v).sort().every((k) => collect(v[k]));
    else return false;
    return true;
  };
  if (!collect(value)) return value; // readTopology or tfjs names the problem
  const flat = Array.isArray(value) && value.length === refs.length && value.every((v, i) => v === refs[i]);
  if (!flat) note(ctx, 'model-ends', model, `${key} ${describeEnds(value)} → a list of ${refs.length}`);
  return refs;
}

function describeEnds(value: unknown): string {
  if (KerasHistorySchema.safeParse(value).success) return '[layer, node, tensor]';
  return isObject(value) ? 'dict (keys sorted)' : 'nested lists';
}

// ---------------------------------------------------------------------------------------------------
// Weight names

/** A weight the built topology has, in the topology's order. */
export interface ExpectedWeight {
  name: string;
  shape: readonly number[];
  /** The layer that owns it. */
  layer: string;
}

/** A manifest entry renamed to the topology's name for it, and how the two were matched. */
export interface WeightRename {
  from: string;
  to: string;
  by: 'name' | 'order';
}

/**
 * Match manifest entries to the weights the topology has. An entry whose name is a weight's name
 * stays; else by name, after dropping leading segments the topology does not have (a model-name prefix
 * `sequential/dense/kernel`, tfjs's own RNN-cell segment, a `:0` suffix); else by order: the next
 * unmatched weight of the same shape in the layer the name mentions, and failing that, in the
 * topology's weight order. Throws ModelFormatError when entries and weights cannot be paired one to one.
 */
export function matchWeightNames(file: string, expected: readonly ExpectedWeight[], entries: readonly WeightEntry[]): WeightRename[] {
  const model = entries.filter((e) => e.group !== 'optimizer');
  const free = new Map(expected.map((w) => [w.name, w]));
  const claim = (w: ExpectedWeight): void => {
    free.delete(w.name);
  };
  const matched = new Map<WeightEntry, WeightRename | null>();
  for (const entry of model) {
    const same = free.get(entry.name);
    if (same !== undefined && sameShape(same.shape, entry.shape)) {
      claim(same);
      matched.set(entry, null);
    }
  }
  for (const entry of model) {
    if (matched.has(entry)) continue;
    for (const candidate of nameCandidates(entry.name)) {
      const w = free.get(candidate);
      if (w !== undefined && sameShape(w.shape, entry.shape)) {
        claim(w);
        matched.set(entry, { from: entry.name, to: w.name, by: 'name' });
        break;
      }
    }
  }
  const layers = new Set(expected.map((w) => w.layer));
  for (const entry of model) {
    if (matched.has(entry)) continue;
    const layer = entry.name.split('/').find((segment) => layers.has(segment));
    const w = layer === undefined ? undefined : [...free.values()].find((x) => x.layer === layer && sameShape(x.shape, entry.shape));
    if (w !== undefined) {
      claim(w);
      matched.set(entry, { from: entry.name, to: w.name, by: 'order' });
    }
  }
  const rest = model.filter((e) => !matched.has(e));
  const left = [...free.values()];
  if (rest.length !== left.length) {
    if (rest.length > left.length) {
      const extra = rest[left.length] as WeightEntry;
      throw new ModelFormatError(file, `weight "${extra.name}" in weightsManifest belongs to no layer of the topology`);
    }
    throw new ModelFormatError(file, `weightsManifest has no weight for ${left.slice(rest.length).map((w) => w.name).join(', ')}, which the topology's layers need`);
  }
  for (const [i, entry] of rest.entries()) {
    const w = left[i] as ExpectedWeight;
    if (!sameShape(w.shape, entry.shape)) {
      throw new ModelFormatError(
        file,
        `weight "${entry.name}" [${entry.shape.join(', ')}] matches no weight of the topology by name, and the next one in order, "${w.name}", is [${w.shape.join(', ')}]`,
      );
    }
    matched.set(entry, { from: entry.name, to: w.name, by: 'order' });
  }
  return model.map((e) => matched.get(e)).filter((r): r is WeightRename => r !== null && r !== undefined);
}

/** Names an entry may stand for, most specific first. */
function nameCandidates(name: string): string[] {
  const segments = name.replace(/:\d+$/, '').split('/');
  const out: string[] = [];
  for (let k = 0; k < segments.length - 1; k++) {
    const suffix = segments.slice(k);
    out.push(suffix.join('/'));
    // tfjs names an RNN's weights without the cell: lstm/lstm_cell/kernel is lstm/kernel.
    if (suffix.length >= 3) out.push([...suffix.slice(0, -2), suffix[suffix.length - 1]].join('/'));
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
