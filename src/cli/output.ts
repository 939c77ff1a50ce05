/**
 * Where the CLI writes: stdout for results, stderr for progress and errors, colour only when wanted.
 */
import { Chalk, type ChalkInstance } from 'chalk';

/** Colour for a stream: off with NO_COLOR or --no-color, else as chalk detects for that stream. */
export function colorFor(stream: NodeJS.WriteStream, enabled: boolean): ChalkInstance {
  const off = !enabled || (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') || !stream.isTTY;
  return new Chalk({ level: off ? 0 : 1 });
}
