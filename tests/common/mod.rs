//! Shared set-up for GPU tests: a context or a failure. GPU tests never skip silently: with no
//! adapter they fail, unless the developer opts out with VENTRAL_SKIP_GPU=1 outside CI.

#![allow(dead_code)]

pub mod cli;
pub mod fixture_rule;

use ventral::{Context, ContextOptions};

/// Opens a context from the environment (VENTRAL_BACKEND / VENTRAL_ADAPTER), optionally with a
/// forced binding limit. `None` only when the developer opted out outside CI.
pub fn context(max_binding_bytes: Option<u64>) -> Option<Context> {
    let mut opts = ContextOptions::from_env().expect("valid VENTRAL_* environment");
    if max_binding_bytes.is_some() {
        opts.max_binding_bytes = max_binding_bytes;
    }
    match Context::new(&opts) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
            let opted_out = std::env::var("VENTRAL_SKIP_GPU").is_ok_and(|v| v == "1");
            if opted_out && !in_ci {
                eprintln!("GPU test skipped by VENTRAL_SKIP_GPU=1: {e}");
                None
            } else {
                panic!("no GPU adapter for a GPU test: {e}");
            }
        }
    }
}

/// The engine of one executor for a test run on every executor: `gpu` (lavapipe in CI; never a
/// silent skip, see [`context`]), `native` (two threads, so parallel splits are exercised on any
/// machine) or `reference`.
pub fn engine(device: &str) -> Option<ventral::Engine> {
    use ventral::exec::{Engine, NativeExecutor, ReferenceExecutor};
    match device {
        "gpu" => context(None).map(Engine::Gpu),
        "native" => Some(Engine::Native(NativeExecutor::new(2).expect("thread pool"))),
        "reference" => Some(Engine::Reference(ReferenceExecutor)),
        d => panic!("no executor '{d}'"),
    }
}

/// Runs a test body (`fn(&Engine)`) once per executor: `mod name { gpu, native, reference }`.
#[macro_export]
macro_rules! on_every_executor {
    ($name:ident, $body:path) => {
        mod $name {
            #[test]
            fn gpu() {
                if let Some(e) = super::common::engine("gpu") {
                    $body(&e);
                }
            }
            #[test]
            fn native() {
                $body(&super::common::engine("native").unwrap());
            }
            #[test]
            fn reference() {
                $body(&super::common::engine("reference").unwrap());
            }
        }
    };
}

/// The engine `--device auto` opens on this machine (a hardware GPU, else native threads).
pub fn auto_engine() -> ventral::Engine {
    let opts = ContextOptions::from_env().expect("valid VENTRAL_* environment");
    ventral::Engine::open(ventral::Device::Auto, &opts, 0).expect("auto always opens")
}
