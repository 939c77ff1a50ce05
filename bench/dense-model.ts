/**
 * Write a Sequential model of Dense layers (ReLU, softmax last) with seeded weights to a folder, as
 * tfjs would save it: model.json and 4 MB shards. The weights are generated and written shard by
 * shard, so a model of any size is written in about 4 MB of memory.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { initBackend, tf } from '../src/tf.js';
import { SHARD_BYTES } from '../src/io/index.js';

/** Dense layers from widths[0] inputs through widths[1..]; returns the path of model.json. */
export async function writeDenseModel(dir: string, widths: readonly number[], seed: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  await initBackend('wasm');
  // The topology as tfjs writes it, from a copy of the model with tiny layers (no big allocations).
  const layers = widths.slice(1).map((_, i) =>
    tf.layers.dense({ units: 2, activation: i === widths.length - 2 ? 'softmax' : 'relu', name: `dense_${i + 1}`, ...(i === 0 ? { inputShape: [2] } : {}) }),
  );
  const sketch = tf.sequential({ layers, name: 'dense_bench' });
  const topology = sketch.toJSON(null, false) as unknown as { config: { layers: Array<{ config: Record<string, unknown> }> } };
  sketch.dispose();
  topology.config.layers.forEach((layer, i) => {
    layer.config['units'] = widths[i + 1];
    if ('batch_input_shape' in layer.config) layer.config['batch_input_shape'] = [null, widths[0]];
  });

  const entries: Array<{ name: string; shape: number[]; dtype: 'float32' }> = [];
  const paths: string[] = [];
  let shard = new Float32Array(SHARD_BYTES / 4);
  let filled = 0;
  let state = seed >>> 0 || 1;
  const flush = async (): Promise<void> => {
    const name = `group1-shard${paths.length + 1}.bin`;
    await writeFile(path.join(dir, name), new Uint8Array(shard.buffer, 0, filled * 4));
    paths.push(name);
    shard = new Float32Array(SHARD_BYTES / 4);
    filled = 0;
  };
  for (let i = 1; i < widths.length; i++) {
    const [m, n] = [widths[i - 1] as number, widths[i] as number];
    // Uniform in ±√(6/(m+n)) (Glorot) from xorshift32: fast enough for 100M values.
    const limit = Math.sqrt(6 / (m + n));
    for (const [name, count, scale] of [[`dense_${i}/kernel`, m * n, limit], [`dense_${i}/bias`, n, 0.01]] as const) {
      entries.push({ name, shape: name.endsWith('kernel') ? [m, n] : [n], dtype: 'float32' });
      for (let k = 0; k < count; k++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        shard[filled++] = ((state >>> 0) / 4294967296 - 0.5) * 2 * scale;
        if (filled === shard.length) await flush();
      }
    }
  }
  if (filled > 0) await flush();
  // tfjs names shards NofM; rename now that M is known.
  const total = paths.length;
  const named = paths.map((_, i) => `group1-shard${i + 1}of${total}.bin`);
  for (const [i, from] of paths.entries()) await rename(path.join(dir, from), path.join(dir, named[i] as string));
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'lowrank bench/dense-model.ts',
    convertedBy: null,
    modelTopology: topology,
    weightsManifest: [{ paths: named, weights: entries }],
  };
  const file = path.join(dir, 'model.json');
  await writeFile(file, JSON.stringify(modelJson));
  return file;
}
