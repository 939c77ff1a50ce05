/**
 * Options of `lowrank sweep`: compress's options (data, fine-tuning, seed, backend) minus what chooses
 * one compression (rank, energy, ratio, method) or writes a model (dry run, quantization, gates), plus the
 * lists of points and methods to sweep. The lists are checked here; everything else by compress's
 * schema (compress/options.ts), so a flag means the same in both commands.
 */
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { CompressInput } from '../compress/options.js';
import { SWEEP_METHODS, type SweepMethod, type SweepSetting } from './schema.js';

/** What sweep() takes besides progress and cancellation. */
export interface SweepInput
  extends Omit<CompressInput, 'rank' | 'energy' | 'ratio' | 'method' | 'dryRun' | 'quantize' | 'maxAccuracyDrop' | 'maxAgreementLoss' | 'minSizeReduction'> {
  /** Shares of the factorizable layers' parameters to keep, each a compress --ratio: "0.05,0.1" or [0.05, 0.1]. */
  ratios?: string | readonly number[];
  /** Ranks to try, each for every factorizable layer: "2,4,8" or [2, 4, 8]. */
  ranks?: string | readonly number[];
  /** Truncations to compare (default both: svd,whiten). */
  methods?: string | readonly string[];
}

/** The points and methods of a sweep, checked: what varies, and its values ascending. */
export interface SweepLists {
  setting: SweepSetting;
  values: number[];
  methods: SweepMethod[];
}

/** The items of a comma-separated list (or an array), refusing an empty list and repeated items. */
function listItems(flag: string, value: string | readonly (string | number)[], example: string): string[] {
  const items = (typeof value === 'string' ? value.split(',') : value.map(String)).map((s) => s.trim());
  if (items.length === 0 || items.every((s) => s === '')) throw new UsageError(`${flag} is empty; give a comma-separated list such as ${example}`);
  const empty = items.findIndex((s) => s === '');
  if (empty >= 0) throw new UsageError(`${flag}: item ${empty + 1} of "${items.join(',')}" is empty`);
  return items;
}

function refuseRepeats<T>(flag: string, items: readonly T[]): void {
  const seen = new Set<T>();
  for (const item of items) {
    if (seen.has(item)) throw new UsageError(`${flag}: ${String(item)} is given twice`);
    seen.add(item);
  }
}

/** `--ranks 2,4,8`: positive integers, each once; returned ascending. */
export function parseRanks(value: string | readonly number[]): number[] {
  const ranks = listItems('--ranks', value, '2,4,8,16').map((s) => {
    const rank = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!(rank >= 1) || !Number.isSafeInteger(rank)) throw new UsageError(`--ranks: "${s}" is not a positive integer`);
    return rank;
  });
  refuseRepeats('--ranks', ranks);
  return ranks.sort((a, b) => a - b);
}

/** `--ratios 0.05,0.1,0.2`: shares in (0, 1), each once; returned ascending. */
export function parseRatios(value: string | readonly number[]): number[] {
  const ratios = listItems('--ratios', value, '0.05,0.1,0.2,0.3').map((s) => {
    const ratio = /^(\d+(\.\d*)?|\.\d+)(e-?\d+)?$/i.test(s) ? Number(s) : NaN;
    if (!(ratio > 0 && ratio < 1)) throw new UsageError(`--ratios: "${s}" is not a share between 0 and 1 (exclusive)`);
    return ratio;
  });
  refuseRepeats('--ratios', ratios);
  return ratios.sort((a, b) => a - b);
}

/** `--methods svd,whiten`: known methods, each once, in the order given. */
export function parseMethods(value: string | readonly string[] | undefined): SweepMethod[] {
  const methods = listItems('--methods', value ?? SWEEP_METHODS, 'svd,whiten').map((s) => {
    if (!(SWEEP_METHODS as readonly string[]).includes(s)) throw new UsageError(`--methods: "${s}" is not a method (${SWEEP_METHODS.join(', ')})`);
    return s as SweepMethod;
  });
  refuseRepeats('--methods', methods);
  return methods;
}

/**
 * The lists, checked against the model: a rank past every chosen layer's break-even would factorize
 * nothing, so it is refused with the largest rank that helps.
 */
export function sweepLists(input: SweepInput, largestUsefulRank: number): SweepLists {
  if (input.ranks !== undefined && input.ratios !== undefined) throw new UsageError('give either --ratios or --ranks, not both');
  if (input.ranks === undefined && input.ratios === undefined) throw new UsageError('say which points to sweep: --ratios 0.05,0.1,0.2 (shares of the parameters) or --ranks 2,4,8 (one rank for every layer)');
  const methods = parseMethods(input.methods);
  // A ratio too small for rank 1 everywhere is refused by the first point's plan, naming the smallest that works.
  if (input.ratios !== undefined) return { setting: 'ratio', values: parseRatios(input.ratios), methods };
  const ranks = parseRanks(input.ranks as string | readonly number[]);
  const top = ranks[ranks.length - 1] as number;
  // 0: no chosen layer can get smaller at all; compress's own error says why (no such layer, --layers).
  if (largestUsefulRank > 0 && top > largestUsefulRank) {
    throw new UsageError(`--ranks: no layer would get smaller at rank ${top}; the largest rank that would help is ${largestUsefulRank}`);
  }
  return { setting: 'rank', values: ranks, methods };
}

/** `<model folder>-sweep`, beside the model's folder. */
export function defaultSweepOut(model: string): string {
  return `${path.dirname(path.resolve(model))}-sweep`;
}
