//! Multi-head self-attention on the packed in-projection output, fused (scores never stored
//! unless the probabilities are asked for).

use super::{expect_rank, expect_u32, ATTENTION};
use crate::error::{Error, Result};
use crate::gpu::{Recorder, Tensor};

/// Largest head dimension the kernels hold (four values per invocation of a 64-wide workgroup).
pub const MAX_HEAD_DIM: usize = 256;
/// Largest head dimension of the one-query-per-invocation kernel (every ViT in the zoo has 64 or
/// 80); larger heads use the tiled kernel.
const ROW_DIM: usize = 128;

/// What [`attention`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionOutputs {
    /// `softmax(Q·Kᵀ/√d)·V` with the heads merged: `[N, T, H·d]`.
    pub values: bool,
    /// The attention probabilities `[N, H, T, T]`.
    pub weights: bool,
}

fn dims(qkv: &Tensor, heads: usize) -> Result<(usize, usize, usize)> {
    expect_rank("attention", "qkv", qkv.shape(), 3)?;
    let (n, t, width) = (qkv.shape()[0], qkv.shape()[1], qkv.shape()[2]);
    if heads == 0 || !width.is_multiple_of(3 * heads) {
        return Err(Error::shape(
            "attention",
            format!(
                "qkv {:?} does not split into q, k, v of {heads} heads each",
                qkv.shape()
            ),
        ));
    }
    let d = width / (3 * heads);
    if t > super::MAX_LOOP {
        return Err(Error::shape(
            "attention",
            format!("{t} tokens exceed the kernels' loop limit"),
        ));
    }
    if d > MAX_HEAD_DIM {
        return Err(Error::shape(
            "attention",
            format!("head dimension {d} exceeds the kernel's {MAX_HEAD_DIM}"),
        ));
    }
    Ok((n, t, d))
}

/// Self-attention of `qkv: [N, T, 3·H·d]` (q, k, v side by side, each head-major, as PyTorch's
/// `in_proj` and timm's `qkv` produce them) with scale `1/√d`. Returns the merged values
/// `[N, T, H·d]` and/or the probabilities `[N, H, T, T]`, as `outputs` asks.
pub fn attention(
    rec: &mut Recorder<'_>,
    qkv: &Tensor,
    heads: usize,
    outputs: AttentionOutputs,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let (n, t, d) = dims(qkv, heads)?;
    let ctx = rec.context();
    let values = outputs
        .values
        .then(|| ctx.empty(&[n, t, heads * d]))
        .transpose()?;
    let weights = outputs
        .weights
        .then(|| ctx.empty(&[n, heads, t, t]))
        .transpose()?;
    let per_item = [3 * heads * d * t, heads * d * t, heads * t * t];
    let max_items = rec.max_window_elems() / per_item.iter().max().expect("three sizes");
    if max_items == 0 {
        return Err(Error::shape(
            "attention",
            format!(
                "one item of {t} tokens × {heads} heads exceeds the storage binding limit (qkv {:?})",
                qkv.shape()
            ),
        ));
    }
    let flags = u32::from(outputs.values) | (u32::from(outputs.weights) << 1);
    for (i0, i1) in super::ranges(n, max_items) {
        let (qw, qb) = rec.window(qkv, i0 * per_item[0], i1 * per_item[0])?;
        let (vw, vb) = match &values {
            Some(v) => {
                let (w, b) = rec.window(v, i0 * per_item[1], i1 * per_item[1])?;
                (Some(w), b)
            }
            None => (None, 0),
        };
        let (ww, wb) = match &weights {
            Some(w) => {
                let (win, b) = rec.window(w, i0 * per_item[2], i1 * per_item[2])?;
                (Some(win), b)
            }
            None => (None, 0),
        };
        let items = i1 - i0;
        let (entry, groups) = if d <= ROW_DIM {
            ("attention_rows", rec.grid(items * heads * t.div_ceil(64))?)
        } else {
            ("attention", rec.grid(items * heads * t)?)
        };
        let params = [
            items as u32,
            expect_u32("attention", "tokens", t)?,
            heads as u32,
            d as u32,
            qb,
            vb,
            wb,
            (1.0 / (d as f32).sqrt()).to_bits(),
            flags,
        ];
        rec.dispatch(
            &ATTENTION,
            entry,
            &[],
            &params,
            vec![Some(qw), vw, ww],
            groups,
        )?;
    }
    Ok((values, weights))
}

/// CPU twin in f64: `(values [N, T, H·d], probabilities [N, H, T, T])`.
pub fn attention_cpu(qkv: &[f32], n: usize, t: usize, heads: usize) -> (Vec<f32>, Vec<f32>) {
    let width = qkv.len() / (n * t);
    let d = width / (3 * heads);
    let scale = 1.0 / (d as f64).sqrt();
    let mut values = vec![0f32; n * t * heads * d];
    let mut weights = vec![0f32; n * heads * t * t];
    let at = |item: usize, tok: usize, col: usize| f64::from(qkv[(item * t + tok) * width + col]);
    for item in 0..n {
        for h in 0..heads {
            for i in 0..t {
                let s: Vec<f64> = (0..t)
                    .map(|j| {
                        (0..d)
                            .map(|e| at(item, i, h * d + e) * at(item, j, (heads + h) * d + e))
                            .sum::<f64>()
                            * scale
                    })
                    .collect();
                let m = s.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
                let sum: f64 = e.iter().sum();
                for j in 0..t {
                    weights[((item * heads + h) * t + i) * t + j] = (e[j] / sum) as f32;
                }
                for c in 0..d {
                    let v: f64 = (0..t)
                        .map(|j| e[j] / sum * at(item, j, (2 * heads + h) * d + c))
                        .sum();
                    values[(item * t + i) * heads * d + h * d + c] = v as f32;
                }
            }
        }
    }
    (values, weights)
}
