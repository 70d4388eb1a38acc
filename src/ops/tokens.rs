//! Transformer token layouts: patch grid to token sequence (class token + position embedding),
//! column slices of rows (the class token, q / k / v), heads moved before tokens, and mean or max
//! over tokens.

use super::{expect_rank, expect_u32, ranges, TOKENS};
use crate::error::{Error, Result};
use crate::gpu::{Recorder, Tensor};

/// Records one tokens-kernel dispatch per window of whole items. `x_item` and `out_item` are
/// element counts per item (`y` is shared by every item); `params` fill the kernel's b, c, d, e.
#[allow(clippy::too_many_arguments)]
fn dispatch_items(
    rec: &mut Recorder<'_>,
    entry: &'static str,
    x: &Tensor,
    y: Option<&Tensor>,
    out: &Tensor,
    items: usize,
    (x_item, out_item): (usize, usize),
    params: [u32; 4],
) -> Result<()> {
    let per = rec.max_window_elems() / x_item.max(out_item);
    if per == 0 {
        return Err(Error::shape(
            entry,
            format!(
                "one item of {:?} exceeds the storage binding limit",
                x.shape()
            ),
        ));
    }
    for (i0, i1) in ranges(items, per) {
        let (xw, xb) = rec.window(x, i0 * x_item, i1 * x_item)?;
        let (yw, yb) = match y {
            Some(y) => {
                let (w, b) = rec.window(y, 0, y.len())?;
                (Some(w), b)
            }
            None => (None, 0),
        };
        let (ow, ob) = rec.window(out, i0 * out_item, i1 * out_item)?;
        let groups = rec.grid(((i1 - i0) * out_item).div_ceil(256))?;
        let p = [
            (i1 - i0) as u32,
            params[0],
            params[1],
            params[2],
            params[3],
            xb,
            yb,
            ob,
        ];
        rec.dispatch(
            &TOKENS,
            entry,
            &[],
            &p,
            vec![Some(xw), yw, Some(ow)],
            groups,
        )?;
    }
    Ok(())
}

/// `x: [N, D, gh, gw]` (a patch-embedding convolution's output) to tokens `[N, 1 + gh·gw, D]`:
/// the class token first, then the patches in row-major grid order, plus the position
/// embedding. `prefix: [D + (1 + gh·gw)·D]` holds the class token followed by the position
/// embedding.
pub fn patch_tokens(rec: &mut Recorder<'_>, x: &Tensor, prefix: &Tensor) -> Result<Tensor> {
    expect_rank("patch_tokens", "input", x.shape(), 4)?;
    let (n, d, patches) = (x.shape()[0], x.shape()[1], x.shape()[2] * x.shape()[3]);
    let t = patches + 1;
    if prefix.len() != d + t * d {
        return Err(Error::shape(
            "patch_tokens",
            format!(
                "class token + position embedding hold {} values, expected {} for {t} tokens of {d}",
                prefix.len(),
                d + t * d
            ),
        ));
    }
    let out = rec.context().empty(&[n, t, d])?;
    let u = |w, v| expect_u32("patch_tokens", w, v);
    dispatch_items(
        rec,
        "patch_tokens",
        x,
        Some(prefix),
        &out,
        n,
        (d * patches, t * d),
        [u("tokens", t)?, u("dim", d)?, 0, 0],
    )?;
    Ok(out)
}

/// Columns `offset..offset + width` of every row of `x` (last dimension), keeping the leading
/// dimensions: `[…, L]` → `[…, width]`.
pub fn slice_cols(
    rec: &mut Recorder<'_>,
    x: &Tensor,
    offset: usize,
    width: usize,
) -> Result<Tensor> {
    let s = x.shape();
    let len = *s.last().unwrap_or(&0);
    if width == 0 || offset + width > len || s.contains(&0) {
        return Err(Error::shape(
            "slice_cols",
            format!("columns {offset}..{} of {s:?}", offset + width),
        ));
    }
    let rows = x.len() / len;
    let mut shape = s.to_vec();
    *shape.last_mut().expect("non-empty") = width;
    let out = rec.context().empty(&shape)?;
    let u = |w, v| expect_u32("slice_cols", w, v);
    dispatch_items(
        rec,
        "slice_cols",
        x,
        None,
        &out,
        rows,
        (len, width),
        [
            u("row length", len)?,
            u("offset", offset)?,
            u("width", width)?,
            0,
        ],
    )?;
    Ok(out)
}

/// `x: [N, T, H·d]` → `[N, H, T, d]` (heads before tokens), one window of whole items at a time.
pub fn split_heads(rec: &mut Recorder<'_>, x: &Tensor, heads: usize) -> Result<Tensor> {
    let [n, t, h, d] = crate::exec::shapes::split_heads(x.shape(), heads)?;
    let out = rec.context().empty(&[n, h, t, d])?;
    let u = |w, v| expect_u32("split_heads", w, v);
    let item = t * h * d;
    let params = [u("tokens", t)?, u("heads", h)?, u("head width", d)?, 0];
    dispatch_items(rec, "split_heads", x, None, &out, n, (item, item), params)?;
    Ok(out)
}

/// Mean (or max) over the tokens of `x: [N, T, D]`: `[N, D]`. A sequence larger than one
/// binding is reduced in chunks of tokens that accumulate onto the output.
pub fn reduce_tokens(rec: &mut Recorder<'_>, x: &Tensor, max: bool) -> Result<Tensor> {
    expect_rank("reduce_tokens", "input", x.shape(), 3)?;
    let (n, t, d) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    if t > super::MAX_LOOP {
        return Err(Error::shape(
            "reduce_tokens",
            format!("{t} tokens exceed the kernel's loop limit"),
        ));
    }
    let out = rec.context().empty(&[n, d])?;
    let u = |w, v| expect_u32("reduce_tokens", w, v);
    let (tokens, dim, mode) = (u("tokens", t)?, u("dim", d)?, u32::from(max));
    let limit = rec.max_window_elems();
    if t * d <= limit {
        let params = [tokens, dim, mode, tokens];
        dispatch_items(rec, "reduce_tokens", x, None, &out, n, (t * d, d), params)?;
        return Ok(out);
    }
    if d > limit {
        return Err(Error::shape(
            "reduce_tokens",
            format!("one token of {d} values exceeds the storage binding limit"),
        ));
    }
    for item in 0..n {
        for (t0, t1) in ranges(t, limit / d) {
            let (xw, xb) = rec.window(x, (item * t + t0) * d, (item * t + t1) * d)?;
            let (ow, ob) = rec.window(&out, item * d, (item + 1) * d)?;
            let flags = mode | (u32::from(t0 > 0) << 1);
            let p = [1, (t1 - t0) as u32, dim, flags, tokens, xb, 0, ob];
            let groups = rec.grid(d.div_ceil(256))?;
            rec.dispatch(
                &TOKENS,
                "reduce_tokens",
                &[],
                &p,
                vec![Some(xw), None, Some(ow)],
                groups,
            )?;
        }
    }
    Ok(out)
}

/// CPU twins.
pub mod cpu {
    /// [`super::patch_tokens`] for `x: [n, d, patches]`.
    pub fn patch_tokens(x: &[f32], n: usize, d: usize, prefix: &[f32]) -> Vec<f32> {
        let patches = x.len() / (n * d);
        let t = patches + 1;
        let mut out = Vec::with_capacity(n * t * d);
        for item in 0..n {
            for tok in 0..t {
                for e in 0..d {
                    let v = if tok == 0 {
                        prefix[e]
                    } else {
                        x[(item * d + e) * patches + tok - 1]
                    };
                    out.push(v + prefix[d + tok * d + e]);
                }
            }
        }
        out
    }

    /// [`super::slice_cols`] for rows of length `len`.
    pub fn slice_cols(x: &[f32], len: usize, offset: usize, width: usize) -> Vec<f32> {
        x.chunks(len)
            .flat_map(|r| r[offset..offset + width].iter().copied())
            .collect()
    }

    /// [`super::split_heads`] for `x: [n, t, heads·d]`.
    pub fn split_heads(x: &[f32], [n, t, heads, d]: [usize; 4]) -> Vec<f32> {
        let mut out = Vec::with_capacity(x.len());
        for item in 0..n {
            for h in 0..heads {
                for tok in 0..t {
                    let at = ((item * t + tok) * heads + h) * d;
                    out.extend_from_slice(&x[at..at + d]);
                }
            }
        }
        out
    }

    /// [`super::reduce_tokens`] for `x: [n, t, d]`, in f64.
    pub fn reduce_tokens(x: &[f32], t: usize, d: usize, max: bool) -> Vec<f32> {
        x.chunks(t * d)
            .flat_map(|item| {
                (0..d).map(move |e| {
                    let col = (0..t).map(|k| f64::from(item[k * d + e]));
                    if max {
                        col.fold(f64::NEG_INFINITY, f64::max) as f32
                    } else {
                        (col.sum::<f64>() / t as f64) as f32
                    }
                })
            })
            .collect()
    }
}
