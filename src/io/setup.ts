/**
 * `--setup <module>`: the user's own code that registers custom layer classes with lowrank's copy of
 * TensorFlow.js before a model is loaded. The module runs with the user's rights, like any script they
 * run; lowrank only imports it and calls the function it exports.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import { tf } from '../tf.js';
import { readTopology, walkLayers } from '../graph/topology.js';
import { tfjsClassLookup } from './layers-model.js';

/** Modules already run in this process: a second load (evaluate's --reference) must not re-register. */
const done = new Map<string, Promise<void>>();

/**
 * Import the module (ESM or CommonJS, relative to the current folder) and call its `setup(tf)`, or its
 * default export when that is the function. Exit-2 errors for a missing module, one that fails to
 * import or throws, and one that exports nothing callable.
 */
export function runSetup(modulePath: string): Promise<void> {
  const file = path.resolve(modulePath);
  let run = done.get(file);
  if (run === undefined) {
    run = load(modulePath, file);
    done.set(file, run);
    // A failed setup is not remembered: the caller's error ends the run anyway, and a library caller may fix it.
    run.catch(() => done.delete(file));
  }
  return run;
}

async function load(modulePath: string, file: string): Promise<void> {
  const where = `--setup ${modulePath}`;
  try {
    if (!(await stat(file)).isFile()) throw new UsageError(`${where}: not a file`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${where}: no such file`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`${where}: the module failed to load: ${firstLine(err)}`);
  }
  const fn = setupFunction(mod);
  if (fn === undefined) throw new UsageError(`${where}: exports no setup(tf) function and no default function`);
  try {
    await fn(tf);
  } catch (err) {
    throw new UsageError(`${where}: setup(tf) threw: ${firstLine(err)}`);
  }
}

/** `setup`, else a default function, else (CommonJS `module.exports = { setup }`) default.setup. */
function setupFunction(mod: Record<string, unknown>): ((tfjs: typeof tf) => unknown) | undefined {
  const fallback = mod['default'];
  const candidates = [mod['setup'], fallback, typeof fallback === 'object' && fallback !== null ? (fallback as Record<string, unknown>)['setup'] : undefined];
  return candidates.find((c): c is (tfjs: typeof tf) => unknown => typeof c === 'function');
}

/** Layer classes the topology uses that tfjs does not know (neither built in nor registered), in first-use order. */
export function unknownLayerClasses(file: string, modelTopology: Record<string, unknown>): string[] {
  const unknown = new Set<string>();
  for (const { json } of walkLayers(file, readTopology(file, modelTopology))) {
    if (tfjsClassLookup(json.class_name) !== 'layer') unknown.add(json.class_name);
  }
  return [...unknown];
}

/** "MultiplyBeta" / "MultiplyBeta, PixelShuffle" for messages. */
export function classList(classes: readonly string[]): string {
  return classes.join(', ');
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? message).trim() || 'no message';
}
