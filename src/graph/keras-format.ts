/**
 * The layer configs lowrank reads and writes, as they stand in model.json (snake_case Keras form):
 * Dense, Conv2D and Embedding, typed by zod. Keys lowrank does not touch pass through unchanged.
 *
 * The one rule for the extras a weight carries when a layer becomes two factors:
 * - a kernel's regularizer and constraint are statements about the full matrix W, which neither factor
 *   is (a penalty or max-norm on A or B alone is not one on A·B), so neither factor keeps them;
 * - the bias, with its initializer, regularizer and constraint, stays on the second factor, which adds it;
 * - the activity regularizer and the activation act on the layer's output, which the second factor
 *   produces, so they stay there; the first factor is linear and unregularized;
 * - keys that describe the model's input (batch_input_shape, ...) stay on the first factor, which
 *   receives it.
 */
import { z } from 'zod';
import { UnsupportedLayerError } from '../errors.js';
import type { LayerJson } from './topology.js';

/** A serialized initializer, regularizer or constraint: `{class_name, config}` or null. */
const Serialized = z.union([z.null(), z.looseObject({ class_name: z.string(), config: z.unknown().optional() })]);

const pair = z.union([z.number().int().positive(), z.array(z.number().int().positive()).length(2)]);

const LayerBase = {
  name: z.string().min(1),
  activity_regularizer: Serialized.nullish(),
};

const KernelBase = {
  ...LayerBase,
  activation: z.string().nullish(),
  use_bias: z.boolean().nullish(),
  kernel_initializer: Serialized.nullish(),
  kernel_regularizer: Serialized.nullish(),
  kernel_constraint: Serialized.nullish(),
  bias_initializer: Serialized.nullish(),
  bias_regularizer: Serialized.nullish(),
  bias_constraint: Serialized.nullish(),
};

export const DenseConfigSchema = z.looseObject({ ...KernelBase, units: z.number().int().positive() });
export type DenseConfig = z.infer<typeof DenseConfigSchema>;

export const Conv2DConfigSchema = z.looseObject({
  ...KernelBase,
  filters: z.number().int().positive(),
  kernel_size: pair,
  strides: pair.nullish(),
  padding: z.enum(['valid', 'same', 'causal']).nullish(),
  dilation_rate: pair.nullish(),
});
export type Conv2DConfig = z.infer<typeof Conv2DConfigSchema>;

export const EmbeddingConfigSchema = z.looseObject({
  ...LayerBase,
  input_dim: z.number().int().positive(),
  output_dim: z.number().int().positive(),
  embeddings_initializer: Serialized.nullish(),
  embeddings_regularizer: Serialized.nullish(),
  embeddings_constraint: Serialized.nullish(),
  mask_zero: z.boolean().nullish(),
});
export type EmbeddingConfig = z.infer<typeof EmbeddingConfigSchema>;

/** Config keys that only make sense on the layer that receives the model's input. */
export const INPUT_KEYS = ['batch_input_shape', 'input_shape', 'input_dim', 'batch_size'] as const;
/** Statements about the full kernel (see the rule above): on neither factor. */
export const KERNEL_PENALTIES = ['kernel_regularizer', 'kernel_constraint'] as const;
/** What belongs to the bias and the output: on the second factor only. */
export const BIAS_AND_OUTPUT_KEYS = ['bias_initializer', 'bias_regularizer', 'bias_constraint', 'activity_regularizer'] as const;

/** A layer's config read through its schema; a config that does not fit names the layer (exit 2). */
export function layerConfig<S extends z.ZodType>(schema: S, layer: LayerJson): z.output<S> {
  const parsed = schema.safeParse(layer.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new UnsupportedLayerError(undefined, `layer ${layer.config.name} (${layer.class_name}): ${where}${issue?.message ?? 'config does not fit'}`);
  }
  return parsed.data;
}

/** `config` without `keys`. */
export function without<T extends Record<string, unknown>>(config: T, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const key of keys) delete out[key];
  return out;
}
