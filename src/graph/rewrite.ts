/**
 * Splice factor pairs into a layer list. The second factor keeps the original layer's name, so every
 * later reference (inbound_nodes, output_layers) still resolves; the first factor takes over the
 * original's inputs.
 */
import type { LayerJson } from './topology.js';

export interface FactorPair {
  first: LayerJson;
  second: LayerJson;
}

/**
 * Replace each layer named in `pairs` by its two factors. `sequential` lists are plain chains; in
 * functional graphs each call site (node) i of the original becomes node i of the first factor, feeding
 * node i of the second.
 */
export function spliceFactorPairs(layers: readonly LayerJson[], pairs: ReadonlyMap<string, FactorPair>, sequential: boolean): LayerJson[] {
  const out: LayerJson[] = [];
  for (const layer of layers) {
    const pair = pairs.get(layer.config.name);
    if (pair === undefined) {
      out.push(layer);
      continue;
    }
    if (sequential) {
      out.push(pair.first, pair.second);
      continue;
    }
    const nodes = layer.inbound_nodes ?? [];
    const firstName = pair.first.config.name;
    out.push(
      { ...pair.first, name: firstName, inbound_nodes: nodes },
      { ...pair.second, inbound_nodes: nodes.map((_, i) => [[firstName, i, 0, {}]]) },
    );
  }
  return out;
}

/** A layer name not yet taken: `base`, else `base_2`, `base_3`, ... */
export function freshName(base: string, taken: Set<string>): string {
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}
