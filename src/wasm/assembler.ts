/**
 * A minimal WebAssembly assembler for the small SIMD modules lowrank builds at run time (no toolchain,
 * no binary file in the repository): the opcodes the modules use, LEB128 immediates, a loop helper,
 * the module's sections, and instantiation on the wasm backend's own heap.
 *
 * A module imports the backend's WebAssembly.Memory as env.memory, so the pointers its functions take
 * are the heap offsets the backend already uses for tensor data and nothing is copied. `instantiate`
 * returns undefined where the runtime has no wasm SIMD or the backend exposes no memory (the cpu
 * backend, say); callers then keep their JavaScript loops.
 */
import type { KernelBackend } from '@tensorflow/tfjs';

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** Core instructions used by lowrank's modules. */
export const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  i32Store: 0x36,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  f32Eq: 0x5b,
  f32Lt: 0x5d,
  f32Gt: 0x5e,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  i32DivU: 0x6e,
  f32Max: 0x97,
} as const;

/** SIMD instructions (used after the 0xfd prefix, see `vec`). */
export const simd = {
  load: 0x00,
  load32Splat: 0x09,
  store: 0x0b,
  shuffle: 0x0d,
  splat: 0x13,
  extractLane: 0x1f,
  gt: 0x44,
  and: 0x4e,
  sqrt: 0xe3,
  add: 0xe4,
  sub: 0xe5,
  mul: 0xe6,
  div: 0xe7,
  i32Splat: 0x11,
  i32Eq: 0x37,
  bitselect: 0x52,
  andnot: 0x4f,
  or: 0x50,
  max: 0xe9,
} as const;

/** Unsigned LEB128. */
export function leb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128. */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A SIMD instruction: the 0xfd prefix and its LEB128 index. */
export const vec = (index: number): number[] => [0xfd, ...leb(index)];
export const get = (local: number): number[] => [op.localGet, ...leb(local)];
export const set = (local: number): number[] => [op.localSet, ...leb(local)];
export const tee = (local: number): number[] => [op.localTee, ...leb(local)];
export const i32 = (value: number): number[] => [op.i32Const, ...sleb(value)];
/** An f32 constant (little-endian IEEE bytes). */
export function f32(value: number): number[] {
  const bytes = new Uint8Array(new Float32Array([value]).buffer);
  return [op.f32Const, ...bytes];
}
/** Memory access with alignment (log2) and a constant byte offset. */
export const vload = (offset = 0): number[] => [...vec(simd.load), 4, ...leb(offset)];
export const vstore = (offset = 0): number[] => [...vec(simd.store), 4, ...leb(offset)];
export const fload = (offset = 0): number[] => [op.f32Load, 2, ...leb(offset)];
/** One float32 from memory into all four lanes. */
export const vsplatLoad = (offset = 0): number[] => [...vec(simd.load32Splat), 2, ...leb(offset)];
/** Lane `lane` of an f32x4 as an f32. */
export const lane = (index: number): number[] => [...vec(simd.extractLane), index];
export const fstore = (offset = 0): number[] => [op.f32Store, 2, ...leb(offset)];
/** pointer local + offset local, as an address. */
export const at = (pointer: number, offset: number): number[] => [...get(pointer), ...get(offset), op.i32Add];

/**
 * `for (o = from; o < limit; o += stride) body` with o, limit locals (unsigned compare); `from`
 * already in o.
 */
export function loopTo(o: number, limit: number, stride: number, body: number[]): number[] {
  return loopBy(o, limit, i32(stride), body);
}

/** `for (o = from; o < limit; o += step) body`, the step given as the instructions that push it. */
export function loopBy(o: number, limit: number, step: number[], body: number[]): number[] {
  return [
    op.block, 0x40, op.loop, 0x40,
    ...get(o), ...get(limit), op.i32GeU, op.brIf, 1,
    ...body,
    ...get(o), ...step, op.i32Add, ...set(o),
    op.br, 0,
    op.end, op.end,
  ];
}

/** One function: parameter and result types, extra locals' types, and its body (without the final end). */
export interface FunctionSpec {
  params: number[];
  results: number[];
  locals: number[];
  body: number[];
}

function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

const vector = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const name = (text: string): number[] => {
  const bytes = [...new TextEncoder().encode(text)];
  return [...leb(bytes.length), ...bytes];
};

/** A module's bytes: memory imported as env.memory, each function exported under its name. */
export function moduleBytes(functions: Array<[string, FunctionSpec]>): Uint8Array {
  const types = functions.map(([, f]) => [0x60, ...vector(f.params.map((p) => [p])), ...vector(f.results.map((r) => [r]))]);
  const imports = [[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]];
  const declared = functions.map((_, i) => leb(i));
  const exports = functions.map(([label], i) => [...name(label), 0x00, ...leb(i)]);
  const codes = functions.map(([, f]) => {
    // Locals as runs of one type.
    const runs: number[][] = [];
    for (const type of f.locals) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === type) last[0] = (last[0] as number) + 1;
      else runs.push([1, type]);
    }
    const body = [...vector(runs.map(([count, type]) => [...leb(count as number), type as number])), ...f.body, op.end];
    return [...leb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(2, vector(imports)),
    ...section(3, vector(declared)),
    ...section(7, vector(exports)),
    ...section(10, vector(codes)),
  ]);
}

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Memory: abstract new (...args: never[]) => unknown;
  Module: new (bytes: Uint8Array) => unknown;
  Instance: new (module: unknown, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
}

/** The backend's WebAssembly.Memory, or undefined (not the wasm backend). */
export function backendMemory(backend: KernelBackend): unknown {
  return (backend as unknown as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
}

/**
 * The module's exports, instantiated on the backend's heap; undefined where the runtime cannot
 * validate it (no SIMD) or the backend has no wasm memory.
 */
export function instantiate(backend: KernelBackend, bytes: Uint8Array): unknown {
  try {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const memory = backendMemory(backend);
    if (api === undefined || !(memory instanceof api.Memory) || !api.validate(bytes)) return undefined;
    return new api.Instance(new api.Module(bytes), { env: { memory } }).exports;
  } catch {
    return undefined;
  }
}

/** Float64 instructions (core) and the float64 SIMD ones (after the 0xfd prefix, see `vec`). */
export const op64 = {
  f64Load: 0x2b,
  f64Store: 0x39,
  f64Add: 0xa0,
  f64Mul: 0xa2,
  f64PromoteF32: 0xbb,
} as const;
export const simd64 = {
  /** v128.load64_zero: two floats into the low lanes. */
  load64Zero: 0x5d,
  /** f64x2.promote_low_f32x4. */
  promoteLow: 0x5f,
  /** f64x2.splat. */
  splat: 0x14,
  add: 0xf0,
  mul: 0xf2,
} as const;

/**
 * A module's interface on each backend, made once per backend: its bytes instantiated on that
 * backend's heap and `wrap`ped; undefined where instantiate gives nothing (no SIMD, not the wasm
 * backend), which callers answer with their JavaScript loops.
 */
export function perBackend<E, T>(bytes: () => Uint8Array, wrap: (exports: E, backend: KernelBackend) => T): (backend: KernelBackend) => T | undefined {
  const made = new WeakMap<KernelBackend, T | null>();
  return (backend) => {
    if (!made.has(backend)) {
      const e = instantiate(backend, bytes()) as E | undefined;
      made.set(backend, e === undefined ? null : wrap(e, backend));
    }
    return made.get(backend) ?? undefined;
  };
}
