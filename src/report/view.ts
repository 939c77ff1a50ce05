/**
 * One view of a compression report: every derived number (ratios, accuracy drop, which size variant
 * the output folder holds, the output's metrics, gate results) and every phrase the formats share,
 * computed once from the report alone. The text, Markdown and HTML renderers lay this view out and
 * compute nothing of their own, so they cannot disagree. Pure: no I/O, no clock, no tfjs; the only
 * outside input is the folder paths are shortened against.
 */
import { NOT_MEASURED_NO_DATA, notMeasuredNeedsClasses, bytes, capitalize, compact, int, metric, ms, num, pct, seconds, shortPath, signedPercent, times, variantLabel } from './format.js';
import { describeGate, outputMetrics } from './gates.js';
import { writtenVariant, type CompressionReport, type GateName, type LayerReport, type MetricsReport, type SizeVariantName, type SpeedReport } from './schema.js';

export type MetricKey = keyof MetricsReport;

/** How many times smaller (or larger) the output is than the original on one measure. */
export interface Ratio {
  /** The larger over the smaller, so at least 1: 3.93 in "3.93× fewer". */
  factor: number;
  /** The factor as shown: "3.93×". */
  times: string;
  /** The direction: fewer/smaller/faster when the output is no worse, more/larger/slower when it is. */
  word: string;
  /** `times` and `word`: "3.93× fewer". */
  text: string;
  /** The output is no worse than the original (after ≤ before). */
  better: boolean;
}

/** One quantity of the original beside the output's. */
export interface Measure {
  /** What is measured, lower-case: "parameters", "FLOPs per sample", "predict, batch 32". */
  label: string;
  before: number;
  after: number;
  /** `before` and `after` formatted. */
  original: string;
  output: string;
  /** after / before (1 when before is 0): the share a chart draws. */
  share: number;
  /** The change as a signed percentage: "−75%". */
  change: string;
  /** null when either side is 0 (nothing to divide). */
  ratio: Ratio | null;
}

export interface SpeedMeasure extends Measure {
  batchSize: number;
  /** Predict calls the median was taken over. */
  runs: number;
  /** "original's latency not measured: <why>" when the original was not timed (its cells say "not measured"); else null. */
  notMeasured: string | null;
}

/** A path as the report holds it and as it is shown (relative to the working folder when below it). */
export interface PathView {
  full: string;
  shown: string;
}

export interface LayerRow {
  name: string;
  className: string;
  /** The kernel as an m×n matrix: "64×256". */
  shape: string;
  factorized: boolean;
  /** The rank kept, or "—" for a layer left as it is. */
  rank: string;
  /** Largest rank that still saves parameters. */
  maxUsefulRank: string;
  paramsBefore: string;
  paramsAfter: string;
  /** Parameter change of a factorized layer ("−68%"); empty for a kept one. */
  change: string;
  /** Share of Σσ² kept ("42.7%"); empty for a kept layer. */
  energyKept: string;
  /** ‖W − A·B‖_F / ‖W‖_F ("0.757"); empty for a kept layer. */
  error: string;
  /** Why the layer was left as it is; null when it was factorized or no reason was given. */
  keptReason: string | null;
  /**
   * Relative output error on the calibration inputs (--ratio with --method whiten): what the
   * allocation predicted ("0.312") and what was measured after factorization; null without a prediction.
   */
  outputError: { predicted: string; measured: string } | null;
  /** The layer as reported, for charts of its spectrum. */
  layer: LayerReport;
}

export type SizeColumnKey = 'accuracy' | 'agreement' | 'relativeOutputError';

/** A metric column of the size table. */
export interface SizeColumn {
  key: SizeColumnKey;
  /** "agrees with original", as the evaluation table says it. */
  label: string;
  /** "agrees", for narrow tables. */
  short: string;
}

/** One way of storing the model, as the size table shows it. */
export interface SizeRow {
  variant: SizeVariantName;
  /** "low-rank+float16". */
  label: string;
  /** The original, the original quantized, or a low-rank variant: how charts colour it. */
  kind: 'original' | 'quantized' | 'lowrank';
  /** The output folder holds this variant. */
  written: boolean;
  params: string;
  weightBytes: number;
  weightText: string;
  totalText: string;
  gzipBytes: number;
  gzipText: string;
  /** Input weight bytes / this row's ("3.93×"); empty for a row of 0 bytes. */
  smaller: string;
  /** One cell per column of SizesView.columns. */
  cells: string[];
  /** Accuracy as a chart label shows it, or null without accuracy. */
  accuracy: string | null;
}

export interface SizesView {
  columns: SizeColumn[];
  rows: SizeRow[];
  /** Samples each variant was evaluated on ("359"); null without --data (nothing evaluated). */
  evaluatedOn: string | null;
  /** True when the rows are bytes only: the model could not run, so no variant was reloaded. */
  bytesOnly: boolean;
}

/** One metric across the evaluated stages. */
export interface MetricRow {
  key: MetricKey;
  label: string;
  /** One value per stage; undefined where the stage lacks it or it means nothing (agreement of the original with itself). */
  values: Array<number | undefined>;
  /** The values formatted; empty where the metric means nothing for the stage. */
  cells: string[];
}

export type StageName = 'original' | 'factorized' | 'fine-tuned';

export interface EvaluationView {
  /** Held-out samples every model was evaluated on ("359"). */
  samples: string;
  /** Where they came from, shortened. */
  source: string;
  /** They were held out from the training data (no --validation-data): "held out from <source>". */
  heldOut: boolean;
  loss: string | null;
  stages: Array<{ name: StageName; metrics: MetricsReport }>;
  rows: MetricRow[];
}

/** Accuracy of the model in the output folder against the original's. */
export interface AccuracyView {
  original: number;
  output: number;
  originalText: string;
  outputText: string;
  /** Points lost (negative: gained). */
  drop: number;
  /** "0.84 points". */
  amount: string;
  relation: 'below' | 'at or above';
  /** "accuracy 0.84 points below the original". */
  sentence: string;
  /** The change in points with its sign, for a figure labelled "points": "−0.84". */
  signed: string;
  /** More than 2 points lost: bad; more than half a point: warn. */
  tone: 'good' | 'warn' | 'bad';
}

export interface TrainingView {
  epochs: number;
  /** "10 epoch(s)". */
  epochsText: string;
  /** Fine-tuning time: "1.7 s". */
  time: string;
  /** "fine-tuned 10 epoch(s), 14,412 samples/s, 1.7 s, kept epoch 3". */
  sentence: string;
  /** What was trained: "all weights" or "factors only". */
  weights: string;
  /** "constant learning rate". */
  schedule: string;
}

export interface GateRow {
  gate: GateName;
  /** The flag that set it: "--max-accuracy-drop". */
  flag: string;
  passed: boolean;
  /** "accuracy drop". */
  label: string;
  /** "0.84 points". */
  value: string;
  /** "≤ 1.5 points". */
  limit: string;
  /** "accuracy drop 0.84 points (limit ≤ 1.5 points)". */
  sentence: string;
}

export interface GatesView {
  rows: GateRow[];
  total: number;
  failed: number;
  passed: boolean;
  /** "all 3 quality gates passed", "the quality gate passed" or "1 of 2 quality gate(s) failed". */
  verdict: string;
}

export interface ReportView {
  header: {
    tool: string;
    version: string;
    backend: string;
    rank: string;
    quantize: 'float16' | 'uint8' | null;
    input: PathView;
    output: PathView;
    createdAt: string;
    schemaVersion: number;
  };
  /** The run's other options, as the run section lists them. */
  options: { layers: string | null; epochs: string; batchSize: string; learningRate: string; seed: string };
  /** The dataset trained on; null without --data. */
  data: { path: PathView; samples: string; trainSamples: string } | null;
  layers: LayerRow[];
  factorizedLayers: number;
  /** --ratio: "parameters 12.3% of the original's, budget 10%" (of the layers considered); null otherwise. */
  budget: { text: string; within: boolean } | null;
  /** Parameters, factorizable parameters, weight and gzip bytes of the input and the output. */
  size: { params: Measure; factorizableParams: Measure; weightBytes: Measure; gzipBytes: Measure };
  /** perSample is null when the model could not run (unknown layer classes). */
  flops: { perSample: Measure | null; uncounted: Array<{ name: string; why: string }> };
  speed: SpeedMeasure[];
  /** Why the original's latency is missing from the speed rows ("original's latency not measured: …"); null when it was timed. */
  speedNotMeasured: string | null;
  /** The speed row of the largest batch, the one headlines quote; null when latency was not measured. */
  largestBatch: SpeedMeasure | null;
  /** Fewest predict calls any latency was the median of; null when latency was not measured. */
  minRuns: number | null;
  sizes: SizesView;
  /** null without --data. */
  evaluation: EvaluationView | null;
  /** Metrics of the model in the output folder (the written size variant); null without data. */
  output: MetricsReport | null;
  /** null without accuracy (no data, no labels, or not a classifier). */
  accuracy: AccuracyView | null;
  /** What stands where accuracy would be, for a run without data; null when it was measured. */
  notMeasured: { phrase: string; sentence: string } | null;
  /** null when nothing was trained. */
  training: TrainingView | null;
  /** null when the report holds no gate results. */
  gates: GatesView | null;
  timings: { stages: Array<{ label: string; text: string }>; total: string };
}

/** Compute everything the renderers show; `cwd` is the folder paths are shown relative to. */
export function reportView(report: CompressionReport, cwd: string = process.cwd()): ReportView {
  const { input, output, options } = report;
  const at = (p: string): PathView => ({ full: p, shown: shortPath(p, cwd) });
  const speed = report.speed.map(speedMeasure);
  return {
    header: {
      tool: report.tool.name,
      version: report.tool.version,
      backend: report.backend,
      rank: options.rank,
      quantize: options.quantize ?? null,
      input: at(input.path),
      output: at(output.path),
      createdAt: report.createdAt,
      schemaVersion: report.schemaVersion,
    },
    options: {
      layers: options.layers ?? null,
      epochs: `${options.epochs} epoch${options.epochs === 1 ? '' : 's'}`,
      batchSize: String(options.batchSize),
      learningRate: String(options.learningRate),
      seed: String(options.seed),
    },
    data: report.data === null ? null : { path: at(report.data.path), samples: int(report.data.samples), trainSamples: int(report.data.trainSamples) },
    layers: report.layers.map(layerRow),
    factorizedLayers: report.layers.filter((l) => l.rank !== null).length,
    budget: budgetView(report),
    size: {
      params: measure('parameters', input.params, output.params, int, FEWER),
      factorizableParams: measure('factorizable params', input.factorizableParams, output.factorizableParams, int, FEWER),
      weightBytes: measure('weight bytes', input.weightBytes, output.weightBytes, int, SMALLER),
      gzipBytes: measure('gzip bytes', input.gzipBytes, output.gzipBytes, int, SMALLER),
    },
    flops: {
      perSample: report.flops === null ? null : measure('FLOPs per sample', report.flops.original, report.flops.output, compact, FEWER),
      uncounted: (report.flops?.uncountedLayers ?? []).map((u) => ({ name: u.name, why: `${u.className}: ${u.reason}` })),
    },
    speed,
    speedNotMeasured: speed.find((m) => m.notMeasured !== null)?.notMeasured ?? null,
    largestBatch: speed.reduce<SpeedMeasure | null>((best, s) => (best === null || s.batchSize > best.batchSize ? s : best), null),
    minRuns: speed.length === 0 ? null : Math.min(...speed.map((s) => s.runs)),
    sizes: sizesView(report),
    evaluation: evaluationView(report, cwd),
    output: outputMetrics(report),
    accuracy: accuracyView(report),
    notMeasured: notMeasuredView(report),
    training: trainingView(report),
    gates: gatesView(report),
    timings: timingsView(report),
  };
}

/** Why accuracy (and, for a model that could not run, latency and FLOPs) is missing; null when measured. */
function notMeasuredView(report: CompressionReport): ReportView['notMeasured'] {
  const classes = report.unknownLayerClasses ?? [];
  if (classes.length > 0) {
    const phrase = notMeasuredNeedsClasses(classes);
    return { phrase, sentence: `${capitalize(phrase)}.` };
  }
  return report.evaluation === null ? { phrase: NOT_MEASURED_NO_DATA, sentence: `${capitalize(NOT_MEASURED_NO_DATA)}.` } : null;
}

const FEWER = ['fewer', 'more'] as const;
const SMALLER = ['smaller', 'larger'] as const;
const FASTER = ['faster', 'slower'] as const;

/** `before → after` as a Ratio, or null when either is not positive (nothing to divide). */
export function ratio(before: number, after: number, words: readonly [better: string, worse: string]): Ratio | null {
  if (!(before > 0) || !(after > 0)) return null;
  const better = after <= before;
  const factor = better ? before / after : after / before;
  const word = better ? words[0] : words[1];
  return { factor, times: times(factor), word, text: `${times(factor)} ${word}`, better };
}

/** One latency row; without the original's time there is nothing to compare, so no ratio. */
function speedMeasure(s: SpeedReport): SpeedMeasure {
  const label = `predict, batch ${s.batchSize}`;
  if (s.originalMs === null) {
    const notMeasured = `original's latency not measured: ${s.originalNotMeasured ?? 'the report does not say why'}`;
    return { label, before: 0, after: s.outputMs, original: 'not measured', output: ms(s.outputMs), share: 1, change: '', ratio: null, batchSize: s.batchSize, runs: s.runs, notMeasured };
  }
  return { ...measure(label, s.originalMs, s.outputMs, ms, FASTER), batchSize: s.batchSize, runs: s.runs, notMeasured: null };
}

function measure(label: string, before: number, after: number, show: (n: number) => string, words: readonly [string, string]): Measure {
  const share = before > 0 ? after / before : 1;
  return { label, before, after, original: show(before), output: show(after), share, change: before > 0 ? signedPercent(share) : '', ratio: ratio(before, after, words) };
}

function layerRow(l: LayerReport): LayerRow {
  const factorized = l.rank !== null;
  return {
    name: l.name,
    className: l.className,
    shape: `${l.shape[0]}×${l.shape[1]}`,
    factorized,
    rank: l.rank === null ? '—' : String(l.rank),
    maxUsefulRank: String(l.maxUsefulRank),
    paramsBefore: int(l.paramsBefore),
    paramsAfter: int(l.paramsAfter),
    change: factorized && l.paramsBefore > 0 ? signedPercent(l.paramsAfter / l.paramsBefore) : '',
    energyKept: factorized ? pct(l.energyKept) : '',
    error: factorized ? num(l.relativeError, 3) : '',
    keptReason: !factorized && l.reason !== undefined ? l.reason : null,
    outputError: outputErrorView(l),
    layer: l,
  };
}

function outputErrorView(l: LayerReport): LayerRow['outputError'] {
  // Shown where --ratio predicted it: the truncated spectrum's own prediction carries the ridge and
  // would only repeat the error column.
  if (l.rank === null || l.predictedOutputError === undefined || l.predictedOutputError === null) return null;
  return { predicted: num(l.predictedOutputError, 3), measured: num(l.outputError ?? undefined, 3) };
}

/** The --ratio budget line, of the layers the allocation considered. */
function budgetView(report: CompressionReport): ReportView['budget'] {
  const b = report.budget;
  if (b === undefined || b === null) return null;
  const share = b.paramsBefore > 0 ? b.paramsAfter / b.paramsBefore : 1;
  const ratio = Number((b.ratio * 100).toPrecision(3));
  // The measured score's prediction: the loss against the original's outputs it expected (KL for a classifier).
  const predicted = b.score === 'measured' && b.predictedLoss !== undefined ? `; predicted loss against the original ${num(b.predictedLoss, 3)} (calibration rows)` : '';
  return { text: `parameters ${pct(share)} of the original's, budget ${ratio}%${predicted}`, within: b.paramsAfter <= b.budget };
}

/** Labels of the metrics, as every table names them. */
export const METRIC_LABELS: Record<MetricKey, string> = {
  accuracy: 'accuracy',
  loss: 'loss',
  mse: 'mean squared error',
  mae: 'mean absolute error',
  agreement: 'agrees with original',
  relativeOutputError: 'output rel. error',
};

const SIZE_COLUMN_SHORT: Record<SizeColumnKey, string> = { accuracy: 'accuracy', agreement: 'agrees', relativeOutputError: 'rel. error' };

/** Which metric columns the size table shows: accuracy and agreement for classifiers, else error. */
function sizeColumns(report: CompressionReport): SizeColumn[] {
  const all = report.sizes.map((s) => s.metrics).filter((m): m is MetricsReport => m !== null);
  if (all.length === 0) return [];
  const keys: SizeColumnKey[] = [];
  if (all.some((m) => m.accuracy !== undefined)) keys.push('accuracy');
  if (all.some((m) => m.agreement !== undefined)) keys.push('agreement');
  if (keys.length === 0) keys.push('relativeOutputError');
  return keys.map((key) => ({ key, label: METRIC_LABELS[key], short: SIZE_COLUMN_SHORT[key] }));
}

function sizesView(report: CompressionReport): SizesView {
  const columns = sizeColumns(report);
  const written = writtenVariant(report.options.quantize);
  const rows = report.sizes.map((s): SizeRow => ({
    variant: s.variant,
    label: variantLabel(s.variant),
    kind: s.variant.startsWith('lowrank') ? 'lowrank' : s.variant === 'float32' ? 'original' : 'quantized',
    written: s.variant === written,
    params: compact(s.params),
    weightBytes: s.weightBytes,
    weightText: bytes(s.weightBytes),
    totalText: bytes(s.totalBytes),
    gzipBytes: s.gzipBytes,
    gzipText: bytes(s.gzipBytes),
    smaller: s.weightBytes === 0 ? '' : times(report.input.weightBytes / s.weightBytes),
    cells: columns.map((c) => (s.metrics === null ? '—' : metric(c.key, s.metrics[c.key]))),
    accuracy: s.metrics?.accuracy === undefined ? null : metric('accuracy', s.metrics.accuracy),
  }));
  return { columns, rows, evaluatedOn: report.data === null ? null : int(report.data.validationSamples), bytesOnly: (report.unknownLayerClasses ?? []).length > 0 };
}

/** Metrics that compare a model with the original, so the original's own value means nothing. */
const AGAINST_ORIGINAL: ReadonlySet<MetricKey> = new Set(['agreement', 'relativeOutputError']);

function evaluationView(report: CompressionReport, cwd: string): EvaluationView | null {
  const ev = report.evaluation;
  const data = report.data;
  if (ev === null || data === null) return null;
  const all: Array<{ name: StageName; metrics: MetricsReport | null }> = [
    { name: 'original', metrics: ev.original },
    { name: 'factorized', metrics: ev.factorized },
    { name: 'fine-tuned', metrics: ev.fineTuned },
  ];
  const stages = all.filter((s): s is { name: StageName; metrics: MetricsReport } => s.metrics !== null);
  const rows: MetricRow[] = [];
  for (const key of ['accuracy', 'loss', 'mse', 'mae', 'agreement', 'relativeOutputError'] as const) {
    // Output error is always shown, so a regression model's table says how far it moved.
    if (key !== 'relativeOutputError' && !stages.some((s) => s.metrics[key] !== undefined)) continue;
    const values = stages.map((s) => (s.name === 'original' && AGAINST_ORIGINAL.has(key) ? undefined : s.metrics[key]));
    const cells = stages.map((s, i) => (s.name === 'original' && AGAINST_ORIGINAL.has(key) ? '' : metric(key, values[i])));
    rows.push({ key, label: METRIC_LABELS[key], values, cells });
  }
  const heldOut = data.validationPath === undefined;
  return { samples: int(data.validationSamples), source: shortPath(data.validationPath ?? data.path, cwd), heldOut, loss: report.loss, stages, rows };
}

/**
 * Accuracy of the model in the output folder against the original's, in points (positive: lost), or
 * undefined without accuracy.
 */
export function accuracyDrop(report: CompressionReport): number | undefined {
  const before = report.evaluation?.original.accuracy;
  const after = outputMetrics(report)?.accuracy;
  return before === undefined || after === undefined ? undefined : (before - after) * 100;
}

function accuracyView(report: CompressionReport): AccuracyView | null {
  const before = report.evaluation?.original.accuracy;
  const after = outputMetrics(report)?.accuracy;
  const drop = accuracyDrop(report);
  if (before === undefined || after === undefined || drop === undefined) return null;
  const points = Math.abs(drop).toFixed(2);
  const amount = `${points} points`;
  const relation = drop > 0 ? 'below' : 'at or above';
  return {
    original: before,
    output: after,
    originalText: metric('accuracy', before),
    outputText: metric('accuracy', after),
    drop,
    amount,
    relation,
    sentence: `accuracy ${amount} ${relation} the original`,
    signed: `${drop > 0 ? '−' : '+'}${points}`,
    tone: drop > 2 ? 'bad' : drop > 0.5 ? 'warn' : 'good',
  };
}

function trainingView(report: CompressionReport): TrainingView | null {
  const t = report.training;
  if (t === null || t.epochs.length === 0) return null;
  const last = t.epochs[t.epochs.length - 1];
  const rate = last === undefined ? '' : `, ${int(Math.round(last.samplesPerSecond))} samples/s`;
  const how = t.distill === 1 ? ' by distillation' : t.distill > 0 ? ` (${t.distill} distillation)` : '';
  const kept = t.bestEpoch === t.epochs.length ? '' : t.bestEpoch === 0 ? ', kept the factorized weights (no epoch improved)' : `, kept epoch ${t.bestEpoch}`;
  const early = t.stoppedEarly ? ', stopped early' : '';
  const epochsText = `${t.epochs.length} epoch(s)`;
  const time = seconds(report.timings.fineTuneMs);
  return {
    epochs: t.epochs.length,
    epochsText,
    time,
    sentence: `fine-tuned ${epochsText}${how}${rate}, ${time}${early}${kept}`,
    weights: t.train === 'factors' ? 'factors only' : 'all weights',
    schedule: `${t.schedule} learning rate`,
  };
}

function gatesView(report: CompressionReport): GatesView | null {
  const gates = report.gates ?? [];
  if (gates.length === 0) return null;
  const rows = gates.map((g): GateRow => {
    const d = describeGate(g);
    return { gate: g.gate, flag: `--${g.gate}`, passed: g.passed, ...d, sentence: `${d.label} ${d.value} (limit ${d.limit})` };
  });
  const failed = rows.filter((g) => !g.passed).length;
  const total = rows.length;
  const verdict = failed > 0 ? `${failed} of ${total} quality gate(s) failed` : total === 1 ? 'the quality gate passed' : `all ${total} quality gates passed`;
  return { rows, total, failed, passed: failed === 0, verdict };
}

function timingsView(report: CompressionReport): ReportView['timings'] {
  const t = report.timings;
  const stages: Array<[string, number]> = [
    ['load', t.loadMs],
    ['factorize', t.factorizeMs],
    ['evaluate', t.evaluateMs],
    ['fine-tune', t.fineTuneMs],
    ['measure', t.measureMs],
    ['write', t.writeMs],
  ];
  return { stages: stages.map(([label, x]) => ({ label, text: ms(x) })), total: seconds(t.totalMs) };
}
