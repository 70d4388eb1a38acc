//! ventral: deep networks next to the brain on any GPU.
//!
//! The engine: a [`Context`] on a wgpu adapter, [`Tensor`]s in storage buffers, and kernels in
//! [`ops`], each with a plain-Rust CPU twin that accumulates in f64.

pub mod arrays;
pub mod bench;
pub mod cli;
pub mod error;
pub mod gpu;
pub mod mat;
pub mod models;
pub mod ops;
pub mod output;
pub mod rsa;
pub mod selftest;
pub mod stimuli;
pub mod weights;

pub use error::{Error, Result};
pub use gpu::{AdapterReport, Backend, Context, ContextOptions, Recorder, Tensor};
pub use models::{Capture, Graph, Network, Reduce};
pub use weights::{WeightSource, Weights};
