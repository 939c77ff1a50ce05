import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { float16ToFloat32, float32ToFloat16, quantizeWeight, type FloatWeight } from '../../src/io/quantize.js';
import type { StoredWeight } from '../../src/io/load.js';

before(async () => {
  await initBackend('cpu');
});

/** Decode with tfjs's own reader: the ground truth for what a TF.js runtime sees. */
function decodeWithTfjs(weight: StoredWeight): Float32Array {
  const buffer = weight.bytes.slice().buffer;
  const tensors = tf.io.decodeWeights(buffer, [weight.entry as tf.io.WeightsManifestEntry]);
  const tensor = tensors[weight.entry.name];
  assert.ok(tensor !== undefined);
  const values = tensor.dataSync() as Float32Array;
  tensor.dispose();
  return values;
}

function floatWeight(values: number[] | Float32Array, shape: number[] = [values.length]): FloatWeight {
  return { entry: { name: 'layer/kernel', shape, dtype: 'float32' }, values: Float32Array.from(values) };
}

/** Deterministic pseudo-random values in [lo, hi) (a small LCG keeps the test self-contained). */
function sampleValues(n: number, lo: number, hi: number, seed = 7): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

describe('quantizeWeight uint8/uint16', () => {
  for (const dtype of ['uint8', 'uint16'] as const) {
    for (const [lo, hi] of [[-0.7, 0.3], [0.2, 1.5], [-3, -1]] as const) {
      it(`${dtype} round trip through tf.io.decodeWeights is within scale/2 on [${lo}, ${hi})`, () => {
        const values = sampleValues(500, lo, hi);
        const stored = quantizeWeight(floatWeight(values, [20, 25]), dtype);
        const q = stored.entry.quantization;
        assert.ok(q !== undefined && q.dtype === dtype && q.min !== undefined && q.scale !== undefined);
        assert.equal(stored.bytes.byteLength, values.length * (dtype === 'uint8' ? 1 : 2));
        assert.deepEqual(stored.entry.shape, [20, 25]);
        assert.equal(stored.entry.dtype, 'float32');
        const decoded = decodeWithTfjs(stored);
        let worst = 0;
        for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs((decoded[i] as number) - (values[i] as number)));
        // scale/2 from rounding, plus float32 rounding of the decoded value.
        assert.ok(worst <= q.scale / 2 + 1e-6 * Math.max(Math.abs(lo), Math.abs(hi)), `max error ${worst} > scale/2 = ${q.scale / 2}`);
      });
    }

    it(`${dtype} represents 0 exactly when the range covers it (nudged zero point)`, () => {
      const values = Float32Array.from([-0.37, 0, 0.11, 0, 0.93, -0.01]);
      const stored = quantizeWeight(floatWeight(values), dtype);
      const decoded = decodeWithTfjs(stored);
      assert.equal(decoded[1], 0);
      assert.equal(decoded[3], 0);
    });

    it(`${dtype} keeps min and max in range and uses the full code range`, () => {
      const values = Float32Array.from([1, 2, 3, 4]);
      const stored = quantizeWeight(floatWeight(values), dtype);
      const codes = dtype === 'uint8' ? Array.from(stored.bytes) : Array.from(new Uint16Array(stored.bytes.slice().buffer));
      assert.equal(codes[0], 0);
      assert.equal(codes[3], dtype === 'uint8' ? 255 : 65535);
      // 0 is outside [1, 4]: no nudging, so min is the data's min.
      assert.equal(stored.entry.quantization?.min, 1);
      assert.equal(stored.entry.quantization?.scale, 3 / (dtype === 'uint8' ? 255 : 65535));
    });

    it(`${dtype} stores a constant tensor as zeros with scale 1 and min = the constant`, () => {
      const values = new Float32Array(12).fill(-0.625);
      const stored = quantizeWeight(floatWeight(values, [3, 4]), dtype);
      assert.deepEqual(stored.entry.quantization, { dtype, min: -0.625, scale: 1, original_dtype: 'float32' });
      assert.ok(stored.bytes.every((b) => b === 0));
      assert.deepEqual(Array.from(decodeWithTfjs(stored)), Array.from(values));
    });

    it(`${dtype} refuses non-finite values`, () => {
      assert.throws(() => quantizeWeight(floatWeight([0, Infinity]), dtype), RangeError);
      assert.throws(() => quantizeWeight(floatWeight([NaN, 1]), dtype), RangeError);
    });
  }

  it('matches the converter on a worked example (numpy reference)', () => {
    // tfjs-converter's quantize_weights(np.array([0, -0.1, 1.2], 'float32'), np.uint8) gives
    // codes [20, 0, 255], scale = 1.3/255 and nudged min = -20 * scale.
    const stored = quantizeWeight(floatWeight([0, -0.1, 1.2]), 'uint8');
    assert.deepEqual(Array.from(stored.bytes), [20, 0, 255]);
    const q = stored.entry.quantization;
    const scale = (Math.fround(1.2) - Math.fround(-0.1)) / 255;
    assert.equal(q?.scale, scale);
    assert.equal(q?.min, -20 * scale);
  });

  it('refuses non-float32 entries and a size that does not match the shape', () => {
    assert.throws(
      () => quantizeWeight({ entry: { name: 'i', shape: [2], dtype: 'int32' }, values: new Float32Array(2) }, 'uint8'),
      RangeError,
    );
    assert.throws(() => quantizeWeight(floatWeight([1, 2, 3], [2, 2]), 'uint8'), RangeError);
  });
});

describe('quantizeWeight float16', () => {
  it('round trip through tf.io.decodeWeights is within half-precision relative error', () => {
    const values = Float32Array.from([...sampleValues(300, -2, 2), ...sampleValues(100, -1e4, 1e4, 3), ...sampleValues(100, -1e-3, 1e-3, 5)]);
    const stored = quantizeWeight(floatWeight(values), 'float16');
    assert.equal(stored.entry.quantization?.dtype, 'float16');
    assert.equal(stored.entry.quantization?.min, undefined);
    assert.equal(stored.bytes.byteLength, values.length * 2);
    const decoded = decodeWithTfjs(stored);
    for (let i = 0; i < values.length; i++) {
      const x = values[i] as number;
      const y = decoded[i] as number;
      // Round to nearest: relative error at most 2^-11 for normal halves, absolute 2^-25 for subnormals.
      const bound = Math.abs(x) >= 2 ** -14 ? Math.abs(x) * 2 ** -11 : 2 ** -25;
      assert.ok(Math.abs(x - y) <= bound, `${x} decoded as ${y}`);
    }
  });

  it('encodes special values as tfjs decodes them: 0, -0, ±Inf, NaN, overflow, subnormals', () => {
    const values = [0, -0, Infinity, -Infinity, 1e6, -65520, 65504, 2 ** -24, -(2 ** -24), 2 ** -14, 3 * 2 ** -20, 2 ** -26];
    const stored = quantizeWeight(floatWeight(values), 'float16');
    const decoded = Array.from(decodeWithTfjs(stored));
    assert.ok(Object.is(decoded[0], 0));
    assert.ok(Object.is(decoded[1], -0));
    assert.equal(decoded[2], Infinity);
    assert.equal(decoded[3], -Infinity);
    assert.equal(decoded[4], Infinity);
    assert.equal(decoded[5], -Infinity); // 65520 is halfway between 65504 and 2^16: ties to even → Inf
    assert.equal(decoded[6], 65504);
    assert.equal(decoded[7], 2 ** -24); // smallest subnormal
    assert.equal(decoded[8], -(2 ** -24));
    assert.equal(decoded[9], 2 ** -14); // smallest normal
    assert.equal(decoded[10], 3 * 2 ** -20); // a subnormal that is exact
    assert.equal(decoded[11], 0); // below half the smallest subnormal
    const nan = quantizeWeight(floatWeight([NaN]), 'float16');
    assert.ok(Number.isNaN(decodeWithTfjs(nan)[0]));
  });
});

describe('float32ToFloat16', () => {
  it('gives the bit patterns numpy gives', () => {
    // np.array([...], 'float32').astype(np.float16).view(np.uint16)
    const cases: Array<[number, number]> = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: even is 0
      [1.5 * 2 ** -24, 0x0002], // tie between codes 1 and 2: even is 2
      [2 ** -14 - 2 ** -25, 0x0400], // rounds up across the subnormal/normal boundary
      [1 + 2 ** -11, 0x3c00], // tie: stays on even mantissa
      [1 + 3 * 2 ** -11, 0x3c02], // tie: goes up to even mantissa
    ];
    for (const [x, bits] of cases) assert.equal(float32ToFloat16(x), bits, `float32ToFloat16(${x})`);
    assert.ok(Number.isNaN(float16ToFloat32(float32ToFloat16(NaN))));
  });

  it('round-trips every finite half exactly', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue; // Inf and NaN
      assert.equal(float32ToFloat16(float16ToFloat32(bits)), bits);
    }
  });
});
