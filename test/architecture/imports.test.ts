/**
 * The code's shape, checked: no runtime import cycles in src/, and the commands that need no model
 * (`--help`, `report`) load no TensorFlow.js at all.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers.js';

const run = promisify(execFile);
const SRC = path.join(ROOT, 'src');

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/**
 * The modules a file imports when it loads: static `import`/`export ... from` of relative paths, except
 * type-only ones (erased by TypeScript). A dynamic `import()` loads later, on demand, so it is no edge.
 */
export function runtimeImports(file: string, text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]/gm;
  for (const m of code.matchAll(statement)) {
    const spec = m[4] ?? m[5];
    if (spec === undefined || m[2] !== undefined) continue;
    found.push(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return found;
}

/** Every cycle's files (strongly connected components of more than one file, or a self-import). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, indices.get(w) as number));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.map((f) => path.relative(ROOT, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

describe('imports in src/', () => {
  it('form no runtime cycle', async () => {
    const graph = new Map<string, string[]>();
    for (const file of await sourceFiles(SRC)) graph.set(file, runtimeImports(file, await readFile(file, 'utf8')));
    assert.ok(graph.size > 20, 'read the source tree');
    assert.deepEqual(cycles(graph), []);
  });

  it('the checker finds a cycle when there is one', () => {
    const a = path.join(SRC, 'a.ts');
    const b = path.join(SRC, 'b.ts');
    const edges = (text: string, file: string) => runtimeImports(file, text);
    const graph = new Map([
      [a, edges("import { b } from './b.js';\nimport type { C } from './c.js';", a)],
      [b, edges("export { a } from './a.js';\nconst later = () => import('./c.js');", b)],
    ]);
    assert.deepEqual(cycles(graph), [['src/a.ts', 'src/b.ts']]);
    graph.set(b, edges("import type { A } from './a.js';", b));
    assert.deepEqual(cycles(graph), []);
  });
});

/**
 * The TensorFlow.js modules a run of the built CLI resolves, seen by a module-resolution hook: tfjs
 * itself, or lib/tfjs.mjs, which require()s it (require() calls do not pass the hook).
 */
async function tensorflowLoads(...args: string[]): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lowrank-loads-'));
  try {
    const log = path.join(dir, 'loads.txt');
    const hooks = path.join(ROOT, 'test', 'architecture', 'trace-loads.mjs');
    await run(process.execPath, ['--import', hooks, path.join(ROOT, 'bin', 'lowrank.js'), ...args], { cwd: ROOT, env: { ...process.env, LOWRANK_TRACE_LOADS: log, NO_COLOR: '1' } });
    const text = await readFile(log, 'utf8').catch(() => '');
    const all = text.split('\n').filter(Boolean);
    assert.ok(all.some((u) => u.includes('/dist/cli/main.js')), 'the hook saw the CLI load');
    return all.filter((u) => u.includes('@tensorflow/') || u.endsWith('/lib/tfjs.mjs'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('commands that need no model load no TensorFlow.js', () => {
  for (const args of [['--help'], ['inspect', '--help'], ['compress', '--help'], ['report', path.join('test', 'report', 'fixtures', 'report.json')]]) {
    it(`lowrank ${args.join(' ')}`, async () => {
      assert.deepEqual(await tensorflowLoads(...args), []);
    });
  }

  it('while compress does (the hook sees it)', async () => {
    const loads = await tensorflowLoads('compress', path.join('fixtures', 'digits-mlp', 'model.json'), '--rank', '4', '--dry-run');
    assert.ok(loads.length > 0);
  });
});
