/**
 * The column sums of a [rows, cols] matrix as a wasm SIMD loop on the backend's heap: a bias
 * gradient, dy [B, H, W, C] summed over B, H, W (plumbing.ts's Sum). Row by row with the columns
 * four at a time, each column's sum starting from +0 and added in row order in float32: the bits
 * of wasm's own Sum over axis 0 of the 2-D view, which first transposes the whole matrix (1.3 ms of
 * CPU for the issue's [21632, 32] against 0.3 ms here, same process).
 *
 * `columnSumLoop(backend)` is undefined where the runtime has no wasm SIMD or the backend exposes no
 * memory; plumbing.ts then keeps wasm's kernel.
 */
import { I32, at, fload, fstore, get, i32, perBackend, loopTo, moduleBytes as assemble, op, set, simd, vec, vload, vstore, type FunctionSpec } from '../wasm/assembler.js';

/** out[c] = +0 + m[0, c] + m[1, c] + … in row order, for a [rows, cols] matrix (byte offsets). */
export type ColumnSums = (m: number, rows: number, cols: number, out: number) => void;

/** columnSums(m, rows, cols, out): out zeroed, then each row of m added to it in order. */
function columnSumsFunction(): FunctionSpec {
  const [m, rows, cols, out] = [0, 1, 2, 3];
  const [end, o, vend, row, base] = [4, 5, 6, 7, 8];
  // o walks out's bytes; base is the row's start in m.
  const rowBody = [
    ...get(m), ...get(row), ...get(end), op.i32Mul, op.i32Add, ...set(base),
    ...i32(0), ...set(o),
    ...loopTo(o, vend, 16, [...at(out, o), ...at(out, o), ...vload(), ...at(base, o), ...vload(), ...vec(simd.add), ...vstore()]),
    ...loopTo(o, end, 4, [...at(out, o), ...at(out, o), ...fload(), ...at(base, o), ...fload(), op.f32Add, ...fstore()]),
  ];
  const body = [
    ...get(cols), ...i32(2), op.i32Shl, ...set(end),
    ...get(end), ...i32(-16), op.i32And, ...set(vend),
    ...i32(0), ...set(o),
    ...loopTo(o, vend, 16, [...at(out, o), ...i32(0), ...vec(simd.i32Splat), ...vstore()]),
    ...loopTo(o, end, 4, [...at(out, o), op.f32Const, 0, 0, 0, 0, ...fstore()]),
    ...i32(0), ...set(row),
    ...loopTo(row, rows, 1, rowBody),
  ];
  return { params: [I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32, I32], body };
}

/** The module's bytes: memory imported as env.memory, one exported function. */
export function moduleBytes(): Uint8Array {
  return assemble([['columnSums', columnSumsFunction()]]);
}

/** The loop on this backend's heap, or undefined (no SIMD, not the wasm backend). */
export const columnSumLoop = perBackend<{ columnSums: ColumnSums }, ColumnSums>(moduleBytes, (e) => (m: number, rows: number, cols: number, out: number): void => e.columnSums(m, rows, cols, out));
