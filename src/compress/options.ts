/**
 * Options of `compress`, validated with zod wherever they enter (CLI flags or library calls), with
 * messages that name the option and the allowed range.
 */
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import type { RankSpec } from '../factorize/plan.js';
import type { BackendChoice } from '../tf.js';
import { GateLimitsSchema, type GateLimits } from '../report/gates.js';
import { BackendSchema, RatioSchema, SvdMethodSchema, int, numeric, parseImageShape, parseOptions, parseShape } from '../options.js';
import { DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, DEFAULT_LR_SCHEDULE, DEFAULT_PATIENCE } from './defaults.js';

/** Parse `--rank`: a positive integer for every layer, or `name=k,name=k`. */
export function parseRank(text: string): RankSpec {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const rank = Number(trimmed);
    if (rank >= 1 && Number.isSafeInteger(rank)) return { kind: 'fixed', rank };
  }
  if (trimmed.includes('=')) {
    const ranks = new Map<string, number>();
    for (const part of trimmed.split(',')) {
      const match = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(part);
      const rank = match ? Number(match[2]) : NaN;
      if (!match || !(rank >= 1) || !Number.isSafeInteger(rank)) {
        throw new UsageError(`--rank: "${part.trim()}" is not name=k with k a positive integer`);
      }
      if (ranks.has(match[1] as string)) throw new UsageError(`--rank: layer "${match[1]}" is given twice`);
      ranks.set(match[1] as string, rank);
    }
    return { kind: 'per-layer', ranks };
  }
  throw new UsageError(`--rank must be a positive integer or a list name=k,name=k (got "${text}")`);
}

/** The rank spec as the report shows it. */
export function formatRank(spec: RankSpec): string {
  if (spec.kind === 'fixed') return String(spec.rank);
  if (spec.kind === 'energy') return `energy ${spec.fraction}`;
  if (spec.kind === 'ratio') return `ratio ${spec.fraction}`;
  return [...spec.ranks].map(([n, k]) => `${n}=${k}`).join(',');
}

// The fine-tuning defaults were chosen by measurement (bench/defaults.ts); defaults.ts says why each.
export { DEFAULT_DISTILL, DEFAULT_EPOCHS, DEFAULT_PATIENCE } from './defaults.js';

export const CompressOptionsSchema = z.object({
  model: z.string().min(1, 'the model path is empty'),
  out: z.string().min(1).optional(),
  rank: z.union([z.string(), z.number(), z.custom<RankSpec>((v) => typeof v === 'object' && v !== null && 'kind' in v)]).optional(),
  energy: numeric(z.number({ error: '--energy must be a number' }).gt(0, '--energy must be in (0, 1]').max(1, '--energy must be in (0, 1]')).optional(),
  /** Keep at most this share of the considered layers' parameters, ranks allocated across layers. */
  ratio: RatioSchema.optional(),
  layers: z.string().optional(),
  inputShape: z.union([z.string(), z.array(z.number())]).optional(),
  data: z.string().min(1).optional(),
  validationData: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
  labels: z.string().min(1).optional(),
  validationLabels: z.string().min(1).optional(),
  inputScale: numeric(z.number({ error: '--input-scale must be a number' }).gt(0, '--input-scale must be greater than 0').refine(Number.isFinite, '--input-scale must be finite')).optional(),
  imageShape: z.union([z.string(), z.array(z.number())]).optional(),
  validationSplit: numeric(z.number({ error: '--validation-split must be a number' }).min(0, '--validation-split must be in [0, 1)').lt(1, '--validation-split must be in [0, 1)')).default(0.2),
  /** Fine-tuning epochs; defaults to DEFAULT_EPOCHS with --data, 0 without. */
  epochs: numeric(int('--epochs', 0, 100_000)).optional(),
  batchSize: numeric(int('--batch-size', 1, 1 << 20)).default(32),
  learningRate: numeric(z.number({ error: '--learning-rate must be a number' }).gt(0, '--learning-rate must be greater than 0').max(10, '--learning-rate must be at most 10')).default(DEFAULT_LEARNING_RATE),
  seed: numeric(int('--seed', 0, 2 ** 32 - 1)).default(42),
  distill: numeric(z.number({ error: '--distill must be a number' }).min(0, '--distill must be in [0, 1]').max(1, '--distill must be in [0, 1]')).optional(),
  temperature: numeric(z.number({ error: '--temperature must be a number' }).gt(0, '--temperature must be greater than 0').max(100, '--temperature must be at most 100')).default(2),
  /** Epochs without a better validation loss before stopping; 0 runs every epoch. Default DEFAULT_PATIENCE. */
  patience: numeric(int('--patience', 0, 100_000)).default(DEFAULT_PATIENCE),
  train: z.enum(['all', 'factors'], { error: '--train must be "all" or "factors"' }).default('all'),
  lrSchedule: z.enum(['constant', 'cosine', 'linear', 'plateau'], { error: '--lr-schedule must be constant, cosine, linear or plateau' }).default(DEFAULT_LR_SCHEDULE),
  warmupSteps: numeric(int('--warmup-steps', 0, 10_000_000)).default(0),
  stream: z.boolean().optional(),
  force: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  /** Proceed with weights that hold NaN or Infinity (refused by default). */
  allowNonfinite: z.boolean().default(false),
  /** A JS module whose setup(tf) registers the model's custom layer classes (runs the user's code). */
  setup: z.string().min(1, '--setup is empty').optional(),
  backend: BackendSchema,
  svd: SvdMethodSchema,
  /** What each layer's truncation minimizes: the kernel's error (svd) or the error on its inputs (whiten, needs data); default whiten with --data. */
  method: z.enum(['svd', 'whiten'], { error: '--method must be svd or whiten' }).optional(),
  /** Training rows the whitening's G = XᵀX is accumulated over. */
  calibrationSamples: numeric(int('--calibration-samples', 1, 1_000_000)).default(512),
  /** Same as train: 'factors' (the CLI's --freeze-original). */
  freezeOriginal: z.boolean().optional(),
  /** Quantize the output's float weights (factors and the rest) as tfjs-converter does. */
  quantize: z.enum(['float16', 'uint8'], { error: '--quantize must be float16 or uint8' }).optional(),
  ...GateLimitsSchema.shape,
});

/** Options as callers give them. */
export type CompressInput = z.input<typeof CompressOptionsSchema>;

/** Options after validation, with defaults filled in and the rank parsed. */
export interface CompressOptions
  extends Omit<z.output<typeof CompressOptionsSchema>, 'method' | 'rank' | 'out' | 'backend' | 'energy' | 'ratio' | 'inputShape' | 'imageShape' | 'epochs' | 'freezeOriginal' | keyof GateLimits> {
  /** Quality gates to check on the report (none: not checked). */
  gates: GateLimits;
  /** Fine-tuning epochs (0: factorize only). */
  epochs: number;
  /** Size to read image folders at: height, width, channels. */
  imageShape?: number[];
  /** Sizes for the model's open input dimensions (one input), without the batch dimension. */
  inputShape?: number[];
  rank: RankSpec;
  /** svd, or whiten (calibrated on the training part of --data). */
  method: 'svd' | 'whiten';
  out: string;
  backend: BackendChoice;
}

/** Validate options; throws UsageError with the first problem. */
export function resolveCompressOptions(input: CompressInput): CompressOptions {
  const o = parseOptions(CompressOptionsSchema, input);
  const rank = rankSpec(o.rank, o.energy, o.ratio);
  // Without data the default is to factorize only; an explicit epoch count asks for training it cannot do.
  if (o.epochs !== undefined && o.epochs > 0 && o.data === undefined && !o.dryRun) {
    throw new UsageError(`--epochs ${o.epochs} fine-tunes, which needs --data (without --data lowrank factorizes only)`);
  }
  if (o.method === 'whiten' && o.data === undefined) throw new UsageError('--method whiten calibrates on the layers\' inputs, which needs --data');
  if (o.labels !== undefined && o.data === undefined) throw new UsageError('--labels goes with --data');
  if (o.validationLabels !== undefined && o.validationData === undefined) throw new UsageError('--validation-labels goes with --validation-data');
  const { inputShape, imageShape, freezeOriginal, energy: _energy, ratio: _ratio, maxAccuracyDrop, maxAgreementLoss, minSizeReduction, ...rest } = o;
  return {
    ...rest,
    train: freezeOriginal === true ? 'factors' : o.train,
    gates: {
      ...(maxAccuracyDrop !== undefined ? { maxAccuracyDrop } : {}),
      ...(maxAgreementLoss !== undefined ? { maxAgreementLoss } : {}),
      ...(minSizeReduction !== undefined ? { minSizeReduction } : {}),
    },
    epochs: o.epochs ?? (o.data !== undefined ? DEFAULT_EPOCHS : 0),
    rank,
    method: o.method ?? (o.data !== undefined ? 'whiten' : 'svd'),
    out: o.out ?? defaultOut(o.model),
    ...(inputShape !== undefined ? { inputShape: parseShape(inputShape) } : {}),
    ...(imageShape !== undefined ? { imageShape: parseImageShape(imageShape) } : {}),
  };
}

/** `<model folder>-lowrank`, beside the model's folder. */
export function defaultOut(model: string): string {
  const dir = path.dirname(path.resolve(model));
  return `${dir}-lowrank`;
}

/** Exactly one of --rank, --energy and --ratio chooses the ranks. */
export function rankSpec(rank: string | number | RankSpec | undefined, energy: number | undefined, ratio?: number): RankSpec {
  const given = [rank !== undefined ? '--rank' : '', energy !== undefined ? '--energy' : '', ratio !== undefined ? '--ratio' : ''].filter(Boolean);
  if (given.length > 1) throw new UsageError(`give one of --rank, --energy and --ratio, not ${given.join(' and ')}`);
  if (energy !== undefined) return { kind: 'energy', fraction: energy };
  if (ratio !== undefined) return { kind: 'ratio', fraction: ratio };
  if (rank === undefined) throw new UsageError('say how far to compress: --rank N, --rank name=k,..., --energy F or --ratio F');
  return typeof rank === 'object' ? rank : parseRank(String(rank));
}

