//! `ventral run [ANALYSIS.toml]`: the whole analysis from images to results, figures and
//! provenance; with no file, the built-in demo. Progress bars go to stderr (only on a terminal,
//! never with --quiet); stdout carries the summary table.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{DeviceArgs, Failure};
use crate::analysis::report::{summary_table, write_outputs};
use crate::analysis::{run_analysis, AnalysisConfig, Progress};
use crate::exec::Engine;
use crate::output::StagedFolder;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Analysis file (TOML); without one, the built-in demo runs
    pub analysis: Option<PathBuf>,
    /// Output folder, replacing the file's [output] folder (demo: ./ventral-demo)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bars
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the demo's analysis file (a template with every table) and exit
    #[arg(long)]
    pub print_demo: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// indicatif bars, one per stage.
pub(super) struct Bars {
    enabled: bool,
    bar: RefCell<Option<ProgressBar>>,
}

impl Bars {
    /// Bars on stderr when it is a terminal and not `quiet`.
    pub(super) fn new(quiet: bool) -> Bars {
        Bars {
            enabled: !quiet && std::io::stderr().is_terminal(),
            bar: RefCell::new(None),
        }
    }
}

impl Progress for Bars {
    fn stage(&self, name: &str, total: u64) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::new(total).with_message(name.to_string());
        bar.set_style(
            ProgressStyle::with_template("{msg:40} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        *self.bar.borrow_mut() = Some(bar);
    }

    fn advance(&self, steps: u64) {
        if let Some(b) = self.bar.borrow().as_ref() {
            b.inc(steps);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.borrow_mut().take() {
            b.finish();
        }
    }
}

pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let mut cfg = match &args.analysis {
        Some(path) => AnalysisConfig::load(path)?,
        None => AnalysisConfig::demo("ventral-demo".into()),
    };
    if args.print_demo {
        return super::print_out(&cfg.to_toml());
    }
    if let Some(out) = &args.out {
        cfg.output.folder = out.clone();
    }
    // --device and --threads override the file's [compute] (and are recorded in the copy).
    if let Some(device) = args.device.device {
        cfg.compute.device = device;
    }
    if args.device.threads != 0 {
        cfg.compute.threads = args.device.threads;
    }
    if args.analysis.is_none() {
        eprintln!(
            "ventral demo: 36 procedural stimuli, seeded random AlexNet and ResNet-18, 4 simulated subjects \
             (see `ventral run --print-demo`)"
        );
    }
    let engine = Engine::open(
        cfg.compute.device,
        &args.device.options()?,
        cfg.compute.threads,
    )?;
    run_and_write(&cfg, &engine, args.quiet)
}

/// Runs an analysis, writes its folder and prints the summary table (stderr: where it went).
pub(super) fn run_and_write(
    cfg: &AnalysisConfig,
    engine: &Engine,
    quiet: bool,
) -> Result<(), Failure> {
    // The folder changes as a unit: everything (activations included) goes into a staging folder
    // that replaces the previous results only once it is complete.
    let staged = StagedFolder::begin(&cfg.output.folder)?;
    let mut run_cfg = cfg.clone();
    run_cfg.output.folder = staged.path().to_path_buf();
    let mut result = run_analysis(&run_cfg, engine, &Bars::new(quiet))?;
    result.config.output.folder = cfg.output.folder.clone();
    let files = write_outputs(&result, staged.path())?;
    staged.commit()?;
    if !quiet {
        eprintln!(
            "{} files in {} ({:.1} s on {})",
            files.len(),
            cfg.output.folder.display(),
            result.seconds_total,
            engine.summary()
        );
    }
    super::print_out(&summary_table(&result))
}
