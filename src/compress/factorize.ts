/**
 * Plan the ranks and apply them: the factorized model, its factor pairs, and the per-layer facts the
 * report shows.
 */
import { NothingToDoError } from '../errors.js';
import { applyPlan, chosen, layerFilter, planModel, type FactorizedModel, type Plan } from '../factorize/index.js';
import { factorizableClasses } from '../factorize/registry.js';
import { formatRank, type CompressOptions } from './options.js';
import type { Prepared } from './prepare.js';
import { whitenPlan } from './calibrate.js';

/** The plan for this run, or NothingToDoError naming what would help. */
export function planRun(run: Prepared): Plan {
  const { options, stored, original } = run;
  const plan = planModel(options.model, stored.json.modelTopology, original, options.rank, layerFilter(options.layers), { method: options.svd, seed: options.seed });
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
  const best = plan.entries.reduce((max, e) => Math.max(max, e.maxUsefulRank), 0);
  const hint = best > 0 ? `; the largest rank that would help is ${best}` : '';
  const asked = options.rank.kind === 'energy' ? `--energy ${options.rank.fraction}` : `--rank ${formatRank(options.rank)}`;
  return new NothingToDoError(options.model, `no layer would get smaller at ${asked}${hint}`);
}
