//! `ventral bench kernels`: per-kernel GFLOP/s on the chosen adapter.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{Failure, GpuArgs};
use crate::bench::{kernel_benchmarks, BenchSize, KernelTiming};
use crate::gpu::{AdapterReport, Context};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Subcommand, Debug)]
pub enum BenchWhat {
    /// Matmul (register-tiled and shared-memory) at 1024³ and a convolution layer.
    Kernels(KernelArgs),
}

#[derive(Args, Debug)]
pub struct KernelArgs {
    #[command(flatten)]
    pub gpu: GpuArgs,
    /// Problem sizes: `full` (reported) or `smoke` (seconds).
    #[arg(long, value_enum, default_value_t = BenchSize::Full)]
    pub size: BenchSize,
    /// Timed samples per kernel (after one untimed compile + first run).
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
    /// Print JSON to stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    ventral_version: &'static str,
    adapter: &'a AdapterReport,
    results: &'a [KernelTiming],
}

pub fn run(args: &BenchArgs) -> Result<(), Failure> {
    let BenchWhat::Kernels(k) = &args.what;
    if k.samples == 0 {
        return Err(crate::Error::Invalid("--samples must be at least 1".into()).into());
    }
    let ctx = Context::new(&k.gpu.options()?)?;
    eprintln!("adapter: {}", ctx.adapter().summary());
    let results = kernel_benchmarks(&ctx, k.size, k.samples)?;
    if k.json {
        let report = Report {
            ventral_version: env!("CARGO_PKG_VERSION"),
            adapter: ctx.adapter(),
            results: &results,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "kernel", "first (s)", "median (s)", "min (s)", "max (s)", "GFLOP/s"
    );
    for r in &results {
        println!(
            "{:<44} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>9.2}",
            r.name, r.first_run_s, r.median_s, r.min_s, r.max_s, r.median_gflops
        );
    }
    Ok(())
}
