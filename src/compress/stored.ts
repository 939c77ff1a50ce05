/**
 * compress() for a model whose layer classes tfjs lacks (and no --setup registered): plan, SVD and the
 * topology rewrite on the JSON and the stored weights, the size table's bytes, the report, the output.
 * Layers lowrank does not know are carried over with their config and weights byte-identical; what
 * needs a running model (evaluation, latency, FLOPs, reloading the size variants) is not measured, and
 * the report names the classes that prevented it.
 */
import { chosen, layerFilter, type Plan } from '../factorize/index.js';
import { applyPlanStored, planStored } from '../factorize/stored.js';
import { buildModelFiles, classList } from '../io/index.js';
import { measureVariantBytes } from '../measure/sizes.js';
import { VERSION } from '../version.js';
import { nothingToDo } from './factorize.js';
import { measureSizes } from './measure.js';
import type { PreparedStored } from './prepare.js';
import { buildReport } from './report.js';
import type { CompressResult } from './types.js';
import { writeOutput } from './write.js';

export async function compressStored(run: PreparedStored): Promise<CompressResult> {
  const { options, stored, unknownClasses, emit } = run;
  const planStarted = performance.now();
  const plan: Plan = planStored(options.model, stored.json.modelTopology, stored.weights, options.rank, layerFilter(options.layers), { method: options.svd, seed: options.seed });
  if (chosen(plan).length === 0) throw nothingToDo(options, plan);
  if (options.dryRun) return { report: null, plan, files: [] };
  const inputParams = sumParams(stored.weights);
  emit({ status: 'stage', stage: 'load', message: `read ${options.model} (${inputParams} params) without running it` });
  emit({ status: 'note', message: `layer class(es) ${classList(unknownClasses)} are not standard TF.js layers: they are carried over unchanged, and accuracy, latency and FLOPs are not measured (--setup <module> registers them)` });
  emit({ status: 'stage', stage: 'factorize', message: `factorizing ${chosen(plan).length} of ${plan.entries.length} layer(s)` });
  const factorized = applyPlanStored(options.model, stored.json.modelTopology, stored.weights, plan);
  const factorizeMs = performance.now() - planStarted;
  emit({ status: 'stage', stage: 'measure', message: 'measuring size' });
  const measureStarted = performance.now();
  const { weightsManifest: _, ...base } = stored.json;
  const lowrank = buildModelFiles({ ...base, format: 'layers-model', convertedBy: `lowrank ${VERSION}`, modelTopology: factorized.modelTopology }, factorized.weights);
  const { sizes, written, input: inputBytes } = await measureSizes(options.model, stored.json, stored.weights, lowrank, options.quantize, measureVariantBytes, { streamLarge: true, params: inputParams });
  const report = buildReport({
    options,
    backend: run.backend,
    createdAt: new Date(),
    plan: plan.entries,
    input: { params: inputParams, ...inputBytes },
    outputParams: sumParams(factorized.weights),
    data: null,
    loss: null,
    objective: null,
    evaluation: null,
    training: null,
    sizes,
    speed: [],
    flops: null,
    unknownLayerClasses: unknownClasses,
    timings: { loadMs: run.loadMs, factorizeMs, evaluateMs: 0, fineTuneMs: 0, measureMs: performance.now() - measureStarted },
  });
  const files = await writeOutput(run, written, report);
  return { report, plan, files };
}

function sumParams(weights: ReadonlyArray<{ entry: { shape: number[]; group?: string | undefined } }>): number {
  return weights.filter((w) => w.entry.group !== 'optimizer').reduce((sum, w) => sum + w.entry.shape.reduce((n, d) => n * d, 1), 0);
}
