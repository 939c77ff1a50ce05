/**
 * Will a model fit in the wasm backend's memory? Checked from model.json's declared shapes alone,
 * before any shard is read or anything allocated: wasm's heap stops near 3.8 GiB (32-bit addresses,
 * 4 GiB less what the runtime holds), and a model past it fails deep inside tfjs with "memory access
 * out of bounds". Here it is a clear refusal instead (exit 2).
 *
 * What a model needs there, measured (bench/big-model.ts, ten 3162×3162 Dense layers): its weights
 * decoded to float32 once, and once more as XNNPACK's packed copies of the kernels it multiplies by,
 * which it keeps while the model lives (compress predicts with the original to evaluate it on --data,
 * and to time it up to 256 MiB of weights). So twice the
 * decoded weight bytes, plus room for activations and factors.
 */
import { ModelFormatError } from '../errors.js';
import { elementCount, type ModelJson } from './model-json.js';

/** Most elements one weight may have; readModel refuses more (the same bound as its MAX_WEIGHT_ELEMENTS). */
const MAX_WEIGHT_ELEMENTS = 2 ** 31 - 1;

/** Bytes of wasm heap lowrank plans to use at most: 3.8 GiB. */
export const WASM_HEAP_BYTES = 3.8 * 2 ** 30;

/** Bytes the model's weights take decoded (float32 and int32: 4 bytes an element, bool 1). */
export function decodedWeightBytes(json: ModelJson): number {
  let total = 0;
  for (const group of json.weightsManifest) {
    for (const entry of group.weights) total += elementCount(entry.shape) * (entry.dtype === 'bool' ? 1 : 4);
  }
  return total;
}

/** Refuse a model whose weights, twice over plus a margin, would not fit in `limit` bytes of wasm heap. */
export function checkWasmCapacity(displayPath: string, json: ModelJson, limit: number = WASM_HEAP_BYTES): void {
  // A shape whose element count is no sane number is refused by readModel with its own message.
  const counts = json.weightsManifest.flatMap((group) => group.weights.map((entry) => elementCount(entry.shape)));
  if (counts.some((count) => !Number.isSafeInteger(count) || count > MAX_WEIGHT_ELEMENTS)) return;
  const weights = decodedWeightBytes(json);
  const needed = 2 * weights + 256 * 2 ** 20;
  if (needed > limit) {
    const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
    throw new ModelFormatError(
      displayPath,
      `the model's weights take ${gib(weights)} as float32, and the wasm backend would need about ${gib(needed)} to run it, more than the ${gib(limit)} it can address; use --backend node (tfjs-node) or a smaller model`,
    );
  }
}
