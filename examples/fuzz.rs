//! A stable-toolchain mutation fuzzer over every parser of the public API (issue 19, item 3).
//!
//! `cargo run --release --example fuzz -- --parser all|NAME --inputs N --seed S [--threads T]`
//! `cargo run --release --example fuzz -- --parser NAME --seed S --index I` replays one input and
//! saves it under target/fuzz-findings/.
//!
//! Every input is derived from (seed, parser, index) alone through ChaCha8, so any finding can be
//! replayed by its index. Each input runs under `catch_unwind` (a panic is a finding, saved under
//! target/fuzz-findings/); a watchdog flags any input still running after 2 s as a hang.
//! tests/fuzz_slice.rs runs a bounded slice of the same engine in CI.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The limit past which one input is a hang.
pub const HANG: Duration = Duration::from_secs(2);

/// How a parser is reached: from bytes in memory, or from a file with this extension.
#[derive(Clone, Copy)]
pub enum Entry {
    Bytes(fn(&[u8]) -> bool),
    File(&'static str, fn(&Path) -> bool),
}

pub struct Parser {
    pub name: &'static str,
    pub entry: Entry,
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Whether text-aware mutations (number and token edits) apply.
    pub text: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub inputs: u64,
    pub ok: u64,
    pub err: u64,
    pub panics: u64,
    pub hangs: u64,
    pub max_time: Duration,
    pub elapsed: Duration,
    /// "index: message at location" for every panic and hang.
    pub findings: Vec<String>,
}

fn origin(ext: &str) -> PathBuf {
    PathBuf::from(format!("fuzz-input.{ext}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---- parser entry points -------------------------------------------------------------------

fn p_npy(b: &[u8]) -> bool {
    ventral::arrays::parse_npy(b, &origin("npy")).is_ok()
}

fn p_rdm_npy(b: &[u8]) -> bool {
    let o = origin("npy");
    match ventral::arrays::parse_npy(b, &o) {
        Ok(a) => ventral::rsa::load::rdms_from_array("x", &a, &o).is_ok(),
        Err(_) => false,
    }
}

fn p_mat(b: &[u8]) -> bool {
    ventral::mat::parse_mat(b, &origin("mat")).is_ok()
}

fn mat_value(v: &ventral::mat::MatValue, o: &Path, depth: usize) {
    let _ = v.matrix(o, "v");
    let _ = v.to_rgb8(o, "v");
    let _ = v.to_string();
    if depth < 3 {
        if let Some(cells) = v.cells() {
            for c in cells.iter().take(16) {
                mat_value(c, o, depth + 1);
            }
        }
        let _ = v.field("a").map(|f| mat_value(f, o, depth + 1));
    }
}

fn p_mat_values(b: &[u8]) -> bool {
    let o = origin("mat");
    match ventral::mat::read_mat(b, &o) {
        Ok(vars) => {
            for (_, v) in &vars {
                mat_value(v, &o, 0);
            }
            true
        }
        Err(_) => false,
    }
}

fn p_pth(b: &[u8]) -> bool {
    ventral::checkpoint::read_state_dict(&origin("pth"), b).is_ok()
}

fn p_csv(b: &[u8]) -> bool {
    ventral::stimuli::parse_csv(&text(b)).is_ok()
}

fn p_toml(b: &[u8]) -> bool {
    match toml::from_str::<ventral::analysis::config::AnalysisConfig>(&text(b)) {
        Ok(cfg) => cfg.check().is_ok(),
        Err(_) => false,
    }
}

fn p_read_arrays(p: &Path) -> bool {
    ventral::arrays::read_arrays(p).is_ok()
}

fn p_image(p: &Path) -> bool {
    ventral::stimuli::load_rgb(p).is_ok()
}

fn p_rdms(p: &Path) -> bool {
    ventral::rsa::load::read_rdms(p).is_ok()
}

fn p_npy_reader(p: &Path) -> bool {
    match ventral::arrays::NpyReader::open(p) {
        Ok(mut r) => match r.shape().first().copied() {
            Some(n) => r.read_rows(0, n.min(8)).is_ok(),
            None => true,
        },
        Err(_) => false,
    }
}

fn p_tensor_file(p: &Path) -> bool {
    match ventral::arrays::TensorFile::open(p) {
        Ok(t) => {
            let names: Vec<String> = t.tensors().map(|(n, _)| n.to_string()).collect();
            names.iter().all(|n| t.read_f32(n).is_ok())
        }
        Err(_) => false,
    }
}

// ---- seeds, built in code (plus the crate's own small fixtures) -----------------------------

fn npy(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let mut v = ventral::arrays::npy_header(shape);
    for x in data {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// A hand-written `.npy` of another dtype (`<f8`, `<i4`, …) and order.
fn npy_text(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {fortran_s}, 'shape': {shape}, }}",
        fortran_s = if fortran { "True" } else { "False" }
    );
    let mut h = dict.into_bytes();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    v.extend_from_slice(&h);
    v.extend_from_slice(data);
    v
}

fn rdm4() -> Vec<f32> {
    let mut d = vec![0f32; 16];
    for i in 0..4 {
        for j in 0..4 {
            d[i * 4 + j] = (i as f32 - j as f32).abs();
        }
    }
    d
}

fn s_npy() -> Vec<Vec<u8>> {
    let f8: Vec<u8> = (0..6).flat_map(|i| (i as f64).to_le_bytes()).collect();
    let i4: Vec<u8> = (0..6i32).flat_map(|i| i.to_le_bytes()).collect();
    vec![
        npy(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        npy(&[4, 4], &rdm4()),
        npy(&[3], &[0.5, -1.0, f32::NAN]),
        npy_text("<f8", true, "(3, 2)", &f8),
        npy_text("<i4", false, "(6,)", &i4),
        npy_text("|u1", false, "(2, 2, 1)", &[1, 2, 3, 4]),
        npy_text("<f2", false, "()", &[0, 60]),
    ]
}

fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        std::io::Write::write_all(&mut w, data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn s_npz() -> Vec<Vec<u8>> {
    let n = s_npy();
    vec![
        zip_of(&[("a.npy", n[0].clone()), ("b.npy", n[3].clone())]),
        zip_of(&[("rdm.npy", n[1].clone()), ("notes.txt", b"hi".to_vec())]),
    ]
}

fn safetensors_of(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let lo = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [lo, data.len()]}),
        );
    }
    header.insert(
        "__metadata__".into(),
        serde_json::json!({"format": "pt", "k": "v"}),
    );
    let mut h = serde_json::to_vec(&header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut v = (h.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(&h);
    v.extend_from_slice(&data);
    v
}

fn s_safetensors() -> Vec<Vec<u8>> {
    let f32s: Vec<u8> = rdm4().iter().flat_map(|x| x.to_le_bytes()).collect();
    let f16s: Vec<u8> = (0..6u16).flat_map(|i| (0x3c00 + i).to_le_bytes()).collect();
    let f64s: Vec<u8> = (0..3).flat_map(|i| (i as f64).to_le_bytes()).collect();
    vec![
        safetensors_of(&[
            ("rdm", "F32", &[4, 4], f32s.clone()),
            ("w", "F16", &[2, 3], f16s.clone()),
        ]),
        safetensors_of(&[
            ("a", "BF16", &[6], f16s),
            ("b", "F64", &[3], f64s),
            ("c", "I64", &[1], 7i64.to_le_bytes().to_vec()),
        ]),
        include_bytes!("../weights/fixtures/checkpoints/tiny.safetensors").to_vec(),
    ]
}

fn s_mat() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../tests/fixtures/mat/cells.mat").to_vec(),
        include_bytes!("../tests/fixtures/mat/cells_z.mat").to_vec(),
        include_bytes!("../tests/fixtures/mat/stim5.mat").to_vec(),
        include_bytes!("../tests/fixtures/rsa/rdms.mat").to_vec(),
    ]
}

fn s_pth_zip() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../weights/fixtures/checkpoints/tiny_zip.pt").to_vec(),
        include_bytes!("../weights/fixtures/checkpoints/tiny_bf16.pt").to_vec(),
        include_bytes!("../weights/fixtures/checkpoints/tiny_nested.pth").to_vec(),
    ]
}

fn s_pth_legacy() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../weights/fixtures/checkpoints/tiny_legacy.pt").to_vec(),
        include_bytes!("../weights/fixtures/checkpoints/tiny_py2_submodule.pth").to_vec(),
        include_bytes!("../weights/fixtures/checkpoints/hostile_eval.pt").to_vec(),
    ]
}

fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut c = std::io::Cursor::new(Vec::new());
    img.write_to(&mut c, format).unwrap();
    c.into_inner()
}

fn gradient(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 40) as u8, (y * 40) as u8, 128])
    })
}

fn s_png() -> Vec<Vec<u8>> {
    use image::{DynamicImage as D, ImageFormat::Png};
    let g = gradient(5, 4);
    vec![
        encode(D::ImageRgb8(g.clone()), Png),
        encode(D::ImageRgba8(D::ImageRgb8(g.clone()).to_rgba8()), Png),
        encode(D::ImageLuma16(D::ImageRgb8(g).to_luma16()), Png),
    ]
}

fn s_jpeg() -> Vec<Vec<u8>> {
    use image::{DynamicImage as D, ImageFormat::Jpeg};
    vec![
        encode(D::ImageRgb8(gradient(8, 8)), Jpeg),
        encode(D::ImageLuma8(D::ImageRgb8(gradient(9, 5)).to_luma8()), Jpeg),
    ]
}

fn s_bmp_tiff() -> Vec<Vec<u8>> {
    use image::{DynamicImage as D, ImageFormat};
    vec![
        encode(D::ImageRgb8(gradient(3, 3)), ImageFormat::Bmp),
        encode(D::ImageRgb8(gradient(3, 3)), ImageFormat::Tiff),
    ]
}

fn s_toml() -> Vec<Vec<u8>> {
    vec![
        ventral::analysis::config::AnalysisConfig::demo(PathBuf::from("out"))
            .to_toml()
            .into_bytes(),
        include_bytes!("kriegeskorte92.toml").to_vec(),
    ]
}

fn s_csv() -> Vec<Vec<u8>> {
    vec![
        b"file,label,animate\na.png,cat,1\n\"b,c.png\",\"dog \"\"x\"\"\",0\r\nd.jpg,,1\n".to_vec(),
        b"file\nx.png\n".to_vec(),
    ]
}

fn s_rdm_csv() -> Vec<Vec<u8>> {
    vec![
        b"0,1,2\n1,0,1.5\n2,1.5,0\n".to_vec(),
        b"0, 0.25, NaN, 1\n0.25,0,1,1\nNaN,1,0,1e3\n1,1,1e3,0\n".to_vec(),
    ]
}

pub fn parsers() -> Vec<Parser> {
    use Entry::{Bytes, File};
    let p = |name, entry, seeds, text| Parser {
        name,
        entry,
        seeds,
        text,
    };
    vec![
        p("npy", Bytes(p_npy), s_npy as fn() -> Vec<Vec<u8>>, true),
        p("rdm_npy", Bytes(p_rdm_npy), s_npy, true),
        p("npy_reader", File("npy", p_npy_reader), s_npy, true),
        p("npz", File("npz", p_read_arrays), s_npz, false),
        p(
            "safetensors",
            File("safetensors", p_read_arrays),
            s_safetensors,
            true,
        ),
        p(
            "tensor_file",
            File("safetensors", p_tensor_file),
            s_safetensors,
            true,
        ),
        p("mat", Bytes(p_mat), s_mat, false),
        p("mat_values", Bytes(p_mat_values), s_mat, false),
        p("pth_zip", Bytes(p_pth), s_pth_zip, false),
        p("pth_legacy", Bytes(p_pth), s_pth_legacy, false),
        p("png", File("png", p_image), s_png, false),
        p("jpeg", File("jpg", p_image), s_jpeg, false),
        p("bmp_tiff", File("img", p_image), s_bmp_tiff, false),
        p("analysis_toml", Bytes(p_toml), s_toml, true),
        p("csv", Bytes(p_csv), s_csv, true),
        p("rdm_csv", File("csv", p_rdms), s_rdm_csv, true),
    ]
}

// ---- mutators ------------------------------------------------------------------------------

const INTERESTING_BYTES: [u8; 6] = [0, 0xFF, 0x7F, 0x80, 1, 0xFE];
const INTERESTING_INTS: [u64; 9] = [
    0,
    1,
    u64::MAX,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    i64::MAX as u64,
    1 << 40,
    0xFFFF,
];
const INTERESTING_TEXT: [&str; 18] = [
    "0",
    "-1",
    "1",
    "4294967296",
    "18446744073709551616",
    "99999999999999999999999",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "()",
    "(0,)",
    "(1099511627776, 1099511627776)",
    "\"",
    "'",
    "[",
    "{",
    "",
];

fn span(rng: &mut ChaCha8Rng, len: usize) -> (usize, usize) {
    let a = rng.random_range(0..=len);
    let b = rng.random_range(a..=len.min(a + 64));
    (a, b)
}

fn mutate_once(rng: &mut ChaCha8Rng, v: &mut Vec<u8>, seeds: &[Vec<u8>], text: bool) {
    let kinds = if text { 11 } else { 9 };
    if v.is_empty() {
        v.push(rng.random());
        return;
    }
    let len = v.len();
    match rng.random_range(0..kinds) {
        0 => {
            for _ in 0..rng.random_range(1..=8) {
                let i = rng.random_range(0..len);
                v[i] ^= 1 << rng.random_range(0..8);
            }
        }
        1 => {
            let i = rng.random_range(0..len);
            v[i] = INTERESTING_BYTES[rng.random_range(0..INTERESTING_BYTES.len())];
        }
        2 => {
            // A 4- or 8-byte little-endian field set to an interesting or huge value.
            let w = if rng.random() { 4 } else { 8 };
            let x = if rng.random_range(0..4) == 0 {
                rng.random::<u64>()
            } else {
                INTERESTING_INTS[rng.random_range(0..INTERESTING_INTS.len())]
            };
            let i = rng.random_range(0..len);
            let bytes = x.to_le_bytes();
            for k in 0..w {
                if i + k < len {
                    v[i + k] = bytes[k];
                }
            }
        }
        3 => v.truncate(rng.random_range(0..len)),
        4 => {
            let (a, b) = span(rng, len);
            let piece = v[a..b].to_vec();
            let at = rng.random_range(0..=len);
            v.splice(at..at, piece);
        }
        5 => {
            let n = rng.random_range(1..=32);
            let at = rng.random_range(0..=len);
            let piece: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            v.splice(at..at, piece);
        }
        6 => {
            let (a, b) = span(rng, len);
            v.drain(a..b);
        }
        7 => {
            // Splice: our prefix, another seed's suffix.
            let other = &seeds[rng.random_range(0..seeds.len())];
            let cut = rng.random_range(0..=len);
            let from = rng.random_range(0..=other.len());
            v.truncate(cut);
            v.extend_from_slice(&other[from..]);
        }
        8 => {
            // A 2-byte field (lengths in npy, zip, mat) set to an extreme.
            let i = rng.random_range(0..len);
            let x: u16 = [0, 1, 0xFFFF, 0x7FFF, 0x8000][rng.random_range(0..5)];
            for (k, b) in x.to_le_bytes().into_iter().enumerate() {
                if i + k < len {
                    v[i + k] = b;
                }
            }
        }
        9 => {
            // Text: a number (a shape, a count, a value) replaced by an interesting token.
            let digits: Vec<usize> = (0..len).filter(|&i| v[i].is_ascii_digit()).collect();
            let tok = INTERESTING_TEXT[rng.random_range(0..INTERESTING_TEXT.len())].as_bytes();
            if digits.is_empty() {
                let at = rng.random_range(0..=len);
                v.splice(at..at, tok.iter().copied());
            } else {
                let a = digits[rng.random_range(0..digits.len())];
                let mut b = a;
                while b < len && (v[b].is_ascii_digit() || v[b] == b'.') {
                    b += 1;
                }
                v.splice(a..b, tok.iter().copied());
            }
        }
        _ => {
            // Text: a line duplicated, dropped or swapped with another; or a delimiter inserted.
            let lines: Vec<usize> = std::iter::once(0)
                .chain((0..len).filter(|&i| v[i] == b'\n').map(|i| i + 1))
                .filter(|&i| i <= len)
                .collect();
            let a = lines[rng.random_range(0..lines.len())];
            let b = v[a..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(len, |p| a + p + 1);
            match rng.random_range(0..3) {
                0 => {
                    let line = v[a..b].to_vec();
                    v.splice(a..a, line);
                }
                1 => {
                    v.drain(a..b);
                }
                _ => {
                    let ds: [&[u8]; 7] = [b",", b"=", b"\"", b"]", b"\n", b"[[x]]\n", b"\r"];
                    let d = ds[rng.random_range(0..7)];
                    let at = rng.random_range(a..=b);
                    v.splice(at..at, d.iter().copied());
                }
            }
        }
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The input number `index` of `parser` under `seed`: always the same bytes.
pub fn input(parser: &Parser, seeds: &[Vec<u8>], seed: u64, index: u64) -> Vec<u8> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&fnv(parser.name).to_le_bytes());
    key[16..24].copy_from_slice(&index.to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    let mut v = seeds[rng.random_range(0..seeds.len())].clone();
    // One input in 64 is a seed as is, so the valid paths stay exercised.
    if rng.random_range(0..64) == 0 {
        return v;
    }
    let n = match rng.random_range(0..8) {
        0..=3 => 1,
        4 | 5 => 2,
        6 => 4,
        _ => 8,
    };
    for _ in 0..n {
        mutate_once(&mut rng, &mut v, seeds, parser.text);
    }
    v
}

// ---- the engine ----------------------------------------------------------------------------

thread_local! {
    static FUZZING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic hook that, on fuzzing threads, records the message and location instead of printing.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let fuzzing = FUZZING.with(|f| {
                let mut f = f.borrow_mut();
                if let Some(slot) = f.as_mut() {
                    *slot = info.to_string();
                    true
                } else {
                    false
                }
            });
            if !fuzzing {
                previous(info);
            }
        }));
    });
}

pub fn findings_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/fuzz-findings"))
}

fn save(parser: &str, seed: u64, index: u64, kind: &str, bytes: &[u8]) -> PathBuf {
    let dir = findings_dir();
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join(format!("{parser}-s{seed}-i{index}-{kind}.bin"));
    let _ = std::fs::write(&p, bytes);
    p
}

/// Runs one input; Some(message) when it panicked.
fn run_one(parser: &Parser, bytes: &[u8], file: &Path) -> Result<bool, String> {
    FUZZING.with(|f| *f.borrow_mut() = Some(String::new()));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match parser.entry {
        Entry::Bytes(f) => f(bytes),
        Entry::File(_, f) => {
            std::fs::write(file, bytes).expect("cannot write the fuzz input file");
            f(file)
        }
    }));
    let msg = FUZZING.with(|f| f.borrow_mut().take()).unwrap_or_default();
    r.map_err(|_| msg)
}

fn scratch(parser: &Parser, worker: usize) -> PathBuf {
    let ext = match parser.entry {
        Entry::File(ext, _) => ext,
        Entry::Bytes(_) => "bin",
    };
    let dir = std::env::temp_dir().join(format!("ventral-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("{}-{worker}.{ext}", parser.name))
}

/// Runs inputs `0..inputs` of `parser` on `threads` workers.
pub fn campaign(parser: &Parser, inputs: u64, seed: u64, threads: usize) -> Stats {
    install_hook();
    let seeds = (parser.seeds)();
    let threads = threads.max(1);
    let start = Instant::now();
    let epoch = Instant::now();
    // Per worker: when its current input started (ns since epoch + 1; 0 = idle) and its index.
    let busy: Vec<(AtomicU64, AtomicU64)> = (0..threads)
        .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
        .collect();
    let done = AtomicBool::new(false);
    let total = Arc::new(Mutex::new(Stats::default()));
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|w| {
                let (seeds, busy, total) = (&seeds, &busy, total.clone());
                s.spawn(move || {
                    let file = scratch(parser, w);
                    let mut st = Stats::default();
                    let mut i = w as u64;
                    while i < inputs {
                        let bytes = input(parser, seeds, seed, i);
                        busy[w].1.store(i, Ordering::SeqCst);
                        let t0 = Instant::now();
                        busy[w]
                            .0
                            .store((t0 - epoch).as_nanos() as u64 + 1, Ordering::SeqCst);
                        let r = run_one(parser, &bytes, &file);
                        let dt = t0.elapsed();
                        busy[w].0.store(0, Ordering::SeqCst);
                        st.inputs += 1;
                        st.max_time = st.max_time.max(dt);
                        match r {
                            Ok(true) => st.ok += 1,
                            Ok(false) => st.err += 1,
                            Err(msg) => {
                                st.panics += 1;
                                let p = save(parser.name, seed, i, "panic", &bytes);
                                let line = format!(
                                    "{} #{i}: panic: {msg} (input {})",
                                    parser.name,
                                    p.display()
                                );
                                eprintln!("FINDING {line}");
                                st.findings.push(line);
                            }
                        }
                        if dt > HANG {
                            st.hangs += 1;
                            let p = save(parser.name, seed, i, "hang", &bytes);
                            let line = format!(
                                "{} #{i}: hang: {dt:?} (input {})",
                                parser.name,
                                p.display()
                            );
                            eprintln!("FINDING {line}");
                            st.findings.push(line);
                        }
                        i += threads as u64;
                    }
                    let _ = std::fs::remove_file(&file);
                    let mut t = total.lock().unwrap();
                    t.inputs += st.inputs;
                    t.ok += st.ok;
                    t.err += st.err;
                    t.panics += st.panics;
                    t.hangs += st.hangs;
                    t.max_time = t.max_time.max(st.max_time);
                    t.findings.extend(st.findings);
                })
            })
            .collect();
        // The watchdog: reports (and saves) an input still running past the limit, once.
        let (busy, done) = (&busy, &done);
        let seeds = &seeds;
        s.spawn(move || {
            let mut reported = vec![u64::MAX; busy.len()];
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
                let now = (Instant::now() - epoch).as_nanos() as u64;
                for (w, (t, idx)) in busy.iter().enumerate() {
                    let t = t.load(Ordering::SeqCst);
                    let i = idx.load(Ordering::SeqCst);
                    if t != 0
                        && (now + 1).saturating_sub(t) > HANG.as_nanos() as u64
                        && reported[w] != i
                    {
                        reported[w] = i;
                        let p = save(parser.name, seed, i, "hang", &input(parser, seeds, seed, i));
                        eprintln!(
                            "HANG? {} #{i} has run over {HANG:?} (input {})",
                            parser.name,
                            p.display()
                        );
                    }
                }
            }
        });
        for w in workers {
            w.join().unwrap();
        }
        total.lock().unwrap().elapsed = start.elapsed();
        done.store(true, Ordering::SeqCst);
    });
    let t = total.lock().unwrap().clone();
    t
}

pub fn report_line(name: &str, s: &Stats) -> String {
    format!(
        "{name:<14} inputs {:>9}  ok {:>8}  err {:>9}  panics {}  hangs {}  max {:>9.3?}  elapsed {:>8.1?}",
        s.inputs, s.ok, s.err, s.panics, s.hangs, s.max_time, s.elapsed
    )
}

#[allow(dead_code)]
fn main() {
    let mut parser = "all".to_string();
    let mut inputs: u64 = 10_000;
    let mut seed: u64 = 0;
    let mut index: Option<u64> = None;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().expect("missing value");
        match a.as_str() {
            "--parser" => parser = val(),
            "--inputs" => inputs = val().replace('_', "").parse().expect("--inputs N"),
            "--seed" => seed = val().parse().expect("--seed S"),
            "--index" => index = Some(val().parse().expect("--index I")),
            "--threads" => threads = val().parse().expect("--threads T"),
            other => {
                eprintln!("usage: fuzz --parser all|NAME --inputs N --seed S [--threads T] [--index I]; unknown {other}");
                std::process::exit(2);
            }
        }
    }
    let all = parsers();
    let chosen: Vec<&Parser> = all
        .iter()
        .filter(|p| parser == "all" || parser.split(',').any(|n| n == p.name))
        .collect();
    if chosen.is_empty() {
        let names: Vec<_> = all.iter().map(|p| p.name).collect();
        eprintln!("unknown parser {parser}; one of: all, {}", names.join(", "));
        std::process::exit(2);
    }
    if let Some(i) = index {
        for p in chosen {
            let bytes = input(p, &(p.seeds)(), seed, i);
            let path = save(p.name, seed, i, "replay", &bytes);
            println!(
                "{} #{i}: {} bytes saved to {}",
                p.name,
                bytes.len(),
                path.display()
            );
            install_hook();
            let t0 = Instant::now();
            let r = run_one(p, &bytes, &scratch(p, 0));
            println!("  -> {r:?} in {:?}", t0.elapsed());
        }
        return;
    }
    println!("seed {seed}, {threads} threads, {inputs} inputs per parser");
    let mut bad = 0;
    for p in chosen {
        let s = campaign(p, inputs, seed, threads);
        println!("{}", report_line(p.name, &s));
        for f in &s.findings {
            println!("  {f}");
        }
        bad += s.panics + s.hangs;
    }
    if bad > 0 {
        std::process::exit(1);
    }
}
