//! Transformer token layouts: patch grid to tokens, column slices, mean / max over tokens.

use rayon::prelude::*;

use super::{expect_len, volume};
use crate::error::{Error, Result};

/// `x: [n, d, patches]` (a patch-embedding convolution's output) to `out: [n, 1 + patches, d]`:
/// the class token, then the patches in order, plus the position embedding; `prefix` holds the
/// class token `[d]` followed by the position embedding `[1 + patches, d]` (as
/// [`crate::ops::tokens::cpu::patch_tokens`]).
pub fn patch_tokens(
    x: &[f32],
    n: usize,
    d: usize,
    patches: usize,
    prefix: &[f32],
    out: &mut [f32],
) -> Result<()> {
    let op = "patch_tokens";
    if patches == 0 {
        return Err(Error::shape(op, "no patches"));
    }
    let t = patches + 1;
    expect_len(op, "input", x.len(), volume(op, &[n, d, patches])?)?;
    expect_len(
        op,
        "class token + position embedding",
        prefix.len(),
        d + t * d,
    )?;
    expect_len(op, "output", out.len(), volume(op, &[n, t, d])?)?;
    if n == 0 || d == 0 {
        return Ok(());
    }
    let (cls, pos) = prefix.split_at(d);
    out.par_chunks_mut(t * d)
        .zip(x.par_chunks(d * patches))
        .for_each(|(o, x)| {
            for (e, (o, p)) in o[..d].iter_mut().zip(&pos[..d]).enumerate() {
                *o = cls[e] + p;
            }
            for (tok, (o, p)) in o[d..]
                .chunks_exact_mut(d)
                .zip(pos[d..].chunks_exact(d))
                .enumerate()
            {
                for (e, (o, p)) in o.iter_mut().zip(p).enumerate() {
                    *o = x[e * patches + tok] + p;
                }
            }
        });
    Ok(())
}

/// Columns `offset..offset + width` of every row of `x` (rows of `len`) into
/// `out: [rows, width]` (as [`crate::ops::tokens::cpu::slice_cols`]).
pub fn slice_cols(
    x: &[f32],
    len: usize,
    offset: usize,
    width: usize,
    out: &mut [f32],
) -> Result<()> {
    let op = "slice_cols";
    if width == 0 || offset.checked_add(width).is_none_or(|end| end > len) {
        return Err(Error::shape(
            op,
            format!("columns {offset}..+{width} of rows of {len}"),
        ));
    }
    if !x.len().is_multiple_of(len) {
        return Err(Error::shape(
            op,
            format!("{} values are not rows of {len}", x.len()),
        ));
    }
    expect_len(op, "output", out.len(), x.len() / len * width)?;
    out.par_chunks_mut(width)
        .zip(x.par_chunks(len))
        .with_min_len(64)
        .for_each(|(o, r)| o.copy_from_slice(&r[offset..offset + width]));
    Ok(())
}

/// `x: [n, t, heads·d]` into `out: [n, heads, t, d]` (as
/// [`crate::ops::tokens::cpu::split_heads`]), one output row of `d` per task.
pub fn split_heads(x: &[f32], [n, t, heads, d]: [usize; 4], out: &mut [f32]) -> Result<()> {
    let op = "split_heads";
    expect_len(op, "input", x.len(), n * t * heads * d)?;
    expect_len(op, "output", out.len(), x.len())?;
    out.par_chunks_mut(d)
        .enumerate()
        .with_min_len(64)
        .for_each(|(row, o)| {
            let (tok, h, item) = (row % t, (row / t) % heads, row / (t * heads));
            let at = ((item * t + tok) * heads + h) * d;
            o.copy_from_slice(&x[at..at + d]);
        });
    Ok(())
}

/// Mean (or max, NaN ignored like `f64::max`) over the tokens of `x: [n, t, d]` into
/// `out: [n, d]`, summing in token order in f64 (as [`crate::ops::tokens::cpu::reduce_tokens`]).
pub fn reduce_tokens(
    x: &[f32],
    n: usize,
    t: usize,
    d: usize,
    max: bool,
    out: &mut [f32],
) -> Result<()> {
    let op = "reduce_tokens";
    if t == 0 {
        return Err(Error::shape(op, "no tokens to reduce"));
    }
    expect_len(op, "input", x.len(), volume(op, &[n, t, d])?)?;
    expect_len(op, "output", out.len(), volume(op, &[n, d])?)?;
    if n == 0 || d == 0 {
        return Ok(());
    }
    out.par_chunks_mut(d)
        .zip(x.par_chunks(t * d))
        .for_each(|(o, item)| {
            for (e, o) in o.iter_mut().enumerate() {
                let col = item[e..].iter().step_by(d).map(|&v| f64::from(v));
                *o = if max {
                    col.fold(f64::NEG_INFINITY, f64::max) as f32
                } else {
                    (col.sum::<f64>() / t as f64) as f32
                };
            }
        });
    Ok(())
}
