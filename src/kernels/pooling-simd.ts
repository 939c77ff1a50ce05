/**
 * Max pooling's gradient as a small WebAssembly SIMD module on the wasm backend's heap, for windows
 * that do not overlap (stride ≥ window, as in every 2×2 stride-2 pool): four channels at a time,
 * with no branch per element. pooling.ts's JavaScript loop took ~17% of the CNN step; this
 * takes a fraction of that (bench/RESULTS.md).
 *
 * The answer is the cpu kernel's, bit for bit. A window's maximum is its first pixel, in row-major
 * window order, strictly greater than every one before it, starting from −∞: so ties go to the
 * earliest, NaN never wins and a window of −∞ (or NaN) passes no gradient. Per lane, a first pass
 * over the window keeps the running maximum and the number of the last pixel that raised it (the
 * winner: f32x4.gt, then bitselect of the value and of the pixel number); a second pass writes
 * 0 + dy to the winner and 0 to the others. The cpu kernel's sum starts from 0 too, so −0 becomes +0
 * as there. Windows that do not overlap give each input at most one term, so no sum is reordered.
 * Pixels no window covers (the last row or column of an odd size) are zeroed by the caller.
 *
 * The module imports the backend's WebAssembly.Memory (src/wasm/assembler.ts), so its pointers are
 * the byte offsets of tensors in the heap and nothing is copied. `poolingLoops(backend)` is undefined
 * where the runtime has no wasm SIMD or the backend exposes no memory; pooling.ts then keeps its loop.
 */
import { I32, V128, f32, get, i32, perBackend, loopTo, moduleBytes as assemble, op, set, simd, vec, vload, vstore, type FunctionSpec } from '../wasm/assembler.js';
import { loopBy } from './simd-helpers.js';

/** Sizes of one NHWC max pool, in elements; strides ≥ the window in both axes. */
export interface PoolGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  /** A multiple of 4. */
  channels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  top: number;
  left: number;
}

export interface PoolingLoops {
  /**
   * dx at byte offset `dx` from x and dy (byte offsets): every pixel a window covers gets 0 + dy at its
   * window's maximum and 0 elsewhere; pixels no window covers are not written.
   */
  maxPoolGrad(x: number, dy: number, dx: number, g: PoolGeometry): void;
}

/** max(0, value on the stack), left on the stack (value kept in `scratch`). */
const atLeastZero = (scratch: number): number[] => [...set(scratch), ...i32(0), ...get(scratch), ...get(scratch), ...i32(0), op.i32LtS, op.select];

/**
 * Both functions' start: byte strides of a pixel, a row and an image of x, dx − x, dy's walk from
 * its start, and the constants 0 and −∞ in four lanes (locals given by index).
 */
function prelude(
  p: { x: number; dy: number; dx: number; inH: number; inW: number; channels: number },
  l: { pix: number; rowStride: number; imageStride: number; delta: number; o: number; zero: number; negInf: number },
): number[] {
  return [
    ...get(p.channels), ...i32(2), op.i32Shl, ...set(l.pix),
    ...get(p.inW), ...get(l.pix), op.i32Mul, ...set(l.rowStride),
    ...get(p.inH), ...get(l.rowStride), op.i32Mul, ...set(l.imageStride),
    ...get(p.dx), ...get(p.x), op.i32Sub, ...set(l.delta),
    ...get(p.dy), ...set(l.o),
    ...f32(0), ...vec(simd.splat), ...set(l.zero),
    ...f32(-Infinity), ...vec(simd.splat), ...set(l.negInf),
  ];
}

function maxPoolGradFunction(): FunctionSpec {
  // Parameters.
  const [x, dy, dx, batch, inH, inW, channels, outH, outW, fh, fw, sh, sw, top, left] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  // i32 locals.
  const [pix, rowStride, imageStride, b, yr, yc, rmin, nr, cmin, nc, image, corner, win, d, rp, rend, cp, cend, p, o, delta, rowSpan, rowsSpan, scratch] =
    Array.from({ length: 24 }, (_, i) => 15 + i) as number[] as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  // v128 locals.
  const [best, idx, g, v, dyv, zero, negInf, minusOne] = Array.from({ length: 8 }, (_, i) => 39 + i) as [number, number, number, number, number, number, number, number];

  const nextPixel = [...get(p), ...i32(1), op.i32Add, ...set(p)];
  // Pass 1, per pixel: the running maximum and the number of the last pixel that raised it.
  const find = [
    ...get(cp), ...vload(), ...set(v),
    ...get(v), ...get(best), ...vec(simd.gt), ...set(g),
    ...get(v), ...get(best), ...get(g), ...vec(simd.bitselect), ...set(best),
    ...get(p), ...vec(simd.i32Splat), ...get(idx), ...get(g), ...vec(simd.bitselect), ...set(idx),
    ...nextPixel,
  ];
  // Pass 2, per pixel: 0 + dy where this pixel is the winner, 0 + 0 elsewhere.
  const write = [
    ...get(cp), ...get(delta), op.i32Add,
    ...get(dyv), ...get(p), ...vec(simd.i32Splat), ...get(idx), ...vec(simd.i32Eq), ...vec(simd.and), ...get(zero), ...vec(simd.add),
    ...vstore(),
    ...nextPixel,
  ];
  // The window's pixels row by row (rp over rows, cp over the row's pixels), four channels at d.
  const walk = (perPixel: number[]): number[] => [
    ...i32(0), ...set(p),
    ...get(win), ...get(d), op.i32Add, ...set(rp),
    ...get(rp), ...get(rowsSpan), op.i32Add, ...set(rend),
    ...loopBy(rp, rend, rowStride, [
      ...get(rp), ...set(cp),
      ...get(rp), ...get(rowSpan), op.i32Add, ...set(cend),
      ...loopBy(cp, cend, pix, perPixel),
    ]),
  ];
  const channelBlock = [
    ...get(negInf), ...set(best),
    ...get(minusOne), ...set(idx),
    ...walk(find),
    ...get(o), ...get(d), op.i32Add, ...vload(), ...set(dyv),
    ...walk(write),
  ];
  // The window's first and last rows (columns) inside x: the corner clipped to [0, size).
  const clip = (position: number, stride: number, pad: number, filter: number, size: number, first: number, count: number): number[] => [
    ...get(position), ...get(stride), op.i32Mul, ...get(pad), op.i32Sub, ...set(corner),
    ...i32(0), ...get(corner), ...get(corner), ...i32(0), op.i32LtS, op.select, ...set(first),
    // end = min(size, corner + filter); count = max(0, end − first)
    ...get(size), ...get(corner), ...get(filter), op.i32Add, ...get(size), ...get(corner), ...get(filter), op.i32Add, op.i32LtS, op.select,
    ...get(first), op.i32Sub, ...atLeastZero(scratch), ...set(count),
  ];
  const window = [
    ...clip(yc, sw, left, fw, inW, cmin, nc),
    ...get(nc), ...get(pix), op.i32Mul, ...set(rowSpan),
    ...get(image), ...get(rmin), ...get(rowStride), op.i32Mul, op.i32Add, ...get(cmin), ...get(pix), op.i32Mul, op.i32Add, ...set(win),
    ...i32(0), ...set(d),
    ...loopTo(d, pix, 16, channelBlock),
    ...get(o), ...get(pix), op.i32Add, ...set(o),
  ];
  const row = [
    ...clip(yr, sh, top, fh, inH, rmin, nr),
    ...get(nr), ...get(rowStride), op.i32Mul, ...set(rowsSpan),
    ...i32(0), ...set(yc),
    ...loopTo(yc, outW, 1, window),
  ];
  const image_ = [
    ...get(x), ...get(b), ...get(imageStride), op.i32Mul, op.i32Add, ...set(image),
    ...i32(0), ...set(yr),
    ...loopTo(yr, outH, 1, row),
  ];
  const body = [
    ...prelude({ x, dy, dx, inH, inW, channels }, { pix, rowStride, imageStride, delta, o, zero, negInf }),
    ...i32(-1), ...vec(simd.i32Splat), ...set(minusOne),
    ...i32(0), ...set(b),
    ...loopTo(b, batch, 1, image_),
  ];
  return { params: Array<number>(15).fill(I32), results: [], locals: [...Array<number>(24).fill(I32), ...Array<number>(8).fill(V128)], body };
}

/**
 * The same for 2×2 windows that all lie inside x (no padding), unrolled: four loads, the running
 * maximum as three bitselects, and each pixel's mask as "raised the maximum, and no later pixel did".
 */
function maxPoolGrad2x2Function(): FunctionSpec {
  const [x, dy, dx, batch, inH, inW, channels, outH, outW, sh, sw] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [pix, rowStride, imageStride, b, yr, yc, d, win, rowStart, colStep, a0, a2, o, delta] = Array.from({ length: 14 }, (_, i) => 11 + i) as [number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  const [x1, x3, best, g0, g1, g2, g3, later, dyv, zero, negInf] = Array.from({ length: 11 }, (_, i) => 25 + i) as [number, number, number, number, number, number, number, number, number, number, number];
  const x0 = best;
  const x2 = g3;
  // 0 + (dy where mask), stored at the pixel's address in dx (the address in x + delta).
  const store = (address: number[], mask: number[]): number[] => [...address, ...get(delta), op.i32Add, ...get(dyv), ...mask, ...vec(simd.and), ...get(zero), ...vec(simd.add), ...vstore()];
  const block = [
    ...get(win), ...get(d), op.i32Add, ...set(a0),
    ...get(a0), ...get(rowStride), op.i32Add, ...set(a2),
    ...get(a0), ...get(pix), op.i32Add, ...vload(), ...set(x1),
    ...get(a2), ...get(pix), op.i32Add, ...vload(), ...set(x3),
    // The running maximum from −∞, strictly greater each time (x0 and x2 share locals with best and g3).
    ...get(a0), ...vload(), ...set(x0),
    ...get(x0), ...get(negInf), ...vec(simd.gt), ...set(g0),
    ...get(x0), ...get(negInf), ...get(g0), ...vec(simd.bitselect), ...set(best),
    ...get(x1), ...get(best), ...vec(simd.gt), ...set(g1),
    ...get(x1), ...get(best), ...get(g1), ...vec(simd.bitselect), ...set(best),
    ...get(a2), ...vload(), ...set(x2),
    ...get(x2), ...get(best), ...vec(simd.gt), ...set(g2),
    ...get(x2), ...get(best), ...get(g2), ...vec(simd.bitselect), ...set(best),
    ...get(x3), ...get(best), ...vec(simd.gt), ...set(g3),
    ...get(o), ...get(d), op.i32Add, ...vload(), ...set(dyv),
    // The winner is the last pixel that raised the maximum.
    ...store([...get(a2), ...get(pix), op.i32Add], get(g3)),
    ...store(get(a2), [...get(g2), ...get(g3), ...vec(simd.andnot)]),
    ...get(g3), ...get(g2), ...vec(simd.or), ...set(later),
    ...store([...get(a0), ...get(pix), op.i32Add], [...get(g1), ...get(later), ...vec(simd.andnot)]),
    ...get(later), ...get(g1), ...vec(simd.or), ...set(later),
    ...store(get(a0), [...get(g0), ...get(later), ...vec(simd.andnot)]),
  ];
  const window = [
    ...i32(0), ...set(d),
    ...loopTo(d, pix, 16, block),
    ...get(o), ...get(pix), op.i32Add, ...set(o),
    ...get(win), ...get(colStep), op.i32Add, ...set(win),
  ];
  const row = [
    ...get(rowStart), ...set(win),
    ...i32(0), ...set(yc),
    ...loopTo(yc, outW, 1, window),
    ...get(rowStart), ...get(rowStride), ...get(sh), op.i32Mul, op.i32Add, ...set(rowStart),
  ];
  const image = [
    ...get(x), ...get(b), ...get(imageStride), op.i32Mul, op.i32Add, ...set(rowStart),
    ...i32(0), ...set(yr),
    ...loopTo(yr, outH, 1, row),
  ];
  const body = [
    ...prelude({ x, dy, dx, inH, inW, channels }, { pix, rowStride, imageStride, delta, o, zero, negInf }),
    ...get(sw), ...get(pix), op.i32Mul, ...set(colStep),
    ...i32(0), ...set(b),
    ...loopTo(b, batch, 1, image),
  ];
  return { params: Array<number>(11).fill(I32), results: [], locals: [...Array<number>(14).fill(I32), ...Array<number>(11).fill(V128)], body };
}

/** The module's bytes: memory imported as env.memory, two exported functions. */
export function moduleBytes(): Uint8Array {
  return assemble([
    ['maxPoolGrad', maxPoolGradFunction()],
    ['maxPoolGrad2x2', maxPoolGrad2x2Function()],
  ]);
}

interface Exports {
  maxPoolGrad(...args: number[]): void;
  maxPoolGrad2x2(...args: number[]): void;
}

/** The pooling loops on this backend's heap, or undefined (no SIMD, not the wasm backend). */
export const poolingLoops = perBackend<Exports, PoolingLoops>(moduleBytes, (e) => ({
  maxPoolGrad: (x, dy, dx, g) => {
    if (g.channels % 4 !== 0 || g.strideHeight < g.filterHeight || g.strideWidth < g.filterWidth) throw new Error('maxPoolGrad: channels must be a multiple of 4 and windows must not overlap');
    // 2×2 windows all inside x: the unrolled function.
    const inside = g.top === 0 && g.left === 0 && (g.outHeight - 1) * g.strideHeight + 2 <= g.inHeight && (g.outWidth - 1) * g.strideWidth + 2 <= g.inWidth;
    if (g.filterHeight === 2 && g.filterWidth === 2 && inside) e.maxPoolGrad2x2(x, dy, dx, g.batch, g.inHeight, g.inWidth, g.channels, g.outHeight, g.outWidth, g.strideHeight, g.strideWidth);
    else e.maxPoolGrad(x, dy, dx, g.batch, g.inHeight, g.inWidth, g.channels, g.outHeight, g.outWidth, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.top, g.left);
  },
}));
