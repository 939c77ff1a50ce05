/**
 * The adapter folder on disk: `adapter.json` (this zod schema) beside the factor weights, stored as
 * tfjs weight shards that adapter.json's `weightsManifest` describes in tfjs's own format. Also the
 * base model's content hash, which ties an adapter to the exact model it was trained on.
 *
 * Base hash, precisely: sha256 over the UTF-8 bytes of
 *   "lowrank-base-v1\n"
 *   canonical JSON of model.json's modelTopology (as lowrank reads it: a Keras 3 model.json is first
 *     brought into the form tfjs reads, which leaves a tfjs-form topology unchanged) + "\n"
 *   then, for each weight of weightsManifest sorted by name (code-unit order):
 *     canonical JSON of its manifest entry (name, shape, dtype, quantization, group) + "\n" + its bytes
 *     exactly as stored in the shards.
 * Canonical JSON is JSON.stringify with every object's keys sorted. So the hash changes with any weight
 * bit, shape, encoding or layer config, and not with how the weights are cut into shards, the shard file
 * names or model.json's other fields (trainingConfig, convertedBy, formatting).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MetricsSchema } from '../report/schema.js';
import type { StoredWeight } from '../io/model-json.js';
import { WeightEntrySchema } from '../io/model-json.js';

export const ADAPTER_FORMAT_VERSION = 1;

/** The layer kinds an adapter can sit beside. */
export const ADAPTABLE_CLASSES = ['Dense', 'Conv2D', 'Embedding'] as const;
export type AdaptableClass = (typeof ADAPTABLE_CLASSES)[number];

const count = () => z.number().int().nonnegative();
const shape = z.array(z.number().int().positive());

const FactorSchema = z.object({
  /** The weight's name in weightsManifest. */
  weight: z.string().min(1),
  shape,
});

/** One adapted layer: ΔW = scale · A·B next to the base layer's frozen kernel. */
export const AdaptedLayerSchema = z.object({
  name: z.string().min(1).describe('The base layer (top level of the model)'),
  className: z.enum(ADAPTABLE_CLASSES),
  kernelShape: shape.describe('The base kernel as stored: Dense [in, out], Conv2D [kh, kw, cin, cout], Embedding [inputDim, outputDim]'),
  rank: z.number().int().positive(),
  alpha: z.number().positive(),
  scale: z.number().positive().describe('alpha / rank: ΔW = scale · A·B'),
  a: FactorSchema.describe('Dense [in, r]; Conv2D [kh, kw, cin, r] (a conv with the layer\'s kernel size, strides, padding, dilation); Embedding [inputDim, r]'),
  b: FactorSchema.describe('Dense and Embedding [r, out]; Conv2D [1, 1, r, cout] (a 1×1 conv)'),
});
export type AdaptedLayer = z.infer<typeof AdaptedLayerSchema>;

const AdaptReportSchema = z.object({
  data: z.object({ file: z.string(), samples: count(), trainSamples: count(), validationSamples: count(), validationFile: z.string().optional() }),
  loss: z.string(),
  evaluation: z.object({ base: MetricsSchema, adapted: MetricsSchema }).describe('The base model and the base with this adapter on the same held-out samples of the new data'),
  training: z.object({
    epochs: count(),
    batchSize: z.number().int().positive(),
    learningRate: z.number().positive(),
    seed: z.number().int().nonnegative(),
    bestEpoch: count().describe('The epoch whose adapter was kept (0: none beat the base)'),
    stoppedEarly: z.boolean(),
    initialValidationLoss: z.number().optional(),
    history: z.array(z.object({ epoch: z.number().int().positive(), loss: z.number(), validationLoss: z.number().optional(), samplesPerSecond: z.number(), learningRate: z.number() })),
  }),
  bytes: z.object({
    adapter: count().describe('Bytes of the adapter\'s weight shards'),
    base: count().describe('Bytes of the base model\'s weight shards as stored'),
    adapterParams: count(),
    baseParams: count(),
  }),
  timings: z.object({ loadMs: z.number(), trainMs: z.number(), evaluateMs: z.number(), totalMs: z.number() }),
});
export type AdaptReport = z.infer<typeof AdaptReportSchema>;

export const AdapterJsonSchema = z.object({
  format: z.literal('lowrank-adapter'),
  formatVersion: z.literal(ADAPTER_FORMAT_VERSION),
  tool: z.object({ name: z.literal('lowrank'), version: z.string() }),
  createdAt: z.string(),
  base: z.object({
    file: z.string().describe('The base model.json as given to adapt'),
    hash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'is not sha256:<64 hex digits>'),
  }),
  rank: z.number().int().positive(),
  alpha: z.number().positive(),
  layers: z.array(AdaptedLayerSchema).min(1, 'names no adapted layer'),
  weightsManifest: z.array(z.object({ paths: z.array(z.string().min(1)), weights: z.array(WeightEntrySchema) })),
  report: AdaptReportSchema.nullable(),
});
export type AdapterJson = z.infer<typeof AdapterJsonSchema>;

/** JSON.stringify with every object's keys sorted, so equal values give equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

/** The base model's content hash (see the header), as `sha256:<hex>`. */
export function baseHash(modelTopology: Record<string, unknown>, weights: readonly StoredWeight[]): string {
  const hash = createHash('sha256');
  hash.update('lowrank-base-v1\n');
  hash.update(canonicalJson(modelTopology));
  hash.update('\n');
  const sorted = [...weights].sort((a, b) => (a.entry.name < b.entry.name ? -1 : a.entry.name > b.entry.name ? 1 : 0));
  for (const w of sorted) {
    hash.update(canonicalJson(w.entry));
    hash.update('\n');
    hash.update(w.bytes);
  }
  return `sha256:${hash.digest('hex')}`;
}
