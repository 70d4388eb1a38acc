//! The GPU executor: each op records its WGSL dispatches into one [`Recorder`]; [`Executor::flush`]
//! submits them as one command buffer. Binding windows and loop limits stay in the dispatchers
//! of [`crate::ops`].

use std::cell::RefCell;

use super::{Attention, Executor};
use crate::error::Result;
use crate::gpu::{Context, Recorder, Tensor};
use crate::ops::attention::{attention, AttentionOutputs};
use crate::ops::conv::{conv2d, Conv2d};
use crate::ops::elementwise::{add, gelu, relu};
use crate::ops::matmul::{matmul, Matmul};
use crate::ops::norm::{batch_norm, layer_norm, BatchNormParams};
use crate::ops::pool::{adaptive_avg_pool2d, max_pool2d, Pool2d};
use crate::ops::tokens::{patch_tokens, reduce_tokens, slice_cols, split_heads};

/// The WGSL kernels on one wgpu [`Context`].
pub struct GpuExecutor<'c> {
    ctx: &'c Context,
    rec: RefCell<Option<Recorder<'c>>>,
}

impl<'c> GpuExecutor<'c> {
    pub fn new(ctx: &'c Context) -> GpuExecutor<'c> {
        GpuExecutor {
            ctx,
            rec: RefCell::new(None),
        }
    }

    pub fn context(&self) -> &'c Context {
        self.ctx
    }

    /// Runs `f` on the open recorder (opening one when needed).
    fn record<T>(&self, f: impl FnOnce(&mut Recorder<'c>) -> Result<T>) -> Result<T> {
        let mut slot = self.rec.borrow_mut();
        f(slot.get_or_insert_with(|| self.ctx.recorder()))
    }
}

impl Executor for GpuExecutor<'_> {
    type Tensor = Tensor;

    fn upload(&self, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        self.ctx.upload(data, shape)
    }

    fn shape<'t>(&self, t: &'t Tensor) -> &'t [usize] {
        t.shape()
    }

    fn reshape(&self, t: &Tensor, shape: &[usize]) -> Result<Tensor> {
        t.reshape(shape)
    }

    fn conv2d(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: Option<&Tensor>,
        p: &Conv2d,
    ) -> Result<Tensor> {
        self.record(|rec| conv2d(rec, x, weight, bias, p))
    }

    fn linear(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: Option<&Tensor>,
        relu: bool,
    ) -> Result<Tensor> {
        let opts = Matmul {
            trans_b: true,
            relu,
            ..Matmul::default()
        };
        self.record(|rec| matmul(rec, x, weight, bias, opts))
    }

    fn batch_norm(&self, x: &Tensor, stats: [&Tensor; 4], eps: f32) -> Result<Tensor> {
        let [mean, var, gamma, beta] = stats;
        let p = BatchNormParams {
            mean,
            var,
            gamma,
            beta,
            eps,
        };
        self.record(|rec| batch_norm(rec, x, &p))
    }

    fn layer_norm(&self, x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f32) -> Result<Tensor> {
        self.record(|rec| layer_norm(rec, x, gamma, beta, eps))
    }

    fn relu(&self, x: &Tensor) -> Result<Tensor> {
        self.record(|rec| relu(rec, x))
    }

    fn gelu(&self, x: &Tensor) -> Result<Tensor> {
        self.record(|rec| gelu(rec, x))
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        self.record(|rec| add(rec, a, b))
    }

    fn max_pool2d(&self, x: &Tensor, p: &Pool2d) -> Result<Tensor> {
        self.record(|rec| max_pool2d(rec, x, p))
    }

    fn adaptive_avg_pool2d(&self, x: &Tensor, out: [usize; 2]) -> Result<Tensor> {
        self.record(|rec| adaptive_avg_pool2d(rec, x, out))
    }

    fn patch_tokens(&self, x: &Tensor, prefix: &Tensor) -> Result<Tensor> {
        self.record(|rec| patch_tokens(rec, x, prefix))
    }

    fn attention(
        &self,
        qkv: &Tensor,
        heads: usize,
        values: bool,
        weights: bool,
    ) -> Result<Attention<Tensor>> {
        let want = AttentionOutputs { values, weights };
        self.record(|rec| attention(rec, qkv, heads, want))
    }

    fn slice_cols(&self, x: &Tensor, offset: usize, width: usize) -> Result<Tensor> {
        self.record(|rec| slice_cols(rec, x, offset, width))
    }

    fn split_heads(&self, x: &Tensor, heads: usize) -> Result<Tensor> {
        self.record(|rec| split_heads(rec, x, heads))
    }

    fn reduce_tokens(&self, x: &Tensor, max: bool) -> Result<Tensor> {
        self.record(|rec| reduce_tokens(rec, x, max))
    }

    fn flush(&self) -> Result<()> {
        match self.rec.borrow_mut().take() {
            Some(rec) => rec.submit(),
            None => Ok(()),
        }
    }

    fn discard(&self) {
        self.rec.borrow_mut().take();
    }

    fn read(&self, tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        self.ctx.read_many(tensors)
    }
}
