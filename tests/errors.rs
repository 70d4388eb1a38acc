//! Bad input to public ops gives a clear `Err` that names the problem, never a panic or a wgpu abort.

mod common;

use ventral::ops::conv::{conv2d, Conv2d};
use ventral::ops::elementwise::add;
use ventral::ops::matmul::{matmul, Matmul};
use ventral::ops::pool::{max_pool2d, Pool2d};
use ventral::ops::softmax::softmax_rows;
use ventral::{Backend, Error};

fn message<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn unknown_backend_is_a_usage_error() {
    let e = "cuda".parse::<Backend>().unwrap_err();
    assert!(matches!(e, Error::Invalid(_)));
    assert!(e.to_string().contains("unknown backend 'cuda'"), "{e}");
    assert_eq!("VULKAN".parse::<Backend>().unwrap(), Backend::Vulkan);
}

#[test]
fn ops_reject_bad_shapes_with_named_shapes() {
    let Some(ctx) = common::context(None) else {
        return;
    };
    let a = ctx.upload(&[0.0; 6], &[2, 3]).unwrap();
    let b = ctx.upload(&[0.0; 8], &[4, 2]).unwrap();
    let mut rec = ctx.recorder();
    let m = message(matmul(&mut rec, &a, &b, None, Matmul::default()));
    assert!(
        m.contains("inner dimensions differ") && m.contains("[2, 3]") && m.contains("[4, 2]"),
        "{m}"
    );
    let bias = ctx.upload(&[0.0; 3], &[3]).unwrap();
    let b2 = ctx.upload(&[0.0; 6], &[3, 2]).unwrap();
    let m = message(matmul(&mut rec, &a, &b2, Some(&bias), Matmul::default()));
    assert!(m.contains("bias has shape [3], expected [2]"), "{m}");

    let x = ctx.upload(&[0.0; 2 * 3 * 5 * 5], &[2, 3, 5, 5]).unwrap();
    let w = ctx.upload(&[0.0; 4 * 2 * 3 * 3], &[4, 2, 3, 3]).unwrap();
    let m = message(conv2d(&mut rec, &x, &w, None, &Conv2d::default()));
    assert!(
        m.contains("conv2d") && m.contains("[4, 2, 3, 3]") && m.contains("[2, 3, 5, 5]"),
        "{m}"
    );
    let big = Conv2d {
        dilation: [3, 3],
        ..Default::default()
    };
    let w3 = ctx.upload(&[0.0; 4 * 3 * 3 * 3], &[4, 3, 3, 3]).unwrap();
    let m = message(conv2d(&mut rec, &x, &w3, None, &big));
    assert!(m.contains("smaller than the dilated kernel 7"), "{m}");
    let m = message(conv2d(&mut rec, &a, &w3, None, &Conv2d::default()));
    assert!(
        m.contains("input must have 4 dimensions, got shape [2, 3]"),
        "{m}"
    );

    let m = message(add(&mut rec, &a, &b));
    assert!(
        m.contains("second operand has shape [4, 2], expected [2, 3]"),
        "{m}"
    );
    let m = message(max_pool2d(&mut rec, &x, &Pool2d::square(3, 1, 2)));
    assert!(
        m.contains("padding 2 must be at most half the kernel size 3"),
        "{m}"
    );
    let m = message(max_pool2d(&mut rec, &x, &Pool2d::square(7, 1, 0)));
    assert!(m.contains("smaller than the window 7"), "{m}");
    assert!(
        rec.is_empty(),
        "a rejected op recorded {} dispatches",
        rec.len()
    );
    rec.submit().unwrap();
}

#[test]
fn tensors_reject_zero_size_wrong_length_and_oversize() {
    let Some(ctx) = common::context(None) else {
        return;
    };
    let m = message(ctx.upload(&[], &[0, 3]));
    assert!(m.contains("zero-size dimension"), "{m}");
    let m = message(ctx.upload(&[1.0; 5], &[2, 3]));
    assert!(
        m.contains("shape [2, 3] holds 6 values but 5 were given"),
        "{m}"
    );
    let limit = ctx.limits().max_buffer_size;
    let rows = (limit / 4 / 1024 + 1) as usize;
    let m = message(ctx.empty(&[rows, 1024]));
    assert!(m.contains("exceeds the adapter's max buffer size"), "{m}");
    let t = ctx.upload(&[1.0; 6], &[2, 3]).unwrap();
    assert!(message(t.reshape(&[4, 2])).contains("cannot view [2, 3] as [4, 2]"));
}

#[test]
fn softmax_row_over_binding_limit_is_an_error() {
    let Some(ctx) = common::context(Some(4096)) else {
        return;
    };
    let x = ctx.upload(&vec![0.0; 2000], &[1, 2000]).unwrap();
    let mut rec = ctx.recorder();
    let m = message(softmax_rows(&mut rec, &x));
    assert!(
        m.contains("one row of 2000 values exceeds the storage binding limit"),
        "{m}"
    );
}

#[test]
fn binding_limit_below_alignment_is_rejected() {
    let opts = ventral::ContextOptions {
        max_binding_bytes: Some(16),
        ..ventral::ContextOptions::from_env().unwrap()
    };
    match ventral::Context::new(&opts) {
        Ok(_) => panic!("a 16-byte binding limit was accepted"),
        Err(Error::Invalid(m)) => assert!(m.contains("too small"), "{m}"),
        Err(Error::NoAdapter { .. }) if std::env::var("CI").as_deref() != Ok("true") => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}
