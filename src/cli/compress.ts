/**
 * `lowrank compress`: flags → library options → compress() → report on stdout.
 */
import { compress } from '../compress.js';
import { gatesPassed } from '../report/gates.js';
import { renderPlan } from '../report/render-plan.js';
import { outputFormat, renderReport } from './report.js';
import { colorFor } from './output.js';
import { progressPrinter } from './progress.js';

/** A numeric flag as a number (NaN when it is not one, which validation then names); `a/b` is a fraction. */
export const parseNumber = (value: unknown): number | undefined => {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const text = String(value).trim();
  const fraction = /^([0-9.eE+-]+)\/([0-9.eE+-]+)$/.exec(text);
  if (fraction) return Number(fraction[1]) / Number(fraction[2]);
  return text === '' ? NaN : Number(text);
};

export async function runCompress(model: string, opts: Record<string, unknown>, signal?: AbortSignal): Promise<number> {
  const quiet = opts['quiet'] === true;
  const format = outputFormat(opts);
  const result = await compress({
    model,
    ...(opts['rank'] !== undefined ? { rank: String(opts['rank']) } : {}),
    ...(opts['energy'] !== undefined ? { energy: parseNumber(opts['energy']) } : {}),
    ...(typeof opts['stream'] === 'boolean' ? { stream: opts['stream'] } : {}),
    ...(opts['inputShape'] !== undefined ? { inputShape: String(opts['inputShape']) } : {}),
    ...(opts['layers'] !== undefined ? { layers: String(opts['layers']) } : {}),
    ...(opts['data'] !== undefined ? { data: String(opts['data']) } : {}),
    ...(opts['validationData'] !== undefined ? { validationData: String(opts['validationData']) } : {}),
    ...(opts['label'] !== undefined ? { label: String(opts['label']) } : {}),
    ...(opts['labels'] !== undefined ? { labels: String(opts['labels']) } : {}),
    ...(opts['validationLabels'] !== undefined ? { validationLabels: String(opts['validationLabels']) } : {}),
    ...(opts['inputScale'] !== undefined ? { inputScale: parseNumber(opts['inputScale']) } : {}),
    ...(opts['imageShape'] !== undefined ? { imageShape: String(opts['imageShape']) } : {}),
    ...(opts['out'] !== undefined ? { out: String(opts['out']) } : {}),
    ...(opts['epochs'] !== undefined ? { epochs: parseNumber(opts['epochs']) } : {}),
    batchSize: parseNumber(opts['batchSize']),
    learningRate: parseNumber(opts['learningRate']),
    validationSplit: parseNumber(opts['validationSplit']),
    seed: parseNumber(opts['seed']),
    ...(opts['distill'] !== undefined ? { distill: parseNumber(opts['distill']) } : {}),
    temperature: parseNumber(opts['temperature']),
    ...(opts['patience'] !== undefined ? { patience: parseNumber(opts['patience']) } : {}),
    train: opts['freezeOriginal'] === true ? 'factors' : (opts['train'] as 'all' | 'factors'),
    lrSchedule: opts['lrSchedule'] as 'constant',
    warmupSteps: parseNumber(opts['warmupSteps']),
    backend: opts['backend'] as 'auto',
    force: opts['force'] === true,
    dryRun: opts['dryRun'] === true,
    allowNonfinite: opts['allowNonfinite'] === true,
    ...(opts['quantize'] !== undefined ? { quantize: opts['quantize'] as 'float16' } : {}),
    ...(opts['maxAccuracyDrop'] !== undefined ? { maxAccuracyDrop: parseNumber(opts['maxAccuracyDrop']) } : {}),
    ...(opts['maxAgreementLoss'] !== undefined ? { maxAgreementLoss: parseNumber(opts['maxAgreementLoss']) } : {}),
    ...(opts['minSizeReduction'] !== undefined ? { minSizeReduction: parseNumber(opts['minSizeReduction']) } : {}),
    onEvent: progressPrinter(process.stderr, quiet),
    ...(signal !== undefined ? { signal } : {}),
  });
  const color = colorFor(process.stdout, opts['color'] !== false);
  if (result.report === null) {
    if (format === 'json') process.stdout.write(`${JSON.stringify(result.plan.entries, null, 2)}\n`);
    else process.stdout.write(renderPlan(result.plan.entries, color));
    return 0;
  }
  process.stdout.write(renderReport(result.report, format, opts));
  // A failed gate exits 1; the output folder and report.json are written all the same.
  return gatesPassed(result.report.gates) ? 0 : 1;
}
