/**
 * The compression report: plain JSON with a zod schema and a schemaVersion. Every number in it is
 * measured in the run that wrote it (FLOPs are counted from the layer shapes). The descriptions below
 * are carried into schema/report.schema.json (`npm run schema`).
 */
import { z } from 'zod';

export const REPORT_SCHEMA_VERSION = 1;

const count = () => z.number().int().nonnegative();

const MetricsSchema = z
  .object({
    loss: z.number().optional().describe('Mean loss against the labels'),
    accuracy: z.number().min(0).max(1).optional().describe('Share of samples whose predicted class equals the label (classifiers with labels)'),
    mse: z.number().nonnegative().optional().describe('Mean squared error against the labels (regression)'),
    mae: z.number().nonnegative().optional().describe('Mean absolute error against the labels (regression)'),
    agreement: z.number().min(0).max(1).optional().describe("Share of samples whose predicted class equals the original model's (classifiers)"),
    relativeOutputError: z.number().optional().describe('‖p − p_original‖ / ‖p_original‖ over all outputs'),
  })
  .describe('What one model scored on the held-out samples');

const ModelSummarySchema = z.object({
  path: z.string(),
  params: count(),
  weightBytes: count().describe('Bytes of the weight shards as stored'),
  gzipBytes: count().describe('Bytes of the shards after gzip -6: what a browser downloads from a server that compresses'),
  factorizableParams: count().describe('Parameters of the factorizable layers (Dense, Conv2D, Embedding) alone'),
});

const LayerSchema = z.object({
  name: z.string(),
  className: z.string(),
  shape: z.tuple([z.number().int(), z.number().int()]).describe('The kernel seen as an m×n matrix'),
  rank: z.number().int().positive().nullable().describe('Rank kept; null when the layer was left as it is'),
  maxUsefulRank: count().describe('Largest rank that still saves parameters'),
  paramsBefore: count(),
  paramsAfter: count(),
  energyKept: z.number().optional().describe('Share of Σσ² the kept singular values hold (of the matrix `method` names)'),
  relativeError: z.number().optional().describe('method svd: ‖W − A·B‖_F / ‖W‖_F; method whiten: the predicted ‖X(W − A·B)‖_F / ‖XW‖_F on the calibration inputs X'),
  method: z
    .enum(['svd', 'whiten'])
    .optional()
    .describe('What was truncated: svd (also when absent) the kernel W; whiten the whitened kernel Λ^½QᵀW (G = XᵀX = QΛQᵀ of the layer\'s calibration inputs), which singularValues, energyKept and relativeError then describe'),
  weightError: z.number().optional().describe('With method whiten: ‖W − A·B‖_F / ‖W‖_F of the factors kept'),
  predictedOutputError: z
    .number()
    .nullable()
    .optional()
    .describe("With --ratio and method whiten: the relative output error the allocation predicted, √(discarded / total whitened energy) of the layer's spectrum on the original model's calibration inputs (no ridge)"),
  predictedLoss: z
    .number()
    .optional()
    .describe("With --ratio's measured score: the loss against the original's outputs (KL for a classifier) on the calibration sample with this layer alone truncated at its rank, as the allocation measured it"),
  outputError: z
    .number()
    .nullable()
    .optional()
    .describe('With method whiten: the measured ‖X(W − A·B)‖_F / ‖XW‖_F on the calibration inputs X the layer was fitted on (centered for a layer with a bias, whose corrected bias absorbs the mean), after factorization'),
  reason: z.string().optional().describe('Why the layer was left as it is'),
  singularValues: z.array(z.number()).describe('Singular values of the kernel (method whiten: of the whitened kernel), descending: all min(m, n) of them unless singularValuesComplete is false'),
  singularValuesComplete: z
    .boolean()
    .optional()
    .describe('false when only the top singular values were computed (a randomized truncation of a large layer); absent or true: the whole spectrum'),
  svd: z.enum(['exact', 'gram', 'randomized']).optional().describe('How the spectrum was computed: full SVD, eigendecomposition of the Gram matrix, or randomized truncation'),
});

/** The ways of storing a model the size table compares. */
export const SIZE_VARIANTS = ['float32', 'float16', 'uint8', 'lowrank', 'lowrank+float16', 'lowrank+uint8'] as const;
export type SizeVariantName = (typeof SIZE_VARIANTS)[number];

/** The size variant a report's output folder holds: `lowrank`, or `lowrank+<q>` with --quantize. */
export function writtenVariant(quantize: 'float16' | 'uint8' | undefined): SizeVariantName {
  return quantize === undefined ? 'lowrank' : `lowrank+${quantize}`;
}

const SizeVariantSchema = z
  .object({
    variant: z
      .enum(SIZE_VARIANTS)
      .describe(
        'float32/float16/uint8: the original model with every float weight stored in that encoding (uint8: affine per-tensor min/scale as tfjs-converter writes it; an encoding already narrower is kept). lowrank: the factorized, fine-tuned model as written without --quantize; lowrank+float16, lowrank+uint8: the same with its float weights quantized',
      ),
    params: count(),
    weightBytes: count().describe('Bytes of the weight shards'),
    totalBytes: count().describe('Bytes on disk: model.json plus the shards'),
    gzipBytes: count().describe('Bytes of the shards after gzip -6'),
    metrics: MetricsSchema.nullable().describe('The variant reloaded from its bytes and evaluated on the held-out samples; null without data'),
  })
  .describe('One way of storing the model, measured by writing its files in memory, reloading and evaluating them');

const FlopsSchema = z
  .object({
    original: count().describe('FLOPs per sample of the original model'),
    output: count().describe('FLOPs per sample of the output model'),
    uncountedLayers: z
      .array(z.object({ name: z.string(), className: z.string(), reason: z.string() }))
      .describe('Layers whose arithmetic the count leaves out (no rule for their class, or open input sizes)'),
  })
  .describe(
    'FLOPs per sample from the layer shapes: 2 per multiply-add of matrix products and convolutions (Dense: 2·in·out; Conv2D: 2·kh·kw·cin·cout·H_out·W_out); elementwise work (bias, activations, normalization, pooling, merges) and embedding lookups count 0',
  );

/** The quality gates compress and report accept. */
export const GATE_NAMES = ['max-accuracy-drop', 'max-agreement-loss', 'min-size-reduction'] as const;
export type GateName = (typeof GATE_NAMES)[number];

const GateSchema = z
  .object({
    gate: z.enum(GATE_NAMES),
    limit: z.number().describe('The limit given on the command line'),
    value: z.number().describe('Accuracy drop in points, agreement loss (1 − agreement), or input / output weight bytes'),
    passed: z.boolean(),
  })
  .describe('A quality gate evaluated on this report');

const SpeedSchema = z.object({
  batchSize: z.number().int().positive(),
  runs: z.number().int().positive(),
  originalMs: z.number().nonnegative().nullable().describe('Median milliseconds of one predict call of the original model; null when it was not timed (originalNotMeasured says why)'),
  originalNotMeasured: z.string().optional().describe('Why the original was not timed, when originalMs is null'),
  outputMs: z.number().nonnegative().describe('Median milliseconds of one predict call of the output model'),
});

export const ReportSchema = z
  .object({
    schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
    tool: z.object({ name: z.literal('lowrank'), version: z.string() }),
    createdAt: z.string(),
    backend: z.string(),
    input: ModelSummarySchema,
    output: ModelSummarySchema,
    options: z.object({
      rank: z.string(),
      layers: z.string().optional(),
      epochs: count(),
      batchSize: z.number().int().positive(),
      learningRate: z.number().positive(),
      seed: z.number().int(),
      validationSplit: z.number().min(0).max(1),
      quantize: z.enum(['float16', 'uint8']).optional().describe("Encoding the output's float weights were quantized to (--quantize)"),
      svd: z.enum(['exact', 'randomized', 'auto']).optional().describe('--svd: how layers were decomposed'),
      ratio: z.number().nullable().optional().describe('--ratio: the share of the considered layers\' parameters the output may keep'),
    }),
    budget: z
      .object({
        ratio: z.number().describe('--ratio'),
        paramsBefore: count().describe('Parameters (kernels and biases) of the layers considered: the factorizable ones --layers selects'),
        paramsAfter: count().describe('The same layers\' parameters in the output'),
        budget: count().describe('The most allowed: ⌊ratio · paramsBefore⌋'),
        score: z.enum(['relative', 'absolute', 'balanced', 'measured']).describe('How ranks were compared across layers: share of the layer\'s energy, σ² as is, Σ share², or the loss measured with each layer truncated alone'),
        predictedLoss: z.number().optional().describe('score measured: the loss against the original\'s outputs (KL for a classifier) on the calibration sample the allocation expected, the sum of the layers\' predictedLoss'),
        spectra: z.enum(['svd', 'whiten']).describe('Whose spectra the allocation read: the kernels\' or the whitened ones (calibration inputs of the original model)'),
      })
      .nullable()
      .optional()
      .describe('--ratio: the global rank allocation\'s budget; absent for other rank choices'),
    layers: z.array(LayerSchema),
    data: z
      .object({
        path: z.string(),
        samples: count(),
        trainSamples: count(),
        validationSamples: count(),
        validationPath: z.string().optional(),
        streamed: z.boolean().optional().describe('The training data was streamed from disk in batches rather than held in memory'),
      })
      .nullable(),
    loss: z.string().nullable(),
    lossFromLogits: z.boolean().optional().describe("Present (true) when the loss reads the model's outputs as logits: softmax (sigmoid for binary cross-entropy) is applied inside the loss and before accuracy, agreement and output error"),
    evaluation: z
      .object({
        original: MetricsSchema,
        factorized: MetricsSchema,
        fineTuned: MetricsSchema.nullable(),
      })
      .nullable()
      .describe('The original, factorized and fine-tuned models on the same held-out samples; null without data'),
    training: z
      .object({
        distill: z.number().min(0).max(1).describe("Share of the loss taken from the original model's outputs (1: pure distillation)"),
        temperature: z.number().positive(),
        train: z.enum(['all', 'factors']),
        schedule: z.enum(['constant', 'cosine', 'linear', 'plateau']),
        warmupSteps: count(),
        patience: z.number().int().positive().optional(),
        bestEpoch: count().describe('The epoch whose weights were kept (0: none beat the factorized model)'),
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
      .nullable()
      .describe("Fine-tuning: what was minimised, how, and each epoch's numbers; null when nothing was trained"),
    sizes: z.array(SizeVariantSchema).describe('Size as users pay it: the original and the output in several encodings, each measured'),
    speed: z.array(SpeedSchema).describe('Predict latency; empty when the model leaves input sizes open'),
    flops: FlopsSchema.nullable().describe('null when the model could not run (see unknownLayerClasses)'),
    unknownLayerClasses: z
      .array(z.string())
      .optional()
      .describe(
        'Layer classes TF.js did not know (no --setup registered them): the model was factorized from its JSON and stored weights, those layers carried over unchanged, and nothing that needs a running model (evaluation, latency, FLOPs, reloading the size variants) was measured. Absent when every class was known',
      ),
    gates: z.array(GateSchema).optional().describe('Quality gates given to compress, with their results; absent when none were given'),
    timings: z.object({
      loadMs: z.number(),
      factorizeMs: z.number(),
      evaluateMs: z.number(),
      fineTuneMs: z.number(),
      measureMs: z.number().describe('Measuring sizes (writing, reloading, evaluating each variant), FLOPs and speed'),
      writeMs: z.number(),
      totalMs: z.number(),
    }),
  })
  .describe('report.json, written by `lowrank compress` beside the compressed model');

/** The report lowrank writes as report.json. */
export type CompressionReport = z.infer<typeof ReportSchema>;
export type LayerReport = z.infer<typeof LayerSchema>;
export type ModelSummary = z.infer<typeof ModelSummarySchema>;
export type MetricsReport = z.infer<typeof MetricsSchema>;
export type SizeVariant = z.infer<typeof SizeVariantSchema>;
export type FlopsReport = z.infer<typeof FlopsSchema>;
export type GateResult = z.infer<typeof GateSchema>;
export { MetricsSchema };
export type SpeedReport = z.infer<typeof SpeedSchema>;
