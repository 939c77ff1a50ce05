/**
 * The on-disk envelope of a TF.js Layers model (model.json), validated with zod. The topology itself
 * (Keras JSON) is checked structurally in src/graph/; here we only need what IO depends on.
 */
import { z } from 'zod';

const QuantizationSchema = z.looseObject({
  dtype: z.enum(['uint8', 'uint16', 'float16']),
  min: z.number().optional(),
  scale: z.number().optional(),
});

export const WeightEntrySchema = z.looseObject({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.enum(['float32', 'int32', 'bool']),
  quantization: QuantizationSchema.optional(),
  group: z.string().optional(),
});

const WeightGroupSchema = z.looseObject({
  paths: z.array(z.string().min(1)),
  weights: z.array(WeightEntrySchema),
});

export const ModelJsonSchema = z.looseObject({
  format: z.string().optional(),
  generatedBy: z.string().optional(),
  convertedBy: z.string().nullable().optional(),
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z.array(WeightGroupSchema),
  trainingConfig: z.record(z.string(), z.unknown()).nullable().optional(),
  userDefinedMetadata: z.record(z.string(), z.unknown()).optional(),
});

/** model.json as lowrank reads and writes it; unknown top-level fields are kept. */
export type ModelJson = z.infer<typeof ModelJsonSchema>;
/** One weight of the manifest: name, shape, dtype and how it is quantized. */
export type WeightEntry = z.infer<typeof WeightEntrySchema>;
export type Quantization = z.infer<typeof QuantizationSchema>;

/** Bytes one stored element takes, after quantization. */
export function storedElementBytes(entry: WeightEntry): number {
  if (entry.quantization !== undefined) return entry.quantization.dtype === 'uint8' ? 1 : 2;
  return entry.dtype === 'bool' ? 1 : 4;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Render the first zod issue as `<path>: <message>`, the form our one-line errors use. */
export function describeZodError(error: z.ZodError, raw?: unknown): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  return `${where}${weightNameAt(raw, issue.path)}: ${issue.message}`;
}

/** ` (weight "name")` when `at` points inside weightsManifest[g].weights[i] and that entry has a name. */
function weightNameAt(raw: unknown, at: readonly PropertyKey[]): string {
  if (at[0] !== 'weightsManifest' || at[2] !== 'weights' || at.length < 4) return '';
  const group = (raw as { weightsManifest?: Array<{ weights?: unknown[] }> } | undefined)?.weightsManifest?.[at[1] as number];
  const entry = group?.weights?.[at[3] as number] as { name?: unknown } | undefined;
  return typeof entry?.name === 'string' && entry.name !== '' ? ` (weight "${entry.name.slice(0, 200)}")` : '';
}

/** One weight as stored: its manifest entry and its raw bytes (still quantized if it was). */
export interface StoredWeight {
  entry: WeightEntry;
  bytes: Uint8Array;
}
