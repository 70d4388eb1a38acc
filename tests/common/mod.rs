//! Shared set-up for GPU tests: a context or a failure. GPU tests never skip silently: with no
//! adapter they fail, unless the developer opts out with VENTRAL_SKIP_GPU=1 outside CI.

#![allow(dead_code)]

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
