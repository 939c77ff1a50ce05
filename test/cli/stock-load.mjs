// Loads a model folder with plain @tensorflow/tfjs and a file-reading IO handler: no lowrank code.
// Prints JSON {accuracy, classes, predictions, probabilities} for the CSV given (label last, header
// row); probabilities are the first output's float32 values, row-major, exact as JSON numbers.
// A third argument names a module whose setup(tf) registers custom layer classes first, as an app does.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';

const [dir, csv, setupModule] = process.argv.slice(2);
tf.enableProdMode();
await tf.setBackend('cpu');
if (setupModule !== undefined) (await import(pathToFileURL(path.resolve(setupModule)).href)).setup(tf);
const handler = {
  async load() {
    const json = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
      const specs = manifest.flatMap((g) => g.weights);
      const buffers = manifest.flatMap((g) => g.paths.map((p) => {
        const b = readFileSync(path.join(dir, p));
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      }));
      return [specs, tf.io.concatenateArrayBuffers(buffers)];
    });
  },
};
const model = await tf.loadLayersModel(handler);
const rows = readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
// Each row holds the inputs' features one after another, in input order.
let offset = 0;
const inputs = model.inputs.map((input) => {
  const shape = input.shape.slice(1);
  const size = shape.reduce((a, b) => a * b, 1);
  const part = rows.map((r) => r.slice(offset, offset + size));
  offset += size;
  return tf.tensor(part.flat(), [rows.length, ...shape]);
});
const output = model.predict(inputs.length === 1 ? inputs[0] : inputs);
const predicted = output.argMax(-1).arraySync();
const correct = predicted.filter((p, i) => p === rows[i].at(-1)).length;
const probabilities = Array.from(output.dataSync());
process.stdout.write(JSON.stringify({ accuracy: correct / rows.length, classes: model.layers.map((l) => l.getClassName()), predictions: predicted, probabilities }));
