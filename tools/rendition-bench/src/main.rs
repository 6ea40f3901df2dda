//! Times the rendition pipeline on real photos and reports quality, side by side with sharp.
//!
//! ```text
//! rendition-bench [--iterations N] [--rounds R] [--sharp-bench bench.mjs --sharp-out DIR] PHOTO...
//! rendition-bench --finalize [--s3] [--iterations N] [--rounds R] PHOTO...
//! rendition-bench --make-tiff SOURCE.png DEST.tiff
//! rendition-bench --write-fuzz-seeds DIR
//! ```
//!
//! Each measurement runs in a fresh child process (`--one PHOTO` here, `bench.mjs --one` for
//! sharp) so its peak memory (VmHWM / maxRSS, the whole process) belongs to that photo alone, and
//! reports the median of N runs. Ours and sharp's alternate, round after round (ours, sharp, ours,
//! sharp, ...): on a shared machine two consecutive runs of one pipeline differ by up to 2x, so
//! all-of-one-then-all-of-the-other ratios are not reliable. The table gives the median over the
//! rounds and the spread (min..max of the rounds' medians, and of each round's ratio). The
//! pipeline runs on one thread, as in a Lambda function. Quality is the PSNR of each rendition
//! against a reference made by resizing the full-resolution decode straight to the rendition's
//! size with Lanczos3 (no shrink-on-load, no cascade); sharp's outputs are scored the same way.
//!
//! `--finalize` measures a direct upload's finalize (`finalize.rs`) the same way, alternating with
//! the renditions alone of the same photo, the part of it this bench already knows.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use asset_service::domain::{RenditionSize, RenditionSizes};
use asset_service::renditions::{self, DecodeLimits, Rendition};
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{PixelType, ResizeOptions, Resizer};
use serde_json::{Value, json};

mod finalize;
mod seeds;

struct Args {
    iterations: usize,
    rounds: usize,
    one: Option<String>,
    sharp_bench: Option<String>,
    sharp_out: Option<String>,
    fuzz_seeds: Option<String>,
    make_tiff: Option<(String, String)>,
    finalize: bool,
    storage: finalize::Storage,
    photos: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        iterations: 15,
        rounds: 5,
        one: None,
        sharp_bench: None,
        sharp_out: None,
        fuzz_seeds: None,
        make_tiff: None,
        finalize: false,
        storage: finalize::Storage::Memory,
        photos: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--iterations" => args.iterations = value().parse().expect("--iterations N"),
            "--rounds" => args.rounds = value().parse().expect("--rounds R"),
            "--one" => args.one = Some(value()),
            "--sharp-bench" => args.sharp_bench = Some(value()),
            "--sharp-out" => args.sharp_out = Some(value()),
            "--write-fuzz-seeds" => args.fuzz_seeds = Some(value()),
            "--make-tiff" => args.make_tiff = Some((value(), value())),
            "--finalize" => args.finalize = true,
            "--s3" => args.storage = finalize::Storage::S3,
            _ => args.photos.push(arg),
        }
    }
    args
}

fn mime_of(path: &str) -> &'static str {
    match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("tif" | "tiff") => "image/tiff",
        Some("heic" | "HEIC") => "image/heic",
        Some("heif" | "HEIF") => "image/heif",
        Some("avif") => "image/avif",
        Some("jxl") => "image/jxl",
        other => panic!("unknown photo type {other:?}"),
    }
}

fn render(bytes: &[u8], mime: &str) -> Vec<Rendition> {
    renditions::render(
        bytes,
        mime,
        &RenditionSizes::default(),
        &DecodeLimits::default(),
    )
    .expect("the photo renders")
    .renditions
}

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Child mode: time one photo's finalize and print one JSON line.
fn measure_one_finalize(path: &str, iterations: usize, storage: finalize::Storage) {
    let before = peak_rss_mib();
    let (median_ms, min_ms) = finalize::measure(path, iterations, storage);
    println!(
        "{}",
        json!({
            "median_ms": median_ms,
            "min_ms": min_ms,
            "peak_rss_mib": peak_rss_mib(),
            "rss_before_mib": before,
        })
    );
}

/// Child mode: time one photo and print one JSON line.
fn measure_one(path: &str, iterations: usize) {
    let bytes = std::fs::read(path).expect("read photo");
    let mime = mime_of(path);
    let before = peak_rss_mib();
    render(&bytes, mime); // warm-up: page in code and let the allocator settle
    let times: Vec<f64> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            let renditions = render(&bytes, mime);
            let elapsed = start.elapsed().as_secs_f64() * 1000.0;
            std::hint::black_box(renditions);
            elapsed
        })
        .collect();
    println!(
        "{}",
        json!({
            "median_ms": median(times.clone()),
            "min_ms": times.iter().copied().fold(f64::INFINITY, f64::min),
            "peak_rss_mib": peak_rss_mib(),
            "rss_before_mib": before,
        })
    );
}

/// Full-resolution RGB of a photo, without shrink-on-load.
fn decode_full(bytes: &[u8], mime: &str) -> (Vec<u8>, u32, u32) {
    match mime {
        "image/jpeg" => {
            let image = turbojpeg::decompress(bytes, turbojpeg::PixelFormat::RGB).unwrap();
            (image.pixels, image.width as u32, image.height as u32)
        }
        "image/png" => {
            let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
            decoder.set_transformations(png::Transformations::normalize_to_color8());
            let mut reader = decoder.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            assert_eq!(info.color_type, png::ColorType::Rgb, "bench PNGs are RGB");
            (buf, info.width, info.height)
        }
        "image/webp" => {
            let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
            let (w, h) = decoder.dimensions();
            assert!(!decoder.has_alpha(), "bench WebPs are opaque");
            let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
            decoder.read_image(&mut buf).unwrap();
            (buf, w, h)
        }
        "image/tiff" => {
            let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(bytes))
                .unwrap()
                .with_limits(tiff::decoder::Limits::unlimited());
            let (w, h) = decoder.dimensions().unwrap();
            assert_eq!(decoder.colortype().unwrap(), tiff::ColorType::RGB(8));
            match decoder.read_image().unwrap() {
                tiff::decoder::DecodingResult::U8(buf) => (buf, w, h),
                _ => panic!("bench TIFFs are 8-bit"),
            }
        }
        // heifer's own decode with its own ICC -> sRGB (not moxcms), as the renditions are sRGB.
        "image/heic" | "image/heif" => {
            let options = heifer::Options {
                max_threads: 1,
                max_pixels: 0,
            };
            let image = heifer::decode_srgb_rgba8(bytes, &options).unwrap();
            let rgb = image
                .data
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            (rgb, image.width, image.height)
        }
        // libheif's heif-convert (with libaom or dav1d) and libjxl's djxl (Debian, installed by
        // scripts/bootstrap.sh): decoders that are not ours.
        "image/avif" => decode_with_tool(bytes, "avif", "heif-convert"),
        "image/jxl" => decode_with_tool(bytes, "jxl", "djxl"),
        other => panic!("no reference decoder for {other}"),
    }
}

/// `bytes` decoded to RGB by an external `tool` writing PNG (`--quiet`, input and output paths).
fn decode_with_tool(bytes: &[u8], extension: &str, tool: &str) -> (Vec<u8>, u32, u32) {
    let dir = std::env::temp_dir().join(format!("rendition-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png_path = dir.join("reference.png");
    let source = dir.join(format!("source.{extension}"));
    std::fs::write(&source, bytes).unwrap();
    let status = Command::new(tool)
        .args(["--quiet".as_ref(), source.as_os_str(), png_path.as_os_str()])
        .status()
        .unwrap_or_else(|e| panic!("{tool} (scripts/bootstrap.sh): {e}"));
    assert!(status.success(), "{tool} failed");
    let png = std::fs::read(&png_path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    decode_full(&png, "image/png")
}

fn lanczos(rgb: &[u8], width: u32, height: u32, to: (u32, u32)) -> Vec<u8> {
    let src = ImageRef::new(width, height, rgb, PixelType::U8x3).unwrap();
    let mut dst = Image::new(to.0, to.1, PixelType::U8x3);
    Resizer::new()
        .resize(&src, &mut dst, &ResizeOptions::new())
        .unwrap();
    dst.into_vec()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = sum / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

fn jpeg_rgb(bytes: &[u8]) -> (Vec<u8>, u32, u32) {
    let image = turbojpeg::decompress(bytes, turbojpeg::PixelFormat::RGB).unwrap();
    (image.pixels, image.width as u32, image.height as u32)
}

/// PSNR of each of our renditions and of sharp's (when its outputs are at hand).
fn quality(path: &str, sharp_dir: Option<&Path>) -> BTreeMap<&'static str, (f64, Option<f64>)> {
    let bytes = std::fs::read(path).unwrap();
    let mime = mime_of(path);
    let (full, width, height) = decode_full(&bytes, mime);
    let ours = render(&bytes, mime);
    let stem = Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace('.', "-");
    let mut scores = BTreeMap::new();
    for rendition in &ours {
        let (rgb, w, h) = jpeg_rgb(&rendition.bytes);
        let reference = lanczos(&full, width, height, (w, h));
        let sharp = sharp_dir.and_then(|dir| {
            let file = dir.join(&stem).join(format!("{}.jpg", rendition.size));
            let (rgb, sw, sh) = jpeg_rgb(&std::fs::read(file).ok()?);
            let reference = if (sw, sh) == (w, h) {
                reference.clone()
            } else {
                lanczos(&full, width, height, (sw, sh))
            };
            Some(psnr(&rgb, &reference))
        });
        scores.insert(rendition.size.as_str(), (psnr(&rgb, &reference), sharp));
    }
    scores
}

/// Median time to encode the four renditions of `path` as progressive and as baseline JPEG (q80,
/// 4:2:0, from YCbCr planes as the pipeline does): progressive output is part of the spec, and
/// this shows what it costs.
fn encode_costs(path: &str, iterations: usize) -> (f64, f64) {
    let bytes = std::fs::read(path).unwrap();
    let planes: Vec<turbojpeg::YuvImage<Vec<u8>>> = render(&bytes, mime_of(path))
        .iter()
        .map(|r| turbojpeg::decompress_to_yuv(&r.bytes).unwrap())
        .collect();
    let time = |progressive: bool| {
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_quality(80).unwrap();
        compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
        compressor.set_progressive(progressive).unwrap();
        median(
            (0..iterations)
                .map(|_| {
                    let start = Instant::now();
                    for image in &planes {
                        std::hint::black_box(
                            compressor.compress_yuv_to_vec(image.as_deref()).unwrap(),
                        );
                    }
                    start.elapsed().as_secs_f64() * 1000.0
                })
                .collect(),
        )
    };
    (time(true), time(false))
}

/// A 12 MP TIFF for the bench, made from a PNG photo at bench time (never committed): RGB, 8 bits,
/// LZW with the horizontal predictor, in strips, as Photoshop and scanner software write them.
fn make_tiff(source: &str, dest: &str) {
    let (rgb, width, height) = decode_full(&std::fs::read(source).unwrap(), "image/png");
    let file = std::fs::File::create(dest).unwrap();
    let mut encoder = tiff::encoder::TiffEncoder::new(std::io::BufWriter::new(file))
        .unwrap()
        .with_compression(tiff::encoder::Compression::Lzw)
        .with_predictor(tiff::tags::Predictor::Horizontal);
    encoder
        .write_image::<tiff::encoder::colortype::RGB8>(width, height, &rgb)
        .unwrap();
}

/// One child measurement: ours (`--one`) or sharp's (`bench.mjs --one`), as its JSON line.
fn child(program: &Path, args: &[&str]) -> Value {
    let output = Command::new(program)
        .args(args)
        .output()
        .expect("run child");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("child JSON")
}

/// Median and spread (min, max) of the rounds' figures.
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Self {
        Self {
            median: median(values.to_vec()),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.median.is_nan() {
            return write!(f, "-");
        }
        write!(f, "{:.1} ({:.1}..{:.1})", self.median, self.min, self.max)
    }
}

/// `--finalize`: per photo, the finalize of its direct upload and its renditions alone,
/// alternating round after round, each in its own child process.
fn finalize_table(args: &Args, me: &Path, iterations: &str) {
    let storage = match args.storage {
        finalize::Storage::Memory => "in-memory storage",
        finalize::Storage::S3 => "S3 adapters against AWS_ENDPOINT_URL",
    };
    println!(
        "finalize (the complete call, {storage}) and renditions alone, one photo per child \
         process; each figure is the median of {} rounds (min..max), each round the median of {} \
         runs after a warm-up; peak memory is the child's VmHWM",
        args.rounds, args.iterations
    );
    println!(
        "{:<18} {:>22} {:>22} {:>22} {:>22}",
        "photo", "finalize ms", "renditions ms", "finalize - renditions", "peak MiB fin./rend."
    );
    let mut finalize_args = vec!["--finalize", "--iterations", iterations, "--one"];
    if args.storage == finalize::Storage::S3 {
        finalize_args.insert(0, "--s3");
    }
    for photo in &args.photos {
        let (mut finalized, mut rendered, mut extra) = (Vec::new(), Vec::new(), Vec::new());
        let (mut finalize_mib, mut render_mib) = (0f64, 0f64);
        for _ in 0..args.rounds {
            let mut with_photo = finalize_args.clone();
            with_photo.push(photo);
            let run = child(me, &with_photo);
            let finalize_ms = run["median_ms"].as_f64().unwrap_or(f64::NAN);
            finalize_mib = finalize_mib.max(run["peak_rss_mib"].as_f64().unwrap_or(f64::NAN));
            let run = child(me, &["--one", photo, "--iterations", iterations]);
            let render_ms = run["median_ms"].as_f64().unwrap_or(f64::NAN);
            render_mib = render_mib.max(run["peak_rss_mib"].as_f64().unwrap_or(f64::NAN));
            finalized.push(finalize_ms);
            rendered.push(render_ms);
            extra.push(finalize_ms - render_ms);
        }
        let name = Path::new(photo).file_name().unwrap().to_string_lossy();
        println!(
            "{:<18} {:>22} {:>22} {:>22} {:>22}",
            name,
            Spread::of(&finalized).to_string(),
            Spread::of(&rendered).to_string(),
            Spread::of(&extra).to_string(),
            format!("{finalize_mib:.0}/{render_mib:.0}"),
        );
    }
}

fn main() {
    // As the upload functions do.
    renditions::keep_freed_memory();
    let args = parse_args();
    if let Some(dir) = &args.fuzz_seeds {
        seeds::write(Path::new(dir));
        return;
    }
    if let Some((source, dest)) = &args.make_tiff {
        make_tiff(source, dest);
        return;
    }
    if let Some(photo) = &args.one {
        if args.finalize {
            measure_one_finalize(photo, args.iterations, args.storage);
        } else {
            measure_one(photo, args.iterations);
        }
        return;
    }
    assert!(
        !args.photos.is_empty() && args.rounds > 0,
        "usage: rendition-bench [--iterations N] [--rounds R] [--sharp-bench bench.mjs --sharp-out DIR] PHOTO..."
    );
    let me = std::env::current_exe().unwrap();
    let node = Path::new("node");
    let iterations = args.iterations.to_string();
    if args.finalize {
        finalize_table(&args, &me, &iterations);
        return;
    }
    println!(
        "renditions per photo: largeX2/large/medium/thumb = {:?} px, one thread; each figure is the \
         median of {} rounds (min..max), each round the median of {} runs; ours and sharp alternate",
        RenditionSize::ALL.map(|s| RenditionSizes::default().longest_side(s)),
        args.rounds,
        args.iterations
    );
    println!(
        "{:<18} {:>22} {:>22} {:>22} {:>20} {:>15} | PSNR dB ours/sharp largeX2 large medium thumb",
        "photo",
        "ours ms",
        "sharp cascade ms",
        "sharp independent ms",
        "cascade/ours",
        "MiB ours/sharp"
    );
    let mut encode_lines = Vec::new();
    for photo in &args.photos {
        let (mut ours, mut cascade, mut independent, mut ratios) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut ours_mib, mut sharp_mib) = (0f64, f64::NAN);
        for _ in 0..args.rounds {
            let run = child(&me, &["--one", photo, "--iterations", &iterations]);
            let ours_ms = run["median_ms"].as_f64().unwrap_or(f64::NAN);
            ours.push(ours_ms);
            ours_mib = ours_mib.max(run["peak_rss_mib"].as_f64().unwrap_or(f64::NAN));
            // sharp's prebuilt libvips reads AVIF but not HEIC (its libheif has no HEVC decoder)
            // nor JPEG XL (no libjxl).
            let sharp_reads = !matches!(mime_of(photo), "image/heic" | "image/heif" | "image/jxl");
            if let (Some(bench), Some(out), true) =
                (&args.sharp_bench, &args.sharp_out, sharp_reads)
            {
                let run = child(
                    node,
                    &[
                        bench,
                        "--one",
                        photo,
                        "--iterations",
                        &iterations,
                        "--out",
                        out,
                    ],
                );
                let cascade_ms = run["cascade_ms"].as_f64().unwrap_or(f64::NAN);
                cascade.push(cascade_ms);
                independent.push(run["independent_ms"].as_f64().unwrap_or(f64::NAN));
                ratios.push(cascade_ms / ours_ms);
                let mib = run["peak_rss_mib"].as_f64().unwrap_or(f64::NAN);
                sharp_mib = if sharp_mib.is_nan() {
                    mib
                } else {
                    sharp_mib.max(mib)
                };
            }
        }
        let name = Path::new(photo)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let scores = quality(photo, args.sharp_out.as_deref().map(Path::new));
        let psnr: Vec<String> = ["largeX2", "large", "medium", "thumb"]
            .iter()
            .map(|size| {
                let (ours, sharp) = scores[size];
                format!(
                    "{ours:.1}/{}",
                    sharp.map_or("-".into(), |s| format!("{s:.1}"))
                )
            })
            .collect();
        let nan = [f64::NAN];
        let or_nan = |v: &[f64]| {
            if v.is_empty() {
                Spread::of(&nan)
            } else {
                Spread::of(v)
            }
        };
        let ratio = or_nan(&ratios);
        println!(
            "{:<18} {:>22} {:>22} {:>22} {:>20} {:>15} | {}",
            name,
            Spread::of(&ours).to_string(),
            or_nan(&cascade).to_string(),
            or_nan(&independent).to_string(),
            if ratio.median.is_nan() {
                "-".to_owned()
            } else {
                format!("{:.2}x ({:.2}..{:.2})", ratio.median, ratio.min, ratio.max)
            },
            format!("{ours_mib:.0}/{sharp_mib:.0}"),
            psnr.join(" "),
        );
        if mime_of(photo) == "image/jpeg" {
            let (progressive, baseline) = encode_costs(photo, args.iterations);
            encode_lines.push(format!(
                "{name:<18} encoding the four renditions: progressive {progressive:.1} ms, baseline {baseline:.1} ms"
            ));
        }
    }
    println!();
    for line in encode_lines {
        println!("{line}");
    }
}
