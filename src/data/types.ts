/**
 * What every dataset reader produces and shares: the Dataset shape, the read options, and the wording
 * of problems common to all formats. Readers import this module, never each other.
 */
export interface Dataset {
  /** The file the samples came from (for messages). */
  file: string;
  /** Number of samples. */
  count: number;
  /** Values per sample (flattened). */
  featureSize: number;
  /** Features, count * featureSize, row-major. */
  x: Float32Array;
  /** Labels, count * labelSize, row-major; undefined when the file has none. */
  y: Float32Array | undefined;
  /** Values per label; 0 when there are no labels. */
  labelSize: number;
  /** For an image folder: the class folder names, indexed by label. */
  classNames?: string[];
}

/** How to read a dataset. */
export interface ReadDatasetOptions {
  /**
   * CSV label column: a header name, a 0-based column index as a string (negative counts from the
   * end), or "none" for no labels. Default: the last column. For JSON only "none" applies.
   */
  label?: string;
  /** Expected values per sample (the product of the model's input shape); other sizes are an error. */
  featureSize?: number;
  /** For .npy features only: a .npy file of labels, shape [count] or [count, k]. */
  labels?: string;
  /** For an image folder (required there): [height, width, channels], channels 1 or 3. */
  imageShape?: readonly number[];
  /** Every feature is multiplied by this as it is read (e.g. 1/255); labels are not. Default 1. */
  inputScale?: number;
}

/** A file system error in a few words, for `cannot read file: ...`. */
export function describeReadError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** float32's range as messages state it (its largest finite value is about 3.4028e38). */
const FLOAT32_RANGE = '±3.4e38';

/**
 * The smallest magnitude that float32 rounds to Infinity: its largest finite value (2^128 − 2^104)
 * plus half a unit in the last place (2^103); a tie rounds to even, which is Infinity.
 */
const FLOAT32_OVERFLOW = 2 ** 128 - 2 ** 103;

/** Whether a finite `value` stays finite when stored as float32. */
export function fitsFloat32(value: number): boolean {
  return value < FLOAT32_OVERFLOW && value > -FLOAT32_OVERFLOW;
}

/**
 * Why `value` (shown as `shown`), times `scale`, cannot be stored: finite as a float64 but beyond
 * float32's range, where it would become Infinity.
 */
export function describeFloat32Overflow(shown: string, scale = 1): string {
  const scaled = scale === 1 ? '' : ` times the input scale ${scale}`;
  return `${shown}${scaled} exceeds float32's range (${FLOAT32_RANGE})`;
}

/** `text` cut to `max` characters, with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The lines of a text with their 1-based numbers, split on \n (a \r before it stays for the reader to trim). */
export function* linesOf(text: string): Generator<[string, number]> {
  let pos = 0;
  let lineNumber = 0;
  while (pos <= text.length) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    lineNumber++;
    yield [text.slice(pos, end), lineNumber];
    pos = end + 1;
  }
}
