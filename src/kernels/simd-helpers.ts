/**
 * Loop helper shared by the kernels' wasm modules (pooling-simd.ts, conv-simd.ts), kept here rather
 * than in src/wasm/assembler.ts, which other modules extend too.
 */
import { get, op, set } from '../wasm/assembler.js';

/** `for (o = from; o < limit; o += stride)` with the stride in a local (o, limit, stride locals; unsigned compare). */
export function loopBy(o: number, limit: number, stride: number, body: number[]): number[] {
  return [
    op.block, 0x40, op.loop, 0x40,
    ...get(o), ...get(limit), op.i32GeU, op.brIf, 1,
    ...body,
    ...get(o), ...get(stride), op.i32Add, ...set(o),
    op.br, 0,
    op.end, op.end,
  ];
}
