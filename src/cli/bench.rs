//! `ventral bench`: every workload (kernels, models, statistics, encoding, the demo analysis)
//! with the kernel self-test on every adapter, as a table and a JSON report;
//! `ventral bench kernels|models|rsa` run one group (`--skip` leaves groups out of the whole).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{DeviceArgs, Failure};
use crate::bench::{
    analysis_benchmark, encoding_benchmarks, kernel_benchmarks, model_benchmark, rsa_benchmarks,
    BenchSize, CaptureMode, KernelTiming, ModelTiming,
};
use crate::gpu::{AdapterReport, Context};
use crate::output::write_file;

/// The wgpu release ventral is built with (pinned in Cargo.toml; a test keeps them equal).
pub const WGPU_VERSION: &str = "30.0.1";

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: Option<BenchWhat>,
    #[command(flatten)]
    pub all: AllArgs,
}

/// `ventral bench` with no group: everything.
#[derive(Args, Debug)]
pub struct AllArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Smoke sizes, two samples, small models at 64 px, the demo analysis at 64 px: seconds
    /// (what CI runs; no timing is asserted).
    #[arg(long)]
    pub quick: bool,
    /// Timed samples per kernel and model (after one untimed compile + first run).
    #[arg(long, default_value_t = 3)]
    pub samples: usize,
    /// Models of the model workloads (default: alexnet,resnet18,vit_b_32; --quick: cornet_z and
    /// timm/vit_tiny_patch16_224 at 64 px).
    #[arg(long)]
    pub models: Option<String>,
    /// Batch sizes of the model workloads (default: 1,16; --quick: 2).
    #[arg(long)]
    pub batches: Option<String>,
    /// Capture modes of the model workloads: none (logits), all (every point), all+rdm.
    #[arg(long, default_value = "none,all,all+rdm")]
    pub capture: String,
    /// Groups to leave out: kernels, models, rsa, encoding, analysis, selftest (comma-separated).
    #[arg(long, default_value = "")]
    pub skip: String,
    /// Write the whole report (schema in BENCHMARKS.md) to this JSON file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// An earlier report, or a baseline script's output (benches/baselines/): print each
    /// result's median against it.
    #[arg(long)]
    pub compare: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum BenchWhat {
    /// Kernels: matmul, Gram X·Xᵀ, conv layers, ViT-B/16 attention, RDM, GPU Mantel.
    Kernels(KernelArgs),
    /// Whole-model throughput (img/s) with seeded random weights.
    Models(ModelArgs),
    /// RSA statistics: RDM on the GPU, Mantel tests, a τa table, a bootstrap.
    Rsa(RsaArgs),
}

#[derive(Args, Debug)]
pub struct RsaArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Problem sizes: `full` (reported) or `smoke` (seconds).
    #[arg(long, value_enum, default_value_t = BenchSize::Full)]
    pub size: BenchSize,
    /// Print JSON to stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ModelArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
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
    pub device: DeviceArgs,
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
        None => return run_all(&args.all),
        Some(BenchWhat::Kernels(k)) => k,
        Some(BenchWhat::Models(m)) => return run_models(m),
        Some(BenchWhat::Rsa(r)) => return run_rsa(r),
    };
    if k.samples == 0 {
        return Err(crate::Error::Invalid("--samples must be at least 1".into()).into());
    }
    let ctx = Context::new(&k.device.options()?)?;
    eprintln!("adapter: {}", ctx.adapter().summary());
    let results = kernel_benchmarks(&ctx, k.size, k.samples)?;
    if let Some(path) = &k.compare {
        eprint!("{}", against(path, &results)?);
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
            "{:<44} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>9}",
            r.name,
            r.first_run_s,
            r.median_s,
            r.mad_s,
            r.min_s,
            r.max_s,
            per_s(r.median_gflops)
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
    let engine = m.device.open()?;
    eprintln!("device: {}", engine.summary());
    let mut results: Vec<ModelTiming> = Vec::new();
    for model in m.models.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let r = model_benchmark(
            &engine,
            model,
            m.batch,
            m.size,
            m.samples,
            CaptureMode::None,
        )?;
        if !m.json {
            println!(
                "{:<20} batch {:>3} {:>4}px  first {:>8.2} s  median {:>8.3} s (min {:.3}, max {:.3})  {:>8.2} img/s  {:>7} GFLOP/s",
                r.model, r.batch, r.size, r.timing.first_run_s, r.timing.median_s, r.timing.min_s,
                r.timing.max_s, r.images_per_s, per_s(r.timing.median_gflops)
            );
        }
        results.push(r);
        if let Some(ctx) = engine.context() {
            ctx.trim_pool();
        }
    }
    if let Some(path) = &m.compare {
        let timings: Vec<KernelTiming> = results.iter().map(|r| r.timing.clone()).collect();
        eprint!("{}", against(path, &timings)?);
    }
    if m.json {
        let report = serde_json::json!({
            "ventral_version": env!("CARGO_PKG_VERSION"),
            "executor": engine.report(),
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

fn run_rsa(r: &RsaArgs) -> Result<(), Failure> {
    let engine = r.device.open()?;
    eprintln!("device: {}", engine.summary());
    let results = rsa_benchmarks(engine.context(), r.size, r.device.threads)?;
    if r.json {
        let report = serde_json::json!({
            "ventral_version": env!("CARGO_PKG_VERSION"),
            "executor": engine.report(),
            "threads": std::thread::available_parallelism().map_or(1, |t| t.get()),
            "results": results,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for t in &results {
        println!("{:<84} {:>9.2} s  {}", t.name, t.median_s, t.note);
    }
    Ok(())
}

/// The machine a report was measured on.
#[derive(Serialize)]
struct Machine {
    os: &'static str,
    arch: &'static str,
    cpus: usize,
}

/// The whole `ventral bench` report.
#[derive(Serialize)]
struct FullReport<'a> {
    schema: u32,
    ventral_version: &'static str,
    wgpu_version: &'static str,
    created_unix_s: u64,
    machine: Machine,
    /// The wgpu adapter, when the GPU executor ran.
    adapter: Option<&'a AdapterReport>,
    /// Which executor ran the models, with its adapter or its threads and SIMD level.
    executor: crate::exec::EngineReport,
    quick: bool,
    samples: usize,
    results: Vec<serde_json::Value>,
    /// The kernel self-test on every adapter (`ventral selftest --all-adapters --json`).
    portability: Option<serde_json::Value>,
}

/// Seconds with four decimals, or four significant digits below 0.01 s.
fn seconds(s: f64) -> String {
    if s >= 0.01 {
        format!("{s:.4}")
    } else {
        format!("{s:.3e}")
    }
}

/// A rate with two decimals, or `-`.
fn per_s(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

fn list(s: &str) -> Vec<&str> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn run_all(a: &AllArgs) -> Result<(), Failure> {
    let skip = list(&a.skip);
    let known = [
        "kernels", "models", "rsa", "encoding", "analysis", "selftest",
    ];
    if let Some(bad) = skip.iter().find(|s| !known.contains(s)) {
        return Err(crate::Error::Invalid(format!(
            "--skip '{bad}': the groups are {}",
            known.join(", ")
        ))
        .into());
    }
    if a.samples == 0 {
        return Err(crate::Error::Invalid("--samples must be at least 1".into()).into());
    }
    let modes: Vec<CaptureMode> = list(&a.capture)
        .iter()
        .map(|m| m.parse())
        .collect::<crate::Result<_>>()?;
    let (size, samples, px) = if a.quick {
        (BenchSize::Smoke, a.samples.min(2), 64)
    } else {
        (BenchSize::Full, a.samples, 224)
    };
    let models = a.models.clone().unwrap_or_else(|| {
        if a.quick {
            "cornet_z,timm/vit_tiny_patch16_224".into()
        } else {
            "alexnet,resnet18,vit_b_32".into()
        }
    });
    let batches: Vec<usize> =
        list(
            a.batches
                .as_deref()
                .unwrap_or(if a.quick { "2" } else { "1,16" }),
        )
        .iter()
        .map(|b| match b.parse::<usize>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(crate::Error::Invalid(format!(
                "--batches: '{b}' is not a positive whole number"
            ))),
        })
        .collect::<crate::Result<_>>()?;
    let models = list(&models)
        .iter()
        .map(|m| crate::models::build(m).map(|_| m.to_string()))
        .collect::<crate::Result<Vec<_>>>()?;
    let opts = a.device.options()?;
    let engine = a.device.open()?;
    eprintln!("device: {}", engine.summary());
    println!(
        "{:<8} {:<86} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}  timer",
        "group", "workload", "first s", "median s", "MAD s", "min s", "max s", "GFLOP/s", "GB/s"
    );
    let mut results: Vec<KernelTiming> = Vec::new();
    let mut json: Vec<serde_json::Value> = Vec::new();
    let mut show = |t: &KernelTiming, extra: serde_json::Value| -> Result<(), Failure> {
        println!(
            "{:<8} {:<86} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>9.4} {:>8} {:>8}  {}{}",
            t.group,
            t.name,
            t.first_run_s,
            t.median_s,
            t.mad_s,
            t.min_s,
            t.max_s,
            per_s(t.median_gflops),
            per_s(t.median_gbps),
            t.gpu_median_s
                .map_or("wall".to_string(), |g| format!("gpu {g:.4} s")),
            if t.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", t.note)
            }
        );
        let mut v = serde_json::to_value(t)?;
        if let (Some(obj), serde_json::Value::Object(more)) = (v.as_object_mut(), extra) {
            obj.extend(more);
        }
        json.push(v);
        results.push(t.clone());
        Ok(())
    };
    if !skip.contains(&"kernels") {
        match engine.context() {
            Some(ctx) => {
                for t in kernel_benchmarks(ctx, size, samples)? {
                    show(&t, serde_json::Value::Null)?;
                }
            }
            None => eprintln!("kernels: the WGSL kernel group runs with --device gpu"),
        }
    }
    if !skip.contains(&"models") {
        for model in &models {
            for &batch in &batches {
                for &mode in &modes {
                    if mode == CaptureMode::AllRdm && batch < 2 {
                        eprintln!("{model} batch {batch}: all+rdm skipped (an RDM needs 2 images)");
                        continue;
                    }
                    let r = model_benchmark(&engine, model, batch, px, samples, mode)?;
                    let extra = serde_json::json!({
                        "model": r.model, "batch": r.batch, "size": r.size,
                        "capture": r.capture, "images_per_s": r.images_per_s,
                    });
                    show(&r.timing, extra)?;
                    if let Some(ctx) = engine.context() {
                        ctx.trim_pool();
                    }
                }
            }
        }
    }
    if !skip.contains(&"rsa") {
        for t in rsa_benchmarks(engine.context(), size, 0)? {
            show(&t, serde_json::Value::Null)?;
        }
    }
    if !skip.contains(&"encoding") {
        for e in encoding_benchmarks(size, a.device.threads)? {
            let extra = serde_json::json!({
                "peak_rss_bytes": e.peak_rss_bytes, "peak_rss_reset": e.peak_rss_reset,
            });
            show(&e.timing, extra)?;
        }
    }
    if !skip.contains(&"analysis") {
        show(&analysis_benchmark(&engine, size)?, serde_json::Value::Null)?;
    }
    let portability = if skip.contains(&"selftest") {
        None
    } else {
        let (adapters, rows) = super::selftest::selftest_rows(&opts, crate::Device::Auto, true, 7)?;
        let failed = rows.iter().filter(|r| !r.passed()).count();
        eprintln!(
            "self-test: {} kernel × adapter results, {failed} failed",
            rows.len()
        );
        Some(serde_json::json!({ "seed": 7, "adapters": adapters, "results": rows }))
    };
    if let Some(path) = &a.compare {
        eprint!("{}", against(path, &results)?);
    }
    if let Some(path) = &a.json {
        let report = FullReport {
            schema: 1,
            ventral_version: env!("CARGO_PKG_VERSION"),
            wgpu_version: WGPU_VERSION,
            created_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            machine: Machine {
                os: std::env::consts::OS,
                arch: std::env::consts::ARCH,
                cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            },
            adapter: engine.context().map(Context::adapter),
            executor: engine.report(),
            quick: a.quick,
            samples,
            results: json,
            portability,
        };
        write_file(
            path,
            (serde_json::to_string_pretty(&report)? + "\n").as_bytes(),
        )?;
        eprintln!("report: {}", path.display());
    }
    Ok(())
}

/// Lines comparing `now` with the results of an earlier report (a `ventral bench … --json` or a
/// baseline script's output): matched by name, else by workload (so a baseline's one
/// implementation faces each of ventral's), with the ratio now / before: slower reads above 1.
fn against(path: &std::path::Path, now: &[KernelTiming]) -> Result<String, Failure> {
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
    let label = before["implementation"]
        .as_str()
        .map_or(String::new(), |s| format!(" ({s})"));
    let mut out = format!("against {}{label}:\n", path.display());
    for t in now {
        let old = results
            .iter()
            .find(|r| r["name"] == t.name.as_str())
            .or_else(|| {
                results
                    .iter()
                    .find(|r| r["workload"] == t.workload.as_str())
            })
            .and_then(|r| r["median_s"].as_f64());
        let (name, now) = (&t.name, seconds(t.median_s));
        out += &match old {
            Some(b) => format!(
                "  {name}: {now} s now, {} s before, ×{:.2}\n",
                seconds(b),
                t.median_s / b
            ),
            None => format!("  {name}: {now} s now, not in the earlier report\n"),
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn wgpu_version_matches_cargo_toml() {
        let manifest = include_str!("../../Cargo.toml");
        let pin = format!("wgpu = \"={}\"", super::WGPU_VERSION);
        assert!(manifest.contains(&pin), "Cargo.toml does not pin {pin}");
    }
}
