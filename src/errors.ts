/**
 * Errors that lowrank expects: each carries a stable `code` that callers and tests match on,
 * the file it concerns (when there is one), and the exit code the CLI maps it to.
 * Anything thrown that is not a LowrankError is an internal error (exit 3).
 */

/** Stable machine-readable error codes. */
export type ErrorCode =
  | 'USAGE'
  | 'MODEL_FORMAT'
  | 'DATASET'
  | 'UNSUPPORTED_LAYER'
  | 'OUTPUT_EXISTS'
  | 'NOTHING_TO_DO'
  | 'REPORT_FORMAT'
  | 'ADAPTER_MISMATCH'
  | 'ABORTED';

/** Base class of every error lowrank raises on purpose. */
export class LowrankError extends Error {
  readonly code: ErrorCode;
  /** The file (or folder) the problem is in, when there is one. */
  readonly file: string | undefined;
  /** Exit code the CLI uses for this error. */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, file?: string, exitCode = 2) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.file = file;
    this.exitCode = exitCode;
  }
}

/** A bad option or argument. */
export class UsageError extends LowrankError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** model.json or a weight shard that is not a valid TF.js Layers model. */
export class ModelFormatError extends LowrankError {
  constructor(file: string, message: string) {
    super('MODEL_FORMAT', message, file);
  }
}

/** A dataset file that cannot be read or does not fit the model. */
export class DatasetError extends LowrankError {
  constructor(file: string, message: string) {
    super('DATASET', message, file);
  }
}

/** A layer class or configuration lowrank cannot handle. */
export class UnsupportedLayerError extends LowrankError {
  constructor(file: string | undefined, message: string) {
    super('UNSUPPORTED_LAYER', message, file);
  }
}

/**
 * The output path is taken: a non-empty lowrank output folder without --force, or anything else
 * (a file, a folder lowrank did not write), which --force does not replace either.
 */
export class OutputExistsError extends LowrankError {
  constructor(dir: string, notOurs = false) {
    super(
      'OUTPUT_EXISTS',
      notOurs
        ? 'exists and is not a lowrank output folder (model.json, its shards and report.json); --force replaces only those, so choose another --out'
        : 'output folder exists and is not empty (use --force to replace it)',
      dir,
    );
  }
}

/** A plan that would factorize nothing. */
export class NothingToDoError extends LowrankError {
  constructor(file: string, message: string) {
    super('NOTHING_TO_DO', message, file);
  }
}

/** An adapter that does not fit the model it is merged into: another base, missing layers, wrong shapes. */
export class AdapterMismatchError extends LowrankError {
  constructor(file: string, message: string) {
    super('ADAPTER_MISMATCH', message, file);
  }
}

/** A report.json that cannot be read. */
export class ReportFormatError extends LowrankError {
  constructor(file: string, message: string) {
    super('REPORT_FORMAT', message, file);
  }
}

/**
 * The run was cancelled through its AbortSignal (the CLI aborts on SIGINT/SIGTERM): nothing was written.
 * The exit code follows the shell convention 128 + signal number (130 SIGINT, 143 SIGTERM).
 */
export class AbortedError extends LowrankError {
  constructor(reason: unknown) {
    const signal = typeof reason === 'string' ? reason : undefined;
    super('ABORTED', `interrupted${signal !== undefined ? ` (${signal})` : ''}; nothing was written`, undefined, signal === 'SIGTERM' ? 143 : 130);
  }
}

/** Throw AbortedError when `signal` has been aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError(signal.reason);
}

/** The one-line form the CLI prints: `<file>: <problem>` or just `<problem>`. */
export function formatError(err: LowrankError): string {
  return err.file === undefined ? err.message : `${err.file}: ${err.message}`;
}
