//! `ventral compare`: model RDMs against subject RDMs with permutation p-values, a noise ceiling
//! and bootstrap intervals; one results table (.csv or .json).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::Failure;
use crate::error::Error;
use crate::output::write_file;
use crate::rsa::bootstrap::{check_resample, Resample};
use crate::rsa::load::{check_complete, read_rdms};
use crate::rsa::mantel::Alternative;
use crate::rsa::summary::{summarize, Summary, SummaryOptions};
use crate::rsa::Method;

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
    #[command(flatten)]
    pub device: super::DeviceArgs,
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
struct Results {
    settings: Settings,
    #[serde(flatten)]
    summary: Summary,
}

pub fn run(args: &CompareArgs) -> Result<(), Failure> {
    let opts = SummaryOptions {
        method: args.method.parse()?,
        permutations: args.permutations,
        seed: args.seed,
        alternative: args.alternative.parse()?,
        noise_ceiling: args.noise_ceiling,
        bootstrap: args.bootstrap,
        bootstrap_over: args.bootstrap_over.parse()?,
        differences: true,
        threads: args.device.threads,
    };
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
    crate::rsa::summary::check_counts(args.permutations, args.bootstrap)
        .map_err(|e| Error::Invalid(format!("--{e}")))?;
    let models = read_rdms(&args.model_rdms)?;
    let subjects = read_rdms(&args.brain_rdms)?;
    // What the files hold is checked here, before any work: their faults are data errors
    // (exit 1) naming the file and the tensor; the flags' are usage errors (exit 2).
    let n = subjects[0].n;
    if models[0].n != n {
        return Err(Error::file(
            &args.model_rdms,
            format!(
                "model RDM '{}' is for N = {} stimuli, subject RDM '{}' ({}) for N = {n}",
                models[0].name,
                models[0].n,
                subjects[0].name,
                args.brain_rdms.display()
            ),
        )
        .into());
    }
    if n < 3 {
        return Err(Error::file(
            &args.brain_rdms,
            format!(
                "subject RDM '{}' is for N = {n} stimuli; a comparison needs at least 3",
                subjects[0].name
            ),
        )
        .into());
    }
    if args.bootstrap > 0 {
        check_resample(opts.bootstrap_over, subjects.len()).map_err(|e| {
            Error::Invalid(format!(
                "--bootstrap-over {}: {} holds {} subject RDM(s): {e}",
                args.bootstrap_over,
                args.brain_rdms.display(),
                subjects.len()
            ))
        })?;
    }
    if args.permutations > 0 || args.bootstrap > 0 {
        check_complete(&models, "model", &args.model_rdms)?;
        check_complete(&subjects, "subject", &args.brain_rdms)?;
    }
    // Mantel permutations of the dot-product methods run on the GPU device; everything else on
    // CPU threads.
    let engine = args.device.open()?;
    let summary = summarize(&models, &subjects, &opts, engine.context(), &|_, _| {})?;
    let results = Results {
        settings: Settings {
            method: opts.method,
            permutations: args.permutations,
            seed: args.seed,
            alternative: opts.alternative,
            bootstrap: args.bootstrap,
            bootstrap_over: opts.bootstrap_over,
            mantel_device: summary.mantel_device.clone(),
            stimuli: n,
            model_rdms: args.model_rdms.display().to_string(),
            brain_rdms: args.brain_rdms.display().to_string(),
            ventral_version: env!("CARGO_PKG_VERSION"),
        },
        summary,
    };
    if csv {
        let settings = crate::rsa::summary::TableSettings {
            permutations: args.permutations,
            bootstrap: args.bootstrap,
            seed: args.seed,
        };
        results.summary.table("", settings).write(&args.out)?;
    } else {
        write_file(
            &args.out,
            (serde_json::to_string_pretty(&results)? + "\n").as_bytes(),
        )?;
    }
    super::print_out(&summary_table(&results))
}

fn summary_table(r: &Results) -> String {
    let w = r
        .summary
        .models
        .iter()
        .map(|m| m.model.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{} RDMs vs {} subjects, {} (N = {}):\n{:w$}  {:>8}  {:>8}  {:>8}  {:>19}\n",
        r.summary.models.len(),
        r.summary.subjects.len(),
        r.settings.method,
        r.settings.stimuli,
        "model",
        "mean",
        "sem",
        "p",
        "95% CI"
    );
    for m in &r.summary.models {
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
    if let Some(c) = r.summary.noise_ceiling {
        out += &format!(
            "noise ceiling: lower {:.4}, upper {:.4}\n",
            c.lower, c.upper
        );
    }
    out
}
