//! `ventral devices`: every adapter (backend, type, driver, limits, features), the native
//! executor (threads, SIMD level), and what `--device auto` picks.

use clap::Args;

use super::{DeviceArgs, Failure};
use crate::exec::{native::simd_level, Engine, NativeExecutor};
use crate::gpu::Context;

#[derive(Args, Debug)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &DevicesArgs) -> Result<(), Failure> {
    let opts = args.device.options()?;
    let reports = Context::list_adapters(opts.backend);
    let native = NativeExecutor::new(args.device.threads)?;
    let auto = Engine::open(crate::Device::Auto, &opts, args.device.threads)?;
    if args.json {
        let doc = serde_json::json!({
            "adapters": reports,
            "native": { "threads": native.threads(), "simd": simd_level() },
            "auto": auto.report(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!("native: {}", native.summary());
    println!("auto: {}", auto.summary());
    if reports.is_empty() {
        println!("no wgpu adapters found (backend: {})", opts.backend);
        return Ok(());
    }
    for (i, r) in reports.iter().enumerate() {
        println!("[{i}] {}", r.summary());
        println!(
            "    max buffer {} MiB, max storage binding {} MiB, {} storage buffers/stage, {} B workgroup memory",
            r.max_buffer_size >> 20,
            r.max_storage_buffer_binding_size >> 20,
            r.max_storage_buffers_per_shader_stage,
            r.max_compute_workgroup_storage_size
        );
        println!(
            "    workgroups ≤ {} per dimension, ≤ {} invocations each; offset alignment {} B",
            r.max_compute_workgroups_per_dimension,
            r.max_compute_invocations_per_workgroup,
            r.min_storage_buffer_offset_alignment
        );
        println!(
            "    f16: {}, subgroups: {} (size {}–{}), timestamp queries: {}",
            yes(r.shader_f16),
            yes(r.subgroups),
            r.subgroup_min_size,
            r.subgroup_max_size,
            yes(r.timestamp_query)
        );
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
