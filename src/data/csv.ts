/**
 * CSV and TSV: an optional header row, numeric cells, the label column last unless --label names one.
 * DelimitedParser checks every line as it comes, so whole-file and streamed reading share it.
 */
import { DatasetError, UsageError } from '../errors.js';
import { describeFloat32Overflow, fitsFloat32, linesOf, truncate, type Dataset, type ReadDatasetOptions } from './types.js';
/**
 * Parses one cell. Returns NaN when the cell is not a plain decimal number (callers then ask
 * describeBadCell why). Number() is the fast path; it also accepts a few things we do not want
 * (blank cells as 0, 0x/0o/0b literals, Infinity), which are ruled out here.
 */
function parseCell(cell: string): number {
  const n = Number(cell);
  if (n - n === 0) {
    // finite
    let i = 0;
    let c = cell.charCodeAt(0);
    while (c === 32 || c === 9) c = cell.charCodeAt(++i);
    if (i === cell.length) return NaN; // blank
    if (c === 48 /* 0 */) {
      const d = cell.charCodeAt(i + 1) | 32;
      if (d === 120 /* x */ || d === 111 /* o */ || d === 98 /* b */) return NaN;
    }
    return n;
  }
  // Quoted numbers ("1.5") are still numbers.
  const trimmed = cell.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) {
    return parseCell(trimmed.slice(1, -1));
  }
  return NaN;
}

function isBlank(cell: string): boolean {
  const trimmed = cell.trim();
  return trimmed === '' || trimmed === '""';
}

function describeBadCell(cell: string): string {
  if (isBlank(cell)) return 'empty cell';
  const shown = JSON.stringify(truncate(cell.trim(), 40));
  const n = Number(cell.trim().replace(/^"(.*)"$/, '$1'));
  return Number.isNaN(n) || Number.isFinite(n) ? `${shown} is not a number` : `${shown} is not a finite number`;
}

function headerName(cell: string): string {
  const trimmed = cell.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
    ? trimmed.slice(1, -1).replaceAll('""', '"')
    : trimmed;
}

/**
 * Parses the lines of a CSV/TSV file one by one: header detection on the first non-blank line, the
 * label column, and every check with its line number. Used whole-file and streaming alike.
 */
export class DelimitedParser {
  private columns = -1;
  private header: string[] | undefined;
  private labelColumn = -1; // -1: no label column
  private size = 0;
  private rows = 0;
  private scratch = new Float32Array(0);
  private readonly scale: number;

  constructor(
    private readonly file: string,
    private readonly delimiter: string,
    private readonly options: ReadDatasetOptions,
  ) {
    this.scale = options.inputScale ?? 1;
  }

  /** Features per row (known after the first non-blank line). */
  get featureSize(): number {
    return this.size;
  }

  get hasLabel(): boolean {
    return this.labelColumn !== -1;
  }

  /**
   * One line (without its newline) → the row's features (a view valid until the next call) and
   * label; null for a blank line or the header.
   */
  parse(rawLine: string, lineNumber: number): { x: Float32Array; y: number | undefined } | null {
    const line = rawLine.charCodeAt(rawLine.length - 1) === 13 ? rawLine.slice(0, -1) : rawLine; // CRLF
    if (line.trim() === '') return null;
    const cells = line.split(this.delimiter);
    if (this.columns === -1) {
      // First non-blank row: it is a header when any cell is not a number.
      this.columns = cells.length;
      const isHeader = cells.some((cell) => !isBlank(cell) && Number.isNaN(parseCell(cell)));
      if (isHeader) this.header = cells.map(headerName);
      this.labelColumn = resolveLabelColumn(this.options.label, this.columns, this.header, (m) => this.fail(m));
      this.size = this.labelColumn === -1 ? this.columns : this.columns - 1;
      if (this.size === 0) {
        this.fail(`the only column is the label, so there are no features` + (this.options.label === undefined ? ' (use --label none when the file has no label column)' : ''));
      }
      this.scratch = new Float32Array(this.size);
      if (isHeader) return null;
    }
    if (this.rows === 0 && this.options.featureSize !== undefined && this.options.featureSize !== this.size) {
      this.fail(`line ${lineNumber}: ${featureCountMismatch(this.size, this.options.featureSize, this.labelColumn !== -1, this.options.label)}`);
    }
    if (cells.length !== this.columns) this.fail(`line ${lineNumber}: expected ${this.columns} cells, found ${cells.length}`);
    let offset = 0;
    let y: number | undefined;
    for (let column = 0; column < this.columns; column++) {
      const cell = cells[column] as string;
      const value = parseCell(cell);
      if (Number.isNaN(value)) this.fail(`line ${lineNumber}, column ${column + 1}: ${describeBadCell(cell)}`);
      // What is stored is float32: a finite float64 beyond its range would become Infinity there.
      if (column === this.labelColumn) {
        if (!fitsFloat32(value)) this.fail(`line ${lineNumber}, column ${column + 1}: ${describeFloat32Overflow(headerName(cell))}`);
        y = value;
      } else {
        const scaled = value * this.scale;
        if (!fitsFloat32(scaled)) this.fail(`line ${lineNumber}, column ${column + 1}: ${describeFloat32Overflow(headerName(cell), this.scale)}`);
        this.scratch[offset++] = scaled;
      }
    }
    this.rows++;
    return { x: this.scratch, y };
  }

  /** The error for a file that had no data rows. */
  empty(): never {
    return this.fail(this.header === undefined ? 'no data rows (the file is empty)' : 'no data rows (only a header)');
  }

  private fail(message: string): never {
    throw new DatasetError(this.file, message);
  }
}

export function parseDelimited(file: string, text: string, delimiter: string, options: ReadDatasetOptions): Dataset {
  const parser = new DelimitedParser(file, delimiter, options);
  // Upper bound on data rows, so the arrays are allocated once.
  let lineCount = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineCount++;
  let x: Float32Array | undefined;
  let y: Float32Array | undefined;
  let count = 0;
  for (const [line, lineNumber] of linesOf(text)) {
    const row = parser.parse(line, lineNumber);
    if (row === null) continue;
    if (x === undefined) {
      x = new Float32Array(lineCount * parser.featureSize);
      y = parser.hasLabel ? new Float32Array(lineCount) : undefined;
    }
    x.set(row.x, count * parser.featureSize);
    if (y !== undefined) y[count] = row.y as number;
    count++;
  }
  if (x === undefined || count === 0) return parser.empty();
  const featureSize = parser.featureSize;
  if (count < lineCount) {
    x = x.slice(0, count * featureSize);
    y = y?.slice(0, count);
  }
  return { file, count, featureSize, x, y, labelSize: y === undefined ? 0 : 1 };
}

function featureCountMismatch(found: number, expected: number, hasLabel: boolean, label: string | undefined): string {
  let hint = '';
  if (hasLabel && label === undefined && found === expected - 1) {
    hint = ' (use --label none when the file has no label column)';
  } else if (!hasLabel && found === expected + 1) {
    hint = ' (is one of the columns a label? pick it with --label)';
  }
  return `row has ${found} features, the model expects ${expected}${hint}`;
}

/** The 0-based label column, or -1 for none. */
function resolveLabelColumn(
  label: string | undefined,
  columns: number,
  header: string[] | undefined,
  fail: (message: string) => never,
): number {
  if (label === undefined) return columns - 1;
  if (label === 'none') return -1;
  if (header !== undefined) {
    const matches = header.flatMap((name, index) => (name === label ? [index] : []));
    if (matches.length > 1) {
      fail(
        `label column "${label}" is ambiguous: columns ${matches.map((m) => m + 1).join(', ')} have that name; pick one by index`,
      );
    }
    if (matches.length === 1) return matches[0] as number;
  }
  if (/^[+-]?\d+$/.test(label.trim())) {
    const index = Number(label.trim());
    if (index >= columns || index < -columns) {
      fail(`label column index ${index} is out of range: the file has ${columns} columns (0..${columns - 1}, or -${columns}..-1)`);
    }
    return index < 0 ? columns + index : index;
  }
  if (header === undefined) fail(`label column "${label}" is a name, but the file has no header row`);
  const names = header.slice(0, 20).map((name) => JSON.stringify(name)).join(', ');
  const more = header.length > 20 ? `, and ${header.length - 20} more` : '';
  return fail(`no column named "${label}"; the header has ${names}${more}`);
}
