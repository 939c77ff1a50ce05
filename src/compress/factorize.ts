/**
 * Plan the ranks and apply them: the factorized model, its factor pairs, and the per-layer facts the
 * report shows.
 */
import { NothingToDoError } from '../errors.js';
import { applyPlan, chosen, layerFilter, planModel, type FactorizedModel, type Plan, type Spectrum } from '../factorize/index.js';
import { factorizableClasses } from '../factorize/registry.js';
import { formatRank, type CompressOptions } from './options.js';
import type { Prepared } from './prepare.js';
import { measureLayers, whitenPlan, type MeasuredLayers } from './calibrate.js';

/**
 * The plan for this run, or NothingToDoError naming what would help. With --ratio and --method whiten
 * the allocation reads what each layer's truncation costs the model, measured on the calibration
 * sample (calibrate.ts, measureLayers); a dry run reads no data, so its allocation reads the kernels'
 * own spectra and says so. `whitened`: those measurements when the caller already has them for this
 * run (they depend on the original model and the data, not on the ratio: a sweep takes them once for
 * all its ratios, and disposes of them).
 */
export async function planRun(run: Prepared, whitened?: MeasuredLayers): Promise<Plan> {
  const { options, stored, original } = run;
  const selected = layerFilter(options.layers);
  let measured: MeasuredLayers | undefined;
  const svd = { method: options.svd, seed: options.seed };
  if (options.rank.kind === 'ratio' && options.method === 'whiten') {
    if (run.data !== undefined) measured = whitened ?? (await measureLayers(run, selected));
    else run.emit({ status: 'note', message: 'a dry run reads no data: --ratio is allocated on the kernels\' own spectra here, on measurements of the model on the data in the real run' });
  }
  let plan: Plan;
  try {
    plan = planModel(options.model, stored.json.modelTopology, original, options.rank, selected, svd, measured?.spectra, measured?.judge);
    if (whitened === undefined) measured?.keepFor(plan);
  } finally {
    if (whitened === undefined) measured?.dispose();
  }
  if (chosen(plan).length === 0) throw nothingToDo(options, plan);
  return plan;
}

export interface Factorized {
  factorized: FactorizedModel;
  factorizeMs: number;
}

export async function factorizeModel(run: Prepared, plan: Plan, planMs: number): Promise<Factorized> {
  const { options, data, original, emit } = run;
  const started = performance.now();
  const samples = data === undefined ? '' : `, ${data.samples} samples from ${options.data}${'batches' in data.train ? ' (streamed)' : ''}`;
  emit({ status: 'stage', stage: 'load', message: `loaded ${options.model} (${original.countParams()} params)${samples}` });
  if (options.data === undefined) emit({ status: 'note', message: 'no --data given: the model is factorized but not fine-tuned, and no accuracy is measured' });
  emit({ status: 'stage', stage: 'factorize', message: `factorizing ${chosen(plan).length} of ${plan.entries.length} layer(s)${options.method === 'whiten' ? `, whitened on ${Math.min(options.calibrationSamples, data?.train.count ?? 0)} training samples` : ''}` });
  if (options.method === 'whiten') await whitenPlan(run, plan);
  const factorized = await applyPlan(options.model, run.stored.json.modelTopology, original, plan);
  return { factorized, factorizeMs: planMs + performance.now() - started };
}

export function nothingToDo(options: CompressOptions, plan: Plan): NothingToDoError {
  if (plan.entries.length === 0) {
    return new NothingToDoError(options.model, `the model has no layer lowrank can factorize (${factorizableClasses().join(', ')})`);
  }
  if (plan.entries.every((e) => e.reason === 'not selected')) {
    return new NothingToDoError(options.model, `--layers "${options.layers ?? ''}" selects none of the factorizable layers (${plan.entries.map((e) => e.name).join(', ')})`);
  }
  if (options.rank.kind === 'ratio') {
    return new NothingToDoError(options.model, `--ratio ${options.rank.fraction} keeps every considered layer whole (they all fit the budget); ask for less`);
  }
  const best = plan.entries.reduce((max, e) => Math.max(max, e.maxUsefulRank), 0);
  const hint = best > 0 ? `; the largest rank that would help is ${best}` : '';
  const asked = options.rank.kind === 'energy' ? `--energy ${options.rank.fraction}` : `--rank ${formatRank(options.rank)}`;
  return new NothingToDoError(options.model, `no layer would get smaller at ${asked}${hint}`);
}
