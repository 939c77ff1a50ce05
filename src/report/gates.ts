/**
 * Quality gates: limits a CI sets on a report (accuracy drop, agreement loss, size reduction). They
 * are evaluated on the report alone, so `lowrank report` can gate a stored run exactly as `compress`
 * gates a fresh one. A gate the report cannot answer (no labels, so no accuracy) is an error, never a
 * silent pass.
 */
import { z } from 'zod';
import { LowrankError, UsageError } from '../errors.js';
import { writtenVariant, type CompressionReport, type GateName, type GateResult, type MetricsReport } from './schema.js';

/** Limits as the CLI and library take them; absent: not checked. */
export interface GateLimits {
  /** Most accuracy the output may lose, in percentage points (1.5: 98.6% → 97.1% passes). */
  maxAccuracyDrop?: number;
  /** Most share of samples whose predicted class may differ from the original's (0.02). */
  maxAgreementLoss?: number;
  /** Least input weight bytes / output weight bytes (3: at least 3× smaller). */
  minSizeReduction?: number;
}

const limit = (flag: string, schema: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === 'string' ? (v.trim() === '' ? NaN : Number(v)) : v), schema.refine(Number.isFinite, `${flag} must be a finite number`)).optional();

export const GateLimitsSchema = z.object({
  maxAccuracyDrop: limit('--max-accuracy-drop', z.number({ error: '--max-accuracy-drop must be a number of points, like 1.5' }).min(0, '--max-accuracy-drop must be at least 0').max(100, '--max-accuracy-drop is in points, at most 100')),
  maxAgreementLoss: limit('--max-agreement-loss', z.number({ error: '--max-agreement-loss must be a number, like 0.02' }).min(0, '--max-agreement-loss must be in [0, 1]').max(1, '--max-agreement-loss must be in [0, 1]')),
  minSizeReduction: limit('--min-size-reduction', z.number({ error: '--min-size-reduction must be a number, like 3' }).gt(0, '--min-size-reduction must be greater than 0')),
});

/** Validate gate limits (numbers or numeric strings); throws UsageError naming the flag. */
export function parseGateLimits(input: Record<string, unknown>): GateLimits {
  const parsed = GateLimitsSchema.safeParse({
    maxAccuracyDrop: input['maxAccuracyDrop'],
    maxAgreementLoss: input['maxAgreementLoss'],
    minSizeReduction: input['minSizeReduction'],
  });
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? 'invalid gate');
  const out: GateLimits = {};
  if (parsed.data.maxAccuracyDrop !== undefined) out.maxAccuracyDrop = parsed.data.maxAccuracyDrop;
  if (parsed.data.maxAgreementLoss !== undefined) out.maxAgreementLoss = parsed.data.maxAgreementLoss;
  if (parsed.data.minSizeReduction !== undefined) out.minSizeReduction = parsed.data.minSizeReduction;
  return out;
}

export function hasGates(limits: GateLimits): boolean {
  return limits.maxAccuracyDrop !== undefined || limits.maxAgreementLoss !== undefined || limits.minSizeReduction !== undefined;
}

/**
 * Metrics of the model in the output folder: the written size variant reloaded from its bytes (which
 * includes --quantize), else the fine-tuned (or, without training, factorized) evaluation.
 */
export function outputMetrics(report: CompressionReport): MetricsReport | null {
  const written = report.sizes.find((s) => s.variant === writtenVariant(report.options.quantize));
  if (written?.metrics) return written.metrics;
  const ev = report.evaluation;
  return ev === null ? null : (ev.fineTuned ?? ev.factorized);
}

/** What a run can measure, for checking gates before any work is done. */
export interface GateSituation {
  /** The dataset evaluated on, or undefined without --data. */
  data?: string;
  hasLabels: boolean;
  /** The loss is a classification loss (accuracy and agreement exist). */
  classifier: boolean;
  loss: string | null;
}

/** Why a gate cannot be evaluated in this situation, or null when it can. */
export function gateProblem(gate: GateName, s: GateSituation): string | null {
  if (gate === 'min-size-reduction') return null;
  const what = gate === 'max-accuracy-drop' ? 'accuracy' : 'agreement with the original';
  if (s.data === undefined) return `--${gate} needs ${what}, which needs --data${gate === 'max-accuracy-drop' ? ' with labels' : ''}`;
  if (!s.classifier) return `--${gate} needs ${what}, which only classifiers have (this model's loss is ${s.loss ?? 'unknown'})`;
  if (gate === 'max-accuracy-drop' && !s.hasLabels) return `--max-accuracy-drop needs accuracy, but ${s.data} has no labels`;
  return null;
}

/** Throw (exit 2) when a gate asked for cannot be evaluated in this situation. */
export function checkGatesEvaluable(limits: GateLimits, s: GateSituation): void {
  for (const gate of askedGates(limits)) {
    const problem = gateProblem(gate, s);
    if (problem !== null) throw new UsageError(problem);
  }
}

function askedGates(limits: GateLimits): GateName[] {
  const gates: GateName[] = [];
  if (limits.maxAccuracyDrop !== undefined) gates.push('max-accuracy-drop');
  if (limits.maxAgreementLoss !== undefined) gates.push('max-agreement-loss');
  if (limits.minSizeReduction !== undefined) gates.push('min-size-reduction');
  return gates;
}

// Measured values are ratios of counts: compare with a little slack so 1.5 points is not failed by
// floating point when the drop is exactly 1.5 points.
const SLACK = 1e-9;

/**
 * Evaluate the gates on a report, in a fixed order. `file` names the report in errors; a gate the
 * report cannot answer throws a LowrankError (exit 2) saying why.
 */
export function evaluateGates(report: CompressionReport, limits: GateLimits, file?: string): GateResult[] {
  const results: GateResult[] = [];
  const fail = (message: string): never => {
    throw new LowrankError('USAGE', message, file);
  };
  const final = outputMetrics(report);
  const why = report.evaluation === null ? ' (it was made without --data)' : '';
  if (limits.maxAccuracyDrop !== undefined) {
    const before = report.evaluation?.original.accuracy;
    const after = final?.accuracy;
    if (before === undefined || after === undefined) {
      const reason = why !== '' ? why : report.loss !== null && !isClassifierLoss(report.loss) ? ` (loss ${report.loss} has no accuracy)` : ' (the held-out samples have no labels)';
      fail(`--max-accuracy-drop needs accuracy, but this report has none${reason}`);
    } else {
      const value = (before - after) * 100;
      results.push({ gate: 'max-accuracy-drop', limit: limits.maxAccuracyDrop, value, passed: value <= limits.maxAccuracyDrop + SLACK });
    }
  }
  if (limits.maxAgreementLoss !== undefined) {
    const agreement = final?.agreement;
    if (agreement === undefined) {
      const reason = why !== '' ? why : ` (loss ${report.loss ?? 'unknown'} is not a classifier's)`;
      fail(`--max-agreement-loss needs agreement with the original, but this report has none${reason}`);
    } else {
      const value = 1 - agreement;
      results.push({ gate: 'max-agreement-loss', limit: limits.maxAgreementLoss, value, passed: value <= limits.maxAgreementLoss + SLACK });
    }
  }
  if (limits.minSizeReduction !== undefined) {
    const value = report.output.weightBytes === 0 ? Infinity : report.input.weightBytes / report.output.weightBytes;
    results.push({ gate: 'min-size-reduction', limit: limits.minSizeReduction, value, passed: value >= limits.minSizeReduction - SLACK });
  }
  return results;
}

function isClassifierLoss(loss: string): boolean {
  return /categorical|binary/.test(loss);
}

/** True when every gate passed (or none were given). */
export function gatesPassed(results: readonly GateResult[] | undefined): boolean {
  return (results ?? []).every((g) => g.passed);
}

/** The gate's measured value and limit as people read them. */
export function describeGate(g: GateResult): { label: string; value: string; limit: string } {
  switch (g.gate) {
    case 'max-accuracy-drop':
      return { label: 'accuracy drop', value: `${g.value.toFixed(2)} points`, limit: `≤ ${g.limit} points` };
    case 'max-agreement-loss':
      return { label: 'agreement loss', value: g.value.toFixed(4), limit: `≤ ${g.limit}` };
    case 'min-size-reduction':
      return { label: 'size reduction', value: `${g.value.toFixed(2)}×`, limit: `≥ ${g.limit}×` };
  }
}
