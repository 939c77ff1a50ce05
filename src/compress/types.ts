/**
 * What compress() takes, reports as it goes, and returns. Every stage may import these; this module
 * imports no stage.
 */
import type { Plan } from '../factorize/index.js';
import type { CompressionReport } from '../report/schema.js';
import type { TrainEvent } from '../train/fine-tune.js';
import type { CompressInput } from './options.js';

/** Progress of a compress run: stages, notes, then training events. */
export type CompressEvent =
  | { status: 'stage'; stage: 'load' | 'factorize' | 'evaluate' | 'fine-tune' | 'measure' | 'write'; message: string }
  /** Something the user should know about the result, said once (the CLI prints it even with --quiet). */
  | { status: 'note'; message: string }
  | TrainEvent;

export interface CompressResult {
  /** What was measured; null for a dry run, which only plans. */
  report: CompressionReport | null;
  /** The plan that was applied (also in report.layers). */
  plan: Plan;
  /** Absolute paths of the files written (empty for a dry run). */
  files: string[];
}

/** What compress() takes: the options (quantization and quality gates included), progress and cancellation. */
export interface CompressRunInput extends CompressInput {
  onEvent?: (event: CompressEvent) => void;
  /**
   * Cancel the run: checked between stages and training batches and before the output is renamed into
   * place. An aborted run throws AbortedError and leaves nothing behind (no output, no temporary folder).
   */
  signal?: AbortSignal;
}
