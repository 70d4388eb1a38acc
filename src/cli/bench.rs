//! `ventral bench kernels`: per-kernel GFLOP/s on the chosen adapter.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{Failure, GpuArgs};
use crate::bench::{
    kernel_benchmarks, model_benchmark, rsa_benchmarks, BenchSize, KernelTiming, ModelTiming,
};
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
    /// Whole-model throughput (img/s) with seeded random weights.
    Models(ModelArgs),
    /// RSA statistics: RDM on the GPU, Mantel tests, a τa table, a bootstrap.
    Rsa(RsaArgs),
}

#[derive(Args, Debug)]
pub struct RsaArgs {
    #[command(flatten)]
    pub gpu: GpuArgs,
    /// Problem sizes: `full` (reported) or `smoke` (seconds).
    #[arg(long, value_enum, default_value_t = BenchSize::Full)]
    pub size: BenchSize,
    /// Worker threads for the CPU statistics (0: all cores)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Print JSON to stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ModelArgs {
    #[command(flatten)]
    pub gpu: GpuArgs,
    /// Comma-separated model names
    #[arg(long, default_value = "alexnet,resnet18,resnet50,vgg16,cornet_z")]
    pub models: String,
    /// Images per forward pass
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Input height and width
    #[arg(long, default_value_t = 224)]
    pub size: usize,
    /// Timed samples per model (after one untimed compile + first run).
    #[arg(long, default_value_t = 3)]
    pub samples: usize,
    /// Print JSON to stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// An earlier `--json` output of the same command: print each result's median against it.
    #[arg(long)]
    pub compare: Option<std::path::PathBuf>,
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
    /// An earlier `--json` output of the same command: print each result's median against it.
    #[arg(long)]
    pub compare: Option<std::path::PathBuf>,
}

#[derive(Serialize)]
struct Report<'a> {
    ventral_version: &'static str,
    adapter: &'a AdapterReport,
    results: &'a [KernelTiming],
}

pub fn run(args: &BenchArgs) -> Result<(), Failure> {
    let k = match &args.what {
        BenchWhat::Kernels(k) => k,
        BenchWhat::Models(m) => return run_models(m),
        BenchWhat::Rsa(r) => return run_rsa(r),
    };
    if k.samples == 0 {
        return Err(crate::Error::Invalid("--samples must be at least 1".into()).into());
    }
    let ctx = Context::new(&k.gpu.options()?)?;
    eprintln!("adapter: {}", ctx.adapter().summary());
    let results = kernel_benchmarks(&ctx, k.size, k.samples)?;
    if let Some(path) = &k.compare {
        let now: Vec<(String, f64)> = results
            .iter()
            .map(|r| (r.name.clone(), r.median_s))
            .collect();
        eprint!("{}", against(path, &now)?);
    }
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
        "{:<44} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "kernel", "first (s)", "median (s)", "MAD (s)", "min (s)", "max (s)", "GFLOP/s"
    );
    for r in &results {
        println!(
            "{:<44} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>9.2}",
            r.name, r.first_run_s, r.median_s, r.mad_s, r.min_s, r.max_s, r.median_gflops
        );
    }
    Ok(())
}

fn run_models(m: &ModelArgs) -> Result<(), Failure> {
    if m.samples == 0 || m.batch == 0 {
        return Err(
            crate::Error::Invalid("--samples and --batch must be at least 1".into()).into(),
        );
    }
    let ctx = Context::new(&m.gpu.options()?)?;
    eprintln!("adapter: {}", ctx.adapter().summary());
    let mut results: Vec<ModelTiming> = Vec::new();
    for model in m.models.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let r = model_benchmark(&ctx, model, m.batch, m.size, m.samples)?;
        if !m.json {
            println!(
                "{:<20} batch {:>3} {:>4}px  first {:>8.2} s  median {:>8.3} s (min {:.3}, max {:.3})  {:>8.2} img/s  {:>7.2} GFLOP/s",
                r.model, r.batch, r.size, r.timing.first_run_s, r.timing.median_s, r.timing.min_s,
                r.timing.max_s, r.images_per_s, r.timing.median_gflops
            );
        }
        results.push(r);
        ctx.trim_pool();
    }
    if let Some(path) = &m.compare {
        let now: Vec<(String, f64)> = results
            .iter()
            .map(|r| (r.timing.name.clone(), r.timing.median_s))
            .collect();
        eprint!("{}", against(path, &now)?);
    }
    if m.json {
        let report = serde_json::json!({
            "ventral_version": env!("CARGO_PKG_VERSION"),
            "adapter": ctx.adapter(),
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

fn run_rsa(r: &RsaArgs) -> Result<(), Failure> {
    let ctx = Context::new(&r.gpu.options()?)?;
    eprintln!("adapter: {}", ctx.adapter().summary());
    let results = rsa_benchmarks(&ctx, r.size, r.threads)?;
    if r.json {
        let report = serde_json::json!({
            "ventral_version": env!("CARGO_PKG_VERSION"),
            "adapter": ctx.adapter(),
            "threads": std::thread::available_parallelism().map_or(1, |t| t.get()),
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for t in &results {
        println!("{:<84} {:>9.2} s  {}", t.name, t.seconds, t.note);
    }
    Ok(())
}

/// Lines comparing `now` (name, median seconds) with the results of an earlier `--json` report:
/// the ratio now / before, so slower runs read above 1.
fn against(path: &std::path::Path, now: &[(String, f64)]) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| crate::Error::file(path, format!("cannot read: {e}")))?;
    let before: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| crate::Error::file(path, format!("not a bench JSON report: {e}")))?;
    let results = before["results"].as_array().ok_or_else(|| {
        crate::Error::file(
            path,
            "no \"results\" list; use a `ventral bench … --json` output",
        )
    })?;
    let mut out = format!("against {}:\n", path.display());
    for (name, median) in now {
        let old = results
            .iter()
            .find(|r| r["name"] == name.as_str())
            .and_then(|r| r["median_s"].as_f64());
        out += &match old {
            Some(b) => format!(
                "  {name}: {median:.4} s now, {b:.4} s before, ×{:.2}\n",
                median / b
            ),
            None => format!("  {name}: {median:.4} s now, not in the earlier report\n"),
        };
    }
    Ok(out)
}
