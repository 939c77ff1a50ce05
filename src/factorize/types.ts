/**
 * The contract every layer kind implements: how its kernel becomes a matrix and how a rank-k
 * factorization becomes two standard layers. Factorizers and the registry both import this; it imports
 * neither.
 */
import type { LayerJson } from '../graph/topology.js';
import type { Factors } from './svd.js';

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
