//! The native executor: the kernels of this module on a thread pool of its own, with output
//! buffers reused from batch to batch.

use crate::error::{Error, Result};
use crate::exec::host::{checked_len, BufferPool, HostTensor};
use crate::exec::{shapes, Attention, Executor};
use crate::ops::conv::Conv2d;
use crate::ops::pool::Pool2d;

/// The widest SIMD instruction set this CPU offers to the kernels.
pub fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "avx2+fma";
        }
        "sse2"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

/// Multithreaded f32 kernels on a thread pool of its own.
pub struct NativeExecutor {
    pool: rayon::ThreadPool,
    buffers: BufferPool,
}

impl NativeExecutor {
    /// A pool of `threads` workers (0: one per core).
    pub fn new(threads: usize) -> Result<NativeExecutor> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ventral-native-{i}"))
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start {threads} native threads: {e}")))?;
        Ok(NativeExecutor {
            pool,
            buffers: BufferPool::default(),
        })
    }

    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `f` on this executor's thread pool (rayon calls inside use its threads).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }

    /// `N threads, SIMD`.
    pub fn summary(&self) -> String {
        format!("{} threads, {}", self.threads(), simd_level())
    }
}

impl NativeExecutor {
    /// A buffer for an op's output of `shape`, filled by `f` on the pool's threads.
    fn produce(
        &self,
        op: &str,
        shape: &[usize],
        f: impl FnOnce(&mut [f32]) -> Result<()> + Send,
    ) -> Result<HostTensor> {
        let mut out = self.buffers.take(checked_len(shape)?, op)?;
        self.pool.install(|| f(&mut out))?;
        HostTensor::new(out, shape)
    }
}

impl Executor for NativeExecutor {
    type Tensor = HostTensor;

    fn upload(&self, data: &[f32], shape: &[usize]) -> Result<HostTensor> {
        let mut out = self.buffers.take(data.len(), "input")?;
        out.copy_from_slice(data);
        HostTensor::new(out, shape)
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
        let xs = [s.n, s.c_in, s.h, s.w];
        let ws = [s.c_out, s.c_in / p.groups, s.kh, s.kw];
        let b = bias.map(|b| b.data());
        self.produce("conv2d", &[s.n, s.c_out, s.oh, s.ow], |out| {
            super::conv2d(x.data(), xs, weight.data(), ws, b, p, out).map(drop)
        })
    }

    fn linear(
        &self,
        x: &HostTensor,
        weight: &HostTensor,
        bias: Option<&HostTensor>,
        relu: bool,
    ) -> Result<HostTensor> {
        let [rows, k, n] = shapes::linear(x.shape(), weight.shape(), bias.map(|b| b.shape()))?;
        let b = bias.map(|b| b.data());
        self.produce("linear", &[rows, n], |out| {
            super::linear(x.data(), rows, weight.data(), [n, k], b, relu, out)
        })
    }

    fn batch_norm(&self, x: &HostTensor, stats: [&HostTensor; 4], eps: f32) -> Result<HostTensor> {
        let (c, inner) = shapes::batch_norm(x.shape(), stats.map(|t| t.shape()))?;
        let n = x.shape()[0];
        let stats = stats.map(|t| t.data());
        self.produce("batch_norm", x.shape(), |out| {
            super::batch_norm(x.data(), [n, c, inner], stats, eps, false, out)
        })
    }

    fn layer_norm(
        &self,
        x: &HostTensor,
        gamma: &HostTensor,
        beta: &HostTensor,
        eps: f32,
    ) -> Result<HostTensor> {
        shapes::layer_norm(x.shape(), gamma.shape(), beta.shape())?;
        let cols = gamma.len();
        let rows = x.len() / cols;
        self.produce("layer_norm", x.shape(), |out| {
            super::layer_norm(x.data(), rows, cols, gamma.data(), beta.data(), eps, out)
        })
    }

    fn relu(&self, x: &HostTensor) -> Result<HostTensor> {
        self.produce("relu", x.shape(), |out| super::relu(x.data(), out))
    }

    fn gelu(&self, x: &HostTensor) -> Result<HostTensor> {
        self.produce("gelu", x.shape(), |out| super::gelu(x.data(), out))
    }

    fn add(&self, a: &HostTensor, b: &HostTensor) -> Result<HostTensor> {
        shapes::same("add", a.shape(), b.shape())?;
        self.produce("add", a.shape(), |out| super::add(a.data(), b.data(), out))
    }

    fn max_pool2d(&self, x: &HostTensor, p: &Pool2d) -> Result<HostTensor> {
        let (planes, [h, w], [oh, ow]) = shapes::pool(x.shape(), p)?;
        let s = x.shape();
        self.produce("max_pool2d", &[s[0], s[1], oh, ow], |out| {
            super::max_pool2d(x.data(), planes, h, w, p, out).map(drop)
        })
    }

    fn adaptive_avg_pool2d(&self, x: &HostTensor, o: [usize; 2]) -> Result<HostTensor> {
        let (planes, [h, w]) = shapes::adaptive(x.shape(), o)?;
        let s = x.shape();
        self.produce("adaptive_avg_pool2d", &[s[0], s[1], o[0], o[1]], |out| {
            super::adaptive_avg_pool2d(x.data(), planes, h, w, o, out)
        })
    }

    fn patch_tokens(&self, x: &HostTensor, prefix: &HostTensor) -> Result<HostTensor> {
        let [n, d, t] = shapes::patch_tokens(x.shape(), prefix.len())?;
        self.produce("patch_tokens", &[n, t, d], |out| {
            super::patch_tokens(x.data(), n, d, t - 1, prefix.data(), out)
        })
    }

    fn attention(
        &self,
        qkv: &HostTensor,
        heads: usize,
        values: bool,
        weights: bool,
    ) -> Result<Attention<HostTensor>> {
        let [n, t, d] = shapes::attention(qkv.shape(), heads)?;
        let mut v = values
            .then(|| self.buffers.take(n * t * heads * d, "attention values"))
            .transpose()?;
        let mut w = weights
            .then(|| self.buffers.take(n * heads * t * t, "attention weights"))
            .transpose()?;
        let q = qkv.data();
        self.pool
            .install(|| super::attention(q, n, t, heads, v.as_deref_mut(), w.as_deref_mut()))?;
        Ok((
            v.map(|v| HostTensor::new(v, &[n, t, heads * d]))
                .transpose()?,
            w.map(|w| HostTensor::new(w, &[n, heads, t, t]))
                .transpose()?,
        ))
    }

    fn slice_cols(&self, x: &HostTensor, offset: usize, width: usize) -> Result<HostTensor> {
        let (_, len, shape) = shapes::slice_cols(x.shape(), offset, width)?;
        self.produce("slice_cols", &shape, |out| {
            super::slice_cols(x.data(), len, offset, width, out)
        })
    }

    fn split_heads(&self, x: &HostTensor, heads: usize) -> Result<HostTensor> {
        let s = shapes::split_heads(x.shape(), heads)?;
        self.produce("split_heads", &[s[0], s[2], s[1], s[3]], |out| {
            super::split_heads(x.data(), s, out)
        })
    }

    fn reduce_tokens(&self, x: &HostTensor, max: bool) -> Result<HostTensor> {
        let [n, t, d] = shapes::tokens(x.shape())?;
        self.produce("reduce_tokens", &[n, d], |out| {
            super::reduce_tokens(x.data(), n, t, d, max, out)
        })
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn read(&self, tensors: &[&HostTensor]) -> Result<Vec<Vec<f32>>> {
        Ok(tensors.iter().map(|t| t.data().to_vec()).collect())
    }

    fn read_owned(&self, tensors: Vec<HostTensor>) -> Result<Vec<Vec<f32>>> {
        Ok(tensors.into_iter().map(HostTensor::into_vec).collect())
    }

    fn recycle(&self, t: HostTensor) {
        self.buffers.give(t);
    }
}
