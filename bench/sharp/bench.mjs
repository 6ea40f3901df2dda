// sharp/libvips baseline for the image-rendition benchmark.
//
//   node bench.mjs --iterations N --out DIR PHOTO...
//
// Prints one JSON line with the sharp/libvips versions, then one JSON line per photo:
//   {"photo","cascade_ms","independent_ms","peak_rss_mib","width","height"}
// Times are medians of N runs (after 1 warm-up run); the outputs of the last cascade run are
// written to DIR/<file name with '.' replaced by '-'>/{largeX2,large,medium,thumb}.jpg.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

// One libvips worker thread, no operation cache (a cache would make repeated runs of the same
// photo artificially cheap), SIMD (highway) on.
sharp.concurrency(1);
sharp.cache(false);
sharp.simd(true);

// Largest rendition first: the cascade resizes each one from the previous.
const RENDITIONS = [
  ['largeX2', 2048],
  ['large', 1024],
  ['medium', 480],
  ['thumb', 160],
];
const FIT = { fit: 'inside', withoutEnlargement: true }; // default kernel: lanczos3
const JPEG = { quality: 80, progressive: true, chromaSubsampling: '4:2:0' };

const { values: opts, positionals: photos } = parseArgs({
  allowPositionals: true,
  options: {
    iterations: { type: 'string', default: '5' },
    out: { type: 'string', default: 'out' },
    one: { type: 'string' }, // internal: measure one photo in this (child) process
  },
});
const iterations = Number(opts.iterations);
if (!Number.isInteger(iterations) || iterations < 1) throw new Error('--iterations must be >= 1');

// Decode + orient once, then resize each rendition from the previous one's raw pixels.
// Metadata is stripped by sharp's default (and raw buffers carry none anyway).
async function cascade(file) {
  let { data, info } = await sharp(file)
    .rotate() // apply EXIF orientation
    .resize(2048, 2048, FIT)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = () => sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  const out = {};
  for (const [i, [name, size]] of RENDITIONS.entries()) {
    if (i > 0) ({ data, info } = await raw().resize(size, size, FIT).raw().toBuffer({ resolveWithObject: true }));
    out[name] = await raw().jpeg(JPEG).toBuffer();
  }
  return out;
}

// Each rendition decoded from the original file on its own (sharp's shrink-on-load applies).
// Sequential on purpose: running them concurrently would use more than one thread.
async function independent(file) {
  const out = {};
  for (const [name, size] of RENDITIONS) {
    out[name] = await sharp(file).rotate().resize(size, size, FIT).jpeg(JPEG).toBuffer();
  }
  return out;
}

// 1 warm-up run, then `iterations` timed runs; returns the median ms and the last run's result.
async function time(fn, file) {
  await fn(file);
  const ms = [];
  let result;
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    result = await fn(file);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const mid = ms.length >> 1;
  const median = ms.length % 2 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2;
  return { median, result };
}

const round1 = (x) => Math.round(x * 10) / 10;

if (opts.one) {
  // Child: all work for one photo, so maxRSS belongs to that photo alone.
  const file = opts.one;
  const { autoOrient } = await sharp(file).metadata(); // header only; dimensions after orientation
  const c = await time(cascade, file);
  const ind = await time(independent, file);
  const dir = join(opts.out, basename(file).replaceAll('.', '-'));
  mkdirSync(dir, { recursive: true });
  for (const [name, buf] of Object.entries(c.result)) writeFileSync(join(dir, `${name}.jpg`), buf);
  const peakRssMib = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB -> MiB
  console.log(JSON.stringify({
    photo: basename(file),
    cascade_ms: round1(c.median),
    independent_ms: round1(ind.median),
    peak_rss_mib: round1(peakRssMib),
    width: autoOrient.width,
    height: autoOrient.height,
  }));
} else {
  // Parent: one fresh node process per photo (peak RSS is per process and never goes down).
  if (photos.length === 0) throw new Error('usage: node bench.mjs --iterations N --out DIR PHOTO...');
  console.log(JSON.stringify({ sharp: sharp.versions.sharp, vips: sharp.versions.vips }));
  const self = fileURLToPath(import.meta.url);
  for (const photo of photos) {
    const child = spawnSync(
      process.execPath,
      [self, '--one', photo, '--iterations', String(iterations), '--out', opts.out],
      { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
    );
    if (child.status !== 0) {
      console.error(`bench.mjs: ${photo} failed (status ${child.status}, signal ${child.signal})`);
      process.exit(1);
    }
    process.stdout.write(child.stdout);
  }
}
