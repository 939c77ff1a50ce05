/**
 * One entry per layer class lowrank can factorize. A new layer kind is one file and one line here.
 */
import type { LayerFactorizer } from './types.js';
import { conv2dFactorizer } from './conv2d.js';
import { denseFactorizer } from './dense.js';
import { embeddingFactorizer } from './embedding.js';

export type { LayerFactorizer, LayerWeights } from './types.js';

const factorizers = new Map<string, LayerFactorizer>(
  [denseFactorizer, conv2dFactorizer, embeddingFactorizer].map((f) => [f.className, f]),
);

/** The factorizer for a Keras class name, if lowrank handles it. */
export function factorizerFor(className: string): LayerFactorizer | undefined {
  return factorizers.get(className);
}

/** Classes lowrank can factorize, for messages and `inspect`. */
export function factorizableClasses(): string[] {
  return [...factorizers.keys()];
}
