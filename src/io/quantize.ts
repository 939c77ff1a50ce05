/**
 * Quantize float32 weights into the manifest encodings TF.js reads: affine uint8/uint16 with a
 * per-tensor `min` and `scale`, and IEEE half precision (float16). The bytes and manifest fields are
 * the ones tfjs-converter writes, so tfjs's own `decodeWeights` (and any other TF.js runtime) reads
 * them back without help from us.
 *
 * How tfjs decodes, which fixes what we must write:
 * - uint8/uint16: `value = q * scale + min`, computed in float64 and stored as float32. The bytes are
 *   read through a native Uint8Array/Uint16Array, i.e. little-endian on every platform TF.js runs on.
 * - float16: bit patterns read through a Uint16Array and widened exactly (sign, exponent, mantissa,
 *   subnormals, Inf and NaN all map over).
 *
 * How the converter quantizes, which we follow so our output matches its output:
 * - min and max over the whole tensor; `scale = (max - min) / qmax` with qmax = 255 or 65535;
 * - if 0 lies in [min, max] the range is shifted ("nudged", as TF-Lite does) so that 0 is exactly one
 *   of the quantized levels: ReLU outputs, zero padding and pruned weights stay exactly 0;
 * - values are clipped to the nudged range and rounded half-to-even (numpy's `round`);
 * - a constant tensor is all zeros with `scale = 1` and `min` = the constant, so it decodes exactly;
 * - float16 is numpy's float32 → float16 cast: round to nearest, ties to even, overflow to ±Inf.
 */
import type { StoredWeight } from './model-json.js';
import type { WeightEntry } from './model-json.js';

/** The encodings a manifest entry's `quantization.dtype` may name. */
export type QuantizationDtype = 'uint8' | 'uint16' | 'float16';

/** A float32 weight before quantization: its manifest entry and its values. */
export interface FloatWeight {
  entry: WeightEntry;
  values: Float32Array;
}

const QUANT_MAX: Record<'uint8' | 'uint16', number> = { uint8: 255, uint16: 65535 };

/**
 * Quantize one float32 weight. The returned entry is the input's with `quantization` set (any earlier
 * quantization is replaced) and its bytes are what a TF.js runtime expects for that entry.
 * Throws RangeError for non-float32 entries, a size that does not match the shape, or (uint8/uint16)
 * non-finite values, which an affine range cannot hold.
 */
export function quantizeWeight(weight: FloatWeight, dtype: QuantizationDtype): StoredWeight {
  const { entry, values } = weight;
  if (entry.dtype !== 'float32') {
    throw new RangeError(`weight "${entry.name}": only float32 weights can be quantized, not ${entry.dtype}`);
  }
  let size = 1;
  for (const d of entry.shape) size *= d;
  if (size !== values.length) {
    throw new RangeError(`weight "${entry.name}": shape [${entry.shape.join(', ')}] holds ${size} values, got ${values.length}`);
  }
  if (dtype === 'float16') {
    const bytes = new Uint8Array(values.length * 2);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setUint16(i * 2, float32ToFloat16(values[i] as number), true);
    // The converter also records original_dtype; tfjs ignores it, we keep it for byte-for-byte parity.
    const quantization = { dtype: 'float16' as const, original_dtype: 'float32' };
    return { entry: { ...entry, quantization }, bytes };
  }
  return quantizeAffine(entry, values, dtype);
}

function quantizeAffine(entry: WeightEntry, values: Float32Array, dtype: 'uint8' | 'uint16'): StoredWeight {
  const qmax = QUANT_MAX[dtype];
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) {
      throw new RangeError(`weight "${entry.name}": value ${v} at index ${i} cannot be quantized to ${dtype} (use float16 or keep float32)`);
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const bytes = new Uint8Array(values.length * (dtype === 'uint8' ? 1 : 2));
  const quantization = { dtype, min: 0, scale: 1, original_dtype: 'float32' };
  if (values.length === 0 || min === max) {
    // Every value equals `min`: all-zero codes decode to exactly min (0 * 1 + min).
    quantization.min = values.length === 0 ? 0 : min;
    return { entry: { ...entry, quantization }, bytes };
  }
  const scale = (max - min) / qmax;
  let low = min;
  let high = max;
  if (min <= 0 && 0 <= max) {
    // Shift the range (width unchanged) so 0 falls exactly on level `zeroPoint`: 0 = zeroPoint*scale + low.
    const zeroPoint = roundHalfEven(-min / scale);
    low = -zeroPoint * scale;
    high = qmax * scale + low;
  }
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = Math.min(high, Math.max(low, values[i] as number));
    // The clamp guards against (high - low) / scale landing a hair above qmax in floating point.
    const q = Math.min(qmax, Math.max(0, roundHalfEven((v - low) / scale)));
    if (dtype === 'uint8') bytes[i] = q;
    else view.setUint16(i * 2, q, true);
  }
  quantization.min = low;
  quantization.scale = scale;
  return { entry: { ...entry, quantization }, bytes };
}

/** numpy's `round`: to the nearest integer, halves to the even neighbour. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The IEEE 754 half-precision bit pattern (0..0xffff) nearest to `x`, ties to even, as numpy's
 * float32 → float16 cast gives it. `x` is first rounded to float32 (the weights are float32; going
 * through float32 avoids double-rounding differences from the converter). Values too large for half
 * become ±Inf, values below half the smallest subnormal become ±0, NaN stays a (quiet) NaN.
 */
export function float32ToFloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;

  if (exponent === 0xff) {
    if (mantissa === 0) return sign | 0x7c00;
    // Keep the top mantissa bits (the NaN payload) as numpy does, but never let it collapse to Inf.
    const nan = 0x7c00 | (mantissa >>> 13);
    return sign | (nan === 0x7c00 ? 0x7c01 : nan);
  }
  // Half's largest finite is 65504 (float32 exponent 142); anything from 2^16 up is Inf outright,
  // and values that round up past 65504 carry into the Inf pattern in the normal path below.
  if (exponent >= 143) return sign | 0x7c00;

  if (exponent >= 113) {
    // Normal half: rebias the exponent (127 → 15) and round the 23-bit mantissa to 10 bits.
    const half = ((exponent - 112) << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    const roundUp = rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1);
    // A carry out of the mantissa bumps the exponent, which is exactly right (up to 0x7c00 = Inf).
    return sign | (roundUp ? half + 1 : half);
  }

  // Half subnormal (or zero): units of 2^-24. With the implicit 1, the value is m * 2^(exponent-150),
  // so the half code is m >> (126 - exponent) before rounding.
  if (exponent < 102) return sign; // below 2^-25: rounds to ±0
  const m = mantissa | 0x800000;
  const shift = 126 - exponent; // 14..24
  const code = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  const roundUp = rest > halfway || (rest === halfway && (code & 1) === 1);
  // code + 1 may reach 0x400, the smallest normal: the encoding carries over correctly.
  return sign | (roundUp ? code + 1 : code);
}

/** The value of a half-precision bit pattern (exact: every half is a float32). */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
