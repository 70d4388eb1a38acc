//! `ventral devices`: every adapter, its backend, type, driver, limits and features.

use clap::Args;

use super::{DeviceArgs, Failure};
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    if reports.is_empty() {
        println!("no adapters found (backend: {})", opts.backend);
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
