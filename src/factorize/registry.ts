/**
 * One entry per layer class lowrank can factorize. A new layer kind is one file and one line here.
 */
import type { LayerJson } from '../graph/topology.js';
import type { Factors } from './svd.js';
import { conv2dFactorizer } from './conv2d.js';
import { denseFactorizer } from './dense.js';
import { embeddingFactorizer } from './embedding.js';

/** Weights of one layer as plain arrays, in the layer's getWeights() order. */
export interface LayerWeights {
  values: Float32Array;
  shape: number[];
}

/** How one layer class is turned into a matrix and back into two standard layers. */
export interface LayerFactorizer {
  className: string;
  /** The layer's weight-heavy kernel as a row-major m×n matrix (m inputs, n outputs). */
  matrix(weights: readonly LayerWeights[]): { values: Float32Array; m: number; n: number };
  /** Two standard layers that together compute the layer at rank k; the second keeps the original's name. */
  split(layer: LayerJson, rank: number, firstName: string): { first: LayerJson; second: LayerJson };
  /** Weights for the two new layers, from the factors and the original weights (bias and the like). */
  weights(factors: Factors, original: readonly LayerWeights[]): { first: LayerWeights[]; second: LayerWeights[] };
}

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
