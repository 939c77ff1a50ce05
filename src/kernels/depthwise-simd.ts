/**
 * The depthwise filter gradient's inner loops as a WebAssembly SIMD function on the wasm backend's
 * heap (assembled by src/wasm/assembler.ts): for one filter tap, acc[k] += x[b, xr, xc, k / M] ·
 * dy[b, yr, yc, k] over every valid output pixel, batch, row and column in that order, two outputs
 * at a time in float64 lanes (for M = 1, MobileNet's depthwise layers, two channels; for M > 1, two
 * of a channel's M outputs).
 *
 * The cpu kernel sums each filter element in a float64 `dotProd` over (batch, output row, output
 * column). A float32 product is exact in float64, and each lane adds in that same order, so the sums
 * are the cpu kernel's bit for bit; they are rounded to float32 once, by the caller.
 */
import { F64, I32, V128, at, get, i32, perBackend, loopTo, moduleBytes, op, op64, set, simd64, vec, type FunctionSpec } from '../wasm/assembler.js';

/** Byte addresses and strides of one tap's sweep for the filter gradient (see depthwiseSweeps). */
export interface TapSweep {
  /** x at (batch 0, the first valid output pixel's input row and column, channel 0). */
  x: number;
  /** dy at (batch 0, the first valid output row and column, channel 0). */
  dy: number;
  /** The float64 sums, `channels` of them, added into. */
  acc: number;
  batch: number;
  rows: number;
  cols: number;
  channels: number;
  /** Bytes from one output column to the next in x (stride · channels · 4). */
  xCol: number;
  /** Bytes from one output row to the next in x. */
  xRow: number;
  xBatch: number;
  dyRow: number;
  dyBatch: number;
}


const vload64 = (): number[] => [...vec(simd64.load64Zero), 3, 0];
const promote = (): number[] => vec(simd64.promoteLow);
const f64x2Load = (): number[] => [...vec(0x00), 4, 0];
const f64x2Store = (): number[] => [...vec(0x0b), 4, 0];

/** Locals (indices) the two functions' outer loops use. */
interface PixelLocals {
  x: number; dy: number; batch: number; rows: number; cols: number;
  xRow: number; xBatch: number; dyRow: number; dyBatch: number;
  b: number; r: number; c: number; xb: number; dyb: number; xr: number; dyr: number; xp: number; dp: number;
}

/**
 * for b < batch, for r < rows, for c < cols: colBody, with xp and dp at the pixel's x and dy (colBody
 * advances them to the next column); each row and batch starts from x and dy plus its strides.
 */
function pixelLoops(l: PixelLocals, colBody: number[]): number[] {
  const rowBody = [
    ...get(l.xr), ...set(l.xp),
    ...get(l.dyr), ...set(l.dp),
    ...i32(0), ...set(l.c),
    ...loopTo(l.c, l.cols, 1, colBody),
    ...get(l.xr), ...get(l.xRow), op.i32Add, ...set(l.xr),
    ...get(l.dyr), ...get(l.dyRow), op.i32Add, ...set(l.dyr),
  ];
  const batchBody = [
    ...get(l.xb), ...set(l.xr),
    ...get(l.dyb), ...set(l.dyr),
    ...i32(0), ...set(l.r),
    ...loopTo(l.r, l.rows, 1, rowBody),
    ...get(l.xb), ...get(l.xBatch), op.i32Add, ...set(l.xb),
    ...get(l.dyb), ...get(l.dyBatch), op.i32Add, ...set(l.dyb),
  ];
  return [
    ...get(l.x), ...set(l.xb),
    ...get(l.dy), ...set(l.dyb),
    ...i32(0), ...set(l.b),
    ...loopTo(l.b, l.batch, 1, batchBody),
  ];
}

/**
 * Multiplier 1, two channels at a time (then one for an odd count): sums[k] += a[k] · b[k] at every
 * output pixel. The filter gradient's sums are one fixed row (a: x, strided; b: dy); the input
 * gradient's are the strided operand (a: dy; b: the filter at this tap, fixed). Parameters: strided,
 * dy, fixed, batch, rows, cols, channels, then the strided operand's column, row and batch strides and
 * dy's row and batch strides (bytes).
 */
function channelPairsFunction(sumsStrided: boolean): FunctionSpec {
  const [strided, dy, fixed, batch, rows, cols, channels, sCol, sRow, sBatch, dyRow, dyBatch] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [b, r, c, o, pairEnd, end, sb, dyb, sr, dyr, sp, dp] = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  // float64 sums at twice the float32 offset o.
  const sumAt = (): number[] => [...get(sumsStrided ? sp : fixed), ...get(o), ...i32(1), op.i32Shl, op.i32Add];
  const factors = sumsStrided ? [at(dp, o), at(fixed, o)] : [at(sp, o), at(dp, o)];
  const pairBody = [
    ...sumAt(),
    ...sumAt(), ...f64x2Load(),
    ...factors.flatMap((address) => [...address, ...vload64(), ...promote()]),
    ...vec(simd64.mul), ...vec(simd64.add),
    ...f64x2Store(),
  ];
  const tailBody = [
    ...sumAt(),
    ...sumAt(), op64.f64Load, 3, 0,
    ...factors.flatMap((address) => [...address, op.f32Load, 2, 0, op64.f64PromoteF32]),
    op64.f64Mul, op64.f64Add,
    op64.f64Store, 3, 0,
  ];
  const colBody = [
    ...i32(0), ...set(o),
    ...loopTo(o, pairEnd, 8, pairBody),
    ...loopTo(o, end, 4, tailBody),
    ...get(sp), ...get(sCol), op.i32Add, ...set(sp),
    ...get(dp), ...get(channels), ...i32(2), op.i32Shl, op.i32Add, ...set(dp),
  ];
  const body = [
    ...get(channels), ...i32(2), op.i32Shl, ...set(end),
    ...get(end), ...i32(-8), op.i32And, ...set(pairEnd),
    ...pixelLoops({ x: strided, dy, batch, rows, cols, xRow: sRow, xBatch: sBatch, dyRow, dyBatch, b, r, c, xb: sb, dyb, xr: sr, dyr, xp: sp, dp }, colBody),
  ];
  return { params: Array<number>(12).fill(I32), results: [], locals: Array<number>(12).fill(I32), body };
}

/**
 * The same sweep for a depth multiplier M > 1: acc[ch·M + m] += x[.., ch] · dy[.., ch·M + m], the x
 * value splat into both lanes and the M outputs of a channel taken two at a time.
 */
function tapMultiplierFunction(): FunctionSpec {
  const [x, dy, acc, batch, rows, cols, channels, xCol, xRow, xBatch, dyRow, dyBatch, inChannels, multiplier] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const [b, r, c, ch, mo, mPairEnd, mEnd, xb, dyb, xr, dyr, xp, dp, kb] = [14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];
  const xv = 28;
  const accAt = (): number[] => [...get(acc), ...get(kb), ...get(mo), op.i32Add, ...i32(1), op.i32Shl, op.i32Add];
  const dyAt = (): number[] => [...get(dp), ...get(kb), op.i32Add, ...get(mo), op.i32Add];
  const xAt = (): number[] => [...get(xp), ...get(ch), ...i32(2), op.i32Shl, op.i32Add];
  const pairBody = [
    ...accAt(),
    ...accAt(), ...f64x2Load(),
    ...get(xv),
    ...dyAt(), ...vload64(), ...promote(),
    ...vec(simd64.mul), ...vec(simd64.add),
    ...f64x2Store(),
  ];
  const tailBody = [
    ...accAt(),
    ...accAt(), op64.f64Load, 3, 0,
    ...xAt(), op.f32Load, 2, 0, op64.f64PromoteF32,
    ...dyAt(), op.f32Load, 2, 0, op64.f64PromoteF32,
    op64.f64Mul, op64.f64Add,
    op64.f64Store, 3, 0,
  ];
  const channelBody = [
    ...xAt(), op.f32Load, 2, 0, op64.f64PromoteF32, ...vec(simd64.splat), ...set(xv),
    ...i32(0), ...set(mo),
    ...loopTo(mo, mPairEnd, 8, pairBody),
    ...loopTo(mo, mEnd, 4, tailBody),
    ...get(kb), ...get(mEnd), op.i32Add, ...set(kb),
  ];
  const colBody = [
    ...i32(0), ...set(ch),
    ...i32(0), ...set(kb),
    ...loopTo(ch, inChannels, 1, channelBody),
    ...get(xp), ...get(xCol), op.i32Add, ...set(xp),
    ...get(dp), ...get(channels), ...i32(2), op.i32Shl, op.i32Add, ...set(dp),
  ];
  const body = [
    ...get(multiplier), ...i32(2), op.i32Shl, ...set(mEnd),
    ...get(mEnd), ...i32(-8), op.i32And, ...set(mPairEnd),
    ...pixelLoops({ x, dy, batch, rows, cols, xRow, xBatch, dyRow, dyBatch, b, r, c, xb, dyb, xr, dyr, xp, dp }, colBody),
  ];
  return { params: Array<number>(14).fill(I32), results: [], locals: [...Array<number>(14).fill(I32), V128], body };
}

/**
 * The same for a multiplier M > 1: sums[.., ch] += dy[.., ch·M + m] · w[r, c, ch·M + m] for m in
 * order, one float64 add at a time (the cpu kernel's order within a channel).
 */
function inputTapMultiplierFunction(): FunctionSpec {
  const [sums, dy, w, batch, rows, cols, channels, sCol, sRow, sBatch, dyRow, dyBatch, inChannels, multiplier] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const [b, r, c, ch, m, k, sb, dyb, sr, dyr, sp, dp] = [14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25];
  const acc = 26;
  const sumAt = (): number[] => [...get(sp), ...get(ch), ...i32(3), op.i32Shl, op.i32Add];
  const multiplierBody = [
    ...get(acc),
    ...get(dp), ...get(k), ...i32(2), op.i32Shl, op.i32Add, op.f32Load, 2, 0, op64.f64PromoteF32,
    ...get(w), ...get(k), ...i32(2), op.i32Shl, op.i32Add, op.f32Load, 2, 0, op64.f64PromoteF32,
    op64.f64Mul, op64.f64Add, ...set(acc),
    ...get(k), ...i32(1), op.i32Add, ...set(k),
  ];
  const channelBody = [
    ...sumAt(), op64.f64Load, 3, 0, ...set(acc),
    ...i32(0), ...set(m),
    ...loopTo(m, multiplier, 1, multiplierBody),
    ...sumAt(), ...get(acc), op64.f64Store, 3, 0,
  ];
  const colBody = [
    ...i32(0), ...set(ch),
    ...i32(0), ...set(k),
    ...loopTo(ch, inChannels, 1, channelBody),
    ...get(sp), ...get(sCol), op.i32Add, ...set(sp),
    ...get(dp), ...get(channels), ...i32(2), op.i32Shl, op.i32Add, ...set(dp),
  ];
  const body = pixelLoops({ x: sums, dy, batch, rows, cols, xRow: sRow, xBatch: sBatch, dyRow, dyBatch, b, r, c, xb: sb, dyb, xr: sr, dyr, xp: sp, dp }, colBody);
  return { params: Array<number>(14).fill(I32), results: [], locals: [...Array<number>(12).fill(I32), F64], body };
}

/** The module's bytes (exported for the tests that check it validates). */
export function tapModuleBytes(): Uint8Array {
  return moduleBytes([
    ['tap', channelPairsFunction(false)],
    ['tapMultiplier', tapMultiplierFunction()],
    ['inputTap', channelPairsFunction(true)],
    ['inputTapMultiplier', inputTapMultiplierFunction()],
  ]);
}

/** Byte addresses and strides of one tap's sweep for the input gradient (see depthwiseSweeps). */
export interface InputSweep {
  /** The float64 sums (one per dx element) at (batch 0, the first valid output pixel's input row and column). */
  sums: number;
  /** dy at (batch 0, the first valid output row and column, channel 0). */
  dy: number;
  /** The filter at this tap, channel 0. */
  w: number;
  batch: number;
  rows: number;
  cols: number;
  /** The output's channels (in · multiplier). */
  channels: number;
  /** Bytes from one output column to the next in the sums (stride · in channels · 8). */
  sCol: number;
  sRow: number;
  sBatch: number;
  dyRow: number;
  dyBatch: number;
}

/** The two sweeps, for a depth multiplier. */
export interface DepthwiseSweeps {
  filter(sweep: TapSweep, multiplier: number): void;
  input(sweep: InputSweep, multiplier: number): void;
}

interface Exports {
  tap(...args: number[]): void;
  tapMultiplier(...args: number[]): void;
  inputTap(...args: number[]): void;
  inputTapMultiplier(...args: number[]): void;
}

/** The SIMD sweeps on this backend's heap, or undefined (no SIMD, not the wasm backend). */
export const depthwiseSweeps = perBackend<Exports, DepthwiseSweeps>(tapModuleBytes, (e) => ({
  filter(s, multiplier) {
    const args = [s.x, s.dy, s.acc, s.batch, s.rows, s.cols, s.channels, s.xCol, s.xRow, s.xBatch, s.dyRow, s.dyBatch];
    if (multiplier === 1) e.tap(...args);
    else e.tapMultiplier(...args, s.channels / multiplier, multiplier);
  },
  input(s, multiplier) {
    const args = [s.sums, s.dy, s.w, s.batch, s.rows, s.cols, s.channels, s.sCol, s.sRow, s.sBatch, s.dyRow, s.dyBatch];
    if (multiplier === 1) e.inputTap(...args);
    else e.inputTapMultiplier(...args, s.channels / multiplier, multiplier);
  },
}));
