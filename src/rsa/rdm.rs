//! RDMs from pattern matrices `[N, P]` (SCIENCE.md §1): a CPU twin in f64 and a GPU path that
//! normalises on the host in f64, streams feature chunks through the GPU Gram product (X·Xᵀ) and
//! accumulates the chunks' Grams in f64, so a layer with millions of features never sits whole in
//! one binding or in GPU memory, and matches an f64 reference closely.

use crate::error::{Error, Result};
use crate::exec::Engine;
use crate::gpu::Context;
use crate::ops::matmul::{matmul, Matmul};
use crate::ops::ranges;
use crate::rsa::condensed::pair_count;

/// Dissimilarity between two patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// 1 − Pearson correlation of the two patterns (scipy `correlation`).
    Correlation,
    /// 1 − cosine similarity (scipy `cosine`).
    Cosine,
    /// Plain L2 distance (scipy `euclidean`, the Arun lab).
    Euclidean,
    /// Squared L2 distance (scipy `sqeuclidean`).
    SqEuclidean,
    /// Squared L2 distance ÷ feature count (rsatoolbox's `euclidean`).
    RsatoolboxEuclidean,
}

named_enum!(Metric, "RDM metric", {
    Correlation => "correlation",
    Cosine => "cosine",
    Euclidean => "euclidean",
    SqEuclidean => "sqeuclidean",
    RsatoolboxEuclidean => "rsatoolbox-euclidean",
});

/// Per-row preparation shared by both paths: rows are shifted (by their own mean for
/// correlation, by the column mean for the Euclidean family, which leaves distances unchanged
/// and avoids cancellation) and scaled (by their norm for correlation and cosine). Rows whose
/// norm is 0 are marked degenerate (NaN distances, as scipy).
struct Prepared {
    row_shift: Vec<f64>,
    col_shift: Vec<f64>,
    scale: Vec<f64>,
    degenerate: Vec<bool>,
}

fn prepare(x: &[f32], n: usize, p: usize, metric: Metric) -> Prepared {
    let row = |i: usize| &x[i * p..(i + 1) * p];
    let mut row_shift = vec![0.0; n];
    let mut col_shift = vec![0.0; p];
    match metric {
        Metric::Correlation => {
            for (i, s) in row_shift.iter_mut().enumerate() {
                *s = row(i).iter().map(|&v| f64::from(v)).sum::<f64>() / p as f64;
            }
        }
        Metric::Cosine => {}
        _ => {
            for i in 0..n {
                for (c, &v) in col_shift.iter_mut().zip(row(i)) {
                    *c += f64::from(v);
                }
            }
            col_shift.iter_mut().for_each(|c| *c /= n as f64);
        }
    }
    let mut scale = vec![1.0; n];
    let mut degenerate = vec![false; n];
    if matches!(metric, Metric::Correlation | Metric::Cosine) {
        for i in 0..n {
            let ss: f64 = row(i)
                .iter()
                .map(|&v| (f64::from(v) - row_shift[i]).powi(2))
                .sum();
            degenerate[i] = ss == 0.0;
            scale[i] = if ss > 0.0 { 1.0 / ss.sqrt() } else { 0.0 };
        }
    }
    Prepared {
        row_shift,
        col_shift,
        scale,
        degenerate,
    }
}

impl Prepared {
    fn value(&self, x: &[f32], p: usize, i: usize, k: usize) -> f64 {
        (f64::from(x[i * p + k]) - self.row_shift[i] - self.col_shift[k]) * self.scale[i]
    }

    /// Condensed distances from the Gram matrix of the prepared rows.
    fn finish(&self, gram: &[f64], n: usize, p: usize, metric: Metric) -> Vec<f64> {
        let mut out = Vec::with_capacity(pair_count(n));
        for i in 0..n {
            for j in i + 1..n {
                let g = gram[i * n + j];
                let d = match metric {
                    _ if self.degenerate[i] || self.degenerate[j] => f64::NAN,
                    Metric::Correlation | Metric::Cosine => 1.0 - g,
                    _ => {
                        let sq = (gram[i * n + i] + gram[j * n + j] - 2.0 * g).max(0.0);
                        match metric {
                            Metric::Euclidean => sq.sqrt(),
                            Metric::SqEuclidean => sq,
                            _ => sq / p as f64,
                        }
                    }
                };
                out.push(d);
            }
        }
        out
    }

    /// Stimuli whose patterns are degenerate for this metric.
    fn degenerate_rows(&self) -> Vec<usize> {
        self.degenerate
            .iter()
            .enumerate()
            .filter(|(_, &d)| d)
            .map(|(i, _)| i)
            .collect()
    }
}

/// Fails unless `x` is `[n ≥ 2, p ≥ 1]` finite patterns; `what` names the consumer in errors.
pub(super) fn check_patterns(what: &str, x: &[f32], n: usize, p: usize) -> Result<()> {
    if n < 2 || p == 0 || x.len() != n * p {
        return Err(Error::Invalid(format!(
            "{what} input must be [N ≥ 2, P ≥ 1] patterns; got {} values for N = {n}, P = {p}",
            x.len()
        )));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!(
            "pattern of stimulus {} holds a non-finite value ({}) at feature {}",
            i / p,
            x[i],
            i % p
        )));
    }
    Ok(())
}

/// Condensed RDM of `x: [n, p]` (row-major) in f64: the CPU twin of [`rdms_gpu`]. Constant
/// patterns (correlation) and zero patterns (cosine) give NaN for each of their pairs.
pub fn rdm_cpu(x: &[f32], n: usize, p: usize, metric: Metric) -> Result<Rdm> {
    check_patterns("RDM", x, n, p)?;
    let prep = prepare(x, n, p, metric);
    let mut gram = vec![0.0; n * n];
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..p).map(|k| prep.value(x, p, i, k)).collect())
        .collect();
    for i in 0..n {
        for j in i..n {
            let g: f64 = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
            gram[i * n + j] = g;
            gram[j * n + i] = g;
        }
    }
    Ok(Rdm {
        condensed: prep.finish(&gram, n, p, metric),
        degenerate: prep.degenerate_rows(),
    })
}

/// Features per f32 block of the native path before its sums move to f64.
const NATIVE_CHUNK: usize = 256;

/// Condensed RDM of `x: [n, p]` with native CPU threads: the same preparation and f64 finish as
/// [`rdms_gpu`], the Gram product as a register-tiled f32 kernel (4 rows × 16 columns per tile,
/// upper triangle only) over blocks of 256 features whose sums are added in f64. On a CPU adapter
/// such as lavapipe this is several times faster than the GPU path; `threads` 0 uses every core.
pub fn rdm_native(x: &[f32], n: usize, p: usize, metric: Metric, threads: usize) -> Result<Rdm> {
    check_patterns("RDM", x, n, p)?;
    let prep = prepare(x, n, p, metric);
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
                let prep = &prep;
                scope.spawn(move || {
                    let mut mine = mine;
                    // Chunk of features, transposed: xt[k * np + i], zero-padded to np rows.
                    let mut xt = vec![0f32; NATIVE_CHUNK * np];
                    for k0 in (0..p).step_by(NATIVE_CHUNK) {
                        let kw = NATIVE_CHUNK.min(p - k0);
                        for i in 0..n {
                            for k in 0..kw {
                                xt[k * np + i] = prep.value(x, p, i, k0 + k) as f32;
                            }
                        }
                        for (i0, band) in mine.iter_mut() {
                            gram_band(&xt[..kw * np], np, n, *i0, band);
                        }
                    }
                });
            }
        });
    }
    for i in 0..n {
        for j in i + 1..n {
            gram[j * n + i] = gram[i * n + j];
        }
    }
    Ok(Rdm {
        condensed: prep.finish(&gram, n, p, metric),
        degenerate: prep.degenerate_rows(),
    })
}

/// Adds rows `i0..i0 + 4` (columns from the diagonal tile on) of `xtᵀ·xt` into `band`.
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

/// One layer's patterns for [`rdms_gpu`]: `[n, p]` row-major.
pub struct Patterns<'a> {
    pub data: &'a [f32],
    pub n: usize,
    pub p: usize,
}

/// A computed RDM with the stimuli whose patterns made some of its entries NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Rdm {
    pub condensed: Vec<f64>,
    pub degenerate: Vec<usize>,
}

/// Most features one GPU Gram product sums in f32 before the f64 accumulation takes over: keeps
/// the f32 rounding of a 3M-feature layer's correlations near 1e-7 (a single f32 sum over 100k
/// features is off by ~1e-3).
pub const GRAM_CHUNK: usize = 4096;

/// Condensed RDMs of several layers on the GPU. Each round records one feature chunk of every
/// unfinished layer (prepared rows in f32, at most `chunk_bytes` each) and its Gram product into
/// one submission; the chunks' Grams are read back and summed in f64. A chunk is at most
/// [`GRAM_CHUNK`] features.
pub fn rdms_gpu(
    ctx: &Context,
    layers: &[Patterns<'_>],
    metric: Metric,
    chunk_bytes: usize,
) -> Result<Vec<Rdm>> {
    for l in layers {
        check_patterns("RDM", l.data, l.n, l.p)?;
    }
    let preps: Vec<Prepared> = layers
        .iter()
        .map(|l| prepare(l.data, l.n, l.p, metric))
        .collect();
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
                        chunk.extend((k0..k1).map(|k| preps[li].value(l.data, l.p, i, k) as f32));
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
    Ok(layers
        .iter()
        .zip(&preps)
        .zip(&grams)
        .map(|((l, prep), gram)| Rdm {
            condensed: prep.finish(gram, l.n, l.p, metric),
            degenerate: prep.degenerate_rows(),
        })
        .collect())
}

/// RDMs of several pattern sets on `engine` (GPU kernels, native threads, or the f64
/// reference); returns them with a description of where they ran. Errors name the layer
/// (`names[i]`).
pub fn rdms_on(
    engine: &Engine,
    layers: &[Patterns<'_>],
    names: &[String],
    metric: Metric,
) -> Result<(Vec<Rdm>, String)> {
    let per_layer = |f: &dyn Fn(&Patterns<'_>) -> Result<Rdm>| -> Result<Vec<Rdm>> {
        layers
            .iter()
            .zip(names)
            .map(|(l, name)| f(l).map_err(|e| Error::Invalid(format!("{name}: {e}"))))
            .collect()
    };
    let rdms = match engine {
        Engine::Gpu(ctx) => rdms_gpu(ctx, layers, metric, 64 << 20)?,
        Engine::Native(exec) => {
            let threads = exec.threads();
            per_layer(&|l| rdm_native(l.data, l.n, l.p, metric, threads))?
        }
        Engine::Reference(_) => per_layer(&|l| rdm_cpu(l.data, l.n, l.p, metric))?,
    };
    Ok((rdms, engine.summary()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_path_matches_the_f64_twin() {
        // n not a multiple of 4 or 16, p not a multiple of the 256-feature block.
        let (n, p) = (37, 600);
        let x: Vec<f32> = (0..n * p)
            .map(|i| ((i * 7919 % 1009) as f32 / 97.0).sin() + 3.0)
            .collect();
        for metric in [
            Metric::Correlation,
            Metric::Cosine,
            Metric::Euclidean,
            Metric::RsatoolboxEuclidean,
        ] {
            let want = rdm_cpu(&x, n, p, metric).unwrap().condensed;
            for threads in [1, 3] {
                let got = rdm_native(&x, n, p, metric, threads).unwrap().condensed;
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
                    .fold(0.0, f64::max);
                // f32 products: Euclidean distances come from G_ii + G_jj − 2G_ij and lose a few more bits.
                let tol = if matches!(metric, Metric::Correlation | Metric::Cosine) {
                    1e-6
                } else {
                    1e-5
                };
                assert!(worst < tol, "{metric} with {threads} threads: {worst:e}");
            }
        }
    }

    #[test]
    fn science_md_test_vector() {
        // SCIENCE.md §1.4 (scipy / rsatoolbox).
        let x = [
            1.0f32, 2.0, 3.0, 2.0, 4.0, 1.0, 0.0, 1.0, 0.0, 3.0, 1.0, 2.0,
        ];
        let want = [
            (
                Metric::Correlation,
                vec![
                    1.3273268354,
                    1.0,
                    1.5,
                    0.0550888175,
                    1.6546536707,
                    1.8660254038,
                ],
            ),
            (
                Metric::Euclidean,
                vec![
                    3.0,
                    3.3166247904,
                    2.4494897428,
                    3.7416573868,
                    3.3166247904,
                    3.6055512755,
                ],
            ),
            (Metric::SqEuclidean, vec![9.0, 11.0, 6.0, 14.0, 11.0, 13.0]),
            (
                Metric::RsatoolboxEuclidean,
                vec![
                    3.0,
                    3.6666666667,
                    2.0,
                    4.6666666667,
                    3.6666666667,
                    4.3333333333,
                ],
            ),
            (
                Metric::Cosine,
                vec![
                    0.2418246034,
                    0.4654775162,
                    0.2142857143,
                    0.1271284391,
                    0.3001457878,
                    0.7327387581,
                ],
            ),
        ];
        for (metric, w) in want {
            let got = rdm_cpu(&x, 4, 3, metric).unwrap().condensed;
            for (g, w) in got.iter().zip(&w) {
                assert!((g - w).abs() < 1e-9, "{metric}: {got:?} vs {w:?}");
            }
        }
        let constant = [1.0f32, 1.0, 1.0, 1.0, 2.0, 3.0, 3.0, 2.0, 1.0];
        let r = rdm_cpu(&constant, 3, 3, Metric::Correlation).unwrap();
        assert_eq!(r.degenerate, [0]);
        let got = r.condensed;
        assert!(got[0].is_nan() && got[1].is_nan());
        assert!((got[2] - 2.0).abs() < 1e-12);
        assert!(rdm_cpu(&[1.0, f32::NAN], 2, 1, Metric::Cosine).is_err());
        assert!(rdm_cpu(&[1.0, 2.0], 1, 2, Metric::Cosine).is_err());
    }
}
