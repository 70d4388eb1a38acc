//! The reference executor: every op through its f64 twin, one thread. Slow and plain on purpose:
//! the oracle that the GPU and native executors are tested against.

use super::host::{checked_len, HostTensor};
use super::{shapes, Attention, Executor};
use crate::error::Result;
use crate::ops::conv::{conv2d_cpu, Conv2d};
use crate::ops::pool::Pool2d;
use crate::ops::{attention, elementwise, matmul, norm, pool, tokens};

/// The f64 twins as an [`Executor`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceExecutor;

fn wrap(data: Vec<f32>, shape: &[usize]) -> Result<HostTensor> {
    HostTensor::new(data, shape)
}

impl Executor for ReferenceExecutor {
    type Tensor = HostTensor;

    fn upload(&self, data: &[f32], shape: &[usize]) -> Result<HostTensor> {
        HostTensor::new(data.to_vec(), shape)
    }

    fn shape<'t>(&self, t: &'t HostTensor) -> &'t [usize] {
        t.shape()
    }

    fn reshape(&self, t: &HostTensor, shape: &[usize]) -> Result<HostTensor> {
        t.reshape(shape)
    }

    fn conv2d(
        &self,
        x: &HostTensor,
        weight: &HostTensor,
        bias: Option<&HostTensor>,
        p: &Conv2d,
    ) -> Result<HostTensor> {
        let s = p.shape(x.shape(), weight.shape(), bias.map(|b| b.shape()))?;
        let y = conv2d_cpu(
            x.data(),
            x.shape(),
            weight.data(),
            weight.shape(),
            bias.map(|b| b.data()),
            p,
        )?;
        wrap(y, &[s.n, s.c_out, s.oh, s.ow])
    }

    fn linear(
        &self,
        x: &HostTensor,
        weight: &HostTensor,
        bias: Option<&HostTensor>,
        relu: bool,
    ) -> Result<HostTensor> {
        let [rows, k, out] = shapes::linear(x.shape(), weight.shape(), bias.map(|b| b.shape()))?;
        let y = matmul::matmul_cpu(
            x.data(),
            weight.data(),
            bias.map(|b| b.data()),
            (1, rows, out, k),
            true,
            false,
            relu,
        );
        wrap(y, &[rows, out])
    }

    fn batch_norm(&self, x: &HostTensor, stats: [&HostTensor; 4], eps: f32) -> Result<HostTensor> {
        let (c, inner) = shapes::batch_norm(x.shape(), stats.map(|t| t.shape()))?;
        let y = norm::cpu::batch_norm(x.data(), c, inner, stats.map(|t| t.data()), eps);
        wrap(y, x.shape())
    }

    fn layer_norm(
        &self,
        x: &HostTensor,
        gamma: &HostTensor,
        beta: &HostTensor,
        eps: f32,
    ) -> Result<HostTensor> {
        shapes::layer_norm(x.shape(), gamma.shape(), beta.shape())?;
        let y = norm::cpu::layer_norm(x.data(), gamma.data(), beta.data(), eps);
        wrap(y, x.shape())
    }

    fn relu(&self, x: &HostTensor) -> Result<HostTensor> {
        wrap(elementwise::cpu::relu(x.data()), x.shape())
    }

    fn gelu(&self, x: &HostTensor) -> Result<HostTensor> {
        wrap(elementwise::cpu::gelu(x.data()), x.shape())
    }

    fn add(&self, a: &HostTensor, b: &HostTensor) -> Result<HostTensor> {
        shapes::same("add", a.shape(), b.shape())?;
        wrap(elementwise::cpu::add(a.data(), b.data()), a.shape())
    }

    fn max_pool2d(&self, x: &HostTensor, p: &Pool2d) -> Result<HostTensor> {
        let (planes, [h, w], [oh, ow]) = shapes::pool(x.shape(), p)?;
        let y = pool::cpu::max_pool2d(x.data(), planes, h, w, p);
        wrap(y, &[x.shape()[0], x.shape()[1], oh, ow])
    }

    fn adaptive_avg_pool2d(&self, x: &HostTensor, out: [usize; 2]) -> Result<HostTensor> {
        let (planes, [h, w]) = shapes::adaptive(x.shape(), out)?;
        let y = pool::cpu::adaptive_avg_pool2d(x.data(), planes, h, w, out);
        wrap(y, &[x.shape()[0], x.shape()[1], out[0], out[1]])
    }

    fn patch_tokens(&self, x: &HostTensor, prefix: &HostTensor) -> Result<HostTensor> {
        let [n, d, t] = shapes::patch_tokens(x.shape(), prefix.len())?;
        let y = tokens::cpu::patch_tokens(x.data(), n, d, prefix.data());
        wrap(y, &[n, t, d])
    }

    fn attention(
        &self,
        qkv: &HostTensor,
        heads: usize,
        values: bool,
        weights: bool,
    ) -> Result<Attention<HostTensor>> {
        let [n, t, d] = shapes::attention(qkv.shape(), heads)?;
        let (v, w) = attention::attention_cpu(qkv.data(), n, t, heads);
        Ok((
            values.then(|| wrap(v, &[n, t, heads * d])).transpose()?,
            weights.then(|| wrap(w, &[n, heads, t, t])).transpose()?,
        ))
    }

    fn slice_cols(&self, x: &HostTensor, offset: usize, width: usize) -> Result<HostTensor> {
        let (_, len, shape) = shapes::slice_cols(x.shape(), offset, width)?;
        wrap(
            tokens::cpu::slice_cols(x.data(), len, offset, width),
            &shape,
        )
    }

    fn split_heads(&self, x: &HostTensor, heads: usize) -> Result<HostTensor> {
        let s = shapes::split_heads(x.shape(), heads)?;
        wrap(
            tokens::cpu::split_heads(x.data(), s),
            &[s[0], s[2], s[1], s[3]],
        )
    }

    fn reduce_tokens(&self, x: &HostTensor, max: bool) -> Result<HostTensor> {
        let [n, t, d] = shapes::tokens(x.shape())?;
        wrap(tokens::cpu::reduce_tokens(x.data(), t, d, max), &[n, d])
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn read(&self, tensors: &[&HostTensor]) -> Result<Vec<Vec<f32>>> {
        tensors
            .iter()
            .map(|t| {
                checked_len(t.shape())?;
                Ok(t.data().to_vec())
            })
            .collect()
    }
}
