//! Layer norm (last dimension) and batch norm in inference mode (per channel).

use super::{expect_rank, expect_same, expect_u32, ranges, row_split, BATCH_NORM, LAYER_NORM};
use crate::error::{Error, Result};
use crate::gpu::{Recorder, Tensor};

/// Layer norm over the last dimension with affine `gamma`, `beta` of that length; biased variance.
pub fn layer_norm(
    rec: &mut Recorder<'_>,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    let (rows, cols, per) = row_split("layer_norm", x.shape(), rec.max_window_elems())?;
    expect_same("layer_norm", "gamma", gamma.shape(), &[cols])?;
    expect_same("layer_norm", "beta", beta.shape(), &[cols])?;
    let out = rec.context().empty(x.shape())?;
    for (r0, r1) in ranges(rows, per) {
        let (xw, xb) = rec.window(x, r0 * cols, r1 * cols)?;
        let (gw, _) = rec.window(gamma, 0, cols)?;
        let (bw, _) = rec.window(beta, 0, cols)?;
        let (ow, ob) = rec.window(&out, r0 * cols, r1 * cols)?;
        let groups = rec.grid(r1 - r0)?;
        let params = [
            (r1 - r0) as u32,
            expect_u32("layer_norm", "cols", cols)?,
            xb,
            ob,
            eps.to_bits(),
        ];
        rec.dispatch(
            &LAYER_NORM,
            "layer_norm",
            &[],
            &params,
            vec![Some(xw), Some(gw), Some(bw), Some(ow)],
            groups,
        )?;
    }
    Ok(out)
}

/// Per-channel statistics and affine parameters of a batch-norm layer, each `[C]`.
pub struct BatchNormParams<'a> {
    pub mean: &'a Tensor,
    pub var: &'a Tensor,
    pub gamma: &'a Tensor,
    pub beta: &'a Tensor,
    pub eps: f32,
}

/// Batch norm (inference) over `x: [N, C, ...]`.
pub fn batch_norm(rec: &mut Recorder<'_>, x: &Tensor, p: &BatchNormParams<'_>) -> Result<Tensor> {
    if x.shape().len() < 2 {
        return Err(Error::shape(
            "batch_norm",
            format!("input must be [N, C, ...], got {:?}", x.shape()),
        ));
    }
    expect_rank("batch_norm", "input", x.shape(), x.shape().len())?;
    let c = x.shape()[1];
    for (what, t) in [
        ("running_mean", p.mean),
        ("running_var", p.var),
        ("weight", p.gamma),
        ("bias", p.beta),
    ] {
        expect_same("batch_norm", what, t.shape(), &[c])?;
    }
    let inner: usize = x.shape()[2..].iter().product();
    let out = rec.context().empty(x.shape())?;
    for (lo, hi) in ranges(x.len(), rec.max_window_elems()) {
        let (xw, xb) = rec.window(x, lo, hi)?;
        let stats = [p.mean, p.var, p.gamma, p.beta]
            .iter()
            .map(|t| rec.window(t, 0, c).map(|(w, _)| Some(w)))
            .collect::<Result<Vec<_>>>()?;
        let (ow, ob) = rec.window(&out, lo, hi)?;
        let groups = rec.grid((hi - lo).div_ceil(256))?;
        let params = [
            (hi - lo) as u32,
            c as u32,
            expect_u32("batch_norm", "inner size", inner)?,
            expect_u32("batch_norm", "element index", lo)?,
            xb,
            ob,
            p.eps.to_bits(),
        ];
        let mut windows = vec![Some(xw)];
        windows.extend(stats);
        windows.push(Some(ow));
        rec.dispatch(&BATCH_NORM, "batch_norm", &[], &params, windows, groups)?;
    }
    Ok(out)
}

/// CPU twins.
pub mod cpu {
    /// Layer norm over rows of length `gamma.len()`, in f64.
    pub fn layer_norm(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) -> Vec<f32> {
        let cols = gamma.len();
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks(cols) {
            let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / cols as f64;
            let var = row
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / cols as f64;
            let inv = 1.0 / (var + f64::from(eps)).sqrt();
            for (i, &v) in row.iter().enumerate() {
                let y = (f64::from(v) - mean) * inv * f64::from(gamma[i]) + f64::from(beta[i]);
                out.push(y as f32);
            }
        }
        out
    }

    /// Batch norm over `[N, C, inner]` laid out flat, in f64.
    pub fn batch_norm(
        x: &[f32],
        channels: usize,
        inner: usize,
        stats: [&[f32]; 4],
        eps: f32,
    ) -> Vec<f32> {
        let [mean, var, gamma, beta] = stats;
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                let c = (i / inner) % channels;
                let inv = 1.0 / (f64::from(var[c]) + f64::from(eps)).sqrt();
                ((f64::from(v) - f64::from(mean[c])) * inv * f64::from(gamma[c])
                    + f64::from(beta[c])) as f32
            })
            .collect()
    }
}
