//! Executors: who runs a model's ops. The plan ([`crate::models::Plan`]) says which nodes run,
//! what is fused and when buffers free; an [`Executor`] runs each op on its device.
//!
//! - [`wgpu::GpuExecutor`]: the WGSL kernels through wgpu, recorded into one submission per batch;
//! - [`native::NativeExecutor`]: multithreaded f32 on the CPU (a GEMM crate and a thread pool);
//! - [`reference::ReferenceExecutor`]: the f64 twins, the oracle both are tested against.
//!
//! One device word chooses among them everywhere ([`Device`]); [`Engine::open`] resolves it.

pub mod cases;
pub mod host;
pub mod native;
pub mod reference;
pub mod shapes;
pub mod wgpu;

use crate::error::Result;
use crate::gpu::{AdapterReport, Context, ContextOptions};
use crate::ops::conv::Conv2d;
use crate::ops::pool::Pool2d;

pub use host::HostTensor;
pub use native::NativeExecutor;
pub use reference::ReferenceExecutor;
pub use wgpu::GpuExecutor;

/// Where work runs: the one device word of every subcommand and of `[compute] device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// A hardware GPU when wgpu finds one, else native CPU threads (never a software adapter).
    #[default]
    Auto,
    /// The WGSL kernels on a wgpu adapter (lavapipe counts); an error when there is none.
    Gpu,
    /// Multithreaded f32 on the CPU.
    Native,
    /// The f64 reference twins (slow; the oracle).
    Reference,
}

named_enum!(Device, "device", { Auto => "auto", Gpu => "gpu", Native => "native", Reference => "reference" });

/// A resolved device, ready to run: the wgpu context, the native thread pool, or the reference.
// One engine lives for a whole command; its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Engine {
    Gpu(Context),
    Native(NativeExecutor),
    Reference(ReferenceExecutor),
}

impl Engine {
    /// Resolves `device`: `gpu` opens the adapter `gpu` selects (an error when there is none);
    /// `auto` takes a hardware adapter when one opens, else the native executor, so it works on
    /// a machine with no GPU driver at all. `threads` = 0 uses every core.
    pub fn open(device: Device, gpu: &ContextOptions, threads: usize) -> Result<Engine> {
        match device {
            Device::Gpu => Ok(Engine::Gpu(Context::new(gpu)?)),
            Device::Native => Ok(Engine::Native(NativeExecutor::new(threads)?)),
            Device::Reference => Ok(Engine::Reference(ReferenceExecutor)),
            Device::Auto => match Context::new(gpu) {
                Ok(ctx) if !ctx.is_cpu() => Ok(Engine::Gpu(ctx)),
                _ => Ok(Engine::Native(NativeExecutor::new(threads)?)),
            },
        }
    }

    /// The device word this engine answers to (`gpu`, `native` or `reference`).
    pub fn device(&self) -> Device {
        match self {
            Engine::Gpu(_) => Device::Gpu,
            Engine::Native(_) => Device::Native,
            Engine::Reference(_) => Device::Reference,
        }
    }

    /// The wgpu context when this engine is the GPU.
    pub fn context(&self) -> Option<&Context> {
        match self {
            Engine::Gpu(ctx) => Some(ctx),
            _ => None,
        }
    }

    /// One line for logs and manifests: the device word and what it ran on (adapter and driver;
    /// threads and SIMD level).
    pub fn summary(&self) -> String {
        match self {
            Engine::Gpu(ctx) => format!("gpu: {}", ctx.adapter().summary()),
            Engine::Native(n) => format!("native: {}", n.summary()),
            Engine::Reference(_) => "reference: f64 CPU twins, one thread".into(),
        }
    }

    /// What ran, for manifests and bench reports.
    pub fn report(&self) -> EngineReport {
        match self {
            Engine::Gpu(ctx) => EngineReport {
                device: Device::Gpu,
                adapter: Some(ctx.adapter().clone()),
                threads: None,
                simd: None,
            },
            Engine::Native(n) => EngineReport {
                device: Device::Native,
                adapter: None,
                threads: Some(n.threads()),
                simd: Some(native::simd_level().into()),
            },
            Engine::Reference(_) => EngineReport {
                device: Device::Reference,
                adapter: None,
                threads: Some(1),
                simd: None,
            },
        }
    }
}

/// Which executor ran: the device word, and the adapter (GPU) or the threads and SIMD level
/// (native).
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineReport {
    pub device: Device,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simd: Option<String>,
}

/// Attention values and probabilities, each present when asked for.
pub type Attention<T> = (Option<T>, Option<T>);

/// The ops of a forward pass, one-to-one with the graph's ops. Tensors are row-major; shapes are
/// checked by each op. The GPU executor records ops and runs them at [`Executor::flush`]; the CPU
/// executors run them eagerly.
pub trait Executor {
    type Tensor: Clone;

    /// A tensor holding `data` with `shape` (`data.len()` must equal the shape's product).
    fn upload(&self, data: &[f32], shape: &[usize]) -> Result<Self::Tensor>;
    fn shape<'t>(&self, t: &'t Self::Tensor) -> &'t [usize];
    /// The same data seen with another shape of equal size.
    fn reshape(&self, t: &Self::Tensor, shape: &[usize]) -> Result<Self::Tensor>;
    /// `F.conv2d` with bias, then ReLU when `p.relu`.
    fn conv2d(
        &self,
        x: &Self::Tensor,
        weight: &Self::Tensor,
        bias: Option<&Self::Tensor>,
        p: &Conv2d,
    ) -> Result<Self::Tensor>;
    /// `x: [rows, in] · weightᵀ (+ bias)`, then ReLU when asked: `[rows, out]`.
    fn linear(
        &self,
        x: &Self::Tensor,
        weight: &Self::Tensor,
        bias: Option<&Self::Tensor>,
        relu: bool,
    ) -> Result<Self::Tensor>;
    /// Eval-mode batch norm over dimension 1; `stats` = running mean, running var, weight, bias.
    fn batch_norm(
        &self,
        x: &Self::Tensor,
        stats: [&Self::Tensor; 4],
        eps: f32,
    ) -> Result<Self::Tensor>;
    fn layer_norm(
        &self,
        x: &Self::Tensor,
        gamma: &Self::Tensor,
        beta: &Self::Tensor,
        eps: f32,
    ) -> Result<Self::Tensor>;
    fn relu(&self, x: &Self::Tensor) -> Result<Self::Tensor>;
    /// Exact (erf) GELU.
    fn gelu(&self, x: &Self::Tensor) -> Result<Self::Tensor>;
    fn add(&self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    fn max_pool2d(&self, x: &Self::Tensor, p: &Pool2d) -> Result<Self::Tensor>;
    fn adaptive_avg_pool2d(&self, x: &Self::Tensor, out: [usize; 2]) -> Result<Self::Tensor>;
    /// Patch grid `[N, D, gh, gw]` → tokens `[N, 1 + gh·gw, D]`, plus `prefix` = class token
    /// `[D]` followed by the position embedding `[1 + gh·gw, D]`.
    fn patch_tokens(&self, x: &Self::Tensor, prefix: &Self::Tensor) -> Result<Self::Tensor>;
    /// Self-attention on `qkv: [N, T, 3·H·d]`: values `[N, T, H·d]` and/or probabilities
    /// `[N, H, T, T]`, each only when asked.
    fn attention(
        &self,
        qkv: &Self::Tensor,
        heads: usize,
        values: bool,
        weights: bool,
    ) -> Result<Attention<Self::Tensor>>;
    /// Columns `offset..offset + width` of the last dimension: `[…, L]` → `[…, width]`.
    fn slice_cols(&self, x: &Self::Tensor, offset: usize, width: usize) -> Result<Self::Tensor>;
    /// `[N, T, H·d]` → `[N, H, T, d]`: the heads moved before the tokens (timm's per-head q and
    /// k). With `d = 1` it is the transpose `[N, T, H]` → `[N, H, T]` (a patch grid to tokens).
    fn split_heads(&self, x: &Self::Tensor, heads: usize) -> Result<Self::Tensor>;
    /// Mean (or max) over the tokens of `[N, T, D]`: `[N, D]`.
    fn reduce_tokens(&self, x: &Self::Tensor, max: bool) -> Result<Self::Tensor>;
    /// Runs whatever is recorded and waits for it.
    fn flush(&self) -> Result<()>;
    /// Drops whatever is recorded and not yet run (after an op failed).
    fn discard(&self) {}
    /// Host copies of `tensors` (after a flush).
    fn read(&self, tensors: &[&Self::Tensor]) -> Result<Vec<Vec<f32>>>;
    /// The values of `tensors`, which the caller gives up (host executors hand over their
    /// buffers instead of copying them).
    fn read_owned(&self, tensors: Vec<Self::Tensor>) -> Result<Vec<Vec<f32>>> {
        let out = self.read(&tensors.iter().collect::<Vec<_>>());
        for t in tensors {
            self.recycle(t);
        }
        out
    }
    /// Hands back a tensor that nobody needs any more (a pool may reuse its memory).
    fn recycle(&self, _t: Self::Tensor) {}
}
