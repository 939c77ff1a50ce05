/**
 * The fuzzer's mutations of a model folder (model.json text and shard bytes), a pure function of
 * (seed, case number) so any failure replays from those two numbers, and the check one case runs.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LowrankError } from '../../src/errors.js';
import { readModel, toLayersModel } from '../../src/io/index.js';
import { checkFinite } from '../../src/io/load.js';
import { createRng, type Rng } from '../../src/data/random.js';
import { SHARD } from './harness.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SPECIAL: Json[] = [null, true, false, '', 'abc', '256', -1, 0, 1, 1.5, -0.5, 1e9, 2 ** 31, 2 ** 53 + 2, 1e300, -1e300, [], {}, [1e9, 1e9], [-1], ['a'], { class_name: 'Nope', config: {} }];

/** Every (container, key) pair of the tree, for picking a place to mutate. */
function places(root: Json): Array<[Json[] | { [key: string]: Json }, string | number]> {
  const out: Array<[Json[] | { [key: string]: Json }, string | number]> = [];
  const stack: Json[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as Json;
    if (Array.isArray(node)) node.forEach((v, i) => { out.push([node, i]); stack.push(v); });
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) { out.push([node, k]); stack.push(v); }
  }
  return out;
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)] as T;
}

/** A value that is `value` with a type or magnitude changed. */
function swapped(rng: Rng, value: Json, root: Json): Json {
  switch (rng.int(6)) {
    case 0:
      return typeof value === 'number' ? String(value) : typeof value === 'string' && value !== '' && !Number.isNaN(Number(value)) ? Number(value) : pick(rng, SPECIAL);
    case 1:
      return typeof value === 'number' ? value * pick(rng, [-1, 1000, 1e6, 1e12, 0.5]) : pick(rng, SPECIAL);
    case 2:
      return typeof value === 'number' ? pick(rng, [-value, value + 1, value - 1, Math.floor(value / 2), 0]) : pick(rng, SPECIAL);
    case 3: {
      // A deep copy of some other subtree (say a whole layer where a number was).
      const all = places(root);
      const [c, k] = pick(rng, all);
      return structuredClone((c as Record<string | number, Json>)[k] as Json) ?? null;
    }
    default:
      return pick(rng, SPECIAL);
  }
}

function mutateJson(rng: Rng, json: Json): void {
  const all = places(json);
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds && all.length > 0; r++) {
    const [container, key] = pick(rng, all);
    const c = container as Record<string | number, Json>;
    const op = rng.int(4);
    if (op === 0) {
      if (Array.isArray(container)) container.splice(key as number, 1);
      else delete c[key];
    } else if (op === 1 && Array.isArray(container)) {
      container.splice(key as number, 0, structuredClone(container[key as number] as Json));
    } else {
      c[key] = swapped(rng, c[key] as Json, json);
    }
  }
}

function flipBits(rng: Rng, bytes: Uint8Array, count: number): void {
  for (let i = 0; i < count && bytes.length > 0; i++) {
    const at = rng.int(bytes.length);
    bytes[at] = (bytes[at] as number) ^ (1 << rng.int(8));
  }
}

export interface FuzzCase {
  modelJson: string | Uint8Array;
  shard: Uint8Array;
}

/** Case `n` of seed `seed`: a pure function of both, so a failure replays from the two numbers. */
export function makeCase(seed: number, n: number, baseJson: string, baseShard: Uint8Array): FuzzCase {
  const rng = createRng(seed * 100_003 + n);
  let modelJson: string | Uint8Array = baseJson;
  let shard = baseShard;
  const kind = rng.int(10);
  if (kind <= 4) {
    const json = JSON.parse(baseJson) as Json;
    mutateJson(rng, json);
    modelJson = JSON.stringify(json);
  } else if (kind === 5) {
    modelJson = baseJson.slice(0, rng.int(baseJson.length));
  } else if (kind === 6) {
    const bytes = new TextEncoder().encode(baseJson);
    flipBits(rng, bytes, 1 + rng.int(4));
    modelJson = bytes;
  } else if (kind === 7) {
    shard = rng.next() < 0.5 ? baseShard.slice(0, rng.int(baseShard.length)) : Buffer.concat([baseShard, new Uint8Array(1 + rng.int(64))]);
  } else if (kind === 8) {
    shard = baseShard.slice();
    flipBits(rng, shard, 1 + rng.int(16));
  } else {
    // Both: a mutated manifest over a flipped shard.
    const json = JSON.parse(baseJson) as Json;
    mutateJson(rng, json);
    modelJson = JSON.stringify(json);
    shard = baseShard.slice();
    flipBits(rng, shard, 1 + rng.int(4));
  }
  return { modelJson, shard };
}

/** Outcome of one case: 'loaded', 'refused' (a LowrankError), or the unexpected error. */
export async function runCase(dir: string, c: FuzzCase): Promise<'loaded' | 'refused' | { error: unknown }> {
  await writeFile(path.join(dir, 'model.json'), c.modelJson);
  await writeFile(path.join(dir, SHARD), c.shard);
  const file = path.join(dir, 'model.json');
  try {
    const stored = await readModel(file);
    try {
      checkFinite(file, stored.weights);
    } catch (err) {
      if (!(err instanceof LowrankError)) throw err;
    }
    const model = await toLayersModel(file, stored.json.modelTopology, stored.weights);
    model.dispose();
    return 'loaded';
  } catch (err) {
    return err instanceof LowrankError ? 'refused' : { error: err };
  }
}

