//! The kernel self-test: every kernel on fixed seeded inputs with awkward shapes (primes, ones,
//! non-multiples of the workgroup tile), compared with its CPU twin under a written tolerance.
//! `ventral selftest` prints it as a table; the GPU integration tests assert it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::Result;
use crate::gpu::{Context, Recorder, Tensor};
use crate::ops::attention::{attention, attention_cpu, AttentionOutputs};
use crate::ops::conv::{conv2d, conv2d_cpu, Conv2d};
use crate::ops::elementwise::{self, add, gelu, relu, scale};
use crate::ops::matmul::{matmul, matmul_cpu, Matmul, MatmulKernel};
use crate::ops::norm::{self, batch_norm, layer_norm, BatchNormParams};
use crate::ops::pool::{self, adaptive_avg_pool2d, avg_pool2d, max_pool2d, Pool2d};
use crate::ops::softmax::{softmax_rows, softmax_rows_cpu};
use crate::ops::tokens::{self, patch_tokens, reduce_tokens, slice_cols, split_heads};

/// Result of comparing a kernel's output with its CPU twin.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub max_abs: f64,
    pub max_rel: f64,
    /// Index, GPU value and reference value of the worst element (by tolerance ratio).
    pub worst: (usize, f32, f32),
    pub atol: f64,
    pub rtol: f64,
    pub pass: bool,
}

/// Compares element by element: each must satisfy `|got − want| ≤ atol + rtol·|want|`; NaN must
/// match NaN. Lengths must agree.
///
/// ```
/// use ventral::selftest::compare;
/// let c = compare(&[1.0, 2.0005, f32::NAN], &[1.0, 2.0, f32::NAN], 1e-3, 0.0);
/// assert!(c.pass);
/// assert!((c.max_abs - 5e-4).abs() < 1e-6);
/// assert_eq!(c.worst.0, 1);
/// assert!(!compare(&[1.0, 2.0005], &[1.0, 2.0], 1e-4, 0.0).pass);
/// assert!(!compare(&[f32::NAN], &[0.0], 1.0, 1.0).pass);
/// ```
pub fn compare(got: &[f32], want: &[f32], atol: f64, rtol: f64) -> Comparison {
    let mut c = Comparison {
        max_abs: 0.0,
        max_rel: 0.0,
        worst: (0, f32::NAN, f32::NAN),
        atol,
        rtol,
        pass: got.len() == want.len(),
    };
    let mut worst_ratio = -1.0;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let (gd, wd) = (f64::from(g), f64::from(w));
        let err = if g.is_nan() && w.is_nan() {
            0.0
        } else {
            (gd - wd).abs()
        };
        let err = if err.is_nan() { f64::INFINITY } else { err };
        c.max_abs = c.max_abs.max(err);
        if wd.abs() > 1e-6 {
            c.max_rel = c.max_rel.max(err / wd.abs());
        }
        let ratio = err / (atol + rtol * wd.abs());
        if ratio > worst_ratio {
            worst_ratio = ratio;
            c.worst = (i, g, w);
        }
    }
    c.pass &= worst_ratio <= 1.0;
    c
}

/// Uniform values in `[-1, 1)` from a seeded generator.
pub fn random(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

type CaseFn = fn(&Context, &mut ChaCha8Rng) -> Result<Comparison>;

/// One self-test case.
pub struct Case {
    pub name: &'static str,
    pub run: CaseFn,
}

const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-5;

fn upload(ctx: &Context, rng: &mut ChaCha8Rng, shape: &[usize]) -> Result<(Vec<f32>, Tensor)> {
    let data = random(rng, shape.iter().product());
    let t = ctx.upload(&data, shape)?;
    Ok((data, t))
}

fn gpu(ctx: &Context, f: impl FnOnce(&mut Recorder<'_>) -> Result<Tensor>) -> Result<Vec<f32>> {
    let out = ctx.run(f)?;
    ctx.read(&out)
}

/// Attention on `qkv: [n, t, 3·heads·d]` with values spread ×3 (sharp softmax rows); values and
/// probabilities compared as one vector.
fn attention_case(
    ctx: &Context,
    rng: &mut ChaCha8Rng,
    (n, t, heads, d): (usize, usize, usize, usize),
) -> Result<Comparison> {
    let qkv: Vec<f32> = random(rng, n * t * 3 * heads * d)
        .iter()
        .map(|v| v * 3.0)
        .collect();
    let qt = ctx.upload(&qkv, &[n, t, 3 * heads * d])?;
    let both = AttentionOutputs {
        values: true,
        weights: true,
    };
    let (v, w) = ctx.run(|rec| attention(rec, &qt, heads, both))?;
    let mut got = ctx.read(&v.expect("values asked"))?;
    got.extend(ctx.read(&w.expect("weights asked"))?);
    let (mut want, want_w) = attention_cpu(&qkv, n, t, heads);
    want.extend(want_w);
    Ok(compare(&got, &want, 1e-5, 1e-4))
}

fn matmul_case(
    ctx: &Context,
    rng: &mut ChaCha8Rng,
    (batch, m, n, k): (usize, usize, usize, usize),
    opts: Matmul,
    with_bias: bool,
    b_batched: bool,
) -> Result<Comparison> {
    let a_shape: Vec<usize> = if batch > 1 {
        vec![batch, m, k]
    } else {
        vec![m, k]
    };
    let (rows, cols) = if opts.trans_b { (n, k) } else { (k, n) };
    let b_shape: Vec<usize> = if b_batched {
        vec![batch, rows, cols]
    } else {
        vec![rows, cols]
    };
    let (a, at) = upload(ctx, rng, &a_shape)?;
    let (b, bt) = upload(ctx, rng, &b_shape)?;
    let (bias, biast) = upload(ctx, rng, &[n])?;
    let bias_t = with_bias.then_some(&biast);
    let got = gpu(ctx, |r| matmul(r, &at, &bt, bias_t, opts))?;
    let want = matmul_cpu(
        &a,
        &b,
        with_bias.then_some(&bias[..]),
        (batch, m, n, k),
        opts.trans_b,
        b_batched,
        opts.relu,
    );
    Ok(compare(&got, &want, ATOL * (k as f64).sqrt(), RTOL))
}

fn conv_case(
    ctx: &Context,
    rng: &mut ChaCha8Rng,
    x_shape: [usize; 4],
    w_shape: [usize; 4],
    p: Conv2d,
) -> Result<Comparison> {
    let (x, xt) = upload(ctx, rng, &x_shape)?;
    let (w, wt) = upload(ctx, rng, &w_shape)?;
    let (b, bt) = upload(ctx, rng, &[w_shape[0]])?;
    let got = gpu(ctx, |r| conv2d(r, &xt, &wt, Some(&bt), &p))?;
    let want = conv2d_cpu(&x, &x_shape, &w, &w_shape, Some(&b), &p)?;
    let fan_in = (w_shape[1] * w_shape[2] * w_shape[3]) as f64;
    Ok(compare(&got, &want, ATOL * fan_in.sqrt(), RTOL))
}

fn pool_case(
    ctx: &Context,
    rng: &mut ChaCha8Rng,
    kind: &str,
    shape: [usize; 4],
    p: Pool2d,
) -> Result<Comparison> {
    let (x, xt) = upload(ctx, rng, &shape)?;
    let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3]);
    let (got, want) = if kind == "max" {
        (
            gpu(ctx, |r| max_pool2d(r, &xt, &p))?,
            pool::cpu::max_pool2d(&x, planes, h, w, &p),
        )
    } else {
        (
            gpu(ctx, |r| avg_pool2d(r, &xt, &p))?,
            pool::cpu::avg_pool2d(&x, planes, h, w, &p),
        )
    };
    Ok(compare(&got, &want, ATOL, RTOL))
}

/// Every case, in table order.
pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "matmul reg 37×29·29×53 +bias relu",
            run: |c, r| {
                let o = Matmul {
                    relu: true,
                    kernel: MatmulKernel::Register,
                    ..Default::default()
                };
                matmul_case(c, r, (1, 37, 53, 29), o, true, false)
            },
        },
        Case {
            name: "matmul shared 37×29·29×53 +bias relu",
            run: |c, r| {
                let o = Matmul {
                    relu: true,
                    kernel: MatmulKernel::Shared,
                    ..Default::default()
                };
                matmul_case(c, r, (1, 37, 53, 29), o, true, false)
            },
        },
        Case {
            name: "matmul reg X·Xᵀ 67×131",
            run: |c, r| {
                let o = Matmul {
                    trans_b: true,
                    kernel: MatmulKernel::Register,
                    ..Default::default()
                };
                matmul_case(c, r, (1, 67, 67, 131), o, false, false)
            },
        },
        Case {
            name: "matmul shared linear 5×300·(97×300)ᵀ",
            run: |c, r| {
                let o = Matmul {
                    trans_b: true,
                    kernel: MatmulKernel::Shared,
                    ..Default::default()
                };
                matmul_case(c, r, (1, 5, 97, 300), o, true, false)
            },
        },
        Case {
            // Longer than the 65,535-iteration loop cap of llvmpipe (the dispatcher splits K).
            name: "matmul reg X·Xᵀ 3×70001",
            run: |c, r| {
                let o = Matmul {
                    trans_b: true,
                    kernel: MatmulKernel::Register,
                    ..Default::default()
                };
                matmul_case(c, r, (1, 3, 3, 70_001), o, false, false)
            },
        },
        Case {
            name: "matmul batched 3×17×13·3×13×7",
            run: |c, r| matmul_case(c, r, (3, 17, 7, 13), Matmul::default(), false, true),
        },
        Case {
            name: "matmul batched shared-B 4×9×11·11×5",
            run: |c, r| {
                let o = Matmul {
                    kernel: MatmulKernel::Shared,
                    ..Default::default()
                };
                matmul_case(c, r, (4, 9, 5, 11), o, true, false)
            },
        },
        Case {
            name: "matmul 1×1·1×1",
            run: |c, r| matmul_case(c, r, (1, 1, 1, 1), Matmul::default(), true, false),
        },
        Case {
            name: "conv2d 3→5 k3 s2 p1 +bias relu",
            run: |c, r| {
                let p = Conv2d {
                    stride: [2, 2],
                    padding: [1, 1],
                    relu: true,
                    ..Default::default()
                };
                conv_case(c, r, [2, 3, 11, 13], [5, 3, 3, 3], p)
            },
        },
        Case {
            name: "conv2d groups 2, dilation 2, pad 2",
            run: |c, r| {
                let p = Conv2d {
                    padding: [2, 2],
                    dilation: [2, 2],
                    groups: 2,
                    ..Default::default()
                };
                conv_case(c, r, [1, 4, 9, 10], [6, 2, 3, 3], p)
            },
        },
        Case {
            name: "conv2d depthwise 6ch k3 p1",
            run: |c, r| {
                let p = Conv2d {
                    padding: [1, 1],
                    groups: 6,
                    ..Default::default()
                };
                conv_case(c, r, [2, 6, 7, 7], [6, 1, 3, 3], p)
            },
        },
        Case {
            name: "conv2d 1×1 7→3, rect kernel 2×5 s(1,3)",
            run: |c, r| {
                let p = Conv2d {
                    stride: [1, 3],
                    ..Default::default()
                };
                conv_case(c, r, [1, 7, 5, 17], [3, 7, 2, 5], p)
            },
        },
        Case {
            name: "max_pool2d k3 s2 ceil",
            run: |c, r| {
                let p = Pool2d {
                    ceil_mode: true,
                    ..Pool2d::square(3, 2, 0)
                };
                pool_case(c, r, "max", [2, 3, 13, 11], p)
            },
        },
        Case {
            name: "max_pool2d k3 s1 p1 dil2",
            run: |c, r| {
                let p = Pool2d {
                    dilation: [2, 2],
                    ..Pool2d::square(3, 1, 1)
                };
                pool_case(c, r, "max", [1, 2, 9, 8], p)
            },
        },
        Case {
            name: "avg_pool2d k3 s2 p1 ceil, pad excluded",
            run: |c, r| {
                let p = Pool2d {
                    ceil_mode: true,
                    count_include_pad: false,
                    ..Pool2d::square(3, 2, 1)
                };
                pool_case(c, r, "avg", [2, 3, 10, 7], p)
            },
        },
        Case {
            name: "avg_pool2d k2 s2 p1 ceil, pad counted",
            run: |c, r| {
                let p = Pool2d {
                    ceil_mode: true,
                    ..Pool2d::square(2, 2, 1)
                };
                pool_case(c, r, "avg", [1, 3, 5, 6], p)
            },
        },
        Case {
            name: "adaptive_avg_pool2d 13×11→6×4",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[2, 3, 13, 11])?;
                let got = gpu(c, |rec| adaptive_avg_pool2d(rec, &xt, [6, 4]))?;
                Ok(compare(
                    &got,
                    &pool::cpu::adaptive_avg_pool2d(&x, 6, 13, 11, [6, 4]),
                    ATOL,
                    RTOL,
                ))
            },
        },
        Case {
            name: "relu 1009",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[1009])?;
                Ok(compare(
                    &gpu(c, |rec| relu(rec, &xt))?,
                    &elementwise::cpu::relu(&x),
                    0.0,
                    0.0,
                ))
            },
        },
        Case {
            name: "gelu 1009 (erf)",
            run: |c, r| {
                let x: Vec<f32> = random(r, 1009).iter().map(|v| v * 6.0).collect();
                let xt = c.upload(&x, &[1009])?;
                Ok(compare(
                    &gpu(c, |rec| gelu(rec, &xt))?,
                    &elementwise::cpu::gelu(&x),
                    1e-6,
                    1e-5,
                ))
            },
        },
        Case {
            name: "add 3×337",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[3, 337])?;
                let (y, yt) = upload(c, r, &[3, 337])?;
                Ok(compare(
                    &gpu(c, |rec| add(rec, &xt, &yt))?,
                    &elementwise::cpu::add(&x, &y),
                    0.0,
                    0.0,
                ))
            },
        },
        Case {
            name: "scale 1009",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[1009])?;
                let want = elementwise::cpu::scale(&x, 0.37, -1.5);
                Ok(compare(
                    &gpu(c, |rec| scale(rec, &xt, 0.37, -1.5))?,
                    &want,
                    1e-6,
                    1e-6,
                ))
            },
        },
        Case {
            name: "softmax 7×601 (logits ±30)",
            run: |c, r| {
                let x: Vec<f32> = random(r, 7 * 601).iter().map(|v| v * 30.0).collect();
                let xt = c.upload(&x, &[7, 601])?;
                Ok(compare(
                    &gpu(c, |rec| softmax_rows(rec, &xt))?,
                    &softmax_rows_cpu(&x, 601),
                    1e-7,
                    1e-5,
                ))
            },
        },
        Case {
            name: "layer_norm 5×771",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[5, 771])?;
                let (g, gt) = upload(c, r, &[771])?;
                let (b, bt) = upload(c, r, &[771])?;
                let got = gpu(c, |rec| layer_norm(rec, &xt, &gt, &bt, 1e-6))?;
                Ok(compare(
                    &got,
                    &norm::cpu::layer_norm(&x, &g, &b, 1e-6),
                    1e-5,
                    1e-5,
                ))
            },
        },
        Case {
            name: "attention 3×11 tokens, 2 heads of 12",
            run: |c, r| attention_case(c, r, (3, 11, 2, 12)),
        },
        Case {
            name: "attention 1×150 tokens, 2 heads of 64",
            run: |c, r| attention_case(c, r, (1, 150, 2, 64)),
        },
        Case {
            name: "attention 2×3 tokens, 1 head of 100",
            run: |c, r| attention_case(c, r, (2, 3, 1, 100)),
        },
        Case {
            name: "attention tiled 1×2 tokens, 1 head of 150",
            run: |c, r| attention_case(c, r, (1, 2, 1, 150)),
        },
        Case {
            name: "attention tiled 1×70 tokens, 1 head of 160",
            run: |c, r| attention_case(c, r, (1, 70, 1, 160)),
        },
        Case {
            name: "patch_tokens 2×7×3×5 → 2×16×7",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[2, 7, 3, 5])?;
                let (pre, pt) = upload(c, r, &[7 + 16 * 7])?;
                Ok(compare(
                    &gpu(c, |rec| patch_tokens(rec, &xt, &pt))?,
                    &tokens::cpu::patch_tokens(&x, 2, 7, &pre),
                    0.0,
                    0.0,
                ))
            },
        },
        Case {
            name: "slice_cols 3×5×41 [13..30)",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[3, 5, 41])?;
                Ok(compare(
                    &gpu(c, |rec| slice_cols(rec, &xt, 13, 17))?,
                    &tokens::cpu::slice_cols(&x, 41, 13, 17),
                    0.0,
                    0.0,
                ))
            },
        },
        Case {
            name: "split_heads 3×7×15 into 5 heads",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[3, 7, 15])?;
                Ok(compare(
                    &gpu(c, |rec| split_heads(rec, &xt, 5))?,
                    &tokens::cpu::split_heads(&x, [3, 7, 5, 3]),
                    0.0,
                    0.0,
                ))
            },
        },
        Case {
            name: "reduce_tokens mean 3×197×37",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[3, 197, 37])?;
                Ok(compare(
                    &gpu(c, |rec| reduce_tokens(rec, &xt, false))?,
                    &tokens::cpu::reduce_tokens(&x, 197, 37, false),
                    1e-6,
                    1e-5,
                ))
            },
        },
        Case {
            name: "reduce_tokens max 2×9×300",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[2, 9, 300])?;
                Ok(compare(
                    &gpu(c, |rec| reduce_tokens(rec, &xt, true))?,
                    &tokens::cpu::reduce_tokens(&x, 9, 300, true),
                    0.0,
                    0.0,
                ))
            },
        },
        Case {
            name: "batch_norm 3×5×7×7",
            run: |c, r| {
                let (x, xt) = upload(c, r, &[3, 5, 7, 7])?;
                let (mean, mt) = upload(c, r, &[5])?;
                let var: Vec<f32> = random(r, 5).iter().map(|v| v.abs() + 0.1).collect();
                let vt = c.upload(&var, &[5])?;
                let (g, gt) = upload(c, r, &[5])?;
                let (b, bt) = upload(c, r, &[5])?;
                let p = BatchNormParams {
                    mean: &mt,
                    var: &vt,
                    gamma: &gt,
                    beta: &bt,
                    eps: 1e-5,
                };
                let got = gpu(c, |rec| batch_norm(rec, &xt, &p))?;
                let want = norm::cpu::batch_norm(&x, 5, 49, [&mean, &var, &g, &b], 1e-5);
                Ok(compare(&got, &want, 1e-5, 1e-5))
            },
        },
    ]
}

/// Runs every case on `ctx` with inputs drawn from `seed`; one row per case.
pub fn run_all(ctx: &Context, seed: u64) -> Vec<(&'static str, Result<Comparison>)> {
    cases()
        .into_iter()
        .enumerate()
        .map(|(i, case)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(i as u64));
            (case.name, (case.run)(ctx, &mut rng))
        })
        .collect()
}
