/**
 * `lowrank adapt`: flags → adapt() → a summary (or adapter.json with --json) on stdout, progress on stderr.
 */
import { adapt, type AdaptRunInput } from '../../adapt/index.js';
import type { AdapterJson } from '../../adapt/format.js';
import { progressPrinter } from '../progress.js';

export async function runAdapt(model: string, opts: Record<string, unknown>, signal: AbortSignal): Promise<number> {
  // The library's schema checks and coerces every flag; CLI-only flags are ignored.
  const input = { ...opts, model, onEvent: progressPrinter(process.stderr, opts['quiet'] === true), signal } as AdaptRunInput;
  const { adapter, files } = await adapt(input);
  if (opts['json'] === true) process.stdout.write(`${JSON.stringify(adapter, null, 2)}\n`);
  else process.stdout.write(summary(adapter, files));
  return 0;
}

function pct(x: number | undefined): string {
  return x === undefined ? 'n/a' : `${(x * 100).toFixed(2)}%`;
}

function summary(adapter: AdapterJson, files: readonly string[]): string {
  const r = adapter.report;
  const lines = [
    `adapter: rank ${adapter.rank}, alpha ${adapter.alpha} (scale ${adapter.alpha / adapter.rank}) on ${adapter.layers.map((l) => l.name).join(', ')}`,
    `base:    ${adapter.base.file} (${adapter.base.hash})`,
  ];
  if (r !== null) {
    const { base, adapted } = r.evaluation;
    const metric = base.accuracy !== undefined ? 'accuracy' : 'loss';
    const show = (m: typeof base): string => (metric === 'accuracy' ? pct(m.accuracy) : (m.loss ?? NaN).toFixed(4));
    lines.push(`${metric} on ${r.data.validationSamples} held-out samples of ${r.data.validationFile ?? r.data.file}: base ${show(base)} → adapted ${show(adapted)}`);
    lines.push(`bytes:   adapter ${r.bytes.adapter.toLocaleString('en-US')} (${pct(r.bytes.adapter / r.bytes.base)} of the base's ${r.bytes.base.toLocaleString('en-US')})`);
  }
  lines.push(`wrote:   ${files.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
