/**
 * Options of `adapt` and `merge`, validated with zod wherever they enter (CLI flags or library calls).
 * The data and training flags mean what they mean for compress.
 */
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { CompressOptionsSchema } from '../compress/options.js';
import { BackendSchema, int, numeric, parseImageShape, parseOptions, parseShape } from '../options.js';
import type { BackendChoice } from '../tf.js';

/** Epochs when --epochs is not given: adapters start at zero and need a few passes. */
export const DEFAULT_ADAPT_EPOCHS = 10;

export const AdaptOptionsSchema = z.object({
  model: z.string().min(1, 'the model path is empty'),
  out: z.string().min(1).optional(),
  data: z.string({ error: 'adapt trains on the new domain\'s data: give --data <file>' }).min(1, '--data is empty'),
  rank: numeric(int('--rank', 1, 1 << 16)).default(8),
  /** LoRA's alpha; ΔW = (alpha / rank)·A·B. Default: the rank, so the scale is 1 (PEFT's default r 8, lora_alpha 8). */
  alpha: numeric(z.number({ error: '--alpha must be a number' }).gt(0, '--alpha must be greater than 0').refine(Number.isFinite, '--alpha must be finite')).optional(),
  layers: z.string().optional(),
  // The data flags read the new domain's data exactly as compress reads its --data.
  ...CompressOptionsSchema.pick({ inputShape: true, validationData: true, label: true, labels: true, validationLabels: true, inputScale: true, imageShape: true, validationSplit: true }).shape,
  epochs: numeric(int('--epochs', 0, 100_000)).default(DEFAULT_ADAPT_EPOCHS),
  batchSize: numeric(int('--batch-size', 1, 1 << 20)).default(32),
  learningRate: numeric(z.number({ error: '--learning-rate must be a number' }).gt(0, '--learning-rate must be greater than 0').max(10, '--learning-rate must be at most 10')).default(1e-3),
  seed: numeric(int('--seed', 0, 2 ** 32 - 1)).default(42),
  patience: numeric(int('--patience', 1, 100_000)).optional(),
  lrSchedule: z.enum(['constant', 'cosine', 'linear', 'plateau'], { error: '--lr-schedule must be constant, cosine, linear or plateau' }).default('constant'),
  warmupSteps: numeric(int('--warmup-steps', 0, 10_000_000)).default(0),
  stream: z.boolean().optional(),
  force: z.boolean().default(false),
  allowNonfinite: z.boolean().default(false),
  setup: z.string().min(1, '--setup is empty').optional(),
  backend: BackendSchema,
});

export type AdaptInput = z.input<typeof AdaptOptionsSchema>;

export interface AdaptOptions extends Omit<z.output<typeof AdaptOptionsSchema>, 'alpha' | 'out' | 'backend' | 'inputShape' | 'imageShape'> {
  alpha: number;
  out: string;
  backend: BackendChoice;
  inputShape?: number[];
  imageShape?: number[];
}

export function resolveAdaptOptions(input: AdaptInput): AdaptOptions {
  const o = parseOptions(AdaptOptionsSchema, input);
  if (o.validationLabels !== undefined && o.validationData === undefined) throw new UsageError('--validation-labels goes with --validation-data');
  const { inputShape, imageShape, alpha, out, ...rest } = o;
  return {
    ...rest,
    alpha: alpha ?? o.rank,
    out: out ?? `${path.dirname(path.resolve(o.model))}-adapter`,
    ...(inputShape !== undefined ? { inputShape: parseShape(inputShape) } : {}),
    ...(imageShape !== undefined ? { imageShape: parseImageShape(imageShape) } : {}),
  };
}

export const MergeOptionsSchema = z.object({
  model: z.string().min(1, 'the model path is empty'),
  adapter: z.string().min(1, 'the adapter folder is empty'),
  out: z.string({ error: 'merge needs --out <dir>' }).min(1, '--out is empty'),
  keepAdapters: z.boolean().default(false),
  force: z.boolean().default(false),
  allowNonfinite: z.boolean().default(false),
  setup: z.string().min(1, '--setup is empty').optional(),
  backend: BackendSchema,
});

export type MergeInput = z.input<typeof MergeOptionsSchema>;
export type MergeOptions = z.output<typeof MergeOptionsSchema>;

export function resolveMergeOptions(input: MergeInput): MergeOptions {
  return parseOptions(MergeOptionsSchema, input);
}
