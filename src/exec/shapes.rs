//! Shape rules of the ops for the host executors (native and reference): each returns the sizes
//! an op works with, or an error naming the op and the shapes.

use crate::error::{Error, Result};
use crate::ops::pool::Pool2d;

fn rank(op: &'static str, what: &str, s: &[usize], r: usize) -> Result<()> {
    if s.len() != r || s.contains(&0) {
        return Err(Error::shape(
            op,
            format!("{what} must have {r} non-zero dimensions, got {s:?}"),
        ));
    }
    Ok(())
}

/// Two shapes that must be equal.
pub fn same(op: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
    if a != b {
        return Err(Error::shape(op, format!("shapes differ: {a:?} vs {b:?}")));
    }
    Ok(())
}

/// `[rows, in, out]` of `x: [rows, in] · weight[out, in]ᵀ + bias[out]`.
pub fn linear(x: &[usize], w: &[usize], bias: Option<&[usize]>) -> Result<[usize; 3]> {
    rank("linear", "input", x, 2)?;
    rank("linear", "weight", w, 2)?;
    if x[1] != w[1] {
        return Err(Error::shape(
            "linear",
            format!("input {x:?} does not match weight {w:?}"),
        ));
    }
    if let Some(b) = bias {
        if b != [w[0]] {
            return Err(Error::shape(
                "linear",
                format!("bias {b:?} does not match weight {w:?}"),
            ));
        }
    }
    Ok([x[0], x[1], w[0]])
}

/// `(channels, inner)` of eval-mode batch norm over `[N, C, …]` with four `[C]` statistics.
pub fn batch_norm(x: &[usize], stats: [&[usize]; 4]) -> Result<(usize, usize)> {
    if x.len() < 2 || x.contains(&0) {
        return Err(Error::shape("batch_norm", format!("input {x:?}")));
    }
    let c = x[1];
    if let Some(s) = stats.iter().find(|s| **s != [c]) {
        return Err(Error::shape(
            "batch_norm",
            format!("statistics {s:?} do not match {c} channels of {x:?}"),
        ));
    }
    Ok((c, x[2..].iter().product()))
}

/// Layer norm over the last dimension.
pub fn layer_norm(x: &[usize], gamma: &[usize], beta: &[usize]) -> Result<()> {
    let c = x.last().copied().unwrap_or(0);
    if c == 0 || gamma != [c] || beta != [c] {
        return Err(Error::shape(
            "layer_norm",
            format!("input {x:?} with weight {gamma:?} and bias {beta:?}"),
        ));
    }
    Ok(())
}

/// `(planes, [h, w], [oh, ow])` of a pool over `[N, C, H, W]`.
pub fn pool(x: &[usize], p: &Pool2d) -> Result<(usize, [usize; 2], [usize; 2])> {
    rank("max_pool2d", "input", x, 4)?;
    let out = p.output_size("max_pool2d", x[2], x[3])?;
    Ok((x[0] * x[1], [x[2], x[3]], out))
}

/// `(planes, [h, w])` of an adaptive average pool to `out`.
pub fn adaptive(x: &[usize], out: [usize; 2]) -> Result<(usize, [usize; 2])> {
    rank("adaptive_avg_pool2d", "input", x, 4)?;
    if out.contains(&0) {
        return Err(Error::shape(
            "adaptive_avg_pool2d",
            format!("output size {out:?}"),
        ));
    }
    Ok((x[0] * x[1], [x[2], x[3]]))
}

/// `[n, d, tokens]` of patch grid `[N, D, gh, gw]` with a prefix of `prefix_len` values.
pub fn patch_tokens(x: &[usize], prefix_len: usize) -> Result<[usize; 3]> {
    rank("patch_tokens", "patch grid", x, 4)?;
    let (d, t) = (x[1], 1 + x[2] * x[3]);
    if prefix_len != d * (1 + t) {
        return Err(Error::shape(
            "patch_tokens",
            format!(
                "prefix of {prefix_len} values does not hold a class token and {t} position embeddings of {d}"
            ),
        ));
    }
    Ok([x[0], d, t])
}

/// `[n, t, head_dim]` of attention over `qkv: [N, T, 3·H·d]`.
pub fn attention(qkv: &[usize], heads: usize) -> Result<[usize; 3]> {
    rank("attention", "qkv", qkv, 3)?;
    if heads == 0 || !qkv[2].is_multiple_of(3 * heads) {
        return Err(Error::shape(
            "attention",
            format!("qkv {qkv:?} does not split into q, k, v of {heads} heads"),
        ));
    }
    Ok([qkv[0], qkv[1], qkv[2] / (3 * heads)])
}

/// `(rows, row length, output shape)` of columns `offset..offset + width` of the last dimension.
pub fn slice_cols(x: &[usize], offset: usize, width: usize) -> Result<(usize, usize, Vec<usize>)> {
    let len = x.last().copied().unwrap_or(0);
    if width == 0 || offset + width > len || x.contains(&0) {
        return Err(Error::shape(
            "slice_cols",
            format!("columns {offset}..{} of {x:?}", offset + width),
        ));
    }
    let mut out = x.to_vec();
    *out.last_mut().expect("non-empty") = width;
    Ok((x.iter().product::<usize>() / len, len, out))
}

/// `[n, t, heads, d]` of a split into heads of `x: [n, t, heads·d]`.
pub fn split_heads(x: &[usize], heads: usize) -> Result<[usize; 4]> {
    rank("split_heads", "input", x, 3)?;
    if heads == 0 || !x[2].is_multiple_of(heads) || x.contains(&0) {
        return Err(Error::shape(
            "split_heads",
            format!("{x:?} does not split into {heads} heads"),
        ));
    }
    Ok([x[0], x[1], heads, x[2] / heads])
}

/// `[n, t, d]` of a token sequence.
pub fn tokens(x: &[usize]) -> Result<[usize; 3]> {
    rank("reduce_tokens", "tokens", x, 3)?;
    Ok([x[0], x[1], x[2]])
}
