/**
 * `convert()`: write a model in the form stock tfjs loads, and nothing more. A Keras 3 model.json is
 * rewritten as reading rewrites it (src/io/keras3.ts) and its manifest's weight names matched to the
 * topology; the weight bytes are copied exactly as stored (quantization included), shard by shard.
 * tfjs builds the result before anything is written, so the output is known to load.
 */
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { BackendSchema } from './options.js';
import { checkOutputFree, loadModel, writeFolderAtomically, type Change, type LoadedModel, type ModelJson, type WeightRename } from './io/index.js';
import { initBackend } from './tf.js';
import { VERSION } from './version.js';

const ConvertOptionsSchema = z.object({
  model: z.string({ error: 'a model.json path is required' }).min(1, 'a model.json path is required'),
  out: z.string().min(1, '--out must not be empty').optional(),
  force: z.boolean().default(false),
  allowNonfinite: z.boolean().default(false),
  /** A JS module whose setup(tf) registers the model's custom layer classes (runs the user's code). */
  setup: z.string().min(1, '--setup is empty').optional(),
  backend: BackendSchema,
});

export type ConvertInput = z.input<typeof ConvertOptionsSchema> & {
  /** Cancel before the output is renamed into place: nothing is left behind. */
  signal?: AbortSignal;
};

/** What convert changed, as `lowrank convert` prints it. */
export interface ConvertReport {
  input: string;
  output: string;
  backend: string;
  /** True when the model was already in the form tfjs reads: the output holds the same topology and weights. */
  unchanged: boolean;
  /** The topology's rewrites, in the order met. */
  changes: Change[];
  weights: {
    count: number;
    /** Bytes of the weight shards, the same in and out. */
    bytes: number;
    shards: number;
    /** Manifest entries renamed to the topology's weight names, and how each was matched. */
    renames: WeightRename[];
  };
}

export interface ConvertResult {
  report: ConvertReport;
  /** Absolute paths of the files written. */
  files: string[];
}

export async function convert(input: ConvertInput): Promise<ConvertResult> {
  const { signal, ...rest } = input;
  const parsed = ConvertOptionsSchema.safeParse(rest);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? 'invalid options');
  const o = parsed.data;
  const out = o.out ?? defaultConvertOut(o.model);
  const backend = await initBackend(o.backend);
  // The model's own defects come first. Building it proves tfjs loads what we write, and tells which
  // weights the topology has.
  const { stored, model } = await loadModel(o.model, { allowNonfinite: o.allowNonfinite, ...(o.setup !== undefined ? { setup: o.setup } : {}), purpose: 'converting' });
  model.dispose();
  if (path.resolve(o.model).startsWith(path.resolve(out) + path.sep)) throw new UsageError(`--out ${out} holds the input ${o.model}; write the output somewhere else`);
  await checkOutputFree(out, o.force);
  const folder = convertedFiles(stored);
  const { changes, renames } = stored.conversion;
  const result = {
    report: {
      input: path.resolve(o.model),
      output: path.resolve(out),
      backend,
      unchanged: changes.length === 0 && renames.length === 0,
      changes,
      weights: {
        count: stored.weights.length,
        bytes: stored.weights.reduce((sum, w) => sum + w.bytes.byteLength, 0),
        shards: stored.shardBytes.reduce((sum, g) => sum + g.length, 0),
        renames,
      },
    },
    files: [...folder.keys(), CONVERSION_FILE].map((name) => path.resolve(out, name)),
  };
  // What was changed stays beside the model; it also marks the folder as lowrank's, so --force may replace it.
  folder.set(CONVERSION_FILE, `${JSON.stringify({ tool: { name: 'lowrank', version: VERSION }, ...result.report }, null, 2)}\n`);
  await writeFolderAtomically(out, folder, o.force, signal);
  return result;
}

/** The file beside a converted model that records what convert changed. */
export const CONVERSION_FILE = 'conversion.json';

/** `<model folder>-tfjs`, beside the model's folder. */
export function defaultConvertOut(model: string): string {
  return `${path.dirname(path.resolve(model))}-tfjs`;
}

/**
 * model.json with the normalized topology and renamed manifest, and the shards cut at the same byte
 * offsets as the input's, named as tfjs-converter names them (group1-shard1of2.bin, ...).
 */
function convertedFiles(stored: LoadedModel): Map<string, Uint8Array | string> {
  const files = new Map<string, Uint8Array | string>();
  let next = 0;
  const manifest = stored.json.weightsManifest.map((group, g) => {
    const weights = stored.weights.slice(next, next + group.weights.length);
    next += group.weights.length;
    const data = new Uint8Array(weights.reduce((sum, w) => sum + w.bytes.byteLength, 0));
    let offset = 0;
    for (const w of weights) {
      data.set(w.bytes, offset);
      offset += w.bytes.byteLength;
    }
    const sizes = stored.shardBytes[g] ?? [];
    const paths = sizes.map((_, i) => `group${g + 1}-shard${i + 1}of${sizes.length}.bin`);
    let start = 0;
    sizes.forEach((size, i) => {
      files.set(paths[i] as string, data.subarray(start, start + size));
      start += size;
    });
    return { ...group, paths, weights: weights.map((w) => w.entry) };
  });
  const json: ModelJson = { ...stored.json, format: 'layers-model', convertedBy: `lowrank ${VERSION}`, weightsManifest: manifest };
  files.set('model.json', JSON.stringify(json));
  return files;
}
