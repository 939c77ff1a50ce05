/**
 * `sweep()`: compress one model at many points (method × rank, or method × ratio) and measure each on the same held-out
 * samples, so a user can pick a point on the accuracy/size curve. Returns the sweep report and the
 * files written (sweep.json, sweep.md, sweep.html, sweep.svg); never prints, never exits.
 *
 * Each point runs compress's own stages (compress/): plan, factorize (whitened on the training part
 * for `whiten`), evaluate and, with --epochs, fine-tune; so its numbers are those of a `compress` run
 * at the same settings. What the points share is done once: loading and checking the model, reading
 * and splitting the data, evaluating the original (the reference line), and for whitened ratios the
 * whitened spectra the allocation reads (taken on the original model's calibration inputs, so the
 * same at every ratio; about half a whitened ratio point's time on the digits fixtures). The
 * whitening itself is not shared: it calibrates each layer on the inputs the already-compressed
 * earlier layers produce, which differ from point to point; nor are the plain spectra, which take
 * 3–10% of a sweep (bench/sweep.ts measures both).
 */
import path from 'node:path';
import { UsageError, throwIfAborted } from '../errors.js';
import { factorizeModel, planRun } from '../compress/factorize.js';
import { prepare, type Prepared } from '../compress/prepare.js';
import { tune } from '../compress/tune.js';
import type { CompressEvent } from '../compress/types.js';
import { layerFilter, plannableLayers, maxUsefulRank, type RankSpec, type Spectrum } from '../factorize/index.js';
import { weightsOf } from '../factorize/plan.js';
import { measureLayers, type MeasuredLayers } from '../compress/calibrate.js';
import { factorizerFor } from '../factorize/registry.js';
import { modelFiles, needsClassesError, writeFolderAtomically } from '../io/index.js';
import { countFlops } from '../measure/flops.js';
import { evaluateModel } from '../train/evaluate.js';
import { VERSION } from '../version.js';
import { renderSweepSvg } from './chart.js';
import { defaultSweepOut, sweepLists, type SweepInput, type SweepLists } from './options.js';
import { renderSweepHtml } from './page.js';
import { renderSweepMarkdown } from './render.js';
import { SWEEP_SCHEMA_VERSION, SweepReportSchema, type SweepMethod, type SweepPoint, type SweepReport, type SweepSetting } from './schema.js';

/** Progress of a sweep: compress's events (stages, notes, training), and each point as it is measured. */
export type SweepEvent = CompressEvent | { status: 'point'; index: number; total: number; point: SweepPoint };

export interface SweepRunInput extends SweepInput {
  onEvent?: (event: SweepEvent) => void;
  /** Cancel the run between points and training batches; nothing is written. */
  signal?: AbortSignal;
}

export interface SweepResult {
  report: SweepReport;
  /** Absolute paths of the files written. */
  files: string[];
}

export async function sweep(input: SweepRunInput): Promise<SweepResult> {
  const started = performance.now();
  const listener = input.onEvent ?? (() => {});
  let lists: SweepLists | undefined;
  const { ranks: _r, ratios: _q, methods: _m, onEvent: _e, ...rest } = input;
  // Each point sets its own rank and method; prepare() checks the rest as compress would.
  const run = await prepare(
    { ...rest, rank: 1, method: 'svd', epochs: input.epochs ?? 0, out: input.out ?? defaultSweepOut(input.model), onEvent: listener },
    ({ options, stored, original }) => {
      if (options.data === undefined) throw new UsageError('lowrank sweep measures every point on held-out data: give --data FILE');
      lists = sweepLists(input, largestUsefulRank(options.model, stored.json.modelTopology, original, options.layers));
    },
  );
  if ('unknownClasses' in run) throw needsClassesError(run.options.model, run.unknownClasses, 'a sweep');
  try {
    if (lists === undefined) throw new Error('prepare() did not check the sweep lists');
    return await sweepPrepared(run, lists, listener, started);
  } finally {
    run.original.dispose();
  }
}

async function sweepPrepared(run: Prepared, lists: SweepLists, listener: (event: SweepEvent) => void, started: number): Promise<SweepResult> {
  const { options, data, loss, shapes, original, stored } = run;
  if (data === undefined || loss === null || shapes === null) throw new Error('a sweep needs data, a loss and input shapes');
  const emit = (event: SweepEvent): void => {
    throwIfAborted(run.signal);
    listener(event);
  };
  const base = evaluateModel(original, loss, data.validation, shapes);
  // The --ratio allocation's measurements, taken once for every whitened ratio (pointRunner).
  const held: { measured?: MeasuredLayers } = {};
  try {
    const loadMs = performance.now() - started;
    const points: SweepPoint[] = [];
    const total = lists.methods.length * lists.values.length;
    // Said once the first plan stands, as compress does, so a plan's refusal is the only line printed.
    const loaded = once(() => emit({ status: 'stage', stage: 'load', message: `loaded ${options.model} (${original.countParams()} params), ${data.samples} samples from ${options.data}; every point is measured on ${data.validation.count} held-out samples` }));
    const point = pointRunner(run, base, emit, loaded, held);
    for (const method of lists.methods) {
      for (const value of lists.values) {
        const measured = await point(method, lists.setting, value);
        points.push(measured);
        emit({ status: 'point', index: points.length, total, point: measured });
      }
    }
    const report = SweepReportSchema.parse({
      schemaVersion: SWEEP_SCHEMA_VERSION,
      tool: { name: 'lowrank', version: VERSION },
      createdAt: new Date().toISOString(),
      backend: run.backend,
      model: {
        path: path.resolve(options.model),
        params: original.countParams(),
        weightBytes: stored.weights.reduce((sum, w) => sum + w.bytes.byteLength, 0),
        factorizableParams: factorizableParams(run),
        flops: countFlops(original, shapes).flops,
      },
      data: {
        path: path.resolve(data.file),
        ...(options.validationData !== undefined ? { validationPath: path.resolve(options.validationData) } : {}),
        trainSamples: data.train.count,
        validationSamples: data.validation.count,
      },
      loss: loss.kind,
      options: {
        methods: lists.methods,
        [lists.setting === 'rank' ? 'ranks' : 'ratios']: lists.values,
        epochs: options.epochs,
        seed: options.seed,
        validationSplit: options.validationSplit,
        calibrationSamples: options.calibrationSamples,
        svd: options.svd,
        ...(options.layers !== undefined ? { layers: options.layers } : {}),
        batchSize: options.batchSize,
        learningRate: options.learningRate,
        ...(run.objective !== null ? { distill: run.objective.distill } : {}),
      },
      original: base.metrics,
      points,
      timings: { loadMs, totalMs: 0 },
    } satisfies SweepReport);
    emit({ status: 'stage', stage: 'write', message: `writing ${options.out}` });
    report.timings.totalMs = performance.now() - started;
    const files = sweepFiles(report);
    await writeFolderAtomically(options.out, files, options.force, run.signal);
    return { report, files: [...files.keys()].map((name) => path.resolve(options.out, name)) };
  } finally {
    held.measured?.dispose();
    base.predictions.dispose();
  }
}

/**
 * Measure one point with compress's stages on a copy of the run whose options hold the point's rank
 * (or ratio) and method. Their stage messages would repeat for every point, so only notes (once each) and
 * training events pass through.
 */
function pointRunner(run: Prepared, base: ReturnType<typeof evaluateModel>, emit: (event: SweepEvent) => void, planned: () => void, held: { measured?: MeasuredLayers }): (method: SweepMethod, setting: SweepSetting, value: number) => Promise<SweepPoint> {
  const noted = new Set<string>();
  const quiet = (event: CompressEvent): void => {
    throwIfAborted(run.signal);
    if (event.status === 'stage') return;
    if (event.status === 'note') {
      if (noted.has(event.message)) return;
      noted.add(event.message);
    }
    emit(event);
  };
  return async (method, setting, value) => {
    const started = performance.now();
    const rank: RankSpec = setting === 'rank' ? { kind: 'fixed', rank: value } : { kind: 'ratio', fraction: value };
    const at: Prepared = { ...run, options: { ...run.options, rank, method }, emit: quiet };
    // Whitened ratios allocate on measurements of the ORIGINAL model on its calibration inputs: the same for every ratio.
    if (setting === 'ratio' && method === 'whiten') held.measured ??= await measureLayers(at, layerFilter(run.options.layers));
    const plan = await planRun(at, setting === 'ratio' && method === 'whiten' ? held.measured : undefined);
    planned();
    const { factorized, factorizeMs } = await factorizeModel(at, plan, performance.now() - started);
    try {
      const tuned = await tune(at, factorized, base);
      const evaluation = tuned.evaluation;
      if (evaluation === null) throw new Error('a sweep point was not evaluated');
      const files = modelFiles(factorized.model, { originals: run.stored.weights });
      return {
        method,
        [setting]: value,
        layers: plan.entries.map((e) => ({ name: e.name, rank: e.rank })),
        params: factorized.model.countParams(),
        factorizableParams: plan.entries.reduce((sum, e) => sum + e.paramsAfter, 0),
        weightBytes: [...files.shards.values()].reduce((sum, s) => sum + s.byteLength, 0),
        flops: run.shapes === null ? null : countFlops(factorized.model, run.shapes).flops,
        factorized: evaluation.factorized,
        fineTuned: evaluation.fineTuned,
        bestEpoch: tuned.training?.bestEpoch ?? null,
        timings: { factorizeMs, evaluateMs: tuned.evaluateMs, fineTuneMs: tuned.fineTuneMs, totalMs: performance.now() - started },
      };
    } finally {
      factorized.model.dispose();
    }
  };
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) fn();
    done = true;
  };
}

/** The largest rank that makes any chosen layer smaller (0: none can be). */
function largestUsefulRank(file: string, modelTopology: Record<string, unknown>, model: Prepared['original'], layers: string | undefined): number {
  const selected = layerFilter(layers);
  let best = 0;
  for (const layer of plannableLayers(file, modelTopology, model)) {
    const factorizer = factorizerFor(layer.json.class_name);
    if (factorizer === undefined || !selected(layer.name)) continue;
    const { m, n } = factorizer.matrix(weightsOf(layer));
    best = Math.max(best, maxUsefulRank(m, n));
  }
  return best;
}

/** Parameters of the original's factorizable layers. */
function factorizableParams(run: Prepared): number {
  return plannableLayers(run.options.model, run.stored.json.modelTopology, run.original)
    .filter((l) => factorizerFor(l.json.class_name) !== undefined)
    .reduce((sum, l) => sum + weightsOf(l).reduce((s, w) => s + w.values.length, 0), 0);
}

/** The folder's files: the record and its three renderings. */
export function sweepFiles(report: SweepReport): Map<string, string> {
  return new Map([
    ['sweep.json', `${JSON.stringify(report, null, 2)}\n`],
    ['sweep.md', renderSweepMarkdown(report)],
    ['sweep.html', renderSweepHtml(report)],
    ['sweep.svg', renderSweepSvg(report)],
  ]);
}

export { SweepReportSchema, SWEEP_SCHEMA_VERSION, SWEEP_METHODS, type SweepReport, type SweepPoint, type SweepMethod, type SweepSetting } from './schema.js';
export { parseRanks, parseRatios, parseMethods, defaultSweepOut, type SweepInput } from './options.js';
