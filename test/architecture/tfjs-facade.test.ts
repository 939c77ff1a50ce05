/**
 * lib/tfjs.mjs, the ES-module face over tfjs's CommonJS bundles: it is what its generator makes from the
 * installed @tensorflow/tfjs (every export, none stale), each name is tfjs's own object, and no module
 * of src/ imports a tfjs package's values past it (types are free: they are erased).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { FACADE, facadeSource } from '../../lib/make-tfjs-facade.js';
import * as facade from '../../lib/tfjs.mjs';
import { ROOT } from '../helpers.js';

describe('lib/tfjs.mjs', () => {
  it('is the generator\'s output for the installed tfjs (else: npm run tfjs-facade)', () => {
    assert.equal(readFileSync(FACADE, 'utf8'), facadeSource());
  });

  it('exports every name of @tensorflow/tfjs, each the same object', () => {
    const tf = createRequire(import.meta.url)('@tensorflow/tfjs') as Record<string, unknown>;
    const names = Object.keys(tf);
    assert.ok(names.length > 400, `${names.length} names`);
    assert.deepEqual(Object.keys(facade).sort(), [...names].sort());
    for (const name of names) assert.equal((facade as Record<string, unknown>)[name], tf[name], name);
  });

  it('is how src/ loads tfjs: no module imports a @tensorflow/ package itself, except as types', () => {
    const files = readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 50);
    const offenders: string[] = [];
    for (const file of files) {
      const source = readFileSync(path.join(ROOT, 'src', file), 'utf8');
      for (const m of source.matchAll(/^import\s+(type\s+)?([^'";]*?)\s*(?:from\s+)?['"](@tensorflow\/[^'"]+)['"]/gms)) {
        if (m[1] === undefined) offenders.push(`src/${file}: ${m[0].replace(/\s+/g, ' ')}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
