//! `ventral selftest`: every kernel on the chosen adapter(s) against its CPU twin.

use clap::Args;

use super::{Failure, GpuArgs};
use crate::gpu::Context;
use crate::selftest::run_all;

#[derive(Args, Debug)]
pub struct SelftestArgs {
    #[command(flatten)]
    pub gpu: GpuArgs,
    /// Test every adapter that matches --backend/--adapter, not just the best one.
    #[arg(long)]
    pub all_adapters: bool,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

pub fn run(args: &SelftestArgs) -> Result<(), Failure> {
    let opts = args.gpu.options()?;
    let contexts = if args.all_adapters {
        Context::all(&opts)
    } else {
        let ctx = Context::new(&opts)?;
        vec![(ctx.adapter().clone(), Ok(ctx))]
    };
    if contexts.is_empty() {
        return Err(anyhow::anyhow!("no adapter matches backend '{}'", opts.backend).into());
    }
    let mut failed = 0usize;
    println!("seed {}", args.seed);
    println!(
        "{:<44} {:<46} {:>10} {:>10}  result",
        "kernel", "adapter", "max abs", "max rel"
    );
    for (report, ctx) in &contexts {
        let adapter = format!("{} ({})", report.name, report.backend);
        let ctx = match ctx {
            Ok(c) => c,
            Err(e) => {
                failed += 1;
                println!(
                    "{:<44} {:<46} {:>10} {:>10}  FAIL: {e}",
                    "(open device)", adapter, "-", "-"
                );
                continue;
            }
        };
        for (name, result) in run_all(ctx, args.seed) {
            match result {
                Ok(c) => {
                    let verdict = if c.pass {
                        "pass".to_string()
                    } else {
                        failed += 1;
                        format!(
                            "FAIL at [{}]: got {} want {}",
                            c.worst.0, c.worst.1, c.worst.2
                        )
                    };
                    println!(
                        "{name:<44} {adapter:<46} {:>10.2e} {:>10.2e}  {verdict}",
                        c.max_abs, c.max_rel
                    );
                }
                Err(e) => {
                    failed += 1;
                    println!(
                        "{name:<44} {adapter:<46} {:>10} {:>10}  FAIL: {e}",
                        "-", "-"
                    );
                }
            }
        }
    }
    if failed > 0 {
        return Err(anyhow::anyhow!("{failed} self-test check(s) failed").into());
    }
    eprintln!(
        "all kernels match their CPU twins on {} adapter(s)",
        contexts.len()
    );
    Ok(())
}
