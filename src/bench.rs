//! Benchmarks: what a user waits for. Pipeline compile + first run is reported apart from the
//! steady state; every timed sample records, submits and waits for the GPU; median, MAD, min and
//! max over the samples, each kept; GPU time from timestamp queries where the adapter has them
//! (wall-clock time otherwise, and the report says which). The JSON schema is in BENCHMARKS.md.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::Result;
use crate::gpu::{Context, Recorder, Tensor};
use crate::models::{build, Capture, Network, Reduce};
use crate::ops::attention::{attention, AttentionOutputs};
use crate::ops::conv::{conv2d, Conv2d};
use crate::ops::matmul::{matmul, Matmul, MatmulKernel};
use crate::selftest::random;
use crate::weights::Weights;

/// Benchmark sizes: `Full` is what BENCHMARKS.md reports, `Smoke` a seconds-long check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchSize {
    Smoke,
    Full,
}

/// Timing of one workload: the unit of every bench report.
#[derive(Debug, Clone, Serialize)]
pub struct KernelTiming {
    /// `kernel`, `model`, `rsa` or `analysis`.
    pub group: String,
    /// What was computed, the same for every implementation (baselines use it too).
    pub workload: String,
    /// The workload and, where there are several, the implementation.
    pub name: String,
    pub flops: f64,
    /// Bytes the workload must at least read and write (operands and results once).
    pub bytes: f64,
    /// Pipeline build + first run, seconds.
    pub first_run_s: f64,
    pub samples: usize,
    pub median_s: f64,
    /// Median absolute deviation of the samples from their median.
    pub mad_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    /// `flops / median_s` in GFLOP/s; `None` for workloads without a FLOP count.
    pub median_gflops: Option<f64>,
    /// `bytes / median_s` in GB/s; `None` for workloads without a byte count.
    pub median_gbps: Option<f64>,
    /// Every timed sample (wall clock, GPU sync included), in the order they ran.
    pub sample_s: Vec<f64>,
    /// `gpu-timestamps` when `gpu_sample_s` holds each sample's GPU time from timestamp queries
    /// (compute passes only: no upload or readback), `wall-clock` when the adapter has none.
    pub timer: String,
    pub gpu_sample_s: Vec<f64>,
    pub gpu_median_s: Option<f64>,
    pub note: String,
}

/// What one timed workload is: its group, names and work.
struct Workload {
    group: &'static str,
    workload: String,
    name: String,
    flops: f64,
    bytes: f64,
}

impl Workload {
    fn new(group: &'static str, workload: String, imp: &str, flops: f64, bytes: f64) -> Self {
        let name = if imp.is_empty() {
            workload.clone()
        } else {
            format!("{workload} ({imp})")
        };
        Workload {
            group,
            workload,
            name,
            flops,
            bytes,
        }
    }
}

fn time_op(
    ctx: &Context,
    w: Workload,
    samples: usize,
    op: &dyn Fn(&mut Recorder<'_>) -> Result<Tensor>,
) -> Result<KernelTiming> {
    // `run` submits and waits for completion: the GPU sync is inside the sample.
    time_samples(Some(ctx), w, samples, &|| ctx.run(op).map(drop))
}

fn time_samples(
    ctx: Option<&Context>,
    w: Workload,
    samples: usize,
    op: &dyn Fn() -> Result<()>,
) -> Result<KernelTiming> {
    let samples = samples.max(1);
    let t0 = Instant::now();
    op()?;
    let first_run_s = t0.elapsed().as_secs_f64();
    let mut times = Vec::with_capacity(samples);
    let mut gpu = Vec::new();
    for _ in 0..samples {
        let timing = ctx.is_some_and(|c| c.start_gpu_timer());
        let t = Instant::now();
        op()?;
        times.push(t.elapsed().as_secs_f64());
        if let Some(g) = ctx.and_then(|c| c.take_gpu_seconds()).filter(|_| timing) {
            gpu.push(g);
        }
    }
    Ok(summarize(w, first_run_s, times, gpu, String::new()))
}

/// A timing from its samples (wall clock, in run order) and GPU samples (empty when untimed).
fn summarize(
    w: Workload,
    first_run_s: f64,
    sample_s: Vec<f64>,
    gpu_sample_s: Vec<f64>,
    note: String,
) -> KernelTiming {
    let (median_s, mad_s) = median_mad(&sample_s);
    let min_s = sample_s.iter().copied().fold(f64::INFINITY, f64::min);
    let max_s = sample_s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let gpu_median_s = (!gpu_sample_s.is_empty()).then(|| median_mad(&gpu_sample_s).0);
    KernelTiming {
        group: w.group.into(),
        workload: w.workload,
        name: w.name,
        flops: w.flops,
        bytes: w.bytes,
        first_run_s,
        samples: sample_s.len(),
        median_s,
        mad_s,
        min_s,
        max_s,
        median_gflops: rate(w.flops, median_s),
        median_gbps: rate(w.bytes, median_s),
        sample_s,
        timer: if gpu_median_s.is_some() {
            "gpu-timestamps"
        } else {
            "wall-clock"
        }
        .into(),
        gpu_sample_s,
        gpu_median_s,
        note,
    }
}

/// `amount / seconds` in billions per second, `None` when there is no amount.
fn rate(amount: f64, seconds: f64) -> Option<f64> {
    (amount > 0.0).then(|| amount / seconds / 1e9)
}

/// Median and median absolute deviation of a non-empty list.
fn median_mad(values: &[f64]) -> (f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = median(&v);
    let mut dev: Vec<f64> = v.iter().map(|t| (t - m).abs()).collect();
    dev.sort_by(f64::total_cmp);
    (m, median(&dev))
}

/// Median of a sorted, non-empty slice.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}

/// The kernel workloads: matmul (both variants) at n³, the Gram form X·Xᵀ of an RDM, convolution
/// layers of AlexNet, VGG-16 and ResNet-50, ViT-B/16's attention, a correlation RDM and the GPU
/// Mantel kernel; `samples` timed runs each. `Smoke` shrinks every size to a seconds-long check.
pub fn kernel_benchmarks(
    ctx: &Context,
    size: BenchSize,
    samples: usize,
) -> Result<Vec<KernelTiming>> {
    let full = size == BenchSize::Full;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut upload = |shape: &[usize]| {
        let data = random(&mut rng, shape.iter().product());
        ctx.upload(&data, shape)
    };
    let mut out = Vec::new();

    let n = if full { 1024 } else { 128 };
    let (a, b) = (upload(&[n, n])?, upload(&[n, n])?);
    for (kernel, label) in [
        (MatmulKernel::Register, "register-tiled"),
        (MatmulKernel::Shared, "shared-memory"),
    ] {
        let opts = Matmul {
            kernel,
            ..Default::default()
        };
        let w = Workload::new(
            "kernel",
            format!("matmul {n}³"),
            label,
            2.0 * (n as f64).powi(3),
            12.0 * (n * n) as f64,
        );
        out.push(time_op(ctx, w, samples, &|r| {
            matmul(r, &a, &b, None, opts)
        })?);
    }

    let (rows, cols) = if full { (1000, 4096) } else { (100, 512) };
    let x = upload(&[rows, cols])?;
    let opts = Matmul {
        trans_b: true,
        ..Default::default()
    };
    let w = Workload::new(
        "kernel",
        format!("gram X·Xᵀ, X {rows}×{cols}"),
        "",
        2.0 * (rows * rows * cols) as f64,
        4.0 * (rows * cols + rows * rows) as f64,
    );
    out.push(time_op(ctx, w, samples, &|r| {
        matmul(r, &x, &x, None, opts)
    })?);

    // (model layer, input [C, H, W], output channels, kernel, padding): batch 1, stride 1.
    let layers: [(&str, [usize; 3], usize, usize, usize); 3] = if full {
        [
            ("AlexNet features.3", [64, 27, 27], 192, 5, 2),
            ("VGG-16 features.12", [256, 56, 56], 256, 3, 1),
            ("ResNet-50 layer3.0.conv2", [256, 14, 14], 256, 3, 1),
        ]
    } else {
        [
            ("AlexNet features.3", [64, 13, 13], 192, 5, 2),
            ("VGG-16 features.12", [64, 14, 14], 64, 3, 1),
            ("ResNet-50 layer3.0.conv2", [64, 7, 7], 64, 3, 1),
        ]
    };
    for (layer, [c, h, wd], oc, k, pad) in layers {
        let x = upload(&[1, c, h, wd])?;
        let wt = upload(&[oc, c, k, k])?;
        let bias = upload(&[oc])?;
        let p = Conv2d {
            padding: [pad, pad],
            relu: true,
            ..Default::default()
        };
        let work = Workload::new(
            "kernel",
            format!("conv2d {layer}: 1×{c}×{h}×{wd} → {oc}, k{k} p{pad}, bias + ReLU"),
            "",
            2.0 * (oc * h * wd * c * k * k) as f64,
            4.0 * (c * h * wd + oc * c * k * k + oc + oc * h * wd) as f64,
        );
        out.push(time_op(ctx, work, samples, &|r| {
            conv2d(r, &x, &wt, Some(&bias), &p)
        })?);
    }

    // ViT-B/16 self-attention: 197 tokens, 12 heads of 64.
    let (batch, tokens) = if full { (4, 197) } else { (1, 50) };
    let (heads, d) = (12, 64);
    let qkv = upload(&[batch, tokens, 3 * heads * d])?;
    let work = Workload::new(
        "kernel",
        format!("attention ViT-B/16 block: {batch}×{tokens} tokens, {heads} heads of {d}"),
        "",
        4.0 * (batch * tokens * tokens * heads * d) as f64,
        16.0 * (batch * tokens * heads * d) as f64,
    );
    let values = AttentionOutputs {
        values: true,
        weights: false,
    };
    out.push(time_op(ctx, work, samples, &|r| {
        Ok(attention(r, &qkv, heads, values)?.0.expect("values asked"))
    })?);

    // A correlation RDM through the GPU path, and the GPU Mantel kernel.
    use crate::rsa::mantel::{Alternative, MantelOptions};
    use crate::rsa::mantel_gpu::mantel_gpu;
    use crate::rsa::rdm::{rdms_gpu, Metric, Patterns};
    use crate::rsa::{pair_count, Method};
    let (rn, rp) = if full { (500, 4096) } else { (50, 512) };
    let data = random(&mut ChaCha8Rng::seed_from_u64(5), rn * rp);
    let work = Workload::new(
        "kernel",
        format!("correlation RDM, N = {rn} × {rp} features"),
        "GPU path",
        2.0 * (rn * rn * rp) as f64,
        4.0 * (rn * rp + pair_count(rn)) as f64,
    );
    let patterns = [Patterns {
        data: &data,
        n: rn,
        p: rp,
    }];
    out.push(time_samples(Some(ctx), work, samples, &|| {
        rdms_gpu(ctx, &patterns, Metric::Correlation, 64 << 20).map(drop)
    })?);
    let (mn, perms) = if full { (200, 10_000) } else { (30, 500) };
    let m = pair_count(mn);
    let mut r = ChaCha8Rng::seed_from_u64(6);
    let model: Vec<f64> = random(&mut r, m).iter().map(|&v| f64::from(v)).collect();
    let brain: Vec<f64> = model.iter().map(|v| v + 0.5).collect();
    let opts = MantelOptions {
        method: Method::Pearson,
        permutations: perms,
        seed: 1,
        alternative: Alternative::Greater,
        threads: 0,
    };
    let work = Workload::new(
        "kernel",
        format!("Mantel pearson, N = {mn}, {perms} permutations"),
        "GPU kernel",
        2.0 * (m * perms) as f64,
        8.0 * m as f64,
    );
    out.push(time_samples(Some(ctx), work, samples, &|| {
        mantel_gpu(
            ctx,
            std::slice::from_ref(&model),
            std::slice::from_ref(&brain),
            mn,
            &opts,
        )
        .map(drop)
    })?);
    Ok(out)
}

/// What a model benchmark captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureMode {
    /// The last capture point (the logits) only.
    None,
    /// Every capture point (`--layers all`), read back unreduced.
    All,
    /// Every capture point and a correlation RDM of each over the batch's images.
    #[serde(rename = "all+rdm")]
    AllRdm,
}

named_enum!(CaptureMode, "capture mode", { None => "none", All => "all", AllRdm => "all+rdm" });

/// Throughput of a whole model: seeded random weights, a random `[batch, 3, size, size]` input
/// uploaded, run and its captured points read back in every sample (and their RDMs computed, for
/// `all+rdm`). `images_per_s` is `batch / median`.
pub fn model_benchmark(
    engine: &crate::Engine,
    model: &str,
    batch: usize,
    size: usize,
    samples: usize,
    mode: CaptureMode,
) -> Result<ModelTiming> {
    use crate::rsa::rdm::{rdms_on, Metric, Patterns};
    if mode == CaptureMode::AllRdm && batch < 2 {
        return Err(crate::Error::Invalid(
            "capture all+rdm needs a batch of at least 2 images (an RDM compares images)".into(),
        ));
    }
    let graph = build(model)?;
    let shapes = graph.shapes(batch, size, size)?;
    let flops = graph.flops(&shapes);
    let weights = Weights::random(&graph.specs, 0);
    let layers = match mode {
        CaptureMode::None => graph
            .points
            .last()
            .expect("models have points")
            .name
            .clone(),
        CaptureMode::All | CaptureMode::AllRdm => "all".into(),
    };
    let capture = Capture::parse(&graph, &layers, Reduce::None)?;
    let read_floats: usize = capture
        .shapes(&graph, size, size)?
        .iter()
        .map(|s| batch * s.iter().product::<usize>())
        .sum();
    let net = Network::new(engine, graph, &weights)?;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let shape = [batch, 3, size, size];
    let x = random(&mut rng, shape.iter().product());
    let work = Workload::new(
        "model",
        format!("{model} batch {batch} at {size}×{size}, capture {mode}"),
        "",
        flops,
        4.0 * (x.len() + read_floats) as f64,
    );
    let t = time_samples(engine.context(), work, samples, &|| {
        let acts = net.extract(&x, &shape, &capture)?;
        if mode == CaptureMode::AllRdm {
            let patterns: Vec<Patterns<'_>> = acts
                .iter()
                .map(|a| Patterns {
                    data: a,
                    n: batch,
                    p: a.len() / batch,
                })
                .collect();
            rdms_on(engine, &patterns, &capture.points, Metric::Correlation)?;
        }
        Ok(())
    })?;
    Ok(ModelTiming {
        model: model.into(),
        batch,
        size,
        capture: mode,
        images_per_s: batch as f64 / t.median_s,
        timing: t,
    })
}

/// Timing of one model forward pass.
#[derive(Debug, Clone, Serialize)]
pub struct ModelTiming {
    pub model: String,
    pub batch: usize,
    pub size: usize,
    pub capture: CaptureMode,
    pub images_per_s: f64,
    #[serde(flatten)]
    pub timing: KernelTiming,
}

/// A workload timed by one run (after its pipelines were warmed up elsewhere), or estimated
/// from a shorter one (`note` says how).
fn single(w: Workload, seconds: f64, note: String) -> KernelTiming {
    summarize(w, seconds, vec![seconds], vec![], note)
}

/// The end-to-end demo analysis (`ventral run` without a file), once, on `engine`. `Smoke` runs
/// it at 64 pixels with CORnet-Z and 100 permutations.
pub fn analysis_benchmark(engine: &crate::Engine, size: BenchSize) -> Result<KernelTiming> {
    use crate::analysis::{config::AnalysisConfig, run_analysis, NoProgress};
    let mut cfg = AnalysisConfig::demo(std::env::temp_dir().join("ventral-bench-unused"));
    let what = if size == BenchSize::Smoke {
        cfg.stimuli.size = Some(64);
        cfg.preprocess.size = Some(64);
        cfg.models.truncate(1);
        cfg.models[0].name = "cornet_z".into();
        cfg.compare.permutations = 100;
        cfg.compare.bootstrap = 20;
        "demo analysis at 64 px: cornet_z, 100 permutations, 20 bootstrap samples"
    } else {
        "demo analysis (ventral run): 36 stimuli, alexnet + resnet18, 4 subjects, 1000 permutations, 200 bootstrap samples"
    };
    let t = Instant::now();
    run_analysis(&cfg, engine, &NoProgress)?;
    let work = Workload::new("analysis", what.into(), "", 0.0, 0.0);
    Ok(single(
        work,
        t.elapsed().as_secs_f64(),
        "one run, context creation and pipeline compiles included".into(),
    ))
}

/// The statistics tasks of BENCHMARKS.md on random data of the named sizes: correlation RDM
/// (N × P, GPU path and native path), Mantel tests at N = 1000 (Pearson, Spearman, τa), a 21-layer × 8-subject
/// τa table at N = 92, and a ρa bootstrap at N = 500 with 8 subjects. `Smoke` shrinks every size.
/// Each task runs once, after a warm-up of the GPU pipeline; wall-clock seconds.
pub fn rsa_benchmarks(
    ctx: Option<&Context>,
    size: BenchSize,
    threads: usize,
) -> Result<Vec<KernelTiming>> {
    use crate::rsa::bootstrap::{bootstrap, BootstrapOptions, Resample};
    use crate::rsa::mantel::{mantel, Alternative, MantelOptions};
    use crate::rsa::rdm::{rdms_gpu, Metric, Patterns};
    use crate::rsa::{pair_count, Method};
    use rand::Rng;

    let full = size == BenchSize::Full;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::new();
    fn time(
        out: &mut Vec<KernelTiming>,
        (workload, imp): (String, &str),
        f: &mut dyn FnMut() -> Result<()>,
    ) -> Result<f64> {
        let t = Instant::now();
        f()?;
        let seconds = t.elapsed().as_secs_f64();
        let work = Workload::new("rsa", workload, imp, 0.0, 0.0);
        out.push(single(work, seconds, "one run".into()));
        Ok(seconds)
    }

    let (n, p) = if full { (1000, 43_264) } else { (50, 3000) };
    let x = random(&mut rng, n * p);
    // The GPU path only where a wgpu device is open.
    if let Some(ctx) = ctx {
        let warm = Patterns {
            data: &x[..10 * p],
            n: 10,
            p,
        };
        rdms_gpu(ctx, &[warm], Metric::Correlation, 64 << 20)?;
        time(
            &mut out,
            (
                format!("correlation RDM, N = {n} × {p} features"),
                "GPU path",
            ),
            &mut || {
                rdms_gpu(
                    ctx,
                    &[Patterns { data: &x, n, p }],
                    Metric::Correlation,
                    64 << 20,
                )
                .map(drop)
            },
        )?;
    }
    time(
        &mut out,
        (
            format!("correlation RDM, N = {n} × {p} features"),
            "native CPU path",
        ),
        &mut || crate::rsa::rdm::rdm_native(&x, n, p, Metric::Correlation, threads).map(drop),
    )?;

    let n = if full { 1000 } else { 60 };
    let m = pair_count(n);
    let a: Vec<f64> = (0..m).map(|_| rng.random::<f64>()).collect();
    let b: Vec<f64> = a.iter().map(|v| v + rng.random::<f64>()).collect();
    for (method, perms) in [
        (Method::Pearson, 10_000),
        (Method::Spearman, 10_000),
        (Method::KendallTauA, if full { 400 } else { 10_000 }),
    ] {
        let opts = MantelOptions {
            method,
            permutations: perms,
            seed: 1,
            alternative: Alternative::Greater,
            threads,
        };
        let secs = time(
            &mut out,
            (
                format!("Mantel {method}, N = {n}, {perms} permutations"),
                "",
            ),
            &mut || mantel(std::slice::from_ref(&a), std::slice::from_ref(&b), n, &opts).map(drop),
        )?;
        if perms < 10_000 {
            let name = format!("Mantel {method}, N = {n}, 10000 permutations");
            out.push(single(
                Workload::new("rsa", name, "", 0.0, 0.0),
                secs * 10_000.0 / perms as f64,
                format!("extrapolated from {perms} permutations (linear in the count)"),
            ));
        }
    }

    let (n, layers, subjects) = if full { (92, 21, 8) } else { (20, 4, 3) };
    let m = pair_count(n);
    let models: Vec<Vec<f64>> = (0..layers)
        .map(|_| (0..m).map(|_| rng.random::<f64>()).collect())
        .collect();
    let brains: Vec<Vec<f64>> = (0..subjects)
        .map(|_| (0..m).map(|_| rng.random::<f64>()).collect())
        .collect();
    let opts = MantelOptions {
        method: Method::KendallTauA,
        permutations: 10_000,
        seed: 2,
        alternative: Alternative::Greater,
        threads,
    };
    time(
        &mut out,
        (
            format!(
                "Mantel τa table, N = {n}, {layers} layers × {subjects} subjects × 10000 permutations"
            ),
            "",
        ),
        &mut || mantel(&models, &brains, n, &opts).map(drop),
    )?;

    let (n, samples) = if full { (500, 1000) } else { (40, 100) };
    let m = pair_count(n);
    let model: Vec<f64> = (0..m).map(|_| rng.random::<f64>()).collect();
    let brains: Vec<Vec<f64>> = (0..8)
        .map(|_| model.iter().map(|v| v + rng.random::<f64>()).collect())
        .collect();
    let opts = BootstrapOptions {
        method: Method::RhoA,
        resample: Resample::Stimuli,
        samples,
        seed: 3,
        threads,
    };
    time(
        &mut out,
        (
            format!("bootstrap ρa, N = {n}, 8 subjects, {samples} samples"),
            "",
        ),
        &mut || bootstrap(std::slice::from_ref(&model), &brains, n, &opts).map(drop),
    )?;
    Ok(out)
}

/// Timing of one encoding workload, with the peak resident memory of the process while it ran.
#[derive(Debug, Clone, Serialize)]
pub struct EncodingTiming {
    #[serde(flatten)]
    pub timing: KernelTiming,
    /// `VmHWM` of `/proc/self/status` after the workload, in bytes, the peak having been reset
    /// (`/proc/self/clear_refs`) to the resident size just before it; `None` off Linux.
    pub peak_rss_bytes: Option<u64>,
    /// Whether the peak was reset before the workload (else it is the process's lifetime peak).
    pub peak_rss_reset: bool,
}

/// Resets the process's peak resident size (`VmHWM`) to its current one; false where that is
/// not possible (not Linux, or `/proc` not writable).
fn reset_peak_rss() -> bool {
    cfg!(target_os = "linux") && std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), in bytes; `None` off Linux.
fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kb: u64 = line[field.len()..]
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// `1 thread`, `2 threads`.
fn thread_count(threads: usize) -> String {
    format!("{threads} thread{}", if threads == 1 { "" } else { "s" })
}

/// Mebibytes with one decimal, or `?`.
fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("?".into(), |b| {
        format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
    })
}

/// The encoding measure's two heavy steps (SCIENCE.md §5.3) at Conwell's sizes, each run once on
/// seeded data, wall clock, with the peak resident memory:
///
/// * a sparse random projection of a VGG-16 conv layer (1000 images × 802,816 features) to
///   `jl_min_dim(1000, 0.1)` = 5920 components: the matrix drawn, then the input generated and
///   projected 16 rows at a time (the time counts the draw and the projections, not the input
///   generation; the whole input is never held);
/// * ridge with exact leave-one-out over `logspace(−1, 5, 7)` (standardized, `Select::R2`: the
///   scikit-learn `RidgeCV` default) of 10,000 voxels on 5920 features, trained on the 500 even
///   rows, then predicting the 500 odd rows. X and Y share a rank-16 latent (plus as much
///   noise), so the fit is meaningful; the note gives the median test r and the chosen alphas.
///
/// `Smoke`: 100 × 20,000 → 1000 and 100/100 × 600 → 500 voxels. `threads` > 0 runs on a pool of
/// that many threads (0: the global pool, one per core). The workload strings are those of
/// `benches/baselines/encoding.py` (scikit-learn).
pub fn encoding_benchmarks(size: BenchSize, threads: usize) -> Result<Vec<EncodingTiming>> {
    if threads == 0 {
        return encoding_workloads(size);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| crate::Error::Invalid(format!("cannot start {threads} threads: {e}")))?
        .install(|| encoding_workloads(size))
}

fn encoding_workloads(size: BenchSize) -> Result<Vec<EncodingTiming>> {
    let full = size == BenchSize::Full;
    let threads = rayon::current_num_threads();
    let (n, p, k) = if full {
        (
            1000,
            802_816,
            crate::measures::encoding::jl_min_dim(1000, 0.1)?,
        )
    } else {
        (100, 20_000, 1000)
    };
    let mut out = vec![projection_workload(n, p, k, threads)?];
    let (n, p, v) = if full {
        (1000, 5920, 10_000)
    } else {
        (200, 600, 500)
    };
    out.push(ridge_workload(n, p, v, threads)?);
    Ok(out)
}

/// Rows projected per batch by the streamed projection workload.
const PROJECTION_BATCH: usize = 16;

fn projection_workload(n: usize, p: usize, k: usize, threads: usize) -> Result<EncodingTiming> {
    use crate::measures::encoding::SparseProjection;
    use rand::Rng;
    let reset = reset_peak_rss();
    let resident = proc_status_bytes("VmRSS");
    let t = Instant::now();
    let r = SparseProjection::new(p, k, 0)?;
    let drawn = t.elapsed().as_secs_f64();
    let mut z = vec![0.0f64; n * k];
    let mut batch = vec![0.0f32; PROJECTION_BATCH * p];
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (mut projecting, mut generating) = (0.0, 0.0);
    for z in z.chunks_mut(PROJECTION_BATCH * k) {
        let rows = z.len() / k;
        let t = Instant::now();
        let f = &mut batch[..rows * p];
        for v in f.iter_mut() {
            *v = rng.random_range(-1.0f32..1.0);
        }
        generating += t.elapsed().as_secs_f64();
        let t = Instant::now();
        r.project_into(f, rows, z)?;
        projecting += t.elapsed().as_secs_f64();
    }
    let peak = proc_status_bytes("VmHWM");
    if !z.iter().all(|v| v.is_finite()) {
        return Err(crate::Error::Invalid(
            "bench: the projection gave a non-finite value".into(),
        ));
    }
    let seconds = drawn + projecting;
    let work = Workload::new(
        "encoding",
        format!("sparse projection {n} × {p} → {k} (streamed)"),
        "",
        2.0 * (n * r.nnz()) as f64,
        (4 * n * p + 8 * n * k + r.memory_bytes()) as f64,
    );
    let note = format!(
        "one run, {}: matrix drawn in {drawn:.3} s (nnz {}, {}), {} batches of {PROJECTION_BATCH} rows projected in {projecting:.3} s; input generated per batch in {generating:.3} s, not timed; peak RSS {} ({}, {} resident before)",
        thread_count(threads),
        r.nnz(),
        mib(Some(r.memory_bytes() as u64)),
        n.div_ceil(PROJECTION_BATCH),
        mib(peak),
        if reset { "VmHWM reset before the workload" } else { "process lifetime VmHWM" },
        mib(resident),
    );
    Ok(EncodingTiming {
        timing: single(work, seconds, note),
        peak_rss_bytes: peak,
        peak_rss_reset: reset,
    })
}

/// Seeded design for the ridge workload, correlated features as a layer's are: a latent
/// `L: [n, 16]`, `X = L·Gx + E` `[n, p]` and `Y = L·Gy + E'` `[n, v]`, every factor and noise
/// uniform, signal and noise each scaled to unit variance.
fn ridge_data(n: usize, p: usize, v: usize) -> (faer::Mat<f64>, faer::Mat<f64>) {
    use faer::linalg::matmul::matmul;
    use faer::{Accum, Mat, Par};
    use rand::Rng;
    const RANK: usize = 16;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut uniform = |rows, cols, scale: f64| {
        Mat::from_fn(rows, cols, |_, _| scale * rng.random_range(-1.0..1.0))
    };
    let latent: Mat<f64> = uniform(n, RANK, 1.0);
    // Uniform on [−1, 1) has variance 1/3, so each product L·G has RANK / 9.
    let scale = (9.0 / RANK as f64).sqrt();
    let mut signal = |cols| {
        let g: Mat<f64> = uniform(RANK, cols, 1.0);
        // Unit-variance noise: uniform on ±√3.
        let mut m = uniform(n, cols, 3f64.sqrt());
        matmul(
            m.as_mut(),
            Accum::Add,
            latent.as_ref(),
            g.as_ref(),
            scale,
            Par::rayon(0),
        );
        m
    };
    let x = signal(p);
    let y = signal(v);
    (x, y)
}

fn ridge_workload(n: usize, p: usize, v: usize, threads: usize) -> Result<EncodingTiming> {
    use crate::measures::encoding::{
        conwell_alphas, pearson_columns, RidgeCv, RidgeOptions, Select,
    };
    use faer::Mat;
    let (x, y) = ridge_data(n, p, v);
    let rows = |m: &Mat<f64>, first: usize| {
        Mat::from_fn(m.nrows() / 2, m.ncols(), |i, j| m[(2 * i + first, j)])
    };
    let (x_train, y_train, x_test, y_test) = (rows(&x, 0), rows(&y, 0), rows(&x, 1), rows(&y, 1));
    drop((x, y));
    let options = RidgeOptions {
        alphas: conwell_alphas(),
        select: Select::R2,
        standardize: true,
    };
    let reset = reset_peak_rss();
    let resident = proc_status_bytes("VmRSS");
    let t = Instant::now();
    let fit = RidgeCv::fit(x_train.as_ref(), y_train.as_ref(), &options)?;
    let fitted = t.elapsed().as_secs_f64();
    let predicted = fit.model.predict(x_test.as_ref())?;
    let seconds = t.elapsed().as_secs_f64();
    let peak = proc_status_bytes("VmHWM");
    let mut r = pearson_columns(y_test.as_ref(), predicted.as_ref())?;
    r.sort_by(f64::total_cmp);
    let mut counts = vec![0usize; fit.alphas.len()];
    for &a in &fit.chosen {
        counts[a] += 1;
    }
    let chosen: Vec<String> = fit
        .alphas
        .iter()
        .zip(&counts)
        .filter(|(_, &c)| c > 0)
        .map(|(a, c)| format!("{a:e}: {c}"))
        .collect();
    let (m, alphas) = (x_test.nrows(), options.alphas.len());
    let work = Workload::new(
        "encoding",
        format!(
            "ridge loo {}/{m} × {p} → {v} voxels, {alphas} alphas",
            x_train.nrows()
        ),
        "",
        0.0,
        0.0,
    );
    let note = format!(
        "one run, {}: fit {fitted:.3} s + predict {:.3} s; median test r {:.3} over {v} voxels; alphas chosen {}; peak RSS {} ({}, {} resident before)",
        thread_count(threads),
        seconds - fitted,
        r[r.len() / 2],
        chosen.join(", "),
        mib(peak),
        if reset { "VmHWM reset before the workload" } else { "process lifetime VmHWM" },
        mib(resident),
    );
    Ok(EncodingTiming {
        timing: single(work, seconds, note),
        peak_rss_bytes: peak,
        peak_rss_reset: reset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_smoke_runs_both_workloads_with_the_peer_strings() {
        let out = encoding_benchmarks(BenchSize::Smoke, 1).unwrap();
        let workloads: Vec<&str> = out.iter().map(|e| e.timing.workload.as_str()).collect();
        // The same strings as benches/baselines/encoding.py writes.
        assert_eq!(
            workloads,
            [
                "sparse projection 100 × 20000 → 1000 (streamed)",
                "ridge loo 100/100 × 600 → 500 voxels, 7 alphas"
            ]
        );
        for e in &out {
            assert_eq!(e.timing.group, "encoding");
            assert_eq!(e.timing.samples, 1);
            assert!(e.timing.median_s > 0.0 && e.timing.note.starts_with("one run, 1 thread:"));
            if cfg!(target_os = "linux") {
                assert!(e.peak_rss_bytes.is_some_and(|b| b > 0));
            }
        }
    }

    #[test]
    fn proc_status_fields_parse_as_bytes() {
        if cfg!(target_os = "linux") {
            let (rss, peak) = (proc_status_bytes("VmRSS"), proc_status_bytes("VmHWM"));
            assert!(rss.is_some_and(|r| peak.is_some_and(|p| p >= r && r > 0)));
        }
        assert_eq!(proc_status_bytes("NoSuchField"), None);
        assert_eq!(mib(Some(3 << 20)), "3.0 MiB");
        assert_eq!(mib(None), "?");
    }
}
