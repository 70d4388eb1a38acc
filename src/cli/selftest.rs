//! `ventral selftest`: every kernel on the chosen adapter(s) against its CPU twin, and every
//! executor op on the native executor against the reference.

use clap::Args;

use super::{print_out, DeviceArgs, Failure};
use crate::exec::cases::exec_cases;
use crate::exec::{Device, Engine, NativeExecutor};
use crate::gpu::Context;
use crate::selftest::{run_all, Comparison};

#[derive(Args, Debug)]
pub struct SelftestArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Test every adapter that matches --backend/--adapter, not just the best one.
    #[arg(long)]
    pub all_adapters: bool,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print JSON (adapters with their limits, every kernel × adapter result) instead of a table;
    /// the file to attach when something is wrong on a GPU.
    #[arg(long)]
    pub json: bool,
}

/// One kernel × adapter result, as printed and as `--json` writes it.
#[derive(serde::Serialize)]
pub(crate) struct Row {
    kernel: String,
    adapter: String,
    backend: String,
    #[serde(flatten)]
    comparison: Option<Comparison>,
    pass: bool,
    error: Option<String>,
}

/// Every self-test case on the adapter `opts` picks, or on every adapter, and every executor op
/// on the native executor: the adapters and one row per kernel × adapter (an adapter that does
/// not open gets one failing row). `device` narrows it: `gpu` the adapters only (an error when
/// there is none), `native` the native column only, `auto` both (the native column alone on a
/// machine without an adapter).
pub(crate) fn selftest_rows(
    opts: &crate::ContextOptions,
    device: Device,
    all_adapters: bool,
    seed: u64,
) -> Result<(Vec<crate::gpu::AdapterReport>, Vec<Row>), Failure> {
    if device == Device::Reference {
        return Err(crate::Error::Invalid(
            "selftest checks the gpu and native executors against the reference; use --device auto, gpu or native".into(),
        )
        .into());
    }
    let contexts = match device {
        Device::Native => Vec::new(),
        _ if all_adapters => Context::all(opts),
        Device::Gpu => {
            let ctx = Context::new(opts)?;
            vec![(ctx.adapter().clone(), Ok(ctx))]
        }
        _ => Context::new(opts)
            .map(|ctx| vec![(ctx.adapter().clone(), Ok(ctx))])
            .unwrap_or_default(),
    };
    if contexts.is_empty() && device == Device::Gpu {
        return Err(anyhow::anyhow!("no adapter matches backend '{}'", opts.backend).into());
    }
    let mut rows = Vec::new();
    for (report, ctx) in &contexts {
        let row = |kernel: &str, comparison: Option<Comparison>, error: Option<String>| Row {
            kernel: kernel.into(),
            adapter: report.name.clone(),
            backend: report.backend.to_string(),
            pass: error.is_none() && comparison.as_ref().is_some_and(|c| c.pass),
            comparison,
            error,
        };
        match ctx {
            Ok(ctx) => {
                for (name, result) in run_all(ctx, seed) {
                    rows.push(match result {
                        Ok(c) => row(name, Some(c), None),
                        Err(e) => row(name, None, Some(e.to_string())),
                    });
                }
            }
            Err(e) => rows.push(row("(open device)", None, Some(e.to_string()))),
        }
    }
    if device == Device::Gpu {
        return Ok((contexts.into_iter().map(|(r, _)| r).collect(), rows));
    }
    // The native executor as one more column: every executor op against the reference.
    let native = Engine::Native(NativeExecutor::new(0)?);
    for case in exec_cases() {
        let (comparison, error) = match case.check_on(&native, seed) {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e.to_string())),
        };
        rows.push(Row {
            kernel: case.name.into(),
            adapter: native.summary(),
            backend: "native".into(),
            pass: error.is_none() && comparison.as_ref().is_some_and(|c| c.pass),
            comparison,
            error,
        });
    }
    Ok((contexts.into_iter().map(|(r, _)| r).collect(), rows))
}

impl Row {
    pub(crate) fn passed(&self) -> bool {
        self.pass
    }
}

pub fn run(args: &SelftestArgs) -> Result<(), Failure> {
    let opts = args.device.options()?;
    let device = args.device.device.unwrap_or_default();
    let (adapters, rows) = selftest_rows(&opts, device, args.all_adapters, args.seed)?;
    let failed = rows.iter().filter(|r| !r.pass).count();
    if args.json {
        let report = serde_json::json!({
            "ventral_version": env!("CARGO_PKG_VERSION"),
            "seed": args.seed,
            "adapters": adapters,
            "results": rows,
        });
        print_out(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else {
        let mut out = format!("seed {}\n", args.seed);
        out += &format!(
            "{:<44} {:<46} {:>10} {:>10}  result\n",
            "kernel", "adapter", "max abs", "max rel"
        );
        for r in &rows {
            let adapter = format!("{} ({})", r.adapter, r.backend);
            let (abs, rel) = r
                .comparison
                .as_ref()
                .map_or(("-".to_string(), "-".to_string()), |c| {
                    (format!("{:.2e}", c.max_abs), format!("{:.2e}", c.max_rel))
                });
            let verdict = match (&r.error, &r.comparison) {
                (Some(e), _) => format!("FAIL: {e}"),
                (None, Some(c)) if !c.pass => format!(
                    "FAIL at [{}]: got {} want {}",
                    c.worst.0, c.worst.1, c.worst.2
                ),
                _ => "pass".into(),
            };
            out += &format!(
                "{:<44} {adapter:<46} {abs:>10} {rel:>10}  {verdict}\n",
                r.kernel
            );
        }
        print_out(&out)?;
    }
    if failed > 0 {
        return Err(anyhow::anyhow!("{failed} self-test check(s) failed").into());
    }
    let native = rows.iter().any(|r| r.backend == "native");
    eprintln!(
        "all kernels match their CPU twins on {} adapter(s){}",
        adapters.len(),
        if native {
            "; every native executor op matches the reference"
        } else {
            ""
        }
    );
    Ok(())
}
