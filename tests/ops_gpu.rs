//! Every kernel against its CPU twin on the GPU (lavapipe in CI), at the adapter's own binding limit
//! and at a forced 64 KiB limit that makes every op split its operands into windows.

mod common;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ventral::ops::conv::{conv2d, conv2d_cpu, Conv2d};
use ventral::ops::matmul::{matmul, matmul_cpu, Matmul, MatmulKernel};
use ventral::selftest::{compare, random, run_all};

/// Every self-test case passes, except those named in `too_big`, which must fail with a
/// binding-limit error (an attention item must fit one binding).
fn assert_all_pass(max_binding_bytes: Option<u64>, too_big: &[&str]) {
    let Some(ctx) = common::context(max_binding_bytes) else {
        return;
    };
    let mut failures = Vec::new();
    for (name, result) in run_all(&ctx, 7) {
        if too_big.contains(&name) {
            match result {
                Err(e) if e.to_string().contains("storage binding limit") => {}
                other => failures.push(format!(
                    "{name}: expected a binding-limit error, got {other:?}"
                )),
            }
            continue;
        }
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
    assert_all_pass(None, &[]);
}

#[test]
fn kernels_match_cpu_twins_with_tiny_binding_limit() {
    // 4 KiB = 1,024 floats: smaller than most self-test operands, so nearly every op splits them.
    assert_all_pass(
        Some(4096),
        &[
            "attention 1×150 tokens, 2 heads of 64",
            "attention tiled 1×70 tokens, 1 head of 160",
        ],
    );
}

fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    random(&mut rng, n)
}

#[test]
fn large_operands_chunk_under_a_64k_binding_limit() {
    let Some(ctx) = common::context(Some(65536)) else {
        return;
    };
    // Linear layer with weights over the limit (K×N = 160,000 floats) and activations over it.
    let (m, k, n) = (203, 400, 173);
    let (a, w, bias) = (data(m * k, 1), data(n * k, 2), data(n, 3));
    let at = ctx.upload(&a, &[m, k]).unwrap();
    let wt = ctx.upload(&w, &[n, k]).unwrap();
    let bt = ctx.upload(&bias, &[n]).unwrap();
    for kernel in [MatmulKernel::Register, MatmulKernel::Shared] {
        let mut rec = ctx.recorder();
        let opts = Matmul {
            trans_b: true,
            relu: true,
            kernel,
        };
        let out = matmul(&mut rec, &at, &wt, Some(&bt), opts).unwrap();
        assert!(
            rec.len() > 4,
            "expected a chunked matmul, got {} dispatches",
            rec.len()
        );
        rec.submit().unwrap();
        let want = matmul_cpu(&a, &w, Some(&bias), (1, m, n, k), true, false, true);
        let c = compare(&ctx.read(&out).unwrap(), &want, 2e-4, 1e-5);
        assert!(c.pass, "{kernel:?}: {c:?}");
    }
    // Plain-B matmul chunked along K accumulates partial products; ReLU only after the last.
    let b = data(k * n, 4);
    let bt2 = ctx.upload(&b, &[k, n]).unwrap();
    let mut rec = ctx.recorder();
    let out = matmul(
        &mut rec,
        &at,
        &bt2,
        Some(&bt),
        Matmul {
            relu: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        rec.len() > 4,
        "expected a K-chunked matmul, got {} dispatches",
        rec.len()
    );
    rec.submit().unwrap();
    let want = matmul_cpu(&a, &b, Some(&bias), (1, m, n, k), false, false, true);
    let c = compare(&ctx.read(&out).unwrap(), &want, 2e-4, 1e-5);
    assert!(c.pass, "plain-B chunked: {c:?}");

    // Convolution over a batch whose input and output exceed the limit, with weights over it too.
    let (xs, ws) = ([3, 16, 23, 29], [72, 16, 3, 3]);
    let (x, wc, bc) = (
        data(xs.iter().product(), 5),
        data(ws.iter().product(), 6),
        data(72, 7),
    );
    let xt = ctx.upload(&x, &xs).unwrap();
    let wt = ctx.upload(&wc, &ws).unwrap();
    let bt = ctx.upload(&bc, &[72]).unwrap();
    let p = Conv2d {
        padding: [1, 1],
        relu: true,
        ..Default::default()
    };
    let mut rec = ctx.recorder();
    let out = conv2d(&mut rec, &xt, &wt, Some(&bt), &p).unwrap();
    assert!(
        rec.len() > 2,
        "expected a chunked conv, got {} dispatches",
        rec.len()
    );
    rec.submit().unwrap();
    let want = conv2d_cpu(&x, &xs, &wc, &ws, Some(&bc), &p).unwrap();
    let c = compare(&ctx.read(&out).unwrap(), &want, 2e-4, 1e-5);
    assert!(c.pass, "chunked conv: {c:?}");

    // Elementwise over 100,003 values: seven windows.
    let v = data(100_003, 8);
    let vt = ctx.upload(&v, &[100_003]).unwrap();
    let mut rec = ctx.recorder();
    let out = ventral::ops::elementwise::gelu(&mut rec, &vt).unwrap();
    assert_eq!(rec.len(), 7);
    rec.submit().unwrap();
    let c = compare(
        &ctx.read(&out).unwrap(),
        &ventral::ops::elementwise::cpu::gelu(&v),
        1e-6,
        1e-5,
    );
    assert!(c.pass, "chunked gelu: {c:?}");
}
