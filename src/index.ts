/**
 * lowrank's library API. `compress()` returns a report and never prints or exits; the CLI is one caller.
 */
export { compress, type CompressEvent, type CompressResult, type CompressRunInput } from './compress/index.js';
export { resolveCompressOptions, parseRank, formatRank, type CompressInput, type CompressOptions } from './compress/options.js';
export { loadModel, saveModel, readModel, type OpenedModel, type LoadedModel, type StoredWeight, type ModelJson, type WeightEntry } from './io/index.js';
export { planModel, applyPlan, makePlan, maxUsefulRank, svd, decompose, truncate, energyKept, relativeError, rankForEnergy, type Plan, type PlanEntry, type RankSpec, type Svd, type SvdMethod, type SvdOptions, type Factors } from './factorize/index.js';
export { readDataset, splitDataset, type Dataset, type ReadDatasetOptions } from './data/dataset.js';
export { ReportSchema, REPORT_SCHEMA_VERSION, type CompressionReport, type LayerReport, type SizeVariant, type FlopsReport, type GateResult } from './report/schema.js';
export { readReport } from './report/read.js';
export { reportJsonSchema } from './report/json-schema.js';
export { evaluateGates, gatesPassed, type GateLimits } from './report/gates.js';
export { countFlops, type FlopCount } from './measure/flops.js';
export { compareReports, type Comparison } from './report/compare.js';
export { renderMarkdown } from './report/render-markdown.js';
export { evaluate, type EvaluateInput, type EvaluationReport } from './evaluate.js';
export { convert, type ConvertInput, type ConvertReport, type ConvertResult } from './convert.js';
export { normalizeTopology, matchWeightNames, type Change, type ChangeKind, type Conversion, type WeightRename } from './io/keras3.js';
export { sweep, sweepFiles, SweepReportSchema, SWEEP_SCHEMA_VERSION, SWEEP_METHODS, parseRanks, parseMethods, defaultSweepOut, type SweepEvent, type SweepInput, type SweepRunInput, type SweepResult, type SweepReport, type SweepPoint, type SweepMethod } from './sweep/index.js';
export { inspect, INSPECT_ENERGIES, type InspectReport, type InspectedLayer, type EnergyOption } from './inspect.js';
export { renderText } from './report/render-text.js';
export { adapt, merge, loadAdapted, readAdapterFolder, baseHash, AdapterJsonSchema, ADAPTER_FORMAT_VERSION, type AdaptEvent, type AdaptResult, type AdaptRunInput, type MergeResult, type AdaptInput, type MergeInput, type AdapterJson, type AdaptedLayer } from './adapt/index.js';
export { initBackend, type BackendChoice, type BackendName } from './tf.js';
export * from './errors.js';
