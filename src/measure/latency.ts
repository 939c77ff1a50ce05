/**
 * Measurements for the report: parameter counts, stored and gzip bytes, predict latency.
 */
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { tf } from '../tf.js';
import { modelInput, type InputShapes } from '../train/tensors.js';

/**
 * Bytes of the shards as stored, and after gzip (level 6, what web servers use) of their
 * concatenation. The chunks are fed to one gzip stream as they come, never joined: the shards of a
 * large model may be produced one at a time and dropped (deflate's output does not depend on how
 * its input is split, so the count is that of gzipping the files end to end).
 */
export async function measureBytes(shards: Iterable<Uint8Array>): Promise<{ weightBytes: number; gzipBytes: number }> {
  const gzip = createGzip({ level: 6 });
  let gzipBytes = 0;
  gzip.on('data', (chunk: Buffer) => {
    gzipBytes += chunk.byteLength;
  });
  const ended = once(gzip, 'end');
  let weightBytes = 0;
  for (const shard of shards) {
    weightBytes += shard.byteLength;
    if (!gzip.write(shard)) await once(gzip, 'drain');
  }
  gzip.end();
  await ended;
  return { weightBytes, gzipBytes };
}

/**
 * Median wall time of `model.predict` on a random batch, after warm-up runs. Runs stop early once
 * `budgetMs` is spent, so large models do not stall the report.
 */
export async function medianPredictMs(
  model: tf.LayersModel,
  shapes: InputShapes,
  batchSize: number,
  runs = 15,
  budgetMs = 3000,
): Promise<{ ms: number; runs: number }> {
  const inputs = shapes.map((shape, i) => tf.randomUniform([batchSize, ...shape], 0, 1, 'float32', i + 1));
  const once = async (): Promise<number> => {
    const started = performance.now();
    const out = model.predict(modelInput(inputs));
    const outputs = Array.isArray(out) ? out : [out];
    for (const o of outputs) await o.data();
    tf.dispose(outputs);
    return performance.now() - started;
  };
  await once();
  await once();
  const times: number[] = [];
  let spent = 0;
  while (times.length < runs && (times.length < 3 || spent < budgetMs)) {
    const t = await once();
    times.push(t);
    spent += t;
  }
  tf.dispose(inputs);
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const ms = times.length % 2 === 1 ? (times[mid] as number) : ((times[mid - 1] as number) + (times[mid] as number)) / 2;
  return { ms, runs: times.length };
}
