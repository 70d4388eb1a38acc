//! Native kernels against their f64 twins, bit-for-bit determinism over thread counts and batch
//! sizes, and shape errors.

use super::*;
use crate::ops::conv::{conv2d_cpu, Conv2d};
use crate::ops::pool::Pool2d;

/// Deterministic values in [-1, 1).
pub(crate) fn data(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Max absolute error over max absolute reference value.
fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
    let err = got.iter().zip(want).fold(0f64, |m, (&a, &b)| {
        m.max((f64::from(a) - f64::from(b)).abs())
    });
    err / scale.max(f64::MIN_POSITIVE)
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    let e = rel_err(got, want);
    assert!(e <= 1e-5, "{what}: relative error {e:e}");
}

fn assert_bits(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: element {i}: {x} vs {y}");
    }
}

/// Runs `f` in rayon pools of 1, 2 and 3 threads; fails unless all give the same bits.
fn in_pools(what: &str, f: impl Fn() -> Vec<f32> + Send + Sync) -> Vec<f32> {
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(&f)
    };
    let first = run(1);
    for threads in [2, 3] {
        assert_bits(&format!("{what}, {threads} threads"), &run(threads), &first);
    }
    first
}

fn conv_case(what: &str, x_shape: [usize; 4], w_shape: [usize; 4], bias: bool, p: Conv2d) {
    let x = data(x_shape.iter().product(), 1);
    let w = data(w_shape.iter().product(), 2);
    let b = data(w_shape[0], 3);
    let bias = bias.then_some(&b[..]);
    let s = p
        .shape(&x_shape, &w_shape, bias.map(|_| &w_shape[..1]))
        .unwrap();
    let out_img = s.c_out * s.oh * s.ow;
    let run = |x: &[f32], n: usize| {
        let mut out = vec![f32::NAN; n * out_img];
        let shape = [n, x_shape[1], x_shape[2], x_shape[3]];
        conv2d(x, shape, &w, w_shape, bias, &p, &mut out).unwrap();
        out
    };
    let got = in_pools(what, || run(&x, x_shape[0]));
    let want = conv2d_cpu(&x, &x_shape, &w, &w_shape, bias, &p).unwrap();
    assert_close(what, &got, &want);
    let img = x_shape[1..].iter().product::<usize>();
    for i in 0..x_shape[0] {
        let alone = run(&x[i * img..(i + 1) * img], 1);
        assert_bits(
            &format!("{what}: image {i} alone"),
            &alone,
            &got[i * out_img..(i + 1) * out_img],
        );
    }
}

#[test]
fn conv2d_matches_twin_and_is_deterministic() {
    let geo = |k: usize, stride, padding, dilation, groups, relu| {
        let p = Conv2d {
            stride: [stride; 2],
            padding: [padding; 2],
            dilation: [dilation; 2],
            groups,
            relu,
        };
        (k, p)
    };
    let cases = [
        (
            "3x3 s2 p1 d2",
            [3, 5, 13, 11],
            7,
            geo(3, 2, 1, 2, 1, false),
            true,
        ),
        (
            "depthwise",
            [3, 5, 13, 11],
            5,
            geo(3, 1, 1, 1, 5, true),
            true,
        ),
        (
            "groups 5, 2 per group",
            [2, 10, 9, 7],
            10,
            geo(3, 2, 1, 1, 5, false),
            false,
        ),
        ("1x1", [3, 5, 13, 11], 7, geo(1, 1, 0, 1, 1, true), true),
        (
            "1x1 stride 2",
            [3, 5, 13, 11],
            7,
            geo(1, 2, 0, 1, 1, false),
            false,
        ),
        (
            "alexnet 11x11 s4 p2",
            [2, 3, 67, 67],
            9,
            geo(11, 4, 2, 1, 1, true),
            true,
        ),
        (
            "deep 3x3 (k > 512, 4 blocks)",
            [2, 64, 40, 40],
            20,
            geo(3, 1, 1, 1, 1, true),
            true,
        ),
    ];
    for (what, x_shape, oc, (k, p), bias) in cases {
        let w_shape = [oc, x_shape[1] / p.groups, k, k];
        conv_case(what, x_shape, w_shape, bias, p);
    }
    // Non-square geometry.
    let p = Conv2d {
        stride: [2, 1],
        padding: [0, 2],
        dilation: [1, 3],
        groups: 1,
        relu: false,
    };
    conv_case("non-square", [2, 4, 12, 9], [6, 4, 3, 2], true, p);
}

#[test]
fn linear_matches_twin_and_is_deterministic() {
    for (rows, inputs, outputs, relu) in [(5, 37, 19, true), (300, 600, 270, false)] {
        let x = data(rows * inputs, 4);
        let w = data(outputs * inputs, 5);
        let b = data(outputs, 6);
        let run = |x: &[f32], rows: usize| {
            let mut out = vec![f32::NAN; rows * outputs];
            linear(x, rows, &w, [outputs, inputs], Some(&b), relu, &mut out).unwrap();
            out
        };
        let what = format!("linear {rows}x{inputs}->{outputs}");
        let got = in_pools(&what, || run(&x, rows));
        let dims = (1, rows, outputs, inputs);
        let want = crate::ops::matmul::matmul_cpu(&x, &w, Some(&b), dims, true, false, relu);
        assert_close(&what, &got, &want);
        for r in [0, rows / 2, rows - 1] {
            let alone = run(&x[r * inputs..(r + 1) * inputs], 1);
            let row = &got[r * outputs..(r + 1) * outputs];
            assert_bits(&format!("{what}: row {r} alone"), &alone, row);
        }
    }
}

#[test]
fn attention_matches_twin_and_is_deterministic() {
    for (n, t, heads, d) in [(2, 17, 3, 8), (2, 40, 2, 16)] {
        let width = 3 * heads * d;
        let qkv: Vec<f32> = data(n * t * width, 7).iter().map(|v| 3.0 * v).collect();
        let run = |qkv: &[f32], n: usize| {
            let mut values = vec![f32::NAN; n * t * heads * d];
            let mut weights = vec![f32::NAN; n * heads * t * t];
            attention(qkv, n, t, heads, Some(&mut values), Some(&mut weights)).unwrap();
            values.extend_from_slice(&weights);
            values
        };
        let what = format!("attention n={n} t={t} heads={heads} d={d}");
        let got = in_pools(&what, || run(&qkv, n));
        let (want_v, want_w) = crate::ops::attention::attention_cpu(&qkv, n, t, heads);
        let (got_v, got_w) = got.split_at(want_v.len());
        assert_close(&format!("{what}: values"), got_v, &want_v);
        assert_close(&format!("{what}: weights"), got_w, &want_w);
        // Values alone (probabilities in scratch) give the same bits.
        let mut values = vec![f32::NAN; got_v.len()];
        attention(&qkv, n, t, heads, Some(&mut values), None).unwrap();
        assert_bits(&format!("{what}: values only"), &values, got_v);
        let item = t * width;
        for i in 0..n {
            let alone = run(&qkv[i * item..(i + 1) * item], 1);
            let (v, w) = alone.split_at(t * heads * d);
            let vi = &got_v[i * t * heads * d..(i + 1) * t * heads * d];
            let wi = &got_w[i * heads * t * t..(i + 1) * heads * t * t];
            assert_bits(&format!("{what}: item {i} alone, values"), v, vi);
            assert_bits(&format!("{what}: item {i} alone, weights"), w, wi);
        }
    }
}

#[test]
fn norms_match_twins() {
    let (n, c, inner) = (3, 5, 37);
    let x = data(n * c * inner, 8);
    let stats: Vec<Vec<f32>> = (0..4).map(|i| data(c, 9 + i)).collect();
    let var: Vec<f32> = stats[1].iter().map(|v| v.abs() + 0.1).collect();
    let st = [&stats[0][..], &var[..], &stats[2][..], &stats[3][..]];
    let want = crate::ops::norm::cpu::batch_norm(&x, c, inner, st, 1e-5);
    for relu in [false, true] {
        let got = in_pools("batch_norm", || {
            let mut out = vec![f32::NAN; x.len()];
            batch_norm(&x, [n, c, inner], st, 1e-5, relu, &mut out).unwrap();
            out
        });
        let want = if relu {
            crate::ops::elementwise::cpu::relu(&want)
        } else {
            want.clone()
        };
        assert_close("batch_norm", &got, &want);
    }
    let (rows, cols) = (7, 50);
    let x: Vec<f32> = data(rows * cols, 13).iter().map(|v| v + 0.5).collect();
    let (g, b) = (data(cols, 14), data(cols, 15));
    let got = in_pools("layer_norm", || {
        let mut out = vec![f32::NAN; x.len()];
        layer_norm(&x, rows, cols, &g, &b, 1e-6, &mut out).unwrap();
        out
    });
    assert_close(
        "layer_norm",
        &got,
        &crate::ops::norm::cpu::layer_norm(&x, &g, &b, 1e-6),
    );
}

#[test]
fn elementwise_match_twins() {
    use crate::ops::elementwise::cpu;
    let mut x: Vec<f32> = data(40_001, 16).iter().map(|v| 4.0 * v).collect();
    x[7] = f32::NAN;
    let y = data(x.len(), 17);
    let mut out = vec![0f32; x.len()];
    relu(&x, &mut out).unwrap();
    assert_bits("relu", &out, &cpu::relu(&x));
    let mut inplace = x.clone();
    relu_in_place(&mut inplace);
    assert_bits("relu in place", &inplace, &out);
    add(&x, &y, &mut out).unwrap();
    assert_bits("add", &out, &cpu::add(&x, &y));
    x[7] = 0.25;
    for scale in [1.0, 3.0] {
        let x: Vec<f32> = x.iter().map(|v| v * scale).collect();
        gelu(&x, &mut out).unwrap();
        assert_close("gelu", &out, &cpu::gelu(&x));
        let tiny: Vec<f32> = x.iter().map(|v| v * 1e-3).collect();
        gelu(&tiny, &mut out).unwrap();
        assert_close("gelu near 0", &out, &cpu::gelu(&tiny));
    }
}

#[test]
fn pools_match_twins() {
    use crate::ops::pool::cpu;
    let (planes, h, w) = (6, 13, 11);
    let mut x = data(planes * h * w, 18);
    x[20] = f32::NAN;
    let geos = [
        Pool2d::square(3, 2, 0),
        Pool2d {
            ceil_mode: true,
            ..Pool2d::square(3, 2, 1)
        },
        Pool2d {
            ceil_mode: true,
            ..Pool2d::square(2, 2, 1)
        },
        Pool2d {
            kernel: [3, 2],
            stride: [1, 2],
            padding: [1, 1],
            dilation: [2, 3],
            ceil_mode: true,
            count_include_pad: true,
        },
    ];
    for p in geos {
        let [oh, ow] = p.output_size("t", h, w).unwrap();
        let mut out = vec![0f32; planes * oh * ow];
        assert_eq!(
            max_pool2d(&x, planes, h, w, &p, &mut out).unwrap(),
            [oh, ow]
        );
        assert_bits("max_pool2d", &out, &cpu::max_pool2d(&x, planes, h, w, &p));
    }
    let x = data(planes * h * w, 19);
    for hw in [[7, 7], [1, 1], [5, 3], [13, 11]] {
        let mut out = vec![0f32; planes * hw[0] * hw[1]];
        adaptive_avg_pool2d(&x, planes, h, w, hw, &mut out).unwrap();
        let want = cpu::adaptive_avg_pool2d(&x, planes, h, w, hw);
        assert_close("adaptive_avg_pool2d", &out, &want);
    }
}

#[test]
fn tokens_match_twins() {
    use crate::ops::tokens::cpu;
    let (n, d, patches) = (3, 8, 10);
    let x = data(n * d * patches, 20);
    let prefix = data(d + (patches + 1) * d, 21);
    let mut out = vec![0f32; n * (patches + 1) * d];
    patch_tokens(&x, n, d, patches, &prefix, &mut out).unwrap();
    assert_bits("patch_tokens", &out, &cpu::patch_tokens(&x, n, d, &prefix));
    let t = patches + 1;
    let toks = out.clone();
    let mut cols = vec![0f32; n * t * 3];
    slice_cols(&toks, d, 2, 3, &mut cols).unwrap();
    assert_bits("slice_cols", &cols, &cpu::slice_cols(&toks, d, 2, 3));
    for max in [false, true] {
        let mut red = vec![0f32; n * d];
        reduce_tokens(&toks, n, t, d, max, &mut red).unwrap();
        assert_close("reduce_tokens", &red, &cpu::reduce_tokens(&toks, t, d, max));
    }
}

#[test]
fn bad_shapes_are_errors() {
    let x = data(2 * 3 * 8 * 8, 1);
    let w = data(4 * 3 * 3 * 3, 2);
    let p = Conv2d::default();
    let mut out = vec![0f32; 2 * 4 * 6 * 6];
    assert!(conv2d(&x, [2, 3, 8, 8], &w, [4, 3, 3, 3], None, &p, &mut out).is_ok());
    assert!(conv2d(&x, [2, 3, 8, 8], &w, [4, 3, 3, 3], None, &p, &mut out[1..]).is_err());
    assert!(conv2d(&x[1..], [2, 3, 8, 8], &w, [4, 3, 3, 3], None, &p, &mut out).is_err());
    assert!(conv2d(&x, [2, 3, 8, 8], &w, [4, 2, 3, 3], None, &p, &mut out).is_err());
    let b = [0f32; 3];
    assert!(conv2d(&x, [2, 3, 8, 8], &w, [4, 3, 3, 3], Some(&b), &p, &mut out).is_err());
    assert!(linear(&x, 2, &w, [4, 27], None, false, &mut out[..7]).is_err());
    assert!(linear(&x, 3, &w, [4, 27], None, false, &mut out[..12]).is_err());
    assert!(attention(&x, 2, 5, 3, None, None).is_err());
    let mut v = vec![0f32; 3];
    assert!(attention(&x[..2 * 4 * 18], 2, 4, 3, Some(&mut v), None).is_err());
    assert!(layer_norm(&x, 4, 96, &w[..96], &w[..95], 1e-5, &mut vec![0f32; 384]).is_err());
    assert!(max_pool2d(&x, 6, 8, 8, &Pool2d::square(3, 2, 2), &mut out).is_err());
    assert!(adaptive_avg_pool2d(&x, 6, 8, 8, [0, 1], &mut out).is_err());
    assert!(slice_cols(&x, 8, 6, 3, &mut out).is_err());
    assert!(reduce_tokens(&x, 2, 0, 8, false, &mut out).is_err());
    assert!(relu(&x, &mut out).is_err());
    assert!(max_pool2d(&[], 1, 0, 8, &Pool2d::square(2, 2, 1), &mut out[..5]).is_err());
    assert!(patch_tokens(&[], 1, 4, 0, &x[..8], &mut out[..4]).is_err());
}

#[test]
fn exp_approx_is_accurate() {
    let mut worst = 0f64;
    for i in 0..=1_000_000 {
        let x = -87.0 + 175.0 * i as f32 / 1_000_000.0;
        let want = f64::from(x).exp();
        worst = worst.max((f64::from(exp_approx(x)) - want).abs() / want);
    }
    assert!(worst < 4e-7, "relative error {worst:e}");
    assert_eq!(exp_approx(0.0), 1.0);
    assert_eq!(exp_approx(-100.0), 0.0);
    assert_eq!(exp_approx(f32::NEG_INFINITY), 0.0);
    assert!(exp_approx(f32::NAN).is_nan());
}
