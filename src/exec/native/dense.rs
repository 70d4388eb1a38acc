//! Fully connected layers and multi-head self-attention on GEMM.

use rayon::prelude::*;

use super::gemm::{sgemm, Mat};
use super::{exp_approx, expect_len, scatter_rows, vectorized, volume, with_scratch};
use crate::error::{Error, Result};
use crate::ops::ranges;

/// Rows and output features of one linear task (a fixed split: results never depend on it).
const LINEAR_ROWS: usize = 256;
/// Row blocks of fewer rows than this compute `outᵀ = W·xᵀ` (measured: 16 rows × 9216 → 4096 runs
/// 5× faster that way round, 3152 × 768 → 2304 1.6× slower).
const FEW_ROWS: usize = 64;
/// Above 256 so that a single row still takes `gemm`'s main path (see [`sgemm`]).
const LINEAR_COLS: usize = 512;

/// `out = x·weightᵀ + bias`, then ReLU if `relu` (`torch.nn.Linear`), for `x: [rows, inputs]`,
/// `weight: [outputs, inputs]`, `bias: [outputs]` and `out: [rows, outputs]` (every value
/// overwritten). Errors on slice lengths that do not match. Tasks are blocks of rows × output
/// features over the current rayon pool.
pub fn linear(
    x: &[f32],
    rows: usize,
    weight: &[f32],
    [outputs, inputs]: [usize; 2],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [f32],
) -> Result<()> {
    let op = "linear";
    expect_len(op, "input", x.len(), volume(op, &[rows, inputs])?)?;
    expect_len(op, "weight", weight.len(), volume(op, &[outputs, inputs])?)?;
    if let Some(b) = bias {
        expect_len(op, "bias", b.len(), outputs)?;
    }
    expect_len(op, "output", out.len(), volume(op, &[rows, outputs])?)?;
    if rows == 0 || outputs == 0 {
        return Ok(());
    }
    let row_blocks: Vec<(usize, usize)> = ranges(rows, LINEAR_ROWS).collect();
    let col_blocks: Vec<(usize, usize)> = ranges(outputs, LINEAR_COLS).collect();
    let (rb, cb) = (row_blocks.len(), col_blocks.len());
    let lists = scatter_rows(out, outputs, &col_blocks, rb * cb, |r, b| {
        (r / LINEAR_ROWS) * cb + b
    });
    lists
        .into_par_iter()
        .enumerate()
        .try_for_each(|(task, mut segs)| {
            let ((r0, r1), (j0, j1)) = (row_blocks[task / cb], col_blocks[task % cb]);
            let (m, n) = (r1 - r0, j1 - j0);
            let w = Mat::rows(&weight[j0 * inputs..j1 * inputs], inputs);
            if m >= FEW_ROWS {
                return with_scratch(1, m * n, |y| {
                    let a = Mat::rows(&x[r0 * inputs..r1 * inputs], inputs);
                    let wt = Mat::transposed(&weight[j0 * inputs..j1 * inputs], inputs);
                    sgemm(m, n, inputs, a, wt, y, n, false, 1)?;
                    for (seg, src) in segs.iter_mut().zip(y.chunks_exact(n)) {
                        for (j, (o, &v)) in seg.iter_mut().zip(src).enumerate() {
                            let v = v + bias.map_or(0.0, |b| b[j0 + j]);
                            *o = if relu && v <= 0.0 { 0.0 } else { v };
                        }
                    }
                    Ok(())
                });
            }
            // Few rows: outᵀ = W·xᵀ, which `gemm` runs several times faster.
            with_scratch(0, inputs * m, |xt| {
                for (i, row) in x[r0 * inputs..r1 * inputs].chunks_exact(inputs).enumerate() {
                    for (kk, &v) in row.iter().enumerate() {
                        xt[kk * m + i] = v;
                    }
                }
                with_scratch(1, n * m, |y| {
                    sgemm(n, m, inputs, w, Mat::rows(xt, m), y, m, false, 1)?;
                    for (i, seg) in segs.iter_mut().enumerate() {
                        for (j, o) in seg.iter_mut().enumerate() {
                            let v = y[j * m + i] + bias.map_or(0.0, |b| b[j0 + j]);
                            *o = if relu && v <= 0.0 { 0.0 } else { v };
                        }
                    }
                    Ok(())
                })
            })
        })
}

/// Self-attention of `qkv: [n, t, 3·heads·d]` (q, k, v side by side, each head-major, as
/// PyTorch's `nn.MultiheadAttention` in-projection and timm's `qkv` produce them), as
/// [`crate::ops::attention::attention_cpu`]: `P = softmax(Q·Kᵀ/√d)` per head (row max
/// subtracted), written to `weights: [n, heads, t, t]` when given, and `P·V` with the heads merged
/// to `values: [n, t, heads·d]` when given. Tasks are (item, head) pairs over the current rayon
/// pool. Errors on shapes that do not fit.
pub fn attention(
    qkv: &[f32],
    n: usize,
    t: usize,
    heads: usize,
    values: Option<&mut [f32]>,
    weights: Option<&mut [f32]>,
) -> Result<()> {
    let op = "attention";
    let rows = volume(op, &[n, t])?;
    if rows == 0 || heads == 0 || !qkv.len().is_multiple_of(rows) {
        return Err(Error::shape(
            op,
            format!("qkv of {} values is not [{n}, {t}, 3·{heads}·d]", qkv.len()),
        ));
    }
    let width = qkv.len() / rows;
    if width == 0 || !width.is_multiple_of(3 * heads) {
        return Err(Error::shape(
            op,
            format!("rows of {width} values do not split into q, k, v of {heads} heads"),
        ));
    }
    let d = width / (3 * heads);
    let tasks = n * heads;
    if values.is_none() && weights.is_none() {
        return Ok(());
    }
    let mut value_lists: Vec<Option<Vec<&mut [f32]>>> = match values {
        Some(v) => {
            expect_len(op, "values", v.len(), rows * heads * d)?;
            let bounds: Vec<(usize, usize)> = (0..heads).map(|h| (h * d, (h + 1) * d)).collect();
            scatter_rows(v, heads * d, &bounds, tasks, |r, h| (r / t) * heads + h)
                .into_iter()
                .map(Some)
                .collect()
        }
        None => (0..tasks).map(|_| None).collect(),
    };
    let mut weight_chunks: Vec<Option<&mut [f32]>> = match weights {
        Some(w) => {
            expect_len(op, "weights", w.len(), volume(op, &[tasks, t, t])?)?;
            w.chunks_exact_mut(t * t).map(Some).collect()
        }
        None => (0..tasks).map(|_| None).collect(),
    };
    let scale = 1.0 / (d as f32).sqrt();
    value_lists
        .par_iter_mut()
        .zip(weight_chunks.par_iter_mut())
        .enumerate()
        .try_for_each(|(task, (vals, probs))| {
            let (item, h) = (task / heads, task % heads);
            let base = &qkv[item * t * width..(item + 1) * t * width];
            let q = Mat::rows(&base[h * d..], width);
            let k = Mat::transposed(&base[(heads + h) * d..], width);
            let v = Mat::rows(&base[(2 * heads + h) * d..], width);
            with_scratch(0, t * t, |scratch| {
                let p: &mut [f32] = match probs {
                    Some(w) => w,
                    None => scratch,
                };
                sgemm(t, t, d, q, k, p, t, false, 1)?;
                vectorized(|| {
                    for row in p.chunks_exact_mut(t) {
                        softmax_row(row, scale);
                    }
                });
                if let Some(segs) = vals {
                    with_scratch(1, t * d, |o| -> Result<()> {
                        sgemm(t, d, t, Mat::rows(p, t), v, o, d, false, 1)?;
                        for (seg, src) in segs.iter_mut().zip(o.chunks_exact(d)) {
                            seg.copy_from_slice(src);
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })
        })
}

/// `row ← softmax(scale · row)`, subtracting the row's maximum first. Maximum and sum run over
/// sixteen fixed lanes combined in a fixed order, so the result is deterministic and the loops
/// vectorise.
#[inline(always)]
fn softmax_row(row: &mut [f32], scale: f32) {
    const L: usize = 16;
    let mut lanes = [f32::NEG_INFINITY; L];
    let mut chunks = row.chunks_exact_mut(L);
    for c in &mut chunks {
        for (m, v) in lanes.iter_mut().zip(c.iter_mut()) {
            *v *= scale;
            *m = m.max(*v);
        }
    }
    let mut max = f32::NEG_INFINITY;
    for v in chunks.into_remainder() {
        *v *= scale;
        max = max.max(*v);
    }
    for m in lanes {
        max = max.max(m);
    }
    let mut lanes = [0f32; L];
    let mut chunks = row.chunks_exact_mut(L);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c.iter_mut()) {
            *v = exp_approx(*v - max);
            *l += *v;
        }
    }
    let mut sum = 0f32;
    for v in chunks.into_remainder() {
        *v = exp_approx(*v - max);
        sum += *v;
    }
    let mut width = L;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            lanes[i] += lanes[i + width];
        }
    }
    let inv = 1.0 / (sum + lanes[0]);
    for v in row.iter_mut() {
        *v *= inv;
    }
}
