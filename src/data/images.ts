/**
 * A folder of images with one subfolder per class, read into a Dataset whose label is the class
 * index: the position of the subfolder among the class folders sorted by name in byte order (as
 * Python's `sorted()` and Keras' `image_dataset_from_directory` order them).
 *
 * Each image goes through the same steps:
 * 1. decoded by sharp (PNG, JPEG, WebP, GIF (first frame), TIFF, AVIF), turned upright by its EXIF
 *    orientation, converted to 8-bit sRGB, alpha dropped;
 * 2. resized to exactly height × width, ignoring the aspect ratio (no crop, no padding), with a
 *    bilinear (triangle) filter: sharp shrinks any side longer than the target with its antialiased
 *    `linear` kernel (a large JPEG or WebP may first be shrunk by a power of two as it is decoded,
 *    sharp's shrink-on-load), and a side shorter than the target is enlarged here by plain bilinear
 *    interpolation with half-pixel centres (the same as `tf.image.resize(..., 'bilinear')`; we
 *    do not let sharp enlarge because libvips' upsampling is shifted by a quarter pixel);
 * 3. for 1 channel, greyscale as ITU-R BT.601 luma of the gamma-encoded values,
 *    0.299 R + 0.587 G + 0.114 B (as PIL's `convert('L')`, OpenCV and `tf.image.rgb_to_grayscale`;
 *    sharp's own greyscale works in linear light with Rec. 709 weights, which makes pure red 127
 *    instead of 76);
 * 4. values kept as floats in 0..255 (after enlarging they need not be whole), times `inputScale`.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, sep } from 'node:path';
import { DatasetError } from '../errors.js';
import { describeReadError, type Dataset, type ReadDatasetOptions } from './types.js';

/** File extensions read as images inside a class folder (compared case-insensitively). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif'] as const;

/** Images decoded at once; sharp runs each on libuv's thread pool. */
const CONCURRENCY = 8;

type Sharp = (typeof import('sharp'))['default'];

interface ImageFile {
  /** Path as shown in messages: the folder given, the class folder, the file. */
  path: string;
  label: number;
}

/** Reads `dir` as one subfolder per class; `options.imageShape` ([height, width, channels]) is required. */
export async function readImageFolder(dir: string, options: ReadDatasetOptions): Promise<Dataset> {
  const fail = (message: string): never => {
    throw new DatasetError(dir, message);
  };
  if (options.label !== undefined && options.label !== 'none') {
    fail(`label column "${options.label}" applies to CSV files only; an image folder's labels are its class subfolders (use --label none to ignore them)`);
  }
  const shape = options.imageShape;
  if (shape === undefined) {
    return fail('reading a folder of images needs the image size [height, width, channels] (the model input shape)');
  }
  const [height, width, channels] = shape;
  if (
    shape.length !== 3 ||
    ![height, width, channels].every((d) => Number.isSafeInteger(d) && (d as number) >= 1) ||
    (height as number) * (width as number) > 1 << 26
  ) {
    return fail(`image shape [${shape.join(', ')}] must be three positive integers [height, width, channels]`);
  }
  if (channels !== 1 && channels !== 3) {
    fail(`the model expects ${channels} channels per pixel; images are read as 1 (greyscale) or 3 (RGB)`);
  }
  const target = { height: height as number, width: width as number, channels: channels as 1 | 3 };
  const featureSize = target.height * target.width * target.channels;
  if (options.featureSize !== undefined && options.featureSize !== featureSize) {
    fail(`images of ${target.height}×${target.width}×${target.channels} give ${featureSize} values per sample, the model expects ${options.featureSize}`);
  }

  const { classNames, files } = await listImages(dir);
  const sharp = await loadSharp(dir);
  let x: Float32Array;
  try {
    x = new Float32Array(files.length * featureSize);
  } catch {
    return fail(`${files.length} images of ${target.height}×${target.width}×${target.channels} are too many to hold in memory as float32`);
  }
  const scale = options.inputScale ?? 1;
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < files.length) {
      const index = next++;
      let pixels: Float64Array;
      try {
        pixels = await decodeImage(sharp, (files[index] as ImageFile).path, target);
      } catch (err) {
        failed = true; // the first bad image is the error; the other workers stop
        throw err;
      }
      const offset = index * featureSize;
      for (let i = 0; i < featureSize; i++) x[offset + i] = (pixels[i] as number) * scale;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));

  const dropLabels = options.label === 'none';
  return {
    file: dir,
    count: files.length,
    featureSize,
    x,
    y: dropLabels ? undefined : Float32Array.from(files, (f) => f.label),
    labelSize: dropLabels ? 0 : 1,
    ...(dropLabels ? {} : { classNames }),
  };
}

/** Byte order of the UTF-8 names, which is code point order (JavaScript's default sort is UTF-16 order). */
function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const isHidden = (name: string): boolean => name.startsWith('.');
const isImage = (name: string): boolean => (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());

/** A folder entry: its name, and whether it is a symbolic link (whose real path may be anywhere). */
interface Entry {
  name: string;
  link: boolean;
}

/** Entries of a folder as directories and files, symbolic links followed; dotfiles left out. */
async function listFolder(dir: string): Promise<{ dirs: Entry[]; files: Entry[] }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new DatasetError(dir, `cannot read folder: ${describeReadError(err)}`);
  }
  const dirs: Entry[] = [];
  const files: Entry[] = [];
  for (const entry of entries) {
    if (isHidden(entry.name)) continue;
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    const link = entry.isSymbolicLink();
    if (link) {
      const target = await stat(join(dir, entry.name)).catch(() => undefined);
      isDir = target?.isDirectory() ?? false;
      isFile = target?.isFile() ?? false;
    }
    if (isDir) dirs.push({ name: entry.name, link });
    else if (isFile) files.push({ name: entry.name, link });
  }
  const order = (a: Entry, b: Entry): number => byName(a.name, b.name);
  return { dirs: dirs.sort(order), files: files.sort(order) };
}

/** The real path of `folder/entry`: resolved for a link, else the folder's real path joined with the name. */
async function realPathOf(folder: string, realFolder: string, entry: Entry): Promise<string> {
  if (!entry.link) return join(realFolder, entry.name);
  try {
    return await realpath(join(folder, entry.name));
  } catch (err) {
    throw new DatasetError(join(folder, entry.name), `cannot follow symbolic link: ${describeReadError(err)}`);
  }
}

/** Whether `folder` is `inner` or one of the folders that hold it (both real paths). */
function holds(folder: string, inner: string): boolean {
  const rel = relative(folder, inner);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * The class folders in order and every image in them (their subfolders included), class by class.
 * Symbolic links are followed, but by real path each folder is walked once and each image read once,
 * so a link loop ends: a link to a folder already walked in the same class (the class folder itself,
 * say) and a link to the dataset folder or a folder above it are passed over, and an image reached
 * twice in one class is read the first time only. One real folder or image reached from two classes
 * is refused, since an image has one label.
 */
async function listImages(dir: string): Promise<{ classNames: string[]; files: ImageFile[] }> {
  const top = await listFolder(dir);
  const looseImages = top.files.filter((f) => isImage(f.name));
  if (top.dirs.length === 0) {
    const hint = looseImages.length > 0 ? ` (found ${looseImages.length} image(s) directly in it; is this a single class's folder?)` : '';
    throw new DatasetError(dir, `no class folders: an image dataset is a folder with one subfolder of images per class${hint}`);
  }
  if (looseImages.length > 0) {
    throw new DatasetError(
      join(dir, (looseImages[0] as Entry).name),
      `image outside the class folders (${looseImages.length} in ${dir}); every image must be in its class's subfolder`,
    );
  }
  const classNames = top.dirs.map((d) => d.name);
  const realRoot = await realpath(dir);
  // Who reached each real folder and image first: its class and the path it was reached by.
  const folders = new Map<string, { label: number; path: string }>();
  const images = new Map<string, { label: number; path: string }>();
  const conflict = (path: string, first: { label: number; path: string }, what: string): DatasetError =>
    new DatasetError(path, `is the same ${what} as ${first.path} (class "${classNames[first.label]}"), through a symbolic link; an image can belong to one class only`);
  // Every class folder is claimed before any is walked, so a link into another class is refused whatever the order.
  const classFolders: Array<{ path: string; real: string }> = [];
  for (const [label, entry] of top.dirs.entries()) {
    const path = join(dir, entry.name);
    const real = await realPathOf(dir, realRoot, entry);
    if (holds(real, realRoot)) throw new DatasetError(path, `class folder "${entry.name}" leads to ${real}, which holds the dataset folder itself`);
    const first = folders.get(real);
    if (first !== undefined) throw conflict(path, first, 'folder');
    folders.set(real, { label, path });
    classFolders.push({ path, real });
  }

  const files: ImageFile[] = [];
  for (const [label, { path: classDir, real: realClassDir }] of classFolders.entries()) {
    const name = classNames[label] as string;
    const skipped = new Set<string>();
    let found = 0;
    const walk = async (folder: string, realFolder: string): Promise<void> => {
      const { dirs, files: entries } = await listFolder(folder);
      // Files first, then subfolders, each in byte order: the order is the same on every system.
      for (const entry of entries) {
        const path = join(folder, entry.name);
        if (!isImage(entry.name)) {
          skipped.add(extname(entry.name).toLowerCase() || '(no extension)');
          continue;
        }
        const real = await realPathOf(folder, realFolder, entry);
        const first = images.get(real);
        if (first !== undefined && first.label !== label) throw conflict(path, first, 'image');
        if (first !== undefined) continue; // already read in this class
        images.set(real, { label, path });
        files.push({ path, label });
        found++;
      }
      for (const entry of dirs) {
        const path = join(folder, entry.name);
        const real = await realPathOf(folder, realFolder, entry);
        if (holds(real, realRoot)) continue; // the dataset folder or above: it holds every class, this one included
        const first = folders.get(real);
        if (first !== undefined && first.label !== label) throw conflict(path, first, 'folder');
        if (first !== undefined) continue; // walked already in this class: a loop
        folders.set(real, { label, path });
        await walk(path, real);
      }
    };
    await walk(classDir, realClassDir);
    if (found === 0) {
      const others = skipped.size > 0 ? `; skipped files with other extensions: ${[...skipped].sort().join(', ')}` : '';
      throw new DatasetError(classDir, `class folder "${name}" has no images (read: ${IMAGE_EXTENSIONS.join(', ')})${others}`);
    }
  }
  return { classNames, files };
}

async function loadSharp(dir: string): Promise<Sharp> {
  try {
    return (await import('sharp')).default;
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new DatasetError(dir, `reading images needs the "sharp" package, which failed to load: ${reason}`);
  }
}

/** One image as height × width × channels values in 0..255, row-major. */
async function decodeImage(sharp: Sharp, file: string, target: { height: number; width: number; channels: 1 | 3 }): Promise<Float64Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new DatasetError(file, `cannot read file: ${describeReadError(err)}`);
  }
  let data: Buffer;
  let info: { width: number; height: number; channels: number };
  try {
    const image = sharp(bytes);
    const meta = await image.metadata();
    // The size once turned upright; a multi-frame image (animated GIF/WebP) is read as its first frame.
    const turned = (meta.orientation ?? 1) >= 5;
    const frameHeight = meta.pageHeight ?? meta.height;
    const uprightWidth = turned ? frameHeight : meta.width;
    const uprightHeight = turned ? meta.width : frameHeight;
    image.autoOrient().removeAlpha().toColourspace('srgb');
    if (uprightWidth > target.width || uprightHeight > target.height) {
      // Shrink only: a side already at most the target size stays as it is, enlarged below.
      image.resize(Math.min(uprightWidth, target.width), Math.min(uprightHeight, target.height), { fit: 'fill', kernel: 'linear' });
    }
    ({ data, info } = await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new DatasetError(file, `cannot decode image: ${describeSharpError(err)}`);
  }
  const pixels = toChannels(data, info.width * info.height, info.channels, target.channels);
  return enlarge(pixels, info.width, info.height, target.channels, target.width, target.height);
}

function describeSharpError(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.trim() ?? '';
  if (/unsupported image format/i.test(message)) return 'not a supported image (the content is not PNG, JPEG, WebP, GIF, TIFF or AVIF)';
  return message.charAt(0).toLowerCase() + message.slice(1);
}

/** Interleaved 8-bit pixels with `from` channels as `to` channels (3: RGB; 1: BT.601 luma). */
function toChannels(data: Uint8Array, pixels: number, from: number, to: 1 | 3): Float64Array {
  const out = new Float64Array(pixels * to);
  for (let p = 0; p < pixels; p++) {
    const s = p * from;
    const r = data[s] as number;
    const g = (from >= 3 ? data[s + 1] : r) as number;
    const b = (from >= 3 ? data[s + 2] : r) as number;
    if (to === 3) {
      out[p * 3] = r;
      out[p * 3 + 1] = g;
      out[p * 3 + 2] = b;
    } else {
      // Grey stays exactly grey (the weights' sum is 1 only up to rounding).
      out[p] = r === g && g === b ? r : 0.299 * r + 0.587 * g + 0.114 * b;
    }
  }
  return out;
}

/**
 * Enlarges `src` (width × height × channels, each side at most the target's) to the target size by
 * bilinear interpolation with half-pixel centres, edges clamped: output pixel i samples the input at
 * (i + 0.5) · in/out − 0.5. A side already at its target size is left alone.
 */
function enlarge(src: Float64Array, width: number, height: number, channels: number, toWidth: number, toHeight: number): Float64Array {
  let out = src;
  if (width < toWidth) {
    const { i0, i1, t } = bilinearTaps(width, toWidth);
    const next = new Float64Array(toWidth * height * channels);
    let k = 0;
    for (let y = 0; y < height; y++) {
      const row = y * width * channels;
      for (let x = 0; x < toWidth; x++) {
        const a0 = row + (i0[x] as number) * channels;
        const b0 = row + (i1[x] as number) * channels;
        const w = t[x] as number;
        for (let c = 0; c < channels; c++) {
          const a = out[a0 + c] as number;
          next[k++] = a + ((out[b0 + c] as number) - a) * w;
        }
      }
    }
    out = next;
    width = toWidth;
  }
  if (height < toHeight) {
    const { i0, i1, t } = bilinearTaps(height, toHeight);
    const stride = width * channels;
    const next = new Float64Array(toHeight * stride);
    for (let y = 0; y < toHeight; y++) {
      const a0 = (i0[y] as number) * stride;
      const b0 = (i1[y] as number) * stride;
      const w = t[y] as number;
      const o = y * stride;
      for (let k = 0; k < stride; k++) {
        const a = out[a0 + k] as number;
        next[o + k] = a + ((out[b0 + k] as number) - a) * w;
      }
    }
    out = next;
  }
  return out;
}

/** For each output position: the two input indices around it and the weight of the second. */
function bilinearTaps(from: number, to: number): { i0: Int32Array; i1: Int32Array; t: Float64Array } {
  const i0 = new Int32Array(to);
  const i1 = new Int32Array(to);
  const t = new Float64Array(to);
  for (let i = 0; i < to; i++) {
    const position = Math.min(Math.max((i + 0.5) * (from / to) - 0.5, 0), from - 1);
    const lower = Math.floor(position);
    i0[i] = lower;
    i1[i] = Math.min(lower + 1, from - 1);
    t[i] = position - lower;
  }
  return { i0, i1, t };
}
