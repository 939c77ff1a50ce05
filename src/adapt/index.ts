/**
 * Low-rank adaptation: `adapt()` trains ΔW = (alpha/rank)·A·B beside frozen layers and writes only the
 * factors;
 *
 */
export { adapt, type AdaptEvent, type AdaptResult, type AdaptRunInput } from './adapt.js';
export { resolveAdaptOptions, resolveMergeOptions, DEFAULT_ADAPT_EPOCHS, type AdaptInput, type AdaptOptions, type MergeInput, type MergeOptions } from './options.js';
export { AdapterJsonSchema, ADAPTER_FORMAT_VERSION, baseHash, canonicalJson, type AdapterJson, type AdaptedLayer } from './format.js';
export { readAdapterFolder, type AdapterFolder } from './folder.js';
