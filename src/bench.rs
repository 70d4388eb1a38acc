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
