/**
 * The compression report: plain JSON with a zod schema and a schemaVersion. Every number in it is
 * measured in the run that wrote it.
 */
import { z } from 'zod';

export const REPORT_SCHEMA_VERSION = 1;

const MetricsSchema = z.object({
  loss: z.number().optional(),
  accuracy: z.number().min(0).max(1).optional(),
  mse: z.number().nonnegative().optional(),
  mae: z.number().nonnegative().optional(),
  agreement: z.number().min(0).max(1).optional(),
  relativeOutputError: z.number().optional(),
});

const ModelSummarySchema = z.object({
  path: z.string(),
  params: z.number().int().nonnegative(),
  /** Bytes of the weight shards as stored. */
  weightBytes: z.number().int().nonnegative(),
  /** Bytes of the shards after gzip -6: what a browser downloads from a server that compresses. */
  gzipBytes: z.number().int().nonnegative(),
  /** Parameters of the factorizable layers (Dense, ...) alone. */
  factorizableParams: z.number().int().nonnegative(),
});

const LayerSchema = z.object({
  name: z.string(),
  className: z.string(),
  /** The kernel seen as an m×n matrix. */
  shape: z.tuple([z.number().int(), z.number().int()]),
  rank: z.number().int().positive().nullable(),
  maxUsefulRank: z.number().int().nonnegative(),
  paramsBefore: z.number().int().nonnegative(),
  paramsAfter: z.number().int().nonnegative(),
  energyKept: z.number().optional(),
  relativeError: z.number().optional(),
  /** Why the layer was left as it is. */
  reason: z.string().optional(),
  singularValues: z.array(z.number()),
});

const SpeedSchema = z.object({
  batchSize: z.number().int().positive(),
  runs: z.number().int().positive(),
  /** Median milliseconds of one predict call. */
  originalMs: z.number().nonnegative(),
  outputMs: z.number().nonnegative(),
});

export const ReportSchema = z.object({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  tool: z.object({ name: z.literal('lowrank'), version: z.string() }),
  createdAt: z.string(),
  backend: z.string(),
  input: ModelSummarySchema,
  output: ModelSummarySchema,
  options: z.object({
    rank: z.string(),
    layers: z.string().optional(),
    epochs: z.number().int().nonnegative(),
    batchSize: z.number().int().positive(),
    learningRate: z.number().positive(),
    seed: z.number().int(),
    validationSplit: z.number().min(0).max(1),
  }),
  layers: z.array(LayerSchema),
  data: z
    .object({
      path: z.string(),
      samples: z.number().int().nonnegative(),
      trainSamples: z.number().int().nonnegative(),
      validationSamples: z.number().int().nonnegative(),
      validationPath: z.string().optional(),
    })
    .nullable(),
  loss: z.string().nullable(),
  evaluation: z
    .object({
      original: MetricsSchema,
      factorized: MetricsSchema,
      fineTuned: MetricsSchema.nullable(),
    })
    .nullable(),
  /** Fine-tuning: what was minimised, how, and each epoch's numbers; null when nothing was trained. */
  training: z
    .object({
      /** Share of the loss taken from the original model's outputs (1: pure distillation). */
      distill: z.number().min(0).max(1),
      temperature: z.number().positive(),
      train: z.enum(['all', 'factors']),
      schedule: z.enum(['constant', 'cosine', 'linear']),
      warmupSteps: z.number().int().nonnegative(),
      patience: z.number().int().positive().optional(),
      /** The epoch whose weights were kept (0: none beat the factorized model). */
      bestEpoch: z.number().int().nonnegative(),
      stoppedEarly: z.boolean(),
      initialValidationLoss: z.number().optional(),
      epochs: z.array(
        z.object({
          epoch: z.number().int().positive(),
          loss: z.number(),
          validationLoss: z.number().optional(),
          samplesPerSecond: z.number(),
          learningRate: z.number(),
        }),
      ),
    })
    .nullable(),
  speed: z.array(SpeedSchema),
  timings: z.object({
    loadMs: z.number(),
    factorizeMs: z.number(),
    evaluateMs: z.number(),
    fineTuneMs: z.number(),
    writeMs: z.number(),
    totalMs: z.number(),
  }),
});

/** The report lowrank writes as report.json. */
export type CompressionReport = z.infer<typeof ReportSchema>;
export type LayerReport = z.infer<typeof LayerSchema>;
export type ModelSummary = z.infer<typeof ModelSummarySchema>;
export type MetricsReport = z.infer<typeof MetricsSchema>;
export { MetricsSchema };
