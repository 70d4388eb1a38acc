//! Every kernel against its CPU twin on the GPU (lavapipe in CI), at the adapter's own binding limit
//! and at a forced 64 KiB limit that makes every op split its operands into windows.

mod common;

use ventral::selftest::run_all;

fn assert_all_pass(max_binding_bytes: Option<u64>) {
    let Some(ctx) = common::context(max_binding_bytes) else {
        return;
    };
    let mut failures = Vec::new();
    for (name, result) in run_all(&ctx, 7) {
        match result {
            Ok(c) if c.pass => {}
            Ok(c) => failures.push(format!(
                "{name}: max abs {:.3e}, max rel {:.3e}, worst at {} got {} want {} (atol {:.1e}, rtol {:.1e})",
                c.max_abs, c.max_rel, c.worst.0, c.worst.1, c.worst.2, c.atol, c.rtol
            )),
            Err(e) => failures.push(format!("{name}: error: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "kernels failed on {}:\n{}",
        ctx.adapter().summary(),
        failures.join("\n")
    );
}

#[test]
fn kernels_match_cpu_twins() {
    assert_all_pass(None);
}

#[test]
fn kernels_match_cpu_twins_with_tiny_binding_limit() {
    // 64 KiB = 16,384 floats: smaller than several operands below, so every op chunks.
    assert_all_pass(Some(65536));
}
