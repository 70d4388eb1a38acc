//! RDMs from pattern matrices `[N, P]` (SCIENCE.md §1): a CPU twin in f64 and a GPU path that
//! normalises on the host in f64, streams feature chunks through the GPU Gram product (X·Xᵀ) and
//! accumulates the chunks' Grams in f64, so a layer with millions of features never sits whole in
//! one binding or in GPU memory, and matches an f64 reference closely.

use crate::error::{Error, Result};
use crate::exec::Engine;
use crate::gpu::Context;
use crate::rsa::condensed::pair_count;
use crate::rsa::gram::{self, Rows};

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
pub(super) struct Prepared {
    pub(super) row_shift: Vec<f64>,
    pub(super) col_shift: Vec<f64>,
    pub(super) scale: Vec<f64>,
    degenerate: Vec<bool>,
}

/// `Σ f(v)` in f64 over eight interleaved partial sums (added in a fixed order, so the result
/// is the same on every run; the independent lanes let the loop vectorise).
#[inline(always)]
fn lane_sum(v: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    acc.iter().sum::<f64>() + tail
}

pub(super) fn prepare(x: &[f32], n: usize, p: usize, metric: Metric) -> Prepared {
    // Compiled for the CPU's widest SIMD; the sums' order, and so their bits, stay the same.
    crate::exec::native::vectorized(|| prepare_rows(x, n, p, metric))
}

#[inline(always)]
fn prepare_rows(x: &[f32], n: usize, p: usize, metric: Metric) -> Prepared {
    let row = |i: usize| &x[i * p..(i + 1) * p];
    let mut row_shift = vec![0.0; n];
    let mut col_shift = vec![0.0; p];
    match metric {
        Metric::Correlation => {
            for (i, s) in row_shift.iter_mut().enumerate() {
                *s = lane_sum(row(i), f64::from) / p as f64;
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
            let shift = row_shift[i];
            let ss = lane_sum(row(i), |v| (f64::from(v) - shift).powi(2));
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
    pub(super) fn value(&self, x: &[f32], p: usize, i: usize, k: usize) -> f64 {
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

    /// The RDM from the Gram matrix of the prepared rows.
    fn rdm(&self, gram: &[f64], n: usize, p: usize, metric: Metric) -> Rdm {
        Rdm {
            condensed: self.finish(gram, n, p, metric),
            degenerate: self.degenerate_rows(),
        }
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

/// Condensed RDM of `x: [n, p]` (row-major) in f64: the reference twin of [`rdms_gpu`].
/// Constant patterns (correlation) and zero patterns (cosine) give NaN for each of their pairs.
pub fn rdm_cpu(x: &[f32], n: usize, p: usize, metric: Metric) -> Result<Rdm> {
    check_patterns("RDM", x, n, p)?;
    let prep = prepare(x, n, p, metric);
    let gram = gram::gram_reference(&Rows {
        x,
        n,
        p,
        prep: &prep,
    });
    Ok(prep.rdm(&gram, n, p, metric))
}

/// Condensed RDM of `x: [n, p]` with native CPU threads: the same preparation and f64 finish as
/// [`rdms_gpu`], the Gram product by [`gram::gram_native`]. `threads` 0 uses every core.
pub fn rdm_native(x: &[f32], n: usize, p: usize, metric: Metric, threads: usize) -> Result<Rdm> {
    check_patterns("RDM", x, n, p)?;
    let prep = prepare(x, n, p, metric);
    let gram = gram::gram_native(
        &Rows {
            x,
            n,
            p,
            prep: &prep,
        },
        threads,
    );
    Ok(prep.rdm(&gram, n, p, metric))
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

/// Condensed RDMs of several layers on the GPU: prepared rows streamed through the GPU Gram
/// product in feature chunks of at most `chunk_bytes` (see [`gram::grams_gpu`]).
pub fn rdms_gpu(
    ctx: &Context,
    layers: &[Patterns<'_>],
    metric: Metric,
    chunk_bytes: usize,
) -> Result<Vec<Rdm>> {
    let names: Vec<String> = (0..layers.len()).map(|i| format!("layer {i}")).collect();
    rdms_with(layers, &names, metric, |rows| {
        gram::grams_gpu(ctx, rows, chunk_bytes)
    })
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
    let rdms = rdms_with(layers, names, metric, |rows| gram::grams_on(engine, rows))?;
    Ok((rdms, engine.summary()))
}

/// Checks and prepares every layer (errors name it, `names[i]`), computes their Gram matrices
/// with `grams` and finishes the RDMs.
fn rdms_with(
    layers: &[Patterns<'_>],
    names: &[String],
    metric: Metric,
    grams: impl FnOnce(&[Rows<'_>]) -> Result<Vec<Vec<f64>>>,
) -> Result<Vec<Rdm>> {
    use rayon::prelude::*;
    // Layers are checked and prepared in parallel; each preparation is the same on any thread.
    let preps: Vec<Prepared> = layers
        .par_iter()
        .zip(names)
        .map(|(l, name)| {
            check_patterns("RDM", l.data, l.n, l.p)
                .map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
            Ok(prepare(l.data, l.n, l.p, metric))
        })
        .collect::<Result<_>>()?;
    let rows: Vec<Rows<'_>> = layers
        .iter()
        .zip(&preps)
        .map(|(l, prep)| Rows {
            x: l.data,
            n: l.n,
            p: l.p,
            prep,
        })
        .collect();
    let grams = grams(&rows)?;
    Ok(rows
        .iter()
        .zip(&grams)
        .map(|(r, g)| r.prep.rdm(g, r.n, r.p, metric))
        .collect())
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
            assert_eq!(
                rdm_native(&x, n, p, metric, 1).unwrap(),
                rdm_native(&x, n, p, metric, 3).unwrap(),
                "{metric}: the thread count changes the bits"
            );
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
