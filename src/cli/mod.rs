//! The `ventral` command line: clap arguments → validated options → `run() -> Result`. Data goes to
//! stdout, logs and progress to stderr.

mod bench;
mod cka;
mod classify;
mod compare;
mod devices;
mod encode;
mod extract;
mod layers;
mod model_args;
mod properties;
mod rdm;
mod run;
mod selftest;
mod weights;

use clap::{Args, Parser, Subcommand};

use crate::error::Error;
use crate::exec::{Device, Engine};
use crate::gpu::{Backend, ContextOptions};

/// Exit code of a usage error (bad flag or value).
pub const EXIT_USAGE: i32 = 2;
/// Exit code of a runtime error.
pub const EXIT_FAILURE: i32 = 1;

#[derive(Parser, Debug)]
#[command(
    name = "ventral",
    version,
    about = "Deep networks next to the brain on any GPU"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The whole analysis: stimuli → networks → RDMs → brain comparison → results and figures.
    /// Without an analysis file, the built-in demo.
    Run(run::RunArgs),
    /// List every adapter wgpu can see, with the limits and features that matter.
    Devices(devices::DevicesArgs),
    /// Run every kernel against its CPU twin and print a kernel × adapter table.
    Selftest(selftest::SelftestArgs),
    /// Benchmarks: every workload with the self-test as one report (`ventral bench --quick --json F`), or one group.
    Bench(bench::BenchArgs),
    /// Every capture point of a model: output shape, features, receptive field size and jump.
    Layers(layers::LayersArgs),
    /// Activations of a model's capture points for a stimulus set, into .safetensors or .npz.
    Extract(Box<extract::ExtractArgs>),
    /// Write a model's weights (seeded random or a checked copy of a file) as safetensors.
    Weights(weights::WeightsArgs),
    /// One RDM per activation tensor (GPU, or the f64 CPU twin).
    Rdm(rdm::RdmArgs),
    /// Model RDMs vs subject RDMs: scores, Mantel p-values, noise ceiling, bootstrap intervals.
    Compare(compare::CompareArgs),
    /// Linear CKA between activation tensors (layer × layer matrix).
    Cka(cka::CkaArgs),
    /// Voxel-wise encoding, veRSA and cRSA of activation tensors against brain responses
    /// (ridge with exact leave-one-out on sparse random projections; Conwell et al. 2024).
    Encode(Box<encode::EncodeArgs>),
    /// The brain-property battery (Thatcher, mirror confusion, … global advantage; Jacob et al.
    /// 2021, Rajesh et al. 2024) on every capture point, against the brain's values.
    Properties(Box<properties::PropertiesArgs>),
    /// Top-k ImageNet classes per image, with names and probabilities (checks weights and preprocessing).
    Classify(Box<classify::ClassifyArgs>),
}

/// The device word and adapter selection shared by every subcommand that computes.
#[derive(Args, Debug, Clone)]
pub struct DeviceArgs {
    /// Where to compute: auto (a hardware GPU when there is one, else native CPU threads), gpu
    /// (the WGSL kernels on a wgpu adapter, software ones included), native (CPU threads) or
    /// reference (the f64 twins; slow) [env: VENTRAL_DEVICE]
    #[arg(long, env = "VENTRAL_DEVICE", hide_env = true)]
    pub device: Option<Device>,
    /// Native and statistics threads (0: one per core)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Graphics API: vulkan, metal, dx12, gl or any [env: VENTRAL_BACKEND]
    #[arg(long)]
    pub backend: Option<String>,
    /// Adapter name substring, case-insensitive [env: VENTRAL_ADAPTER]
    #[arg(long)]
    pub adapter: Option<String>,
}

impl DeviceArgs {
    /// Resolves the device word to an engine (see [`Engine::open`]).
    pub fn open(&self) -> Result<Engine, Error> {
        Engine::open(
            self.device.unwrap_or_default(),
            &self.options()?,
            self.threads,
        )
    }

    /// Adapter selection: flags over environment.
    pub fn options(&self) -> Result<ContextOptions, Error> {
        let backend = self
            .backend
            .as_deref()
            .map(str::parse::<Backend>)
            .transpose()?;
        Ok(ContextOptions::from_env()?.with_overrides(backend, self.adapter.clone()))
    }
}

/// A failure with the exit code it maps to.
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        let error = e.into();
        let code = match error.downcast_ref::<Error>() {
            Some(e) if e.is_usage() => EXIT_USAGE,
            _ => EXIT_FAILURE,
        };
        Failure { code, error }
    }
}

/// Writes command output to stdout; a closed pipe (`ventral layers … | head`) is not an error.
pub(crate) fn print_out(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run(a) => run::run(&a),
        Command::Devices(a) => devices::run(&a),
        Command::Selftest(a) => selftest::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Layers(a) => layers::run(&a),
        Command::Extract(a) => extract::run(&a),
        Command::Weights(a) => weights::run(&a),
        Command::Rdm(a) => rdm::run(&a),
        Command::Compare(a) => compare::run(&a),
        Command::Cka(a) => cka::run(&a),
        Command::Classify(a) => classify::run(&a),
        Command::Encode(a) => encode::run(&a),
        Command::Properties(a) => properties::run(&a),
    }
}
