//! Kernel benchmarks: what a user waits for. Pipeline compile + first run is reported apart from the
//! steady state; every timed sample records, submits and waits for the GPU; median and spread.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::Result;
use crate::gpu::{Context, Recorder, Tensor};
use crate::models::{build, Capture, Network, Reduce};
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

/// Timing of one kernel configuration.
#[derive(Debug, Clone, Serialize)]
pub struct KernelTiming {
    pub name: String,
    pub flops: f64,
    /// Pipeline build + first run, seconds.
    pub first_run_s: f64,
    pub samples: usize,
    pub median_s: f64,
    /// Median absolute deviation of the samples from their median.
    pub mad_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub median_gflops: f64,
    /// Every timed sample, in the order they ran.
    pub sample_s: Vec<f64>,
}

fn time_op(
    ctx: &Context,
    name: String,
    flops: f64,
    samples: usize,
    op: &dyn Fn(&mut Recorder<'_>) -> Result<Tensor>,
) -> Result<KernelTiming> {
    // `run` submits and waits for completion: the GPU sync is inside the sample.
    time_samples(name, flops, samples, &|| ctx.run(op).map(drop))
}

fn time_samples(
    name: String,
    flops: f64,
    samples: usize,
    op: &dyn Fn() -> Result<()>,
) -> Result<KernelTiming> {
    let t0 = Instant::now();
    op()?;
    let first_run_s = t0.elapsed().as_secs_f64();
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        op()?;
        times.push(t.elapsed().as_secs_f64());
    }
    let sample_s = times.clone();
    times.sort_by(f64::total_cmp);
    let median_s = median(&times);
    let mut deviations: Vec<f64> = times.iter().map(|t| (t - median_s).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    Ok(KernelTiming {
        name,
        flops,
        first_run_s,
        samples,
        median_s,
        mad_s: median(&deviations),
        min_s: times[0],
        max_s: times[samples - 1],
        median_gflops: flops / median_s / 1e9,
        sample_s,
    })
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

/// Matmul (both variants) at n³ and one convolution layer (AlexNet conv2: 64→192, 27×27, k5 p2),
/// `samples` timed runs each.
pub fn kernel_benchmarks(
    ctx: &Context,
    size: BenchSize,
    samples: usize,
) -> Result<Vec<KernelTiming>> {
    let samples = samples.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let n = match size {
        BenchSize::Smoke => 128,
        BenchSize::Full => 1024,
    };
    let a = ctx.upload(&random(&mut rng, n * n), &[n, n])?;
    let b = ctx.upload(&random(&mut rng, n * n), &[n, n])?;
    let mut out = Vec::new();
    for (kernel, label) in [
        (MatmulKernel::Register, "register-tiled"),
        (MatmulKernel::Shared, "shared-memory"),
    ] {
        let opts = Matmul {
            kernel,
            ..Default::default()
        };
        out.push(time_op(
            ctx,
            format!("matmul {n}³ {label}"),
            2.0 * (n as f64).powi(3),
            samples,
            &|r| matmul(r, &a, &b, None, opts),
        )?);
    }
    let hw = match size {
        BenchSize::Smoke => 13,
        BenchSize::Full => 27,
    };
    let x = ctx.upload(&random(&mut rng, 64 * hw * hw), &[1, 64, hw, hw])?;
    let w = ctx.upload(&random(&mut rng, 192 * 64 * 25), &[192, 64, 5, 5])?;
    let bias = ctx.upload(&random(&mut rng, 192), &[192])?;
    let p = Conv2d {
        padding: [2, 2],
        relu: true,
        ..Default::default()
    };
    let flops = 2.0 * (192 * hw * hw * 64 * 25) as f64;
    out.push(time_op(
        ctx,
        format!("conv2d 1×64×{hw}×{hw} → 192, k5 p2 +bias relu"),
        flops,
        samples,
        &|r| conv2d(r, &x, &w, Some(&bias), &p),
    )?);
    Ok(out)
}

/// Throughput of a whole model: seeded random weights, a random `[batch, 3, size, size]` input
/// uploaded, run and its last capture point read back in every sample. `images_per_s` is
/// `batch / median`.
pub fn model_benchmark(
    ctx: &Context,
    model: &str,
    batch: usize,
    size: usize,
    samples: usize,
) -> Result<ModelTiming> {
    let graph = build(model)?;
    let shapes = graph.shapes(batch, size, size)?;
    let flops = graph.flops(&shapes);
    let weights = Weights::random(&graph.specs, 0);
    let last = graph
        .points
        .last()
        .expect("models have points")
        .name
        .clone();
    let capture = Capture::parse(&graph, &last, Reduce::None)?;
    let net = Network::new(ctx, graph, &weights)?;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let shape = [batch, 3, size, size];
    let x = random(&mut rng, shape.iter().product());
    let t = time_samples(
        format!("{model} batch {batch} at {size}×{size}"),
        flops,
        samples.max(1),
        &|| net.extract(&x, &shape, &capture).map(drop),
    )?;
    Ok(ModelTiming {
        model: model.into(),
        batch,
        size,
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
    pub images_per_s: f64,
    #[serde(flatten)]
    pub timing: KernelTiming,
}

/// One timed statistics task.
#[derive(Debug, Clone, Serialize)]
pub struct TaskTiming {
    pub name: String,
    pub seconds: f64,
    /// What the measured run did, when it is scaled to the named task (e.g. fewer permutations).
    pub note: String,
}

/// The statistics tasks of BENCHMARKS.md on random data of the named sizes: correlation RDM
/// (N × P, GPU path and native path), Mantel tests at N = 1000 (Pearson, Spearman, τa), a 21-layer × 8-subject
/// τa table at N = 92, and a ρa bootstrap at N = 500 with 8 subjects. `Smoke` shrinks every size.
/// Each task runs once, after a warm-up of the GPU pipeline; wall-clock seconds.
pub fn rsa_benchmarks(ctx: &Context, size: BenchSize, threads: usize) -> Result<Vec<TaskTiming>> {
    use crate::rsa::bootstrap::{bootstrap, BootstrapOptions, Resample};
    use crate::rsa::mantel::{mantel, Alternative, MantelOptions};
    use crate::rsa::rdm::{rdms_gpu, Metric, Patterns};
    use crate::rsa::{pair_count, Method};
    use rand::Rng;

    let full = size == BenchSize::Full;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut out = Vec::new();
    fn time(
        out: &mut Vec<TaskTiming>,
        name: String,
        f: &mut dyn FnMut() -> Result<()>,
    ) -> Result<f64> {
        let t = Instant::now();
        f()?;
        let seconds = t.elapsed().as_secs_f64();
        out.push(TaskTiming {
            name,
            seconds,
            note: String::new(),
        });
        Ok(seconds)
    }

    let (n, p) = if full { (1000, 43_264) } else { (50, 3000) };
    let x = random(&mut rng, n * p);
    rdms_gpu(
        ctx,
        &[Patterns {
            data: &x[..10 * p],
            n: 10,
            p,
        }],
        Metric::Correlation,
        64 << 20,
    )?;
    time(
        &mut out,
        format!("correlation RDM, N = {n} × {p} features (GPU path)"),
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
    time(
        &mut out,
        format!("correlation RDM, N = {n} × {p} features (native CPU path)"),
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
            format!("Mantel {method}, N = {n}, {perms} permutations"),
            &mut || mantel(std::slice::from_ref(&a), std::slice::from_ref(&b), n, &opts).map(drop),
        )?;
        if perms < 10_000 {
            out.push(TaskTiming {
                name: format!("Mantel {method}, N = {n}, 10000 permutations"),
                seconds: secs * 10_000.0 / perms as f64,
                note: format!("extrapolated from {perms} permutations (linear in the count)"),
            });
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
        format!(
            "Mantel τa table, N = {n}, {layers} layers × {subjects} subjects × 10000 permutations"
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
        format!("bootstrap ρa, N = {n}, 8 subjects, {samples} samples"),
        &mut || bootstrap(std::slice::from_ref(&model), &brains, n, &opts).map(drop),
    )?;
    Ok(out)
}
