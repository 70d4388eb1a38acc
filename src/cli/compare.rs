//! `ventral compare`: model RDMs against subject RDMs with permutation p-values, a noise ceiling
//! and bootstrap intervals; one results table (.csv or .json).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::Failure;
use crate::error::Error;
use crate::gpu::Context;
use crate::output::AtomicFile;
use crate::rsa::bootstrap::{
    bootstrap, difference, interval, BootstrapOptions, Difference, Interval, Resample,
};
use crate::rsa::ceiling::{noise_ceiling, NoiseCeiling};
use crate::rsa::load::read_rdms;
use crate::rsa::mantel::{mantel, Alternative, MantelOptions, MantelTable};
use crate::rsa::mantel_gpu::{mantel_gpu, uses_gpu, MantelDevice};
use crate::rsa::{compare, Method};

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Model RDMs (.safetensors from `ventral rdm`, .npy, .npz or .csv)
    #[arg(long)]
    pub model_rdms: PathBuf,
    /// Subject RDMs: any [..., N, N] or [..., N(N−1)/2] array (.npy, .npz, .safetensors, .csv);
    /// leading dimensions are flattened into subjects
    #[arg(long)]
    pub brain_rdms: PathBuf,
    /// pearson, spearman, kendall-tau-a, kendall-tau-b, rho-a or cosine
    #[arg(long, default_value = "spearman")]
    pub method: String,
    /// Mantel permutations (0: none)
    #[arg(long, default_value_t = 0)]
    pub permutations: usize,
    /// Seed of the permutations and the bootstrap (recorded in the results)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// greater, less or two-sided
    #[arg(long, default_value = "greater")]
    pub alternative: String,
    /// Also compute the noise ceiling of the subject RDMs
    #[arg(long)]
    pub noise_ceiling: bool,
    /// Bootstrap samples for confidence intervals (0: none)
    #[arg(long, default_value_t = 0)]
    pub bootstrap: usize,
    /// What the bootstrap resamples: stimuli, subjects or both
    #[arg(long, default_value = "stimuli")]
    pub bootstrap_over: String,
    /// Worker threads (0: all cores)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Where Mantel permutations run: auto (GPU for dot-product methods on a hardware adapter,
    /// CPU threads otherwise), cpu or gpu
    #[arg(long, default_value = "auto")]
    pub mantel_device: String,
    #[command(flatten)]
    pub gpu: super::GpuArgs,
    /// Results: .csv or .json
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Serialize)]
struct Settings {
    method: Method,
    permutations: usize,
    seed: u64,
    alternative: Alternative,
    bootstrap: usize,
    bootstrap_over: Resample,
    mantel_device: String,
    stimuli: usize,
    model_rdms: String,
    brain_rdms: String,
    ventral_version: &'static str,
}

#[derive(Serialize)]
struct SubjectScore {
    subject: String,
    score: f64,
    p_value: Option<f64>,
}

#[derive(Serialize)]
struct ModelRow {
    model: String,
    per_subject: Vec<SubjectScore>,
    mean: f64,
    sem: f64,
    p_value: Option<f64>,
    ci: Option<Interval>,
}

#[derive(Serialize)]
struct DifferenceRow {
    model: String,
    other: String,
    mean_difference: f64,
    bootstrap: Difference,
}

#[derive(Serialize)]
struct Results {
    settings: Settings,
    subjects: Vec<String>,
    noise_ceiling: Option<NoiseCeiling>,
    models: Vec<ModelRow>,
    differences: Vec<DifferenceRow>,
    seconds: Seconds,
}

#[derive(Serialize, Default)]
struct Seconds {
    compare: f64,
    mantel: f64,
    noise_ceiling: f64,
    bootstrap: f64,
}

pub fn run(args: &CompareArgs) -> Result<(), Failure> {
    let method: Method = args.method.parse()?;
    let alternative: Alternative = args.alternative.parse()?;
    let resample: Resample = args.bootstrap_over.parse()?;
    let device: MantelDevice = args.mantel_device.parse()?;
    let csv = match args.out.extension().and_then(|e| e.to_str()) {
        Some("csv") => true,
        Some("json") => false,
        _ => {
            return Err(Error::Invalid(format!(
                "--out {}: use a .csv or .json file name",
                args.out.display()
            ))
            .into())
        }
    };
    let models = read_rdms(&args.model_rdms)?;
    let subjects = read_rdms(&args.brain_rdms)?;
    let n = subjects[0].n;
    if models[0].n != n {
        return Err(Error::Invalid(format!(
            "model RDMs ({}) are for N = {} stimuli, subject RDMs ({}) for N = {n}",
            args.model_rdms.display(),
            models[0].n,
            args.brain_rdms.display()
        ))
        .into());
    }
    let mv: Vec<Vec<f64>> = models.iter().map(|r| r.condensed.clone()).collect();
    let sv: Vec<Vec<f64>> = subjects.iter().map(|r| r.condensed.clone()).collect();
    let mut secs = Seconds::default();

    let t = Instant::now();
    let scores: Vec<Vec<f64>> = mv
        .iter()
        .map(|m| sv.iter().map(|s| compare(m, s, method)).collect())
        .collect();
    secs.compare = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut used_device = String::from("none");
    let table: Option<MantelTable> = if args.permutations > 0 {
        let opts = MantelOptions {
            method,
            permutations: args.permutations,
            seed: args.seed,
            alternative,
            threads: args.threads,
        };
        // A GPU context only when the GPU path may be used.
        let ctx = match device {
            MantelDevice::Cpu => None,
            _ if matches!(method, Method::KendallTauA | Method::KendallTauB) => None,
            MantelDevice::Gpu => Some(Context::new(&args.gpu.options()?)?),
            MantelDevice::Auto => Context::new(&args.gpu.options()?).ok(),
        };
        if uses_gpu(device, method, ctx.as_ref()) {
            let ctx = ctx.as_ref().expect("uses_gpu needs a context");
            used_device = format!("gpu: {}", ctx.adapter().summary());
            Some(mantel_gpu(ctx, &mv, &sv, n, &opts)?)
        } else {
            used_device = "cpu".into();
            Some(mantel(&mv, &sv, n, &opts)?)
        }
    } else {
        None
    };
    secs.mantel = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let ceiling = if args.noise_ceiling {
        Some(noise_ceiling(&sv, method)?)
    } else {
        None
    };
    secs.noise_ceiling = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let boot = if args.bootstrap > 0 {
        let opts = BootstrapOptions {
            method,
            resample,
            samples: args.bootstrap,
            seed: args.seed,
            threads: args.threads,
        };
        Some(bootstrap(&mv, &sv, n, &opts)?)
    } else {
        None
    };
    secs.bootstrap = t.elapsed().as_secs_f64();

    let column = |b: &Vec<Vec<f64>>, i: usize| -> Vec<f64> { b.iter().map(|s| s[i]).collect() };
    let rows: Vec<ModelRow> = models
        .iter()
        .enumerate()
        .map(|(mi, m)| {
            let sc = &scores[mi];
            let mean = sc.iter().sum::<f64>() / sc.len() as f64;
            let sem = if sc.len() > 1 {
                (sc.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (sc.len() - 1) as f64).sqrt()
                    / (sc.len() as f64).sqrt()
            } else {
                f64::NAN
            };
            ModelRow {
                model: m.name.clone(),
                per_subject: subjects
                    .iter()
                    .enumerate()
                    .map(|(si, s)| SubjectScore {
                        subject: s.name.clone(),
                        score: sc[si],
                        p_value: table.as_ref().map(|t| t.per_subject[mi][si].p_value),
                    })
                    .collect(),
                mean,
                sem,
                p_value: table.as_ref().map(|t| t.group[mi].p_value),
                ci: boot.as_ref().map(|b| interval(&column(b, mi))),
            }
        })
        .collect();
    let mut differences = Vec::new();
    if let Some(b) = &boot {
        for a in 0..rows.len() {
            for c in a + 1..rows.len() {
                differences.push(DifferenceRow {
                    model: rows[a].model.clone(),
                    other: rows[c].model.clone(),
                    mean_difference: rows[a].mean - rows[c].mean,
                    bootstrap: difference(&column(b, a), &column(b, c)),
                });
            }
        }
    }
    let results = Results {
        settings: Settings {
            method,
            permutations: args.permutations,
            seed: args.seed,
            alternative,
            bootstrap: args.bootstrap,
            bootstrap_over: resample,
            mantel_device: used_device,
            stimuli: n,
            model_rdms: args.model_rdms.display().to_string(),
            brain_rdms: args.brain_rdms.display().to_string(),
            ventral_version: env!("CARGO_PKG_VERSION"),
        },
        subjects: subjects.iter().map(|s| s.name.clone()).collect(),
        noise_ceiling: ceiling,
        models: rows,
        differences,
        seconds: secs,
    };
    let text = if csv {
        to_csv(&results)
    } else {
        serde_json::to_string_pretty(&results)? + "\n"
    };
    let mut f = AtomicFile::create(&args.out)?;
    f.write_all(text.as_bytes())?;
    f.commit()?;
    super::print_out(&summary(&results))
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v}"))
}

/// One row per (model, subject), then per model a group row, then per model pair a difference row.
fn to_csv(r: &Results) -> String {
    let s = &r.settings;
    let nc = r.noise_ceiling;
    let mut out = String::from(
        "kind,model,other,subject,method,score,sem,p_value,ci_low,ci_high,noise_ceiling_lower,noise_ceiling_upper,permutations,bootstrap,seed\n",
    );
    let tail = format!("{},{},{}", s.permutations, s.bootstrap, s.seed);
    let quote = |x: &str| {
        if x.contains([',', '"']) {
            format!("\"{}\"", x.replace('"', "\"\""))
        } else {
            x.to_string()
        }
    };
    for m in &r.models {
        for ps in &m.per_subject {
            out += &format!(
                "subject,{},,{},{},{},,{},,,,,{tail}\n",
                quote(&m.model),
                quote(&ps.subject),
                s.method,
                ps.score,
                opt(ps.p_value)
            );
        }
    }
    for m in &r.models {
        out += &format!(
            "group,{},,,{},{},{},{},{},{},{},{},{tail}\n",
            quote(&m.model),
            s.method,
            m.mean,
            m.sem,
            opt(m.p_value),
            opt(m.ci.map(|c| c.low)),
            opt(m.ci.map(|c| c.high)),
            opt(nc.map(|c| c.lower)),
            opt(nc.map(|c| c.upper)),
        );
    }
    for d in &r.differences {
        out += &format!(
            "difference,{},{},,{},{},{},{},{},{},,,{tail}\n",
            quote(&d.model),
            quote(&d.other),
            s.method,
            d.mean_difference,
            d.bootstrap.interval.se,
            d.bootstrap.p_value,
            d.bootstrap.interval.low,
            d.bootstrap.interval.high,
        );
    }
    out
}

fn summary(r: &Results) -> String {
    let w = r
        .models
        .iter()
        .map(|m| m.model.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{} RDMs vs {} subjects, {} (N = {}):\n{:w$}  {:>8}  {:>8}  {:>8}  {:>19}\n",
        r.models.len(),
        r.subjects.len(),
        r.settings.method,
        r.settings.stimuli,
        "model",
        "mean",
        "sem",
        "p",
        "95% CI"
    );
    for m in &r.models {
        let ci =
            m.ci.map_or(String::new(), |c| format!("[{:.4}, {:.4}]", c.low, c.high));
        out += &format!(
            "{:w$}  {:>8.4}  {:>8.4}  {:>8}  {:>19}\n",
            m.model,
            m.mean,
            m.sem,
            m.p_value.map_or(String::new(), |p| format!("{p:.4}")),
            ci
        );
    }
    if let Some(c) = r.noise_ceiling {
        out += &format!(
            "noise ceiling: lower {:.4}, upper {:.4}\n",
            c.lower, c.upper
        );
    }
    out
}
