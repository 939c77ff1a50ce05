/**
 * The report, built from what the stages measured: a pure function (numbers in, report out) that
 * neither measures nor reads anything, so it is tested without TensorFlow.js.
 */
import path from 'node:path';
import type { PlanBudget, PlanEntry } from '../factorize/plan.js';
import { evaluateGates, hasGates } from '../report/gates.js';
import { REPORT_SCHEMA_VERSION, writtenVariant, type CompressionReport, type FlopsReport, type LayerReport, type SizeVariant, type SpeedReport } from '../report/schema.js';
import type { FineTuneResult } from '../train/fine-tune.js';
import type { Loss, Objective } from '../train/loss.js';
import { VERSION } from '../version.js';
import { formatRank, type CompressOptions } from './options.js';

/** Everything a report states, as the stages measured it. */
export interface ReportFacts {
  options: CompressOptions;
  backend: string;
  createdAt: Date;
  plan: readonly PlanEntry[];
  /** With --ratio: the allocation's budget. */
  budget?: PlanBudget | undefined;
  input: { params: number; weightBytes: number; gzipBytes: number };
  outputParams: number;
  data: { file: string; samples: number; streamed: boolean; trainSamples: number; validationSamples: number } | null;
  loss: Loss | null;
  objective: Objective | null;
  evaluation: CompressionReport['evaluation'];
  training: FineTuneResult | null;
  sizes: SizeVariant[];
  speed: SpeedReport[];
  /** null when the model could not run. */
  flops: FlopsReport | null;
  /** Layer classes tfjs lacked, which kept the model from running; absent when it ran. */
  unknownLayerClasses?: string[];
  /** Stage times; write and total are filled in when the output is written. */
  timings: Omit<CompressionReport['timings'], 'writeMs' | 'totalMs'>;
}

export function buildReport(facts: ReportFacts): CompressionReport {
  const { options, plan, data, loss } = facts;
  const report: CompressionReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'lowrank', version: VERSION },
    createdAt: facts.createdAt.toISOString(),
    backend: facts.backend,
    input: { path: path.resolve(options.model), ...facts.input, factorizableParams: sum(plan, (e) => e.paramsBefore) },
    output: { path: path.resolve(options.out), params: facts.outputParams, ...writtenBytes(facts.sizes, options.quantize), factorizableParams: sum(plan, (e) => e.paramsAfter) },
    options: {
      rank: formatRank(options.rank),
      ...(options.layers !== undefined ? { layers: options.layers } : {}),
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      seed: options.seed,
      validationSplit: options.validationSplit,
      ...(options.quantize !== undefined ? { quantize: options.quantize } : {}),
      svd: options.svd,
      ...(options.rank.kind === 'ratio' ? { ratio: options.rank.fraction } : {}),
    },
    ...(facts.budget !== undefined ? { budget: { ...facts.budget } } : {}),
    layers: plan.map(layerReport),
    data:
      data === null
        ? null
        : {
            path: path.resolve(data.file),
            samples: data.samples,
            streamed: data.streamed,
            trainSamples: data.trainSamples,
            validationSamples: data.validationSamples,
            ...(options.validationData !== undefined ? { validationPath: path.resolve(options.validationData) } : {}),
          },
    loss: loss?.kind ?? null,
    ...(loss?.fromLogits === true ? { lossFromLogits: true } : {}),
    evaluation: facts.evaluation,
    training: trainingReport(options, facts.objective, facts.training),
    sizes: facts.sizes,
    speed: facts.speed,
    flops: facts.flops,
    ...(facts.unknownLayerClasses !== undefined && facts.unknownLayerClasses.length > 0 ? { unknownLayerClasses: [...facts.unknownLayerClasses] } : {}),
    timings: { ...facts.timings, writeMs: 0, totalMs: 0 },
  };
  if (hasGates(options.gates)) report.gates = evaluateGates(report, options.gates);
  return report;
}

function layerReport(e: PlanEntry): LayerReport {
  return {
    name: e.name,
    className: e.className,
    shape: [e.m, e.n],
    rank: e.rank,
    maxUsefulRank: e.maxUsefulRank,
    paramsBefore: e.paramsBefore,
    paramsAfter: e.paramsAfter,
    ...(e.energyKept !== undefined ? { energyKept: e.energyKept } : {}),
    ...(e.relativeError !== undefined ? { relativeError: e.relativeError } : {}),
    ...(e.method !== undefined ? { method: e.method } : {}),
    ...(e.weightError !== undefined ? { weightError: e.weightError } : {}),
    ...(e.predictedOutputError !== undefined ? { predictedOutputError: e.predictedOutputError } : {}),
    ...(e.predictedLoss !== undefined ? { predictedLoss: e.predictedLoss } : {}),
    ...(e.outputError !== undefined ? { outputError: e.outputError } : {}),
    ...(e.reason !== undefined ? { reason: e.reason } : {}),
    singularValues: e.singularValues,
    ...(e.singularValuesComplete === false ? { singularValuesComplete: false } : {}),
    ...(e.svdMethod !== undefined ? { svd: e.svdMethod } : {}),
  };
}

function trainingReport(options: CompressOptions, objective: Objective | null, training: FineTuneResult | null): CompressionReport['training'] {
  if (training === null || objective === null) return null;
  return {
    distill: objective.distill,
    temperature: objective.temperature,
    train: options.train,
    schedule: options.lrSchedule,
    warmupSteps: options.warmupSteps,
    ...(options.patience > 0 ? { patience: options.patience } : {}),
    bestEpoch: training.bestEpoch,
    stoppedEarly: training.stoppedEarly,
    ...(training.initialValidationLoss !== undefined ? { initialValidationLoss: training.initialValidationLoss } : {}),
    epochs: training.history,
  };
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return items.reduce((s, item) => s + value(item), 0);
}

/** Bytes of the written variant, already measured for the size table (gzip is not cheap). */
function writtenBytes(sizes: readonly SizeVariant[], quantize: 'float16' | 'uint8' | undefined): { weightBytes: number; gzipBytes: number } {
  const row = sizes.find((s) => s.variant === writtenVariant(quantize));
  if (row === undefined) throw new Error(`size table lacks the written variant ${writtenVariant(quantize)}`);
  return { weightBytes: row.weightBytes, gzipBytes: row.gzipBytes };
}
