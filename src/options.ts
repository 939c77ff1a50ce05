/**
 * Option pieces every command's schema is built from: the backend choice, numbers as flags give them,
 * whole numbers with their allowed range in every message, input and image shapes. Validated with zod
 * wherever they enter (CLI flags or library calls).
 */
import { z } from 'zod';
import { UsageError } from './errors.js';

/** `--backend`, shared by every command that runs a model. */
export const BackendSchema = z.enum(['auto', 'node', 'wasm', 'cpu'], { error: '--backend must be auto, node, wasm or cpu' }).default('auto');

/** Validate `input` against `schema`; the first problem becomes a UsageError naming the option. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? 'invalid options');
  return parsed.data;
}

/**
 * A number as flags give it: a number, or a string holding one (`a/b` is a fraction: `--input-scale
 * 1/255`). Anything else becomes NaN, which the number schema after it names.
 */
export function toNumber(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  const fraction = /^([0-9.eE+-]+)\/([0-9.eE+-]+)$/.exec(text);
  if (fraction) return Number(fraction[1]) / Number(fraction[2]);
  return text === '' ? NaN : Number(text);
}

/** A number schema that also takes the flag's string. */
export const numeric = <T extends z.ZodType<number>>(schema: T) => z.preprocess(toNumber, schema) as unknown as z.ZodType<z.output<T>, number | string>;

/** A whole-number option whose every message states the allowed range. */
export const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
  const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `${min} to ${max}`;
  return z
    .number({ error: `${name} must be a number (allowed: ${range})` })
    .int(`${name} must be a whole number (allowed: ${range})`)
    .min(min, `${name} must be at least ${min} (allowed: ${range})`)
    .max(max, `${name} must be at most ${max} (allowed: ${range})`);
};

/** `--input-shape 64,64,3` (or an array) as positive integers. */
export function parseShape(value: string | readonly number[]): number[] {
  const parts = typeof value === 'string' ? value.split(/[,x×]/).map((p) => p.trim()) : value.map(String);
  const dims = parts.map(Number);
  if (dims.length === 0 || dims.some((d, i) => parts[i] === '' || !Number.isSafeInteger(d) || d < 1)) {
    throw new UsageError(`shapes must be positive integers separated by commas, like 64,64,3 (got "${String(value)}")`);
  }
  return dims;
}

/** `--image-shape h,w,c` with 1 or 3 channels. */
export function parseImageShape(value: string | readonly number[]): number[] {
  const dims = parseShape(value).map((d) => d);
  if (dims.length !== 3 || (dims[2] !== 1 && dims[2] !== 3)) {
    throw new UsageError(`--image-shape must be height,width,channels with 1 or 3 channels (got "${String(value)}")`);
  }
  return dims;
}

/** `--svd`: how layers are decomposed: exact SVD, randomized truncation, or chosen by shape. */
export const SvdMethodSchema = z.enum(['exact', 'randomized', 'auto'], { error: '--svd must be exact, randomized or auto' }).default('auto');

/** `--ratio`: the share of the factorizable layers' parameters to keep, in (0, 1]. */
export const RatioSchema = numeric(z.number({ error: '--ratio must be a number in (0, 1]' }).gt(0, '--ratio must be in (0, 1]').max(1, '--ratio must be in (0, 1]'));
