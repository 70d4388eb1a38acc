//! The Gram product X̃·X̃ᵀ of prepared pattern rows, once per executor: the GPU streams feature
//! chunks through its matmul kernel, native threads run a register-tiled f32 kernel, the
//! reference sums in f64. Every path sums at most a few thousand features in f32 and adds those
//! partial sums in f64, so a layer with millions of features matches the f64 reference closely.
//! RDMs ([`super::rdm`]) and CKA ([`super::cka`]) are built on it.

use super::rdm::Prepared;
use crate::error::Result;
use crate::exec::Engine;
use crate::gpu::Context;
use crate::ops::matmul::{matmul, Matmul};
use crate::ops::ranges;

/// Patterns `x: [n, p]` (row-major) with the preparation (shifts and scales) applied on the fly.
pub struct Rows<'a> {
    pub x: &'a [f32],
    pub n: usize,
    pub p: usize,
    pub(super) prep: &'a Prepared,
}

impl Rows<'_> {
    fn value(&self, i: usize, k: usize) -> f64 {
        self.prep.value(self.x, self.p, i, k)
    }

    /// Prepared values of row `i`, features `k0..k0 + out.len()`, rounded to f32 (the same
    /// values as [`Rows::value`]).
    #[inline(always)]
    fn prepared_chunk(&self, i: usize, k0: usize, out: &mut [f32]) {
        let x = &self.x[i * self.p + k0..i * self.p + k0 + out.len()];
        let cols = &self.prep.col_shift[k0..k0 + out.len()];
        let (shift, scale) = (self.prep.row_shift[i], self.prep.scale[i]);
        for ((o, &v), &c) in out.iter_mut().zip(x).zip(cols) {
            *o = ((f64::from(v) - shift - c) * scale) as f32;
        }
    }
}

/// The Gram matrices (`n × n`, row-major, f64) of several row sets on `engine`.
pub fn grams_on(engine: &Engine, rows: &[Rows<'_>]) -> Result<Vec<Vec<f64>>> {
    match engine {
        Engine::Gpu(ctx) => grams_gpu(ctx, rows, 64 << 20),
        // Many sets (every layer of a model): one set per thread; few: each set on all threads.
        // Either way each Gram's arithmetic is the same, so the result is too.
        Engine::Native(exec) if rows.len() >= exec.threads() => Ok(exec.install(|| {
            use rayon::prelude::*;
            rows.par_iter().map(|r| gram_native(r, 1)).collect()
        })),
        Engine::Native(exec) => Ok(rows
            .iter()
            .map(|r| gram_native(r, exec.threads()))
            .collect()),
        Engine::Reference(_) => Ok(rows.iter().map(gram_reference).collect()),
    }
}

/// The Gram matrix summed in f64.
pub fn gram_reference(r: &Rows<'_>) -> Vec<f64> {
    let n = r.n;
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..r.p).map(|k| r.value(i, k)).collect())
        .collect();
    let mut gram = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let g: f64 = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
            gram[i * n + j] = g;
            gram[j * n + i] = g;
        }
    }
    gram
}

/// Features per f32 block of the native path before its sums move to f64.
const NATIVE_CHUNK: usize = 256;

/// The Gram matrix with native CPU threads: a register-tiled f32 kernel (4 rows × 16 columns per
/// tile, upper triangle only) over blocks of 256 features whose sums are added in f64. `threads`
/// 0 uses every core.
pub fn gram_native(r: &Rows<'_>, threads: usize) -> Vec<f64> {
    let n = r.n;
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |t| t.get())
    } else {
        threads
    };
    let np = n.next_multiple_of(16);
    let mut gram = vec![0.0f64; n * n];
    {
        // Bands of 4 rows, dealt round-robin so every thread gets a share of the long and the
        // short rows of the triangle; each thread writes only its own rows.
        let mut bands: Vec<Vec<(usize, &mut [f64])>> = (0..threads).map(|_| Vec::new()).collect();
        for (b, band) in gram.chunks_mut(4 * n).enumerate() {
            bands[b % threads].push((4 * b, band));
        }
        std::thread::scope(|scope| {
            for mine in bands {
                scope.spawn(move || {
                    // Compiled for the CPU's widest SIMD (the bits do not depend on it).
                    pulp::Arch::new().dispatch(Bands { r, np, mine });
                });
            }
        });
    }
    for i in 0..n {
        for j in i + 1..n {
            gram[j * n + i] = gram[i * n + j];
        }
    }
    gram
}

/// One thread's bands of the Gram matrix, summed over every chunk of features.
struct Bands<'a, 'g> {
    r: &'a Rows<'a>,
    np: usize,
    mine: Vec<(usize, &'g mut [f64])>,
}

impl pulp::WithSimd for Bands<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Bands { r, np, mut mine } = self;
        // Chunk of features, transposed: xt[k * np + i], zero-padded to np rows.
        let mut xt = vec![0f32; NATIVE_CHUNK * np];
        let mut row = [0f32; NATIVE_CHUNK];
        for k0 in (0..r.p).step_by(NATIVE_CHUNK) {
            let kw = NATIVE_CHUNK.min(r.p - k0);
            for i in 0..r.n {
                // One row's chunk prepared contiguously, then transposed.
                r.prepared_chunk(i, k0, &mut row[..kw]);
                for (k, &v) in row[..kw].iter().enumerate() {
                    xt[k * np + i] = v;
                }
            }
            for (i0, band) in mine.iter_mut() {
                gram_band(&xt[..kw * np], np, r.n, *i0, band);
            }
        }
    }
}

/// Adds rows `i0..i0 + 4` (columns from the diagonal tile on) of `xtᵀ·xt` into `band`.
#[inline(always)]
fn gram_band(xt: &[f32], np: usize, n: usize, i0: usize, band: &mut [f64]) {
    let kw = xt.len() / np;
    let rows = (n - i0).min(4);
    for j0 in ((i0 / 16) * 16..n).step_by(16) {
        let mut acc = [[0f32; 16]; 4];
        for k in 0..kw {
            let col = &xt[k * np..(k + 1) * np];
            let a = [col[i0], col[i0 + 1], col[i0 + 2], col[i0 + 3]];
            let b: &[f32; 16] = col[j0..j0 + 16].try_into().expect("padded to 16");
            for (r, ar) in a.iter().enumerate() {
                for (c, bc) in b.iter().enumerate() {
                    acc[r][c] += ar * bc;
                }
            }
        }
        let cols = (n - j0).min(16);
        for (r, row) in acc.iter().enumerate().take(rows) {
            for (c, v) in row.iter().enumerate().take(cols) {
                band[r * n + j0 + c] += f64::from(*v);
            }
        }
    }
}

/// Most features one GPU Gram product sums in f32 before the f64 accumulation takes over: keeps
/// the f32 rounding of a 3M-feature layer's correlations near 1e-7 (a single f32 sum over 100k
/// features is off by ~1e-3).
pub const GRAM_CHUNK: usize = 4096;

/// The Gram matrices of several row sets on the GPU. Each round records one feature chunk of
/// every unfinished set (prepared rows in f32, at most `chunk_bytes` each) and its Gram product
/// into one submission; the chunks' Grams are read back and summed in f64. A chunk is at most
/// [`GRAM_CHUNK`] features.
pub fn grams_gpu(ctx: &Context, layers: &[Rows<'_>], chunk_bytes: usize) -> Result<Vec<Vec<f64>>> {
    let chunk_cols: Vec<usize> = layers
        .iter()
        .map(|l| (chunk_bytes / 4 / l.n).clamp(1, GRAM_CHUNK).min(l.p))
        .collect();
    let mut grams: Vec<Vec<f64>> = layers.iter().map(|l| vec![0.0; l.n * l.n]).collect();
    let rounds = layers
        .iter()
        .zip(&chunk_cols)
        .map(|(l, c)| l.p.div_ceil(*c))
        .max()
        .unwrap_or(0);
    let opts = Matmul {
        trans_b: true,
        ..Matmul::default()
    };
    // The Gram matrix is symmetric: rows are split into blocks and only blocks (bi ≤ bj) are
    // multiplied (with 4 blocks, 10 of 16 products).
    let blocks = |n: usize| -> Vec<(usize, usize)> {
        ranges(n, n.div_ceil(if n >= 256 { 4 } else { 1 })).collect()
    };
    for round in 0..rounds {
        let mut rec = ctx.recorder();
        let mut outs = Vec::new();
        for (li, l) in layers.iter().enumerate() {
            let (k0, k1) = (
                round * chunk_cols[li],
                ((round + 1) * chunk_cols[li]).min(l.p),
            );
            if k0 >= k1 {
                continue;
            }
            let w = k1 - k0;
            let rows = blocks(l.n);
            let tiles = rows
                .iter()
                .map(|&(r0, r1)| {
                    let mut chunk = Vec::with_capacity((r1 - r0) * w);
                    for i in r0..r1 {
                        chunk.extend((k0..k1).map(|k| l.value(i, k) as f32));
                    }
                    ctx.upload(&chunk, &[r1 - r0, w])
                })
                .collect::<Result<Vec<_>>>()?;
            for bi in 0..rows.len() {
                for bj in bi..rows.len() {
                    let g = matmul(&mut rec, &tiles[bi], &tiles[bj], None, opts)?;
                    outs.push((li, rows[bi], rows[bj], g));
                }
            }
        }
        rec.submit()?;
        let read = ctx.read_many(&outs.iter().map(|o| &o.3).collect::<Vec<_>>())?;
        for ((li, (r0, r1), (c0, c1), _), g) in outs.iter().zip(read) {
            let n = layers[*li].n;
            let gram = &mut grams[*li];
            let width = c1 - c0;
            for i in *r0..*r1 {
                for j in *c0..*c1 {
                    let v = f64::from(g[(i - r0) * width + (j - c0)]);
                    gram[i * n + j] += v;
                    if r0 != c0 {
                        gram[j * n + i] += v;
                    }
                }
            }
        }
    }
    Ok(grams)
}
