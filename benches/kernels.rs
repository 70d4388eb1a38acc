//! `cargo bench --bench kernels`: the kernel benchmark at full size, or at smoke size with
//! `VENTRAL_BENCH_SIZE=smoke`. Same code as `ventral bench kernels`.

use ventral::bench::{kernel_benchmarks, BenchSize};
use ventral::{Context, ContextOptions};

fn main() -> anyhow::Result<()> {
    let size = match std::env::var("VENTRAL_BENCH_SIZE").as_deref() {
        Ok("smoke") => BenchSize::Smoke,
        _ => BenchSize::Full,
    };
    let ctx = Context::new(&ContextOptions::from_env()?)?;
    println!("adapter: {}", ctx.adapter().summary());
    for r in kernel_benchmarks(&ctx, size, 5)? {
        println!(
            "{:<44} first {:.4}s  median {:.4}s  [{:.4}, {:.4}]  {:.2} GFLOP/s",
            r.name,
            r.first_run_s,
            r.median_s,
            r.min_s,
            r.max_s,
            r.median_gflops.unwrap_or(0.0)
        );
    }
    Ok(())
}
