/**
 * A Conv2D layer's filter gradient as a direct wasm SIMD loop on the backend's heap, with no patch
 * matrix, no transposition and no packing. wasm's own routes (XNNPACK's BatchMatMul or Conv2D) pack
 * an operand anew every step, because the tensors are new each step, and need P [N×K] or transposed
 * copies of x and dy: on the CNN the filter gradient was ~30% of a training step.
 *
 * dW[r, c, i, o] = Σ_{b, y, x} x[b, y·sh + r − top, x·sw + c − left, i] · dy[b, y, x, o]. One call
 * computes one filter tap (r, c) over the output positions whose input pixel lies inside x (the
 * caller clips the ranges, so no zero of the padding is ever read). The accumulators are a register
 * tile of `ti` input channels × `to` vectors of four output channels: per output position, `to`
 * loads of dy, `ti` loads of x splat to four lanes (v128.load32_splat), ti·to multiply-adds.
 *
 * Sums: each image's contribution is summed in float32 in the tile, starting from zero, then added
 * to dW (zeroed by the caller) image by image; the cpu kernel sums all in float64. The results agree
 * to float32 rounding of sums of a few hundred terms (tests: within 1e-5 of the gradient's scale).
 */
import { I32, V128, get, i32, perBackend, leb, loopTo, moduleBytes as assemble, op, set, simd, vec, vload, vstore, type FunctionSpec } from '../wasm/assembler.js';
import { loopBy } from './simd-helpers.js';

/** Register tiles (input channels × vectors of four output channels) the module is built with. */
export const TILES: ReadonlyArray<readonly [ti: number, to: number]> = [
  // Measured on the CNN shapes (same process, min of 7 × 20 calls): 1×8 beats 1×4 for
  // 1 → 32 channels (1.65 against 1.99 ms of CPU) and 2×4 for 16 → 64 (0.65 against 0.76); 4×4
  // spills (V8 keeps 16 vector registers) and was slower than 2×4 for 32 → 16.
  [1, 8],
  [2, 4],
  [4, 2],
  [4, 1],
  [1, 4],
  [1, 2],
  [1, 1],
];

/** One tap's call, every stride and offset in bytes; see `filterTap`. */
export interface TapCall {
  /** x at the first output position's input pixel for this tap, image 0, channel 0. */
  x: number;
  /** dy at the first output position, image 0. */
  dy: number;
  /** dW[r, c, 0, 0]. */
  dw: number;
  batch: number;
  xImage: number;
  dyImage: number;
  rows: number;
  cols: number;
  /** x's step from one output row (column) to the next: stride rows (columns) of x. */
  xRow: number;
  xCol: number;
  dyRow: number;
  cin: number;
  cout: number;
}

export interface ConvLoops {
  /** dW[r, c] += Σ over the given output positions of x ⊗ dy, with a tile that divides cin and cout/4. */
  filterTap(call: TapCall): void;
}

/** v128.load32_splat: one float from memory in all four lanes. */
const loadSplat = (offset: number): number[] => [...vec(simd.load32Splat), 2, ...leb(offset)];

function filterTapFunction(ti: number, to: number): FunctionSpec {
  const [x, dy, dw, batch, xImage, dyImage, rows, cols, xRow, xCol, dyRow, cin, cout] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const names = ['b', 'ib', 'iBlocks', 'ob', 'oBlocks', 'xr', 'dr', 'row', 'xp', 'dp', 'dpEnd', 'dyCol', 'colSpan', 'xb', 'dyb', 'target', 'dwRow'] as const;
  const L = Object.fromEntries(names.map((n, i) => [n, 13 + i])) as Record<(typeof names)[number], number>;
  const firstVector = 13 + names.length;
  const acc = (t: number, j: number): number => firstVector + t * to + j;
  const dyv = (j: number): number => firstVector + ti * to + j;
  const splat = firstVector + ti * to + to;
  const zero = splat + 1;
  const vectors = ti * to + to + 2;

  // One output position: to loads of dy, then per input channel one splat and `to` multiply-adds.
  const position = [
    ...Array.from({ length: to }, (_, j) => [...get(L.dp), ...vload(16 * j), ...set(dyv(j))]).flat(),
    ...Array.from({ length: ti }, (_, t) => [
      ...get(L.xp), ...loadSplat(4 * t), ...set(splat),
      ...Array.from({ length: to }, (_, j) => [...get(acc(t, j)), ...get(splat), ...get(dyv(j)), ...vec(simd.mul), ...vec(simd.add), ...set(acc(t, j))]).flat(),
    ]).flat(),
    ...get(L.xp), ...get(xCol), op.i32Add, ...set(L.xp),
  ];
  const outputRow = [
    ...get(L.xr), ...set(L.xp),
    ...get(L.dr), ...set(L.dp),
    ...get(L.dr), ...get(L.colSpan), op.i32Add, ...set(L.dpEnd),
    ...loopBy(L.dp, L.dpEnd, L.dyCol, position),
    ...get(L.xr), ...get(xRow), op.i32Add, ...set(L.xr),
    ...get(L.dr), ...get(dyRow), op.i32Add, ...set(L.dr),
  ];
  // dW[ib·ti + t, ob·to·4 + 4j …] += the tile.
  const flush = Array.from({ length: ti }, (_, t) =>
    Array.from({ length: to }, (_, j) => [
      ...get(L.target), ...get(L.target), ...vload(), ...get(acc(t, j)), ...vec(simd.add), ...vstore(),
      ...get(L.target), ...i32(16), op.i32Add, ...set(L.target),
    ]).flat().concat([...get(L.target), ...i32(-16 * to), op.i32Add, ...get(L.dwRow), op.i32Add, ...set(L.target)]),
  ).flat();
  const tile = [
    ...Array.from({ length: ti * to }, (_, k) => [...get(zero), ...set(firstVector + k)]).flat(),
    // x at input channel ib·ti, dy at output channel ob·to·4.
    ...get(L.xb), ...get(L.ib), ...i32(4 * ti), op.i32Mul, op.i32Add, ...set(L.xr),
    ...get(L.dyb), ...get(L.ob), ...i32(16 * to), op.i32Mul, op.i32Add, ...set(L.dr),
    ...i32(0), ...set(L.row),
    ...loopTo(L.row, rows, 1, outputRow),
    ...get(dw), ...get(L.ib), ...i32(ti), op.i32Mul, ...get(L.dwRow), op.i32Mul, op.i32Add, ...get(L.ob), ...i32(16 * to), op.i32Mul, op.i32Add, ...set(L.target),
    ...flush,
  ];
  const image = [
    ...get(x), ...get(L.b), ...get(xImage), op.i32Mul, op.i32Add, ...set(L.xb),
    ...get(dy), ...get(L.b), ...get(dyImage), op.i32Mul, op.i32Add, ...set(L.dyb),
    ...i32(0), ...set(L.ib),
    ...loopTo(L.ib, L.iBlocks, 1, [...i32(0), ...set(L.ob), ...loopTo(L.ob, L.oBlocks, 1, tile)]),
  ];
  const body = [
    ...get(cin), ...i32(ti), op.i32DivU, ...set(L.iBlocks),
    ...get(cout), ...i32(4 * to), op.i32DivU, ...set(L.oBlocks),
    ...get(cout), ...i32(4), op.i32Mul, ...set(L.dyCol),
    ...get(cout), ...i32(4), op.i32Mul, ...set(L.dwRow),
    ...get(cols), ...get(L.dyCol), op.i32Mul, ...set(L.colSpan),
    ...i32(0), ...vec(simd.i32Splat), ...set(zero),
    ...i32(0), ...set(L.b),
    ...loopTo(L.b, batch, 1, image),
  ];
  return { params: Array<number>(13).fill(I32), results: [], locals: [...Array<number>(names.length).fill(I32), ...Array<number>(vectors).fill(V128)], body };
}

const tileName = (ti: number, to: number): string => `filterTap${ti}x${to}`;

/** The module's bytes: one function per tile. */
export function moduleBytes(): Uint8Array {
  return assemble(TILES.map(([ti, to]) => [tileName(ti, to), filterTapFunction(ti, to)]));
}

/** The largest tile that divides the channels: cin by ti, cout by 4·to (undefined if cout % 4 ≠ 0). */
export function tileFor(cin: number, cout: number): readonly [number, number] | undefined {
  return TILES.find(([ti, to]) => cin % ti === 0 && cout % (4 * to) === 0);
}

type TapFunction = (...args: number[]) => void;
/** The loops on this backend's heap, or undefined (no SIMD, not the wasm backend). */
export const convLoops = perBackend<Record<string, TapFunction>, ConvLoops>(moduleBytes, (e) => ({
  filterTap: (c) => {
    const tile = tileFor(c.cin, c.cout);
    if (tile === undefined) throw new Error(`filterTap: no tile for ${c.cin} → ${c.cout} channels`);
    const f = e[tileName(...tile)] as TapFunction;
    f(c.x, c.dy, c.dw, c.batch, c.xImage, c.dyImage, c.rows, c.cols, c.xRow, c.xCol, c.dyRow, c.cin, c.cout);
  },
}));
