//! ReLU, GELU (exact erf form), elementwise add and scale (`alpha * x + beta`).

use super::{expect_same, ranges, ELEMENTWISE};
use crate::error::{Error, Result};
use crate::gpu::{Recorder, Tensor};

fn flat(
    rec: &mut Recorder<'_>,
    entry: &'static str,
    x: &Tensor,
    y: Option<&Tensor>,
    alpha: f32,
    beta: f32,
) -> Result<Tensor> {
    if x.is_empty() {
        return Err(Error::shape(entry, "input is empty"));
    }
    let out = rec.context().empty(x.shape())?;
    for (lo, hi) in ranges(x.len(), rec.max_window_elems()) {
        let (xw, xb) = rec.window(x, lo, hi)?;
        let (yw, yb) = match y {
            Some(y) => {
                let (w, b) = rec.window(y, lo, hi)?;
                (Some(w), b)
            }
            None => (None, 0),
        };
        let (ow, ob) = rec.window(&out, lo, hi)?;
        let n = (hi - lo) as u32;
        let groups = rec.grid((hi - lo).div_ceil(256))?;
        rec.dispatch(
            &ELEMENTWISE,
            entry,
            &[],
            &[n, xb, yb, ob, alpha.to_bits(), beta.to_bits()],
            vec![Some(xw), yw, Some(ow)],
            groups,
        )?;
    }
    Ok(out)
}

/// `max(x, 0)`, NaN propagating. Any shape.
pub fn relu(rec: &mut Recorder<'_>, x: &Tensor) -> Result<Tensor> {
    flat(rec, "relu", x, None, 0.0, 0.0)
}

/// `0.5 x (1 + erf(x / √2))` (PyTorch's default, not the tanh approximation). Any shape.
pub fn gelu(rec: &mut Recorder<'_>, x: &Tensor) -> Result<Tensor> {
    flat(rec, "gelu", x, None, 0.0, 0.0)
}

/// `x + y` for tensors of identical shape.
pub fn add(rec: &mut Recorder<'_>, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    expect_same("add", "second operand", y.shape(), x.shape())?;
    flat(rec, "add", x, Some(y), 0.0, 0.0)
}

/// `alpha * x + beta`. Any shape.
pub fn scale(rec: &mut Recorder<'_>, x: &Tensor, alpha: f32, beta: f32) -> Result<Tensor> {
    flat(rec, "scale", x, None, alpha, beta)
}

/// CPU twins.
pub mod cpu {
    /// `max(x, 0)`, NaN propagating.
    pub fn relu(x: &[f32]) -> Vec<f32> {
        x.iter().map(|&v| if v <= 0.0 { 0.0 } else { v }).collect()
    }

    /// Exact-erf GELU evaluated in f64.
    pub fn gelu(x: &[f32]) -> Vec<f32> {
        x.iter()
            .map(|&v| {
                let v = f64::from(v);
                (0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2))) as f32
            })
            .collect()
    }

    /// `x + y`.
    pub fn add(x: &[f32], y: &[f32]) -> Vec<f32> {
        x.iter().zip(y).map(|(a, b)| a + b).collect()
    }

    /// `alpha * x + beta` in f64.
    pub fn scale(x: &[f32], alpha: f32, beta: f32) -> Vec<f32> {
        x.iter()
            .map(|&v| (f64::from(alpha) * f64::from(v) + f64::from(beta)) as f32)
            .collect()
    }
}
