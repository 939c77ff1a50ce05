/**
 * lib/tfjs.mjs, the ES-module face over tfjs's CommonJS bundles: it is what its generator makes from the
 * installed @tensorflow/tfjs (every export, none stale), and each name is tfjs's own object.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { FACADE, facadeSource } from '../../lib/make-tfjs-facade.js';
import * as facade from '../../lib/tfjs.mjs';

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
});
