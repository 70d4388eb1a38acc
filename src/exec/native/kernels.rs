//! Provisional: the native kernels' signatures over the f64 twins (replaced by the GEMM kernels).

use crate::error::Result;
use crate::ops::conv::{conv2d_cpu, Conv2d, ConvShape};
use crate::ops::pool::Pool2d;
use crate::ops::{attention as att, elementwise, matmul, norm, pool, tokens};

pub fn conv2d(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    s: &ConvShape,
    p: &Conv2d,
    out: &mut [f32],
) -> Result<()> {
    let xs = [s.n, s.c_in, s.h, s.w];
    let ws = [s.c_out, s.c_in / p.groups, s.kh, s.kw];
    out.copy_from_slice(&conv2d_cpu(x, &xs, w, &ws, bias, p)?);
    Ok(())
}

pub fn linear(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    [rows, k, n]: [usize; 3],
    relu: bool,
    out: &mut [f32],
) -> Result<()> {
    out.copy_from_slice(&matmul::matmul_cpu(
        x,
        w,
        bias,
        (1, rows, n, k),
        true,
        false,
        relu,
    ));
    Ok(())
}

pub fn batch_norm(
    x: &[f32],
    c: usize,
    inner: usize,
    stats: [&[f32]; 4],
    eps: f32,
    out: &mut [f32],
) {
    out.copy_from_slice(&norm::cpu::batch_norm(x, c, inner, stats, eps));
}

pub fn layer_norm(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [f32]) {
    out.copy_from_slice(&norm::cpu::layer_norm(x, gamma, beta, eps));
}

pub fn relu(x: &[f32], out: &mut [f32]) {
    out.copy_from_slice(&elementwise::cpu::relu(x));
}

pub fn gelu(x: &[f32], out: &mut [f32]) {
    out.copy_from_slice(&elementwise::cpu::gelu(x));
}

pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) {
    out.copy_from_slice(&elementwise::cpu::add(a, b));
}

pub fn max_pool2d(
    x: &[f32],
    planes: usize,
    [h, w]: [usize; 2],
    p: &Pool2d,
    _o: [usize; 2],
    out: &mut [f32],
) {
    out.copy_from_slice(&pool::cpu::max_pool2d(x, planes, h, w, p));
}

pub fn adaptive_avg_pool2d(
    x: &[f32],
    planes: usize,
    [h, w]: [usize; 2],
    o: [usize; 2],
    out: &mut [f32],
) {
    out.copy_from_slice(&pool::cpu::adaptive_avg_pool2d(x, planes, h, w, o));
}

pub fn patch_tokens(x: &[f32], [n, d, _t]: [usize; 3], prefix: &[f32], out: &mut [f32]) {
    out.copy_from_slice(&tokens::cpu::patch_tokens(x, n, d, prefix));
}

pub fn attention(
    qkv: &[f32],
    [n, t, heads, _d]: [usize; 4],
    values: Option<&mut [f32]>,
    weights: Option<&mut [f32]>,
) -> Result<()> {
    let (v, w) = att::attention_cpu(qkv, n, t, heads);
    if let Some(o) = values {
        o.copy_from_slice(&v);
    }
    if let Some(o) = weights {
        o.copy_from_slice(&w);
    }
    Ok(())
}

pub fn slice_cols(x: &[f32], len: usize, offset: usize, width: usize, out: &mut [f32]) {
    out.copy_from_slice(&tokens::cpu::slice_cols(x, len, offset, width));
}

pub fn reduce_tokens(x: &[f32], [_n, t, d]: [usize; 3], max: bool, out: &mut [f32]) {
    out.copy_from_slice(&tokens::cpu::reduce_tokens(x, t, d, max));
}
