//! Simulated voxels with a known generating layer, which the encoding analysis must recover:
//! seeded random AlexNet runs on the 92 images of `../shared/data/kriegeskorte92` (or the folder
//! given), every capture point is reduced to its channel means, 200 voxels mix an 8-dimensional
//! random read-out of one point plus noise (half the signal's SD), and every point is then scored
//! by the encoding measure (SRP, ridge with exact LOO, even/odd split). Exit 1 unless the point
//! chosen on train is the generating one.
//!
//! `cargo run --release --example encoding_recovery -- [IMAGES] [GENERATING_POINT]`
//! (default `features.9`, conv4's ReLU). Points that are linear functions of an earlier point
//! cannot be told apart by a linear model: a conv's channel means are an affine function of the
//! previous ReLU's, so a pre-ReLU conv output (`features.8`) is recovered as the ReLU before it.

use std::path::PathBuf;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ventral::analysis::extract::extract_batches;
use ventral::measures::encoding::evaluate::Target;
use ventral::measures::encoding::measure::{EncodingReport, EncodingSettings, LayerFeatures};
use ventral::rsa::rdm::{rdm_native, Metric};
use ventral::stimuli::{Preprocess, StimulusSet};
use ventral::{models, Capture, ContextOptions, Device, Engine, Network, Reduce, Weights};

const VOXELS: usize = 200;
/// Dimensions of the population code the voxels mix.
const LATENT: usize = 8;
/// Noise standard deviation relative to the signal's.
const NOISE: f64 = 0.5;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let images = args.next().map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/kriegeskorte92/images"),
        PathBuf::from,
    );
    let generating = args.next().unwrap_or_else(|| "features.9".into());
    let t = Instant::now();
    let engine = Engine::open(Device::Auto, &ContextOptions::from_env()?, 0)?;
    let graph = models::build("alexnet")?;
    let weights = Weights::random(&graph.specs, 0);
    let capture = Capture::parse(&graph, "all", Reduce::Mean)?;
    let shapes = capture.shapes(&graph, 224, 224)?;
    let features: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
    let net = Network::new(&engine, graph, &weights)?;
    let mut stimuli = StimulusSet::folder(&images)?;
    let n = stimuli.len();
    let mut acts: Vec<Vec<f32>> = features
        .iter()
        .map(|&p| Vec::with_capacity(n * p))
        .collect();
    extract_batches(
        &net,
        &mut stimuli,
        &Preprocess::default(),
        &capture,
        16,
        (224, 224),
        |_, _, out| {
            for (a, o) in acts.iter_mut().zip(out) {
                a.extend_from_slice(&o);
            }
            Ok(())
        },
    )?;
    let g = capture
        .points
        .iter()
        .position(|p| *p == generating)
        .ok_or_else(|| anyhow::anyhow!("alexnet has no capture point '{generating}'"))?;

    // Voxels: a population code of the generating point. Its z-scored features are read out
    // onto LATENT dimensions by N(0, 1/p) weights, the latents are mixed into each voxel by
    // N(0, 1) weights, and noise of half the signal's standard deviation is added.
    let p = features[g];
    let x = &acts[g];
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut normal = move || {
        let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let stats: Vec<(f64, f64)> = (0..p)
        .map(|j| {
            let col = (0..n).map(|i| f64::from(x[i * p + j]));
            let mean = col.clone().sum::<f64>() / n as f64;
            let var = col.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
            (mean, var.sqrt().max(1e-12))
        })
        .collect();
    let read: Vec<f64> = (0..p * LATENT)
        .map(|_| normal() / (p as f64).sqrt())
        .collect();
    let mut latent = vec![0.0; n * LATENT];
    for i in 0..n {
        for j in 0..p {
            let z = (f64::from(x[i * p + j]) - stats[j].0) / stats[j].1;
            for l in 0..LATENT {
                latent[i * LATENT + l] += z * read[j * LATENT + l];
            }
        }
    }
    let mix: Vec<f64> = (0..LATENT * VOXELS).map(|_| normal()).collect();
    let mut y = faer::Mat::<f64>::zeros(n, VOXELS);
    for v in 0..VOXELS {
        for i in 0..n {
            y[(i, v)] = (0..LATENT)
                .map(|l| latent[i * LATENT + l] * mix[l * VOXELS + v])
                .sum();
        }
        let sd = (0..n).map(|i| y[(i, v)].powi(2)).sum::<f64>().sqrt() / (n as f64).sqrt();
        for i in 0..n {
            y[(i, v)] += NOISE * sd * normal();
        }
    }
    let targets = vec![Target::new("simulated", "readout", y, None)?];

    let settings = EncodingSettings::conwell();
    let mut report = EncodingReport::new(&settings, &targets, false);
    for (k, point) in capture.points.iter().enumerate() {
        let rdm = rdm_native(&acts[k], n, features[k], Metric::Correlation, 0)?.condensed;
        let layer =
            LayerFeatures::from_raw("alexnet", point, &acts[k], n, rdm, settings.projection)?;
        report.add(layer, &targets)?;
    }
    println!(
        "{n} images, {VOXELS} voxels read out from the channel means of alexnet/{generating} (seeded random weights)"
    );
    println!(
        "{:22} {:>9} {:>9} {:>9} {:>9}",
        "layer", "train r", "test r", "veRSA", "cRSA"
    );
    let selected = report.selected();
    for l in &report.layers {
        let e = &l.evaluations[0];
        println!(
            "{:22} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            l.layer, e.train.mean_r, e.test.mean_r, e.versa_test, e.crsa_test
        );
    }
    let chosen = &report.layers[selected[&("alexnet".to_string(), 0, "encoding_r")]].layer;
    println!(
        "chosen on train: {chosen} ({:.1} s on {})",
        t.elapsed().as_secs_f64(),
        engine.summary()
    );
    if *chosen != generating {
        eprintln!("the generating layer {generating} was not recovered");
        std::process::exit(1);
    }
    Ok(())
}
