import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { DatasetError, UsageError } from '../../src/errors.js';
import { readDataset, type Dataset } from '../../src/data/dataset.js';
import { assertDatasetError } from '../helpers.js';

let scratch = '';
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'lowrank-images-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let counter = 0;
/** A fresh folder for one dataset. */
async function folder(): Promise<string> {
  const dir = join(scratch, `set${counter++}`);
  await mkdir(dir);
  return dir;
}

type Rgb = readonly [number, number, number];

/** An image from raw interleaved pixels (rows top to bottom), encoded by sharp by extension. */
async function writeImage(file: string, width: number, height: number, channels: 1 | 2 | 3 | 4, pixels: readonly number[]): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  const image = sharp(Buffer.from(pixels), { raw: { width, height, channels } });
  const ext = extname(file).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') image.jpeg({ quality: 100, chromaSubsampling: '4:4:4' });
  else if (ext === '.webp') image.webp({ lossless: true });
  else if (ext === '.gif') image.gif();
  else if (ext === '.tif' || ext === '.tiff') image.tiff();
  else if (ext === '.avif') image.avif({ lossless: true });
  else image.png();
  await writeFile(file, await image.toBuffer());
  return file;
}

/** A solid RGB image. */
function solid(file: string, width: number, height: number, colour: Rgb): Promise<string> {
  return writeImage(file, width, height, 3, Array.from({ length: width * height }, () => colour).flat());
}

/** Sample `i` as rows of pixels, each pixel an array of channel values. */
function pixelsOf(ds: Dataset, i: number, width: number, channels: number): number[][][] {
  const sample = Array.from(ds.x.subarray(i * ds.featureSize, (i + 1) * ds.featureSize));
  const rows: number[][][] = [];
  for (let r = 0; r < sample.length / (width * channels); r++) {
    rows.push(Array.from({ length: width }, (_, c) => sample.slice((r * width + c) * channels, (r * width + c + 1) * channels)));
  }
  return rows;
}

describe('readDataset: image folders', () => {
  it('keeps a solid colour exactly that colour whether shrunk, kept or enlarged', async () => {
    const dir = await folder();
    await solid(join(dir, 'only', 'big.png'), 37, 23, [200, 100, 50]);
    await solid(join(dir, 'only', 'same.png'), 4, 3, [200, 100, 50]);
    await solid(join(dir, 'only', 'small.png'), 2, 1, [200, 100, 50]);
    await solid(join(dir, 'only', 'wide.png'), 40, 1, [200, 100, 50]);
    const ds = await readDataset(dir, { imageShape: [3, 4, 3], featureSize: 36 });
    assert.equal(ds.count, 4);
    assert.equal(ds.featureSize, 36);
    for (let i = 0; i < ds.count; i++) {
      assert.deepEqual(Array.from(ds.x.subarray(i * 36, (i + 1) * 36)), Array.from({ length: 12 }, () => [200, 100, 50]).flat(), `sample ${i}`);
    }
  });

  it('enlarges bilinearly with half-pixel centres: a 2×2 image at 4×4 keeps its corners', async () => {
    const dir = await folder();
    // Top row: black, (100, 0, 0); bottom row: (0, 200, 0), (100, 200, 40).
    await writeImage(join(dir, 'c', 'quad.png'), 2, 2, 3, [0, 0, 0, 100, 0, 0, 0, 200, 0, 100, 200, 40]);
    const ds = await readDataset(dir, { imageShape: [4, 4, 3] });
    const px = pixelsOf(ds, 0, 4, 3);
    assert.deepEqual(px[0]?.[0], [0, 0, 0]);
    assert.deepEqual(px[0]?.[3], [100, 0, 0]);
    assert.deepEqual(px[3]?.[0], [0, 200, 0]);
    assert.deepEqual(px[3]?.[3], [100, 200, 40]);
    // Output pixel i samples the input at (i + 0.5) / 2 - 0.5: -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
    assert.deepEqual(px[0]?.map((p) => p[0]), [0, 25, 75, 100]);
    assert.deepEqual(px.map((row) => row[0]?.[1]), [0, 50, 150, 200]);
    assert.deepEqual(px[1]?.[1], [25, 50, 2.5]);
  });

  it('shrinks with an antialiased bilinear (triangle) filter, symmetric, and mixes shrinking with enlarging', async () => {
    const dir = await folder();
    // 8×2, red rising 0, 32, ..., 224 from left to right; rows alike.
    const row = Array.from({ length: 8 }, (_, x) => [x * 32, 0, 0]).flat();
    await writeImage(join(dir, 'c', 'gradient.png'), 8, 2, 3, [...row, ...row]);
    const ds = await readDataset(dir, { imageShape: [4, 4, 3] });
    const px = pixelsOf(ds, 0, 4, 3);
    // Each output pixel averages 4 inputs with weights 1/8, 3/8, 3/8, 1/8 (edges repeated).
    const expected = [20, 80, 144, 204];
    for (const r of px) assert.deepEqual(r.map((p) => p[0]), expected);
  });

  it('converts RGB to greyscale as BT.601 luma 0.299 R + 0.587 G + 0.114 B', async () => {
    const dir = await folder();
    await writeImage(join(dir, 'c', 'rgb.png'), 4, 1, 3, [255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200]);
    const ds = await readDataset(dir, { imageShape: [1, 4, 1] });
    // sharp's own greyscale (linear light, Rec. 709 weights) would give 127, 220, 76, 146.
    assert.deepEqual(Array.from(ds.x), [76.245, 149.685, 29.07, 0.299 * 100 + 0.587 * 150 + 0.114 * 200].map(Math.fround));
  });

  it('reads greyscale images as 1 channel unchanged and as 3 equal channels', async () => {
    const dir = await folder();
    await writeImage(join(dir, 'c', 'grey.png'), 2, 1, 1, [10, 240]);
    assert.deepEqual(Array.from((await readDataset(dir, { imageShape: [1, 2, 1] })).x), [10, 240]);
    assert.deepEqual(Array.from((await readDataset(dir, { imageShape: [1, 2, 3] })).x), [10, 10, 10, 240, 240, 240]);
  });

  it('drops alpha, without blending with a background', async () => {
    const dir = await folder();
    await writeImage(join(dir, 'c', 'rgba.png'), 2, 1, 4, [10, 20, 30, 128, 40, 50, 60, 0]);
    await writeImage(join(dir, 'c', 'grey-alpha.png'), 2, 1, 2, [90, 255, 70, 0]);
    const ds = await readDataset(dir, { imageShape: [1, 2, 3] });
    assert.deepEqual(Array.from(ds.x), [90, 90, 90, 70, 70, 70, 10, 20, 30, 40, 50, 60]);
  });

  it('reads JPEG, WebP, GIF, TIFF and AVIF as well as PNG, with any letter case', async () => {
    const dir = await folder();
    const colour: Rgb = [30, 160, 90];
    const names = ['a.JPG', 'b.jpeg', 'c.webp', 'd.gif', 'e.tif', 'f.tiff', 'g.avif', 'h.PNG'];
    for (const name of names) await solid(join(dir, 'c', name), 6, 6, colour);
    const ds = await readDataset(dir, { imageShape: [2, 2, 3] });
    assert.equal(ds.count, names.length);
    for (let i = 0; i < ds.count; i++) {
      const values = Array.from(ds.x.subarray(i * 12, (i + 1) * 12));
      // JPEG and AVIF are lossy in colour conversion even at their best settings; the rest are exact.
      values.forEach((v, k) => assert.ok(Math.abs(v - (colour[k % 3] as number)) <= 3, `sample ${i} value ${k}: ${v}`));
    }
  });

  it('turns JPEGs upright by their EXIF orientation', async () => {
    const dir = await folder();
    // Stored 4 wide × 2 high: left half red, right half blue. Orientation 6: shown turned 90° clockwise.
    const row = [255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255];
    const file = join(dir, 'c', 'turned.jpg');
    await mkdir(dirname(file), { recursive: true });
    await sharp(Buffer.from([...row, ...row]), { raw: { width: 4, height: 2, channels: 3 } })
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .withMetadata({ orientation: 6 })
      .toFile(file);
    const ds = await readDataset(dir, { imageShape: [4, 2, 3] });
    const px = pixelsOf(ds, 0, 2, 3);
    const red = (p: number[] | undefined): boolean => (p?.[0] ?? 0) > 200 && (p?.[2] ?? 255) < 60;
    const blue = (p: number[] | undefined): boolean => (p?.[2] ?? 0) > 200 && (p?.[0] ?? 255) < 60;
    assert.ok(red(px[0]?.[0]) && red(px[0]?.[1]) && blue(px[3]?.[0]) && blue(px[3]?.[1]), JSON.stringify(px));
  });

  it('numbers classes by folder name in byte order and reads files in byte order, subfolders included', async () => {
    const dir = await folder();
    // Byte order: upper case before lower case, "Z10" before "Z9", "é" (0xC3 0xA9) last.
    const classes = ['b', 'a', 'B', 'é', 'Z9', 'Z10'];
    for (const [i, name] of classes.entries()) await solid(join(dir, name, 'img.png'), 1, 1, [i, 0, 0]);
    await solid(join(dir, 'a', 'sub', 'deeper.png'), 1, 1, [100, 0, 0]);
    await solid(join(dir, 'a', 'Zebra.png'), 1, 1, [101, 0, 0]);
    const ds = await readDataset(dir, { imageShape: [1, 1, 3] });
    assert.deepEqual(ds.classNames, ['B', 'Z10', 'Z9', 'a', 'b', 'é']);
    assert.equal(ds.labelSize, 1);
    assert.deepEqual(Array.from(ds.y ?? []), [0, 1, 2, 3, 3, 3, 4, 5]);
    // Within "a": files first ("Zebra.png" before "img.png"), then the subfolder.
    assert.deepEqual(Array.from({ length: ds.count }, (_, i) => ds.x[i * 3]), [2, 5, 4, 101, 1, 100, 0, 3]);
    assert.equal(ds.file, dir);
  });

  it('ignores hidden files and folders and skips files with other extensions', async () => {
    const dir = await folder();
    await solid(join(dir, 'cat', 'a.png'), 2, 2, [1, 2, 3]);
    await writeFile(join(dir, 'cat', '.DS_Store'), 'junk');
    await writeFile(join(dir, 'cat', '._a.png'), 'AppleDouble junk with an image extension');
    await writeFile(join(dir, 'cat', 'notes.txt'), 'not an image');
    await writeFile(join(dir, 'README.md'), 'about the dataset');
    await mkdir(join(dir, '.cache', 'x'), { recursive: true });
    await writeFile(join(dir, '.cache', 'x', 'broken.png'), 'junk');
    const ds = await readDataset(dir, { imageShape: [1, 1, 3] });
    assert.equal(ds.count, 1);
    assert.deepEqual(ds.classNames, ['cat']);
  });

  it('ends symbolic link loops and links to a parent folder, reading each real image once', { timeout: 30_000 }, async () => {
    const dir = await folder();
    await solid(join(dir, 'a', 'x.png'), 1, 1, [1, 0, 0]);
    await solid(join(dir, 'a', 'sub', 'y.png'), 1, 1, [2, 0, 0]);
    await solid(join(dir, 'b', 'z.png'), 1, 1, [3, 0, 0]);
    // Two links back to the class folder make the walk branch: without a guard it never ends.
    await symlink('.', join(dir, 'a', 'self'));
    await symlink('.', join(dir, 'a', 'again'));
    await symlink('..', join(dir, 'a', 'sub', 'up')); // the class folder
    await symlink('..', join(dir, 'a', 'dataset')); // the dataset folder, which holds every class
    await symlink('../..', join(dir, 'a', 'above')); // the folder holding the dataset folder
    await symlink('../b', join(dir, 'b', 'loop'));
    const ds = await readDataset(dir, { imageShape: [1, 1, 3] });
    assert.deepEqual(ds.classNames, ['a', 'b']);
    assert.deepEqual(Array.from({ length: ds.count }, (_, i) => ds.x[i * 3]), [1, 2, 3]);
    assert.deepEqual(Array.from(ds.y ?? []), [0, 0, 1]);
  });

  it('follows links to images and folders elsewhere, reading each real image once per class', async () => {
    const dir = await folder();
    const elsewhere = await folder();
    await solid(join(dir, 'a', 'x.png'), 1, 1, [1, 0, 0]);
    await symlink('x.png', join(dir, 'a', 'x-link.png'));
    await solid(join(elsewhere, 'o.png'), 1, 1, [2, 0, 0]);
    await symlink(elsewhere, join(dir, 'a', 'out1'));
    await symlink(elsewhere, join(dir, 'a', 'out2'));
    await symlink(join(elsewhere, 'o.png'), join(dir, 'a', 'o-link.png'));
    const ds = await readDataset(dir, { imageShape: [1, 1, 3] });
    // Files in byte order ("o-link.png", "x-link.png", "x.png"), then the folders: each real image once.
    assert.deepEqual(Array.from({ length: ds.count }, (_, i) => ds.x[i * 3]), [2, 1]);
  });

  it('refuses one real image or folder reached from two classes through links', async () => {
    const dir = await folder();
    await solid(join(dir, 'a', 'x.png'), 1, 1, [1, 0, 0]);
    await solid(join(dir, 'b', 'y.png'), 1, 1, [2, 0, 0]);
    const alias = join(dir, 'b', 'alias.png');
    await symlink('../a/x.png', alias);
    const shape = { imageShape: [1, 1, 3] };
    await assertDatasetError(dir, `is the same image as ${join(dir, 'a', 'x.png')} (class "a"), through a symbolic link; an image can belong to one class only`, shape, alias);
    await rm(alias);
    const peek = join(dir, 'a', 'peek');
    await symlink('../b', peek);
    await assertDatasetError(dir, `is the same folder as ${join(dir, 'b')} (class "b"), through a symbolic link; an image can belong to one class only`, shape, peek);
    await rm(peek);
    await symlink('b', join(dir, 'c'));
    await assertDatasetError(dir, /^is the same folder as .*\/b \(class "b"\)/, shape, join(dir, 'c'));
    await rm(join(dir, 'c'));
    await symlink('.', join(dir, 'c'));
    await assertDatasetError(dir, /^class folder "c" leads to .*, which holds the dataset folder itself$/, shape, join(dir, 'c'));
  });

  it('names a corrupt image file', async () => {
    const dir = await folder();
    await solid(join(dir, 'a', 'fine.png'), 2, 2, [1, 2, 3]);
    const bad = join(dir, 'b', 'random.png');
    await mkdir(dirname(bad));
    await writeFile(bad, Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 97 + 13) % 256)));
    await assertDatasetError(dir, 'cannot decode image: not a supported image (the content is not PNG, JPEG, WebP, GIF, TIFF or AVIF)', { imageShape: [2, 2, 3] }, bad);
  });

  it('names a truncated JPEG', async () => {
    const dir = await folder();
    const whole = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 9, g: 99, b: 199 } } }).jpeg().toBuffer();
    const file = join(dir, 'a', 'cut.jpg');
    await mkdir(dirname(file));
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
    await assertDatasetError(dir, /^cannot decode image: /, { imageShape: [8, 8, 3] }, file);
  });

  it('refuses an empty class folder, naming it and what was skipped', async () => {
    const dir = await folder();
    await solid(join(dir, 'a', 'x.png'), 1, 1, [0, 0, 0]);
    await mkdir(join(dir, 'b'));
    await assertDatasetError(dir, /^class folder "b" has no images \(read: \.png, \.jpg, /, { imageShape: [1, 1, 3] }, join(dir, 'b'));
    await writeFile(join(dir, 'b', 'photo.bmp'), 'BM');
    await assertDatasetError(dir, /has no images .*; skipped files with other extensions: \.bmp$/, { imageShape: [1, 1, 3] }, join(dir, 'b'));
  });

  it('refuses a folder without class folders, and images outside them', async () => {
    const dir = await folder();
    await solid(join(dir, 'loose.png'), 1, 1, [0, 0, 0]);
    await assertDatasetError(dir, /^no class folders: .*\(found 1 image\(s\) directly in it; is this a single class's folder\?\)$/, { imageShape: [1, 1, 3] });
    await solid(join(dir, 'a', 'x.png'), 1, 1, [0, 0, 0]);
    await assertDatasetError(dir, /^image outside the class folders/, { imageShape: [1, 1, 3] }, join(dir, 'loose.png'));
  });

  it('checks the image shape against the model', async () => {
    const dir = await folder();
    await solid(join(dir, 'a', 'x.png'), 1, 1, [0, 0, 0]);
    await assertDatasetError(dir, /^reading a folder of images needs the image size/, {});
    await assertDatasetError(dir, 'the model expects 4 channels per pixel; images are read as 1 (greyscale) or 3 (RGB)', { imageShape: [2, 2, 4] });
    await assertDatasetError(dir, 'image shape [0, 2, 3] must be three positive integers [height, width, channels]', { imageShape: [0, 2, 3] });
    await assertDatasetError(dir, 'images of 2×2×3 give 12 values per sample, the model expects 4', { imageShape: [2, 2, 3], featureSize: 4 });
  });

  it('multiplies values by inputScale, drops labels with label "none" and refuses --labels', async () => {
    const dir = await folder();
    await solid(join(dir, 'a', 'x.png'), 1, 1, [255, 51, 0]);
    const ds = await readDataset(dir, { imageShape: [1, 1, 3], inputScale: 1 / 255, label: 'none' });
    assert.deepEqual(Array.from(ds.x), [1, 0.2, 0].map(Math.fround));
    assert.equal(ds.y, undefined);
    assert.equal(ds.labelSize, 0);
    await assert.rejects(readDataset(dir, { imageShape: [1, 1, 3], labels: 'y.npy' }), UsageError);
    await assertDatasetError(dir, /^label column "x" applies to CSV files only/, { imageShape: [1, 1, 3], label: 'x' });
  });

  it('reads a folder whose name has a dot, and reports a missing folder', async () => {
    const dir = join(scratch, 'photos.v2');
    await solid(join(dir, 'a', 'x.png'), 1, 1, [7, 8, 9]);
    assert.deepEqual(Array.from((await readDataset(dir, { imageShape: [1, 1, 3] })).x), [7, 8, 9]);
    await assertDatasetError(join(scratch, 'no-such-photos'), 'cannot read: no such file or folder', { imageShape: [1, 1, 3] });
    await assertDatasetError(join(scratch, 'one.png'), /^unsupported extension "\.png"; .*\(for images, give the folder that holds one subfolder per class\)$/, {});
  });
});

describe('readDataset: inputScale on text formats', () => {
  it('scales CSV and JSON features, not labels', async () => {
    const csv = join(scratch, 'scaled.csv');
    await writeFile(csv, 'a,b,label\n255,51,3\n');
    const fromCsv = await readDataset(csv, { inputScale: 1 / 255 });
    assert.deepEqual(Array.from(fromCsv.x), [1, 0.2].map(Math.fround));
    assert.deepEqual(Array.from(fromCsv.y ?? []), [3]);
    const jsonl = join(scratch, 'scaled.jsonl');
    await writeFile(jsonl, '{"x": [10, 20], "y": 5}\n');
    const fromJson = await readDataset(jsonl, { inputScale: 0.5 });
    assert.deepEqual(Array.from(fromJson.x), [5, 10]);
    assert.deepEqual(Array.from(fromJson.y ?? []), [5]);
  });

  it('rejects a scale that is not a positive finite number', async () => {
    await assert.rejects(readDataset(join(scratch, 'scaled.csv'), { inputScale: 0 }), RangeError);
    await assert.rejects(readDataset(join(scratch, 'scaled.csv'), { inputScale: Number.NaN }), RangeError);
  });
});
