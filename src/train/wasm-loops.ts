/**
 * Three loops of the training step as a small WebAssembly SIMD module that works directly on the
 * wasm backend's heap: Adam's update of one variable, relu's derivative and the column sums (bias
 * gradients). On these machines a JavaScript loop over a Float32Array costs ~5-25 ns an element, so
 * Adam alone over the MLP's 53K parameters was a fifth of a step; four lanes at a time in wasm take a
 * small fraction of that.
 *
 * The module is assembled here from its instructions (src/wasm/assembler.ts: no toolchain, no binary
 * file) and imports the backend's own WebAssembly.Memory, so pointers are the heap offsets the
 * backend already uses and nothing is copied. Each operation is the float32 operation tfjs's kernels do, in their order
 * (Adam's moments, bias corrections, square root and step as tfjs's AdamOptimizer writes them), so
 * results are tfjs's bit for bit where no sum is reordered. `loops(backend)` is undefined where the
 * runtime has no wasm SIMD or the backend exposes no memory; callers then keep their JavaScript loops.
 */
import { F32, I32, V128, at, fload, fstore, get, i32, perBackend, leb, loopTo, moduleBytes as assemble, op, set, simd, vec, vload, vstore, type FunctionSpec } from '../wasm/assembler.js';

export interface Loops {
  /**
   * Adam for one variable: moments m, v in place, the new value into `out` (byte offsets, n floats).
   * `correction1/2` are 1 − β^t, `step` is −learning rate.
   */
  adam(w: number, g: number, m: number, v: number, out: number, n: number, c: AdamConstants): void;
  /** out = y > 0 ? dy : 0 over n floats. */
  reluBackward(y: number, dy: number, out: number, n: number): void;
  /** out[c] += Σ_r m[r, c] over a [rows, cols] matrix (out zeroed by the caller). */
  addRows(m: number, rows: number, cols: number, out: number): void;
}

export interface AdamConstants {
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  epsilon: number;
  step: number;
  correction1: number;
  correction2: number;
}

/** adam(w, g, m, v, out, n; beta1, beta2, 1−β1, 1−β2, ε, step, 1−β1^t, 1−β2^t). */
function adamFunction(): FunctionSpec {
  const [w, g, m, v, out, n] = [0, 1, 2, 3, 4, 5];
  const scalars = [6, 7, 8, 9, 10, 11, 12, 13]; // beta1 beta2 omb1 omb2 eps step c1 c2
  const [end, o, vend] = [14, 15, 16];
  const splat = (k: number): number => 17 + k; // v128 copies of the scalars, 17..24
  const [gv, mv, vv] = [25, 26, 27];
  const [gs, ms, vs] = [28, 29, 30];
  const [B1, B2, OMB1, OMB2, EPS, STEP, C1, C2] = [0, 1, 2, 3, 4, 5, 6, 7];
  const S = (k: number): number[] => get(splat(k));
  const s = (k: number): number[] => get(scalars[k] as number);
  // new m = m·β1 + g·(1−β1); new v = v·β2 + g²·(1−β2); w + (m/c1) / (√(v/c2) + ε) · step
  const vectorBody = [
    ...at(g, o), ...vload(), ...set(gv),
    ...at(m, o), ...at(m, o), ...vload(), ...S(B1), ...vec(simd.mul), ...get(gv), ...S(OMB1), ...vec(simd.mul), ...vec(simd.add), op.localTee, ...leb(mv), ...vstore(),
    ...at(v, o), ...at(v, o), ...vload(), ...S(B2), ...vec(simd.mul), ...get(gv), ...get(gv), ...vec(simd.mul), ...S(OMB2), ...vec(simd.mul), ...vec(simd.add), op.localTee, ...leb(vv), ...vstore(),
    ...at(out, o),
    ...get(mv), ...S(C1), ...vec(simd.div),
    ...get(vv), ...S(C2), ...vec(simd.div), ...vec(simd.sqrt), ...S(EPS), ...vec(simd.add),
    ...vec(simd.div), ...S(STEP), ...vec(simd.mul),
    ...at(w, o), ...vload(), ...vec(simd.add),
    ...vstore(),
  ];
  const scalarBody = [
    ...at(g, o), ...fload(), ...set(gs),
    ...at(m, o), ...at(m, o), ...fload(), ...s(B1), op.f32Mul, ...get(gs), ...s(OMB1), op.f32Mul, op.f32Add, op.localTee, ...leb(ms), ...fstore(),
    ...at(v, o), ...at(v, o), ...fload(), ...s(B2), op.f32Mul, ...get(gs), ...get(gs), op.f32Mul, ...s(OMB2), op.f32Mul, op.f32Add, op.localTee, ...leb(vs), ...fstore(),
    ...at(out, o),
    ...get(ms), ...s(C1), op.f32Div,
    ...get(vs), ...s(C2), op.f32Div, op.f32Sqrt, ...s(EPS), op.f32Add,
    op.f32Div, ...s(STEP), op.f32Mul,
    ...at(w, o), ...fload(), op.f32Add,
    ...fstore(),
  ];
  const body = [
    ...get(n), ...i32(2), op.i32Shl, ...set(end),
    ...get(end), ...i32(-16), op.i32And, ...set(vend),
    ...scalars.flatMap((local, k) => [...get(local), ...vec(simd.splat), ...set(splat(k))]),
    ...i32(0), ...set(o),
    ...loopTo(o, vend, 16, vectorBody),
    ...loopTo(o, end, 4, scalarBody),
  ];
  return { params: [I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32], results: [], locals: [I32, I32, I32, ...Array<number>(11).fill(V128), F32, F32, F32], body };
}

/** reluBackward(y, dy, out, n): out = dy where y > 0, else 0. */
function reluFunction(): FunctionSpec {
  const [y, dy, out, n] = [0, 1, 2, 3];
  const [end, o, vend, zero] = [4, 5, 6, 7];
  const vectorBody = [...at(out, o), ...at(dy, o), ...vload(), ...at(y, o), ...vload(), ...get(zero), ...vec(simd.gt), ...vec(simd.and), ...vstore()];
  const scalarBody = [...at(out, o), ...at(dy, o), ...fload(), op.f32Const, 0, 0, 0, 0, ...at(y, o), ...fload(), op.f32Const, 0, 0, 0, 0, op.f32Gt, op.select, ...fstore()];
  const body = [
    ...get(n), ...i32(2), op.i32Shl, ...set(end),
    ...get(end), ...i32(-16), op.i32And, ...set(vend),
    op.f32Const, 0, 0, 0, 0, ...vec(simd.splat), ...set(zero),
    ...i32(0), ...set(o),
    ...loopTo(o, vend, 16, vectorBody),
    ...loopTo(o, end, 4, scalarBody),
  ];
  return { params: [I32, I32, I32, I32], results: [], locals: [I32, I32, I32, V128], body };
}

/** addRows(m, rows, cols, out): out[c] += m[r, c] for every row r, in row order. */
function addRowsFunction(): FunctionSpec {
  const [m, rows, cols, out] = [0, 1, 2, 3];
  const [end, o, vend, row, rowEnd, base] = [4, 5, 6, 7, 8, 9];
  // o walks out's bytes; base is the row's start in m.
  const vectorBody = [...at(out, o), ...at(out, o), ...vload(), ...at(base, o), ...vload(), ...vec(simd.add), ...vstore()];
  const scalarBody = [...at(out, o), ...at(out, o), ...fload(), ...at(base, o), ...fload(), op.f32Add, ...fstore()];
  const rowBody = [
    ...get(m), ...get(row), ...get(end), op.i32Mul, op.i32Add, ...set(base),
    ...i32(0), ...set(o),
    ...loopTo(o, vend, 16, vectorBody),
    ...loopTo(o, end, 4, scalarBody),
  ];
  const body = [
    ...get(cols), ...i32(2), op.i32Shl, ...set(end),
    ...get(end), ...i32(-16), op.i32And, ...set(vend),
    ...get(rows), ...set(rowEnd),
    ...i32(0), ...set(row),
    ...loopTo(row, rowEnd, 1, rowBody),
  ];
  return { params: [I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32, I32, I32], body };
}

/** The module's bytes: memory imported as env.memory, three exported functions. */
export function moduleBytes(): Uint8Array {
  return assemble([
    ['adam', adamFunction()],
    ['reluBackward', reluFunction()],
    ['addRows', addRowsFunction()],
  ]);
}

interface Exports {
  adam(...args: number[]): void;
  reluBackward(y: number, dy: number, out: number, n: number): void;
  addRows(m: number, rows: number, cols: number, out: number): void;
}

/** The loops on this backend's heap, or undefined (no SIMD, not the wasm backend). */
export const loops = perBackend<Exports, Loops>(moduleBytes, (e) => ({
  adam: (w, g, m, v, out, n, c) => e.adam(w, g, m, v, out, n, c.beta1, c.beta2, c.oneMinusBeta1, c.oneMinusBeta2, c.epsilon, c.step, c.correction1, c.correction2),
  reluBackward: (y, dy, out, n) => e.reluBackward(y, dy, out, n),
  addRows: (m, rows, cols, out) => e.addRows(m, rows, cols, out),
}));
