/**
 * A real third-party model from an npm tarball: @upscalerjs/esrgan-slim (MIT), a functional
 * super-resolution network with Conv2D, Add and Concatenate. Compressed at 95% energy it must load in
 * plain tfjs and stay close to the original on real images (the digits, as RGB in [0, 1]).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { loadModel } from '../../src/io/index.js';
import { initBackend, tf } from '../../src/tf.js';

const root = path.resolve(import.meta.dirname, '../..');
// The package's exports map hides its files from require.resolve; it is a devDependency in node_modules.
const modelPath = path.join(root, 'node_modules/@upscalerjs/esrgan-slim/models/x2/model.json');

/** The first `count` test digits as [count, 8, 8, 3] RGB images in [0, 1]. */
async function digitImages(count: number): Promise<tf.Tensor4D> {
  const rows = (await readFile(path.join(root, 'fixtures/digits/test.csv'), 'utf8')).trim().split('\n').slice(1, count + 1);
  const pixels = rows.flatMap((r) => r.split(',').slice(0, 64).map((v) => Number(v) / 16));
  return tf.tidy(() => tf.tensor4d(pixels, [count, 8, 8, 1]).tile([1, 1, 1, 3]) as tf.Tensor4D);
}

/** Peak signal-to-noise ratio in dB for signals in [0, 1]. */
function psnr(a: tf.Tensor, b: tf.Tensor): number {
  const mse = tf.tidy(() => a.sub(b).square().mean().dataSync()[0] as number);
  return 10 * Math.log10(1 / mse);
}

let tmp: string;
before(async () => {
  await initBackend('wasm');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-esrgan-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('@upscalerjs/esrgan-slim x2 at --energy 0.95', () => {
  it('compresses, reloads in plain tfjs and stays close to the original', async () => {
    const out = path.join(tmp, 'esrgan');
    const { report } = await compress({ model: modelPath, energy: 0.95, epochs: 0, out, inputShape: [8, 8, 3] });
    assert.ok(report !== null);
    const factorized = report.layers.filter((l) => l.rank !== null);
    assert.ok(factorized.length >= 3, 'several Conv2D layers are factorized');
    for (const l of factorized) assert.ok((l.energyKept ?? 0) >= 0.95);
    assert.ok(report.output.params < report.input.params);

    // Plain tfjs, no lowrank code: model.json + shards through tfjs's own memory handler.
    const json = JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8'));
    const shards = await Promise.all(json.weightsManifest[0].paths.map((p: string) => readFile(path.join(out, p))));
    const data = Buffer.concat(shards);
    const compressed = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      }),
    );
    const { model: original } = await loadModel(modelPath);
    const images = await digitImages(16);
    const expected = original.predict(images) as tf.Tensor;
    const actual = compressed.predict(images) as tf.Tensor;
    assert.deepEqual(actual.shape, [16, 16, 16, 3]);
    const quality = psnr(expected.clipByValue(0, 1), actual.clipByValue(0, 1));
    const relative = tf.tidy(() => (actual.sub(expected).norm().dataSync()[0] as number) / (expected.norm().dataSync()[0] as number));
    console.log(`esrgan-slim x2 at 95% energy: ${report.input.params} → ${report.output.params} params, PSNR ${quality.toFixed(2)} dB, relative error ${relative.toFixed(4)}`);
    assert.ok(quality > 30, `PSNR ${quality} dB`);
    assert.ok(relative < 0.05, `relative error ${relative}`);
    tf.dispose([images, expected, actual]);
    original.dispose();
    compressed.dispose();
  });
});
