//! Elementwise activations, residual add, batch norm (inference) and layer norm.

use rayon::prelude::*;

use super::{exp_approx, expect_len, vectorized, volume, FLAT_CHUNK};
use crate::error::Result;

fn relu1(v: f32) -> f32 {
    if v <= 0.0 {
        0.0
    } else {
        v
    }
}

/// `out = max(x, 0)`, NaN propagating (as [`crate::ops::elementwise::cpu::relu`]). Any shape;
/// `out` must be as long as `x`.
pub fn relu(x: &[f32], out: &mut [f32]) -> Result<()> {
    expect_len("relu", "output", out.len(), x.len())?;
    out.par_chunks_mut(FLAT_CHUNK)
        .zip(x.par_chunks(FLAT_CHUNK))
        .for_each(|(o, x)| o.iter_mut().zip(x).for_each(|(o, &v)| *o = relu1(v)));
    Ok(())
}

/// [`relu`] in place.
pub fn relu_in_place(x: &mut [f32]) {
    x.par_chunks_mut(FLAT_CHUNK)
        .for_each(|c| c.iter_mut().for_each(|v| *v = relu1(*v)));
}

/// `out = 0.5·x·(1 + erf(x/√2))`, the exact-erf GELU (PyTorch's default), within about 3e-7
/// relative: `erfc` by the Numerical Recipes Chebyshev fit (fractional error < 1.2e-7) on a
/// vectorisable `exp`. `out` must be as long as `x`.
pub fn gelu(x: &[f32], out: &mut [f32]) -> Result<()> {
    expect_len("gelu", "output", out.len(), x.len())?;
    out.par_chunks_mut(FLAT_CHUNK)
        .zip(x.par_chunks(FLAT_CHUNK))
        .for_each(|(o, x)| {
            vectorized(|| {
                for (o, &v) in o.iter_mut().zip(x) {
                    *o = gelu1(v);
                }
            })
        });
    Ok(())
}

/// GELU of one value via `erfc(|x|/√2)`: `0.5·x·erfc` below zero, `x·(1 − 0.5·erfc)` above.
#[inline(always)]
fn gelu1(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * exp_approx(poly - z * z);
    if x < 0.0 {
        0.5 * x * erfc
    } else {
        x * (1.0 - 0.5 * erfc)
    }
}

/// `out = x + y` for slices of one length.
pub fn add(x: &[f32], y: &[f32], out: &mut [f32]) -> Result<()> {
    expect_len("add", "second operand", y.len(), x.len())?;
    expect_len("add", "output", out.len(), x.len())?;
    out.par_chunks_mut(FLAT_CHUNK)
        .zip(x.par_chunks(FLAT_CHUNK).zip(y.par_chunks(FLAT_CHUNK)))
        .for_each(|(o, (x, y))| {
            for ((o, &a), &b) in o.iter_mut().zip(x).zip(y) {
                *o = a + b;
            }
        });
    Ok(())
}

/// Batch norm in inference mode over `x: [n, c, inner]` (as
/// [`crate::ops::norm::cpu::batch_norm`]): `(x − mean)·gamma/√(var + eps) + beta` per channel,
/// `stats = [mean, var, gamma, beta]`, each `[c]`; then ReLU if `relu`. Writes `out` (as long as
/// `x`).
pub fn batch_norm(
    x: &[f32],
    [n, c, inner]: [usize; 3],
    stats: [&[f32]; 4],
    eps: f32,
    relu: bool,
    out: &mut [f32],
) -> Result<()> {
    let op = "batch_norm";
    let len = volume(op, &[n, c, inner])?;
    expect_len(op, "input", x.len(), len)?;
    expect_len(op, "output", out.len(), len)?;
    for (what, s) in ["running_mean", "running_var", "weight", "bias"]
        .iter()
        .zip(stats)
    {
        expect_len(op, what, s.len(), c)?;
    }
    if len == 0 {
        return Ok(());
    }
    let [mean, var, gamma, beta] = stats;
    let per = FLAT_CHUNK.div_ceil(inner).max(1);
    out.par_chunks_mut(per * inner)
        .zip(x.par_chunks(per * inner))
        .enumerate()
        .for_each(|(chunk, (o, x))| {
            for (i, (o, x)) in o.chunks_mut(inner).zip(x.chunks(inner)).enumerate() {
                let ch = (chunk * per + i) % c;
                let inv = 1.0 / (f64::from(var[ch]) + f64::from(eps)).sqrt();
                let scale = (inv * f64::from(gamma[ch])) as f32;
                let (m, b) = (mean[ch], beta[ch]);
                for (o, &v) in o.iter_mut().zip(x) {
                    let y = (v - m) * scale + b;
                    *o = if relu { relu1(y) } else { y };
                }
            }
        });
    Ok(())
}

/// Layer norm over the rows of `x: [rows, cols]` with biased variance, then `· gamma + beta`
/// (each `[cols]`), as [`crate::ops::norm::cpu::layer_norm`]; statistics in f64. Writes
/// `out: [rows, cols]`.
pub fn layer_norm(
    x: &[f32],
    rows: usize,
    cols: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [f32],
) -> Result<()> {
    let op = "layer_norm";
    let len = volume(op, &[rows, cols])?;
    expect_len(op, "input", x.len(), len)?;
    expect_len(op, "output", out.len(), len)?;
    expect_len(op, "gamma", gamma.len(), cols)?;
    expect_len(op, "beta", beta.len(), cols)?;
    if len == 0 {
        return Ok(());
    }
    out.par_chunks_mut(cols)
        .zip(x.par_chunks(cols))
        .with_min_len(8)
        .for_each(|(o, x)| {
            let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / cols as f64;
            let var = x
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / cols as f64;
            let inv = 1.0 / (var + f64::from(eps)).sqrt();
            for (((o, &v), &g), &b) in o.iter_mut().zip(x).zip(gamma).zip(beta) {
                *o = ((f64::from(v) - mean) * inv * f64::from(g) + f64::from(b)) as f32;
            }
        });
    Ok(())
}
