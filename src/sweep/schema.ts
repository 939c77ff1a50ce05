/**
 * sweep.json: what `lowrank sweep` measured, one entry per (method, point), as plain JSON with a zod
 * schema and a schemaVersion. Every number is measured in the run that wrote it, on the same held-out
 * samples as the original; what was not measured is null.
 */
import { z } from 'zod';
import { MetricsSchema } from '../report/schema.js';

export const SWEEP_SCHEMA_VERSION = 1;

/** The truncations a sweep compares. */
export const SWEEP_METHODS = ['svd', 'whiten'] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];

const count = () => z.number().int().nonnegative();
const ms = () => z.number().nonnegative();

/** What a sweep varies: the rank of every layer (--ranks), or the share of parameters kept (--ratios). */
export type SweepSetting = 'rank' | 'ratio';

/** Exactly one of the two settings. */
const oneSetting = <T extends { rank?: unknown; ratio?: unknown }>(o: T): boolean => (o.rank === undefined) !== (o.ratio === undefined);

export const SweepPointSchema = z.object({
  method: z.enum(SWEEP_METHODS),
  rank: z.number().int().positive().optional().describe('--ranks: the rank every factorizable layer was asked for'),
  ratio: z
    .number()
    .gt(0)
    .lt(1)
    .optional()
    .describe('--ratios: the most the factorizable layers may keep of their parameters, ranks allocated across layers (compress --ratio)'),
  layers: z
    .array(z.object({ name: z.string(), rank: z.number().int().positive().nullable().describe('null: left as it is (past its break-even, or not selected)') }))
    .describe('The rank each factorizable layer got'),
  params: count().describe('Parameters of the compressed model'),
  factorizableParams: count().describe('Parameters of the factorizable layers alone, after'),
  weightBytes: count().describe('Bytes of the weight shards compress would write (float32 factors; other weights as stored)'),
  flops: count().nullable().describe('Multiply-adds ×2 per sample, counted from the layer shapes; null without fixed input sizes'),
  factorized: MetricsSchema.describe('Before fine-tuning'),
  fineTuned: MetricsSchema.nullable().describe('After --epochs of fine-tuning (its best epoch); null with --epochs 0'),
  bestEpoch: z.number().int().nonnegative().nullable().describe('The epoch whose weights were kept; null with --epochs 0'),
  timings: z.object({ factorizeMs: ms(), evaluateMs: ms(), fineTuneMs: ms(), totalMs: ms() }),
}).refine(oneSetting, 'a point has a rank or a ratio');

export const SweepReportSchema = z.object({
  schemaVersion: z.literal(SWEEP_SCHEMA_VERSION),
  tool: z.object({ name: z.literal('lowrank'), version: z.string() }),
  createdAt: z.string(),
  backend: z.string(),
  model: z.object({
    path: z.string(),
    params: count(),
    weightBytes: count().describe('Bytes of the weight shards as stored'),
    factorizableParams: count(),
    flops: count().nullable(),
  }),
  data: z.object({
    path: z.string(),
    validationPath: z.string().optional(),
    trainSamples: count(),
    validationSamples: count(),
  }),
  loss: z.string().describe('The loss every model is measured with'),
  options: z.object({
    methods: z.array(z.enum(SWEEP_METHODS)),
    ranks: z.array(z.number().int().positive()).optional(),
    ratios: z.array(z.number().gt(0).lt(1)).optional(),
    epochs: count(),
    seed: count(),
    validationSplit: z.number(),
    calibrationSamples: count(),
    svd: z.string(),
    layers: z.string().optional(),
    batchSize: count(),
    learningRate: z.number(),
    distill: z.number().optional().describe('Share of the fine-tuning loss from the original\'s outputs; absent with --epochs 0'),
  }).refine((o) => (o.ranks === undefined) !== (o.ratios === undefined), 'a sweep has ranks or ratios'),
  original: MetricsSchema.describe('The original model on the held-out samples: the reference line'),
  points: z.array(SweepPointSchema).describe('In method order, then by rank or ratio, ascending'),
  timings: z.object({ loadMs: ms(), totalMs: ms() }),
});

export type SweepReport = z.infer<typeof SweepReportSchema>;
export type SweepPoint = z.infer<typeof SweepPointSchema>;
