/**
 * Measurements for the report: parameter counts, stored and gzip bytes, predict latency.
 */
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { tf } from '../tf.js';
import { modelInput, type InputShapes } from '../train/tensors.js';

/** Bytes as stored and after gzip. */
export interface CountedBytes {
  weightBytes: number;
  gzipBytes: number;
}

/** Bytes fed to one gzip stream, counted before and after. */
export interface ByteCounter {
  /** Resolves once the stream can take more (its buffer drained). */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the stream; resolves with the counts once it has flushed. */
  end(): Promise<CountedBytes>;
  /** Stops counting (the row is dropped); nothing more may be written. */
  abandon(): void;
}

/**
 * A gzip stream (level 6, what web servers use) that counts its input and output. Deflating runs in
 * libuv's thread pool, so several counters fed at once use several cores. The chunks are never
 * joined: deflate's output does not depend on how its input is split, so the count is that of
 * gzipping the chunks end to end as one file.
 */
export function byteCounter(): ByteCounter {
  const gzip = createGzip({ level: 6 });
  let weightBytes = 0;
  let gzipBytes = 0;
  gzip.on('data', (chunk: Buffer) => {
    gzipBytes += chunk.byteLength;
  });
  const ended = once(gzip, 'end');
  return {
    async write(chunk) {
      weightBytes += chunk.byteLength;
      if (!gzip.write(chunk)) await once(gzip, 'drain');
    },
    async end() {
      gzip.end();
      await ended;
      return { weightBytes, gzipBytes };
    },
    abandon() {
      ended.catch(() => {});
      gzip.destroy();
    },
  };
}

/**
 * Bytes of the shards as stored, and after gzip of their concatenation (byteCounter). The shards of a
 * large model may be produced one at a time and dropped.
 */
export async function measureBytes(shards: Iterable<Uint8Array>): Promise<CountedBytes> {
  const counter = byteCounter();
  for (const shard of shards) await counter.write(shard);
  return counter.end();
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
