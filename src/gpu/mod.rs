//! The GPU side: getting a device ([`Context`]), tensors on it, the buffer pool, the pipeline cache and
//! the recorder that puts a whole sequence of kernels into one submission.

mod context;
mod pipeline;
mod pool;
mod recorder;
mod tensor;

pub use context::{AdapterReport, Backend, Context, ContextOptions};
pub use pipeline::{BindingKind, KernelFamily, KernelKey};
pub use recorder::Recorder;
pub use tensor::Tensor;
