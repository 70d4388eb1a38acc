//! ventral: deep networks next to the brain on any GPU.
//!
//! The engine: a [`Context`] on a wgpu adapter, [`Tensor`]s in storage buffers, and kernels in
//! [`ops`], each with a plain-Rust CPU twin that accumulates in f64.

/// `FromStr` (with aliases) and `Display` for a fieldless enum of named choices (CLI values):
/// `named_enum!(Type, "what it is", { Variant => "name" | "alias", … })`. An unknown name is an
/// `Error::Invalid` listing the accepted names.
macro_rules! named_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal $(| $alias:literal)*),+ $(,)? }) => {
        impl std::str::FromStr for $ty {
            type Err = crate::error::Error;
            fn from_str(s: &str) -> crate::error::Result<Self> {
                match s {
                    $($name $(| $alias)* => Ok($ty::$variant),)+
                    _ => Err(crate::error::Error::Invalid(format!(
                        "unknown {} '{}'; use {}",
                        $what,
                        s,
                        [$($name),+].join(", ")
                    ))),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self {
                    $($ty::$variant => $name,)+
                })
            }
        }
    };
}

pub mod analysis;
pub mod arrays;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod error;
pub mod exec;
pub mod gpu;
pub mod io;
pub mod mat;
pub mod measures;
pub mod models;
pub mod ops;
pub mod output;
pub mod rsa;
pub mod selftest;
pub mod stimuli;
pub mod weights;

pub use error::{Error, Result};
pub use exec::{Device, Engine, Executor};
pub use gpu::{AdapterReport, Backend, Context, ContextOptions, Recorder, Tensor};
pub use models::{Capture, Graph, Network, Reduce};
pub use weights::{WeightSource, Weights};
