/**
 * Low-rank adaptation: `adapt()` trains ΔW = (alpha/rank)·A·B beside frozen layers and writes only the
 * factors; `merge()` folds them into a standard model or keeps them as their own layers; `loadAdapted()`
 * builds the base with an adapter applied as it was trained.
 */
export { adapt, type AdaptEvent, type AdaptResult, type AdaptRunInput } from './adapt.js';
export { merge, loadAdapted, type MergeResult } from './merge.js';
export { resolveAdaptOptions, resolveMergeOptions, DEFAULT_ADAPT_EPOCHS, type AdaptInput, type AdaptOptions, type MergeInput, type MergeOptions } from './options.js';
export { AdapterJsonSchema, ADAPTER_FORMAT_VERSION, baseHash, canonicalJson, type AdapterJson, type AdaptedLayer } from './format.js';
export { readAdapterFolder, type AdapterFolder } from './folder.js';
