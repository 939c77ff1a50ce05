/**
 * The lowrank command line: commander parses, each command (src/cli/<name>/command.ts) declares its
 * own flags and loads its handler only when it runs, and this file holds the one catch that maps errors
 * to exit codes (0 ok, 1 quality gate, 2 bad usage or input, 3 internal). Nothing imported here loads
 * TensorFlow.js, so `lowrank --help` and `lowrank report` start fast.
 */
import { Command, CommanderError } from 'commander';
import { LowrankError, formatError } from '../errors.js';
import { VERSION } from '../version.js';
import { adaptCommand } from './adapt/command.js';
import { compressCommand } from './compress/command.js';
import { convertCommand } from './convert/command.js';
import { evaluateCommand } from './evaluate/command.js';
import { inspectCommand } from './inspect/command.js';
import { mergeCommand } from './merge/command.js';
import { reportCommand } from './report/command.js';
import { sweepCommand } from './sweep/command.js';

export const EXIT = { ok: 0, gate: 1, usage: 2, internal: 3 } as const;

function program(signal: AbortSignal): Command {
  const cli = new Command('lowrank')
    .description('Make TensorFlow.js Layers models smaller and faster by low-rank factorization.')
    .version(VERSION, '-V, --version')
    .option('--debug', 'show stack traces of internal errors')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: (text) => writeCommanderError(text) });

  compressCommand(cli, signal);
  inspectCommand(cli);
  evaluateCommand(cli);
  convertCommand(cli, signal);
  adaptCommand(cli, signal);
  mergeCommand(cli, signal);
  reportCommand(cli);
  sweepCommand(cli, signal);
  return cli;
}

/** commander's own errors ("error: unknown option '--x'\n(Did you mean --y?)") as our one line. */
function writeCommanderError(text: string): void {
  const line = text
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(' ')
    .replace(/^error: /, '');
  if (line.startsWith('Usage:') || line === '') process.stderr.write(text);
  else process.stderr.write(`lowrank: ${line}\n`);
}

/**
 * SIGINT/SIGTERM abort the run through an AbortSignal: compress() stops at its next batch or stage,
 * removes its temporary output and throws AbortedError, which the catch below turns into exit 130/143.
 * A second signal exits at once.
 */
function abortOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((name) => {
    const handler = (): void => {
      if (controller.signal.aborted) process.exit(name === 'SIGTERM' ? 143 : 130);
      controller.abort(name);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  const signals = abortOnSignals();
  const cli = program(signals.signal);
  const debug = argv.includes('--debug');
  try {
    await cli.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof LowrankError) {
      process.stderr.write(`lowrank: ${formatError(err)}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    process.stderr.write(`lowrank: internal error: ${e?.message ?? String(err)}\n`);
    if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('lowrank: run again with --debug for the stack trace, and please report it\n');
    return EXIT.internal;
  } finally {
    signals.dispose();
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
