/**
 * The three matrix products of the Dense-chain training step as a WebAssembly SIMD module working on
 * the wasm backend's heap: C = A·B (the forward, with the bias and relu in its epilogue), C = Aᵀ·B
 * (dW = Xᵀ·dZ) and C = A·Bᵀ (dX = dZ·Wᵀ, with relu's derivative in its epilogue), all row-major.
 *
 * Why not the backend's products: tfjs-backend-wasm hands them to XNNPACK, which first packs the
 * second operand into its own layout and caches the packed copy per tensor. The step's weights are
 * new tensors after every Adam step and its gradients new tensors every step, so every product
 * packed anew; for the skinny products of a factorized MLP (32 rows, inner dimensions 24 to 784) the
 * packing cost as much as the product, and the transposes the step needed to arrange them another
 * tenth. These loops read both operands where they are, in the layout the step has.
 *
 * Register tiles: A·B and Aᵀ·B keep 4 rows × 8 columns of C in eight f32x4 accumulators, adding
 * B's row times a broadcast element of A per inner index (no FMA in wasm: a multiply and an add;
 * 4 × 12 spilled registers and 2 × 16 or 8 × 4 were slower). A·Bᵀ keeps 2 rows × 4 columns of
 * four-lane partial dot products, summed across lanes at the end, where the inner dimension is the
 * longer; where it is short (dX of a factor's wide half) it transposes B into a scratch buffer, in
 * 4 × 4 register blocks, and takes the A·B loops. Edges take smaller tiles (1 row, 4 columns) and
 * scalar columns, so any size works and nothing past C is written. Sums are in a different order than XNNPACK's, so results agree with tfjs's products
 * within float32 rounding (test/train/wasm-matmul.test.ts), not bit for bit.
 *
 * Assembled here (src/wasm/assembler.ts: no toolchain, no binary file); `products(backend)` is
 * undefined where the runtime has no wasm SIMD or the backend exposes no memory (the cpu backend):
 * dense-step.ts then calls the backend's kernels as before.
 */
import { allocate, view } from '../kernels/heap.js';
import {
  F32, I32, V128, f32, fload, fstore, get, i32, perBackend, lane, loopBy, loopTo, moduleBytes as assemble, op, set, simd, tee, vec, vload, vsplatLoad, vstore,
  type FunctionSpec,
} from '../wasm/assembler.js';

export interface Products {
  /** C[m,n] = A[m,k]·B[k,n] (+ bias[n] when `bias` ≠ 0), then max(·, 0) when `relu`. Byte offsets. */
  ab(a: number, b: number, bias: number, c: number, m: number, k: number, n: number, relu: boolean): void;
  /** C[m,n] = A[k,m]ᵀ·B[k,n]. */
  atb(a: number, b: number, c: number, m: number, k: number, n: number): void;
  /** C[m,n] = A[m,k]·B[n,k]ᵀ, then, when `mask` ≠ 0, 0 where mask[m,n] ≤ 0 (relu's derivative). */
  abt(a: number, b: number, mask: number, c: number, m: number, k: number, n: number): void;
}

/** Locals of one function, numbered after its parameters, with their types in order. */
class Locals {
  readonly types: number[] = [];
  constructor(private readonly params: number) {}
  private add(type: number): number {
    this.types.push(type);
    return this.params + this.types.length - 1;
  }
  i32(): number {
    return this.add(I32);
  }
  f32(): number {
    return this.add(F32);
  }
  v128(): number {
    return this.add(V128);
  }
}

const vadd = vec(simd.add);
const vmul = vec(simd.mul);
const bytes = (local: number): number[] => [...get(local), ...i32(2), op.i32Shl];

/**
 * C = A·B (`transposedA` false: A is [m,k]) or C = Aᵀ·B (true: A is [k,m]), B [k,n], C [m,n]; the
 * first with bias and relu parameters. Params: a, b, [bias,] c, m, k, n[, relu].
 */
function rowsTimesB(transposedA: boolean): FunctionSpec {
  const withEpilogue = !transposedA;
  const params = withEpilogue ? 9 : 6;
  const [a, b] = [0, 1];
  const [bias, mask] = withEpilogue ? [2, 3] : [-1, -1];
  const [c, m, k, n] = withEpilogue ? [4, 5, 6, 7] : [2, 3, 4, 5];
  const relu = withEpilogue ? 8 : -1;
  const L = new Locals(params);
  const [i0, j0, mTiles, nWide, nVec, pa, pb, pEnd, bStep, aStep, rowBytes, aRow, floor, floorScalar, zero] = [
    L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.v128(), L.f32(), L.v128(),
  ];
  const ROWS = 4;
  const WIDE = 2; // vectors per row in the wide tile: 8 columns
  const acc = Array.from({ length: ROWS * WIDE }, () => L.v128());
  const bv = Array.from({ length: WIDE }, () => L.v128());
  const splatA = L.v128();
  const accScalar = Array.from({ length: ROWS }, () => L.f32());
  const bScalar = L.f32();

  /** Address of A(i0 + r, p) from pa = address of A(i0, p). */
  const addressA = (r: number): { base: number[]; offset: number } =>
    transposedA ? { base: get(pa), offset: 4 * r } : { base: r === 0 ? get(pa) : [...get(pa), ...get(aRow), ...i32(r), op.i32Mul, op.i32Add], offset: 0 };

  /** Set pa, pb, pEnd for the tile at rows i0, columns j0. */
  const tileStart = [
    // pa = a + 4·(transposedA ? i0 : i0·k); pb = b + 4·j0; pEnd = pb + k·4n
    ...get(a), ...(transposedA ? bytes(i0) : [...bytes(i0), ...get(k), op.i32Mul]), op.i32Add, ...set(pa),
    ...get(b), ...bytes(j0), op.i32Add, ...tee(pb), ...get(k), ...get(bStep), op.i32Mul, op.i32Add, ...set(pEnd),
  ];
  /** Address of element (i0 + r, j0) of C, or of the mask, on the stack. */
  const addressIn = (matrix: number, r: number): number[] => [...get(matrix), ...get(i0), ...i32(r), op.i32Add, ...get(rowBytes), op.i32Mul, op.i32Add, ...bytes(j0), op.i32Add];
  const addressC = (r: number): number[] => addressIn(c, r);
  /** Stores with the epilogue: max(·, floor), and where there is a mask, 0 where the mask is ≤ 0. */
  const epilogue = (plain: number[], masked: number[]): number[] =>
    withEpilogue ? [...get(mask), op.i32Eqz, op.if, 0x40, ...plain, op.else, ...masked, op.end] : plain;

  /** A tile of `rows` rows × `vectors` f32x4 columns. */
  const vectorTile = (rows: number, vectors: number): number[] => {
    const init: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < vectors; v++) {
        const slot = acc[r * WIDE + v] as number;
        if (withEpilogue) {
          // The bias, or zeros (bias = 0): select the loaded vector or zero on the bias pointer.
          init.push(
            op.block, 0x40, ...get(zero), ...set(slot), ...get(bias), op.i32Eqz, op.brIf, 0,
            ...get(bias), ...bytes(j0), op.i32Add, ...vload(16 * v), ...set(slot), op.end,
          );
        } else init.push(...get(zero), ...set(slot));
      }
    }
    const body: number[] = [];
    for (let v = 0; v < vectors; v++) body.push(...get(pb), ...vload(16 * v), ...set(bv[v] as number));
    for (let r = 0; r < rows; r++) {
      const { base, offset } = addressA(r);
      body.push(...base, ...vsplatLoad(offset), ...set(splatA));
      for (let v = 0; v < vectors; v++) {
        const slot = acc[r * WIDE + v] as number;
        body.push(...get(slot), ...get(bv[v] as number), ...get(splatA), ...vmul, ...vadd, ...set(slot));
      }
    }
    body.push(...get(pa), ...get(aStep), op.i32Add, ...set(pa));
    const plain: number[] = [];
    const masked: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < vectors; v++) {
        const slot = acc[r * WIDE + v] as number;
        const value = [...get(slot), ...(withEpilogue ? [...get(floor), ...vec(simd.max)] : [])];
        plain.push(...addressC(r), ...value, ...vstore(16 * v));
        masked.push(...addressC(r), ...value, ...addressIn(mask, r), ...vload(16 * v), ...get(zero), ...vec(simd.gt), ...vec(simd.and), ...vstore(16 * v));
      }
    }
    return [...tileStart, ...init, ...loopBy(pb, pEnd, get(bStep), body), ...epilogue(plain, masked)];
  };

  /** A tile of `rows` rows × one column, in scalars. */
  const scalarTile = (rows: number): number[] => {
    const init: number[] = [];
    for (let r = 0; r < rows; r++) {
      const slot = accScalar[r] as number;
      if (withEpilogue) {
        init.push(...f32(0), ...set(slot), op.block, 0x40, ...get(bias), op.i32Eqz, op.brIf, 0, ...get(bias), ...bytes(j0), op.i32Add, ...fload(), ...set(slot), op.end);
      } else init.push(...f32(0), ...set(slot));
    }
    const body: number[] = [...get(pb), ...fload(), ...set(bScalar)];
    for (let r = 0; r < rows; r++) {
      const { base, offset } = addressA(r);
      const slot = accScalar[r] as number;
      body.push(...get(slot), ...base, ...fload(offset), ...get(bScalar), op.f32Mul, op.f32Add, ...set(slot));
    }
    body.push(...get(pa), ...get(aStep), op.i32Add, ...set(pa));
    const plain: number[] = [];
    const masked: number[] = [];
    for (let r = 0; r < rows; r++) {
      const value = [...get(accScalar[r] as number), ...(withEpilogue ? [...get(floorScalar), op.f32Max] : [])];
      plain.push(...addressC(r), ...value, ...fstore());
      masked.push(...addressC(r), ...value, ...f32(0), ...addressIn(mask, r), ...fload(), ...f32(0), op.f32Gt, op.select, ...fstore());
    }
    return [...tileStart, ...init, ...loopBy(pb, pEnd, get(bStep), body), ...epilogue(plain, masked)];
  };

  /** Every column of the rows i0 .. i0 + rows − 1. */
  const rowBlock = (rows: number): number[] => [
    ...i32(0), ...set(j0),
    ...loopTo(j0, nWide, 4 * WIDE, vectorTile(rows, WIDE)),
    ...loopTo(j0, nVec, 4, vectorTile(rows, 1)),
    ...loopTo(j0, n, 1, scalarTile(rows)),
  ];

  const body = [
    ...get(n), ...i32(-(4 * WIDE)), op.i32And, ...set(nWide),
    ...get(n), ...i32(-4), op.i32And, ...set(nVec),
    ...get(m), ...i32(-ROWS), op.i32And, ...set(mTiles),
    ...bytes(n), ...tee(rowBytes), ...set(bStep),
    // Between A(i, p) and A(i, p + 1): 4 bytes, or a row of Aᵀ's storage; between rows: the converse.
    ...(transposedA ? [...bytes(m), ...set(aStep)] : [...i32(4), ...set(aStep), ...bytes(k), ...set(aRow)]),
    ...f32(0), ...vec(simd.splat), ...set(zero),
    // relu as max(·, 0); otherwise max(·, −∞), which leaves every value (NaN too) as it is.
    ...(withEpilogue ? [...f32(0), ...f32(-Infinity), ...get(relu), op.select, ...tee(floorScalar), ...vec(simd.splat), ...set(floor)] : []),
    ...i32(0), ...set(i0),
    ...loopTo(i0, mTiles, ROWS, rowBlock(ROWS)),
    ...loopTo(i0, m, 1, rowBlock(1)),
  ];
  return { params: Array<number>(params).fill(I32), results: [], locals: L.types, body };
}

/** C[m,n] = A[m,k]·B[n,k]ᵀ, masked by relu's derivative when mask ≠ 0. Params: a, b, mask, c, m, k, n. */
function rowsTimesBt(): FunctionSpec {
  const [a, b, mask, c, m, k, n] = [0, 1, 2, 3, 4, 5, 6];
  const L = new Locals(7);
  const [i0, j0, mTiles, nTiles, o, kVec, kEnd, rowBytes, cRow, zero] = [L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.v128()];
  const ROWS = 2;
  const COLS = 4;
  const pa = Array.from({ length: ROWS }, () => L.i32());
  const pb = Array.from({ length: COLS }, () => L.i32());
  const acc = Array.from({ length: ROWS * COLS }, () => L.v128());
  const av = Array.from({ length: ROWS }, () => L.v128());
  const bvec = L.v128();
  const sums = Array.from({ length: ROWS * COLS }, () => L.f32());

  const tile = (rows: number, cols: number): number[] => {
    const start: number[] = [];
    for (let r = 0; r < rows; r++) start.push(...get(a), ...get(i0), ...i32(r), op.i32Add, ...get(kEnd), op.i32Mul, op.i32Add, ...set(pa[r] as number));
    for (let q = 0; q < cols; q++) start.push(...get(b), ...get(j0), ...i32(q), op.i32Add, ...get(kEnd), op.i32Mul, op.i32Add, ...set(pb[q] as number));
    for (let s = 0; s < rows * COLS; s++) if (s % COLS < cols) start.push(...get(zero), ...set(acc[s] as number));
    const vectorBody: number[] = [];
    for (let r = 0; r < rows; r++) vectorBody.push(...get(pa[r] as number), ...get(o), op.i32Add, ...vload(), ...set(av[r] as number));
    for (let q = 0; q < cols; q++) {
      vectorBody.push(...get(pb[q] as number), ...get(o), op.i32Add, ...vload(), ...set(bvec));
      for (let r = 0; r < rows; r++) {
        const slot = acc[r * COLS + q] as number;
        vectorBody.push(...get(slot), ...get(av[r] as number), ...get(bvec), ...vmul, ...vadd, ...set(slot));
      }
    }
    // Lanes summed pairwise, then the scalar tail of k added in order.
    const reduce: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const slot = acc[r * COLS + q] as number;
        reduce.push(...get(slot), ...lane(0), ...get(slot), ...lane(1), op.f32Add, ...get(slot), ...lane(2), ...get(slot), ...lane(3), op.f32Add, op.f32Add, ...set(sums[r * COLS + q] as number));
      }
    }
    const scalarBody: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const sum = sums[r * COLS + q] as number;
        scalarBody.push(...get(sum), ...get(pa[r] as number), ...get(o), op.i32Add, ...fload(), ...get(pb[q] as number), ...get(o), op.i32Add, ...fload(), op.f32Mul, op.f32Add, ...set(sum));
      }
    }
    // C(i0 + r, j0 + q), optionally zeroed where the mask (the previous layer's relu output) is ≤ 0.
    const plain: number[] = [];
    const masked: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const sum = sums[r * COLS + q] as number;
        const offset = [...get(cRow), ...i32(r), ...get(rowBytes), op.i32Mul, op.i32Add, ...i32(4 * q), op.i32Add];
        plain.push(...get(c), ...offset, op.i32Add, ...get(sum), ...fstore());
        masked.push(...get(c), ...offset, op.i32Add, ...get(sum), ...f32(0), ...get(mask), ...offset, op.i32Add, ...fload(), ...f32(0), op.f32Gt, op.select, ...fstore());
      }
    }
    return [
      ...start,
      ...i32(0), ...set(o),
      ...loopTo(o, kVec, 16, vectorBody),
      ...reduce,
      ...loopTo(o, kEnd, 4, scalarBody),
      // cRow: the byte offset of C(i0, j0) from C (and of the mask's element from the mask).
      ...get(i0), ...get(rowBytes), op.i32Mul, ...bytes(j0), op.i32Add, ...set(cRow),
      ...get(mask), op.i32Eqz, op.if, 0x40, ...plain, op.else, ...masked, op.end,
    ];
  };

  const rowBlock = (rows: number): number[] => [
    ...i32(0), ...set(j0),
    ...loopTo(j0, nTiles, COLS, tile(rows, COLS)),
    ...loopTo(j0, n, 1, tile(rows, 1)),
  ];

  const body = [
    ...bytes(k), ...tee(kEnd), ...i32(-16), op.i32And, ...set(kVec),
    ...bytes(n), ...set(rowBytes),
    ...get(m), ...i32(-ROWS), op.i32And, ...set(mTiles),
    ...get(n), ...i32(-COLS), op.i32And, ...set(nTiles),
    ...f32(0), ...vec(simd.splat), ...set(zero),
    ...i32(0), ...set(i0),
    ...loopTo(i0, mTiles, ROWS, rowBlock(ROWS)),
    ...loopTo(i0, m, 1, rowBlock(1)),
  ];
  return { params: Array<number>(7).fill(I32), results: [], locals: L.types, body };
}

/** i8x16.shuffle of two f32x4 by float lanes (0-3 the first operand's, 4-7 the second's). */
const shuffle = (lanes: number[]): number[] => [...vec(simd.shuffle), ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])];

/**
 * transpose(src, dst, rows, cols): dst[c, r] = src[r, c]. 4 × 4 blocks are transposed in registers
 * (eight shuffles), the strips right of and below them element by element.
 */
function transposeFunction(): FunctionSpec {
  const [src, dst, rows, cols] = [0, 1, 2, 3];
  const L = new Locals(4);
  const [r, c, r4, c4, srcRow, dstRow, from, to] = [L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32(), L.i32()];
  const v = [L.v128(), L.v128(), L.v128(), L.v128()];
  const t = [L.v128(), L.v128(), L.v128(), L.v128()];
  /** from = src + r·srcRow + 4c; to = dst + c·dstRow + 4r. */
  const addresses = [
    ...get(src), ...get(r), ...get(srcRow), op.i32Mul, op.i32Add, ...bytes(c), op.i32Add, ...set(from),
    ...get(dst), ...get(c), ...get(dstRow), op.i32Mul, op.i32Add, ...bytes(r), op.i32Add, ...set(to),
  ];
  const block: number[] = [...addresses];
  for (let i = 0; i < 4; i++) block.push(...get(from), ...get(srcRow), ...i32(i), op.i32Mul, op.i32Add, ...vload(), ...set(v[i] as number));
  // Interleave rows 0/1 and 2/3, then take halves: each result is one column of the block.
  const pairs: Array<[number, number, number[]]> = [[0, 1, [0, 4, 1, 5]], [0, 1, [2, 6, 3, 7]], [2, 3, [0, 4, 1, 5]], [2, 3, [2, 6, 3, 7]]];
  pairs.forEach(([x, y, lanes], i) => block.push(...get(v[x] as number), ...get(v[y] as number), ...shuffle(lanes), ...set(t[i] as number)));
  const columns: Array<[number, number, number[]]> = [[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]];
  columns.forEach(([x, y, lanes], i) => block.push(...get(to), ...get(dstRow), ...i32(i), op.i32Mul, op.i32Add, ...get(t[x] as number), ...get(t[y] as number), ...shuffle(lanes), ...vstore()));
  const element = [...addresses, ...get(to), ...get(from), ...fload(), ...fstore()];
  /** Every (r, c) with r from `r0` below `rEnd`, c from `c0` below `cEnd`, one at a time. */
  const strip = (r0: number[], rEnd: number, c0: number[], cEnd: number): number[] => [
    ...r0, ...set(r),
    ...loopTo(r, rEnd, 1, [...c0, ...set(c), ...loopTo(c, cEnd, 1, element)]),
  ];
  const body = [
    ...get(rows), ...i32(-4), op.i32And, ...set(r4),
    ...get(cols), ...i32(-4), op.i32And, ...set(c4),
    ...bytes(cols), ...set(srcRow),
    ...bytes(rows), ...set(dstRow),
    ...i32(0), ...set(r),
    ...loopTo(r, r4, 4, [...i32(0), ...set(c), ...loopTo(c, c4, 4, block)]),
    ...strip(i32(0), rows, get(c4), cols),
    ...strip(get(r4), rows, i32(0), c4),
  ];
  return { params: [I32, I32, I32, I32], results: [], locals: L.types, body };
}

/** The module's bytes: memory imported as env.memory, four exported functions. */
export function moduleBytes(): Uint8Array {
  return assemble([
    ['ab', rowsTimesB(false)],
    ['atb', rowsTimesB(true)],
    ['abt', rowsTimesBt()],
    ['transpose', transposeFunction()],
  ]);
}

interface Exports {
  ab(a: number, b: number, bias: number, mask: number, c: number, m: number, k: number, n: number, relu: number): void;
  transpose(src: number, dst: number, rows: number, cols: number): void;
  atb(a: number, b: number, c: number, m: number, k: number, n: number): void;
  abt(a: number, b: number, mask: number, c: number, m: number, k: number, n: number): void;
}

/** The products on this backend's heap, or undefined (no SIMD, not the wasm backend). */
export const products = perBackend<Exports, Products>(moduleBytes, (e, backend) => ({
  ab: (a, b, bias, c, m, k, n, relu) => e.ab(a, b, bias, 0, c, m, k, n, relu ? 1 : 0),
  abt: (a, b, mask, c, m, k, n) => {
    // Dot products along k pay where k is long; where it is short, their lane sums and scalar
    // tails cost more than transposing B (n × k floats) and taking the A·B loops (measured on
    // the MLP's shapes: k 512 n 24 31 vs 44 µs, k 24 n 512 107 vs 52 µs).
    if (k > n) {
      e.abt(a, b, mask, c, m, k, n);
      return;
    }
    const scratch = allocate(backend, [k, n]);
    e.transpose(b, view(backend, scratch).byteOffset, n, k);
    e.ab(a, view(backend, scratch).byteOffset, 0, mask, c, m, k, n, 0);
    backend.disposeData(scratch.dataId);
  },
  atb: (a, b, c, m, k, n) => e.atb(a, b, c, m, k, n),
}));
