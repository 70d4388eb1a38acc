//! One check per executor op, run on any executor against the reference executor: seeded inputs
//! of awkward shapes (primes, ones, non-multiples of tiles and GEMM blocks), the op on both, and
//! an element-wise comparison under a written tolerance. The executor tests and `ventral
//! selftest` (its native column) run the same cases.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{Engine, Executor, GpuExecutor, ReferenceExecutor};
use crate::error::Result;
use crate::ops::conv::Conv2d;
use crate::ops::pool::Pool2d;
use crate::selftest::{compare, random, Comparison};

/// The op a case runs, with its parameters.
#[derive(Debug, Clone, Copy)]
pub enum CaseOp {
    /// Inputs x, weight, bias.
    Conv(Conv2d),
    /// Inputs x `[rows, in]`, weight `[out, in]`, bias; fused ReLU.
    Linear(bool),
    /// Inputs x, mean, var (made positive), gamma, beta.
    BatchNorm,
    /// Inputs x, gamma, beta.
    LayerNorm,
    Relu,
    Gelu,
    Add,
    MaxPool(Pool2d),
    AdaptiveAvgPool([usize; 2]),
    /// Inputs patch grid and prefix.
    PatchTokens,
    /// Input qkv; values and probabilities compared together.
    Attention(usize),
    /// Offset and width of a column slice.
    Slice(usize, usize),
    SplitHeads(usize),
    /// Mean (false) or max (true) over tokens.
    ReduceTokens(bool),
}

impl CaseOp {
    fn apply<E: Executor>(&self, e: &E, x: &[E::Tensor]) -> Result<Vec<E::Tensor>> {
        Ok(match *self {
            CaseOp::Conv(p) => vec![e.conv2d(&x[0], &x[1], Some(&x[2]), &p)?],
            CaseOp::Linear(relu) => vec![e.linear(&x[0], &x[1], Some(&x[2]), relu)?],
            CaseOp::BatchNorm => vec![e.batch_norm(&x[0], [&x[1], &x[2], &x[3], &x[4]], 1e-5)?],
            CaseOp::LayerNorm => vec![e.layer_norm(&x[0], &x[1], &x[2], 1e-6)?],
            CaseOp::Relu => vec![e.relu(&x[0])?],
            CaseOp::Gelu => vec![e.gelu(&x[0])?],
            CaseOp::Add => vec![e.add(&x[0], &x[1])?],
            CaseOp::MaxPool(p) => vec![e.max_pool2d(&x[0], &p)?],
            CaseOp::AdaptiveAvgPool(o) => vec![e.adaptive_avg_pool2d(&x[0], o)?],
            CaseOp::PatchTokens => vec![e.patch_tokens(&x[0], &x[1])?],
            CaseOp::Attention(heads) => {
                let (v, w) = e.attention(&x[0], heads, true, true)?;
                vec![v.expect("values asked"), w.expect("weights asked")]
            }
            CaseOp::Slice(offset, width) => vec![e.slice_cols(&x[0], offset, width)?],
            CaseOp::SplitHeads(heads) => vec![e.split_heads(&x[0], heads)?],
            CaseOp::ReduceTokens(max) => vec![e.reduce_tokens(&x[0], max)?],
        })
    }
}

/// One executor check: an op on inputs of these shapes, with values spread by `scale`.
#[derive(Debug, Clone)]
pub struct ExecCase {
    pub name: &'static str,
    pub op: CaseOp,
    pub inputs: Vec<Vec<usize>>,
    pub scale: f32,
    /// Absolute tolerance per unit of √(reduction length); relative tolerance.
    pub atol: f64,
    pub rtol: f64,
}

fn case(name: &'static str, op: CaseOp, inputs: &[&[usize]], atol: f64) -> ExecCase {
    ExecCase {
        name,
        op,
        inputs: inputs.iter().map(|s| s.to_vec()).collect(),
        scale: 1.0,
        atol,
        rtol: 1e-5,
    }
}

/// Every executor case.
pub fn exec_cases() -> Vec<ExecCase> {
    let conv = |stride, padding, dilation, groups, relu| Conv2d {
        stride: [stride; 2],
        padding: [padding; 2],
        dilation: [dilation; 2],
        groups,
        relu,
    };
    let pool = |k, s, p, ceil| Pool2d {
        ceil_mode: ceil,
        ..Pool2d::square(k, s, p)
    };
    let conv_tol = |fan_in: usize| 1e-5 * (fan_in as f64).sqrt();
    vec![
        case(
            "conv 3×3 s2 p1 d2, 3×5×13×11 → 7",
            CaseOp::Conv(conv(2, 1, 2, 1, false)),
            &[&[3, 5, 13, 11], &[7, 5, 3, 3], &[7]],
            conv_tol(45),
        ),
        case(
            "conv 11×11 s4 p2 + ReLU (AlexNet conv1), 2×3×67×71 → 17",
            CaseOp::Conv(conv(4, 2, 1, 1, true)),
            &[&[2, 3, 67, 71], &[17, 3, 11, 11], &[17]],
            conv_tol(363),
        ),
        case(
            "conv 3×3 p1, 2×70×9×10 → 33 (K = 630 spans GEMM blocks)",
            CaseOp::Conv(conv(1, 1, 1, 1, false)),
            &[&[2, 70, 9, 10], &[33, 70, 3, 3], &[33]],
            conv_tol(630),
        ),
        case(
            "conv 1×1, 3×37×7×5 → 19",
            CaseOp::Conv(conv(1, 0, 1, 1, true)),
            &[&[3, 37, 7, 5], &[19, 37, 1, 1], &[19]],
            conv_tol(37),
        ),
        case(
            "conv 1×1 s2 (downsample), 2×9×9×7 → 6",
            CaseOp::Conv(conv(2, 0, 1, 1, false)),
            &[&[2, 9, 9, 7], &[6, 9, 1, 1], &[6]],
            conv_tol(9),
        ),
        case(
            "conv depthwise 3×3 p1, groups 5, 2×5×11×13",
            CaseOp::Conv(conv(1, 1, 1, 5, false)),
            &[&[2, 5, 11, 13], &[5, 1, 3, 3], &[5]],
            conv_tol(9),
        ),
        case(
            "conv grouped 3×3 s3, groups 3, 1×6×3×3 → 9 (a 1×1 output)",
            CaseOp::Conv(conv(3, 0, 1, 3, true)),
            &[&[1, 6, 3, 3], &[9, 2, 3, 3], &[9]],
            conv_tol(18),
        ),
        case(
            "linear 5×37 → 19",
            CaseOp::Linear(false),
            &[&[5, 37], &[19, 37], &[19]],
            1e-5 * 37f64.sqrt(),
        ),
        case(
            "linear 1×1100 → 3 + ReLU (batch 1, K spans GEMM blocks)",
            CaseOp::Linear(true),
            &[&[1, 1100], &[3, 1100], &[3]],
            1e-5 * 1100f64.sqrt(),
        ),
        case(
            "batch norm 3×7×5×3",
            CaseOp::BatchNorm,
            &[&[3, 7, 5, 3], &[7], &[7], &[7], &[7]],
            1e-5,
        ),
        case(
            "layer norm 4×3×37",
            CaseOp::LayerNorm,
            &[&[4, 3, 37], &[37], &[37]],
            1e-5,
        ),
        case("relu 1001", CaseOp::Relu, &[&[7, 11, 13]], 0.0),
        case("gelu 1001", CaseOp::Gelu, &[&[7, 11, 13]], 1e-6),
        case("add 1001", CaseOp::Add, &[&[7, 11, 13], &[7, 11, 13]], 0.0),
        case(
            "max pool 3×3 s2, 2×3×13×11",
            CaseOp::MaxPool(pool(3, 2, 0, false)),
            &[&[2, 3, 13, 11]],
            0.0,
        ),
        case(
            "max pool 3×3 s2 p1 ceil, 1×4×10×9",
            CaseOp::MaxPool(pool(3, 2, 1, true)),
            &[&[1, 4, 10, 9]],
            0.0,
        ),
        case(
            "adaptive avg pool 13×11 → 6×6",
            CaseOp::AdaptiveAvgPool([6, 6]),
            &[&[2, 3, 13, 11]],
            1e-6,
        ),
        case(
            "adaptive avg pool 7×5 → 1×1",
            CaseOp::AdaptiveAvgPool([1, 1]),
            &[&[3, 5, 7, 5]],
            1e-6,
        ),
        case(
            "patch tokens 2×6×3×4",
            CaseOp::PatchTokens,
            &[&[2, 6, 3, 4], &[6 * 14]],
            1e-6,
        ),
        ExecCase {
            scale: 3.0,
            ..case(
                "attention 2×17 tokens, 3 heads of 8",
                CaseOp::Attention(3),
                &[&[2, 17, 72]],
                1e-5,
            )
        },
        ExecCase {
            scale: 3.0,
            rtol: 1e-4,
            ..case(
                "attention 1×50 tokens, 2 heads of 64",
                CaseOp::Attention(2),
                &[&[1, 50, 384]],
                1e-5,
            )
        },
        case(
            "slice cols 5..12 of 3×4×17",
            CaseOp::Slice(5, 7),
            &[&[3, 4, 17]],
            0.0,
        ),
        case(
            "split 3×7×15 into 5 heads",
            CaseOp::SplitHeads(5),
            &[&[3, 7, 15]],
            0.0,
        ),
        case(
            "transpose 2×9×13 (heads of 1)",
            CaseOp::SplitHeads(13),
            &[&[2, 9, 13]],
            0.0,
        ),
        case(
            "token mean 3×17×10",
            CaseOp::ReduceTokens(false),
            &[&[3, 17, 10]],
            1e-6,
        ),
        case(
            "token max 3×17×10",
            CaseOp::ReduceTokens(true),
            &[&[3, 17, 10]],
            0.0,
        ),
    ]
}

impl ExecCase {
    /// The inputs, seeded; batch-norm variances are made positive.
    fn inputs(&self, rng: &mut ChaCha8Rng) -> Vec<Vec<f32>> {
        self.inputs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut v: Vec<f32> = random(rng, s.iter().product())
                    .into_iter()
                    .map(|v| v * self.scale)
                    .collect();
                if matches!(self.op, CaseOp::BatchNorm) && i == 2 {
                    v.iter_mut().for_each(|x| *x = x.abs() + 0.1);
                }
                v
            })
            .collect()
    }

    fn outputs<E: Executor>(&self, e: &E, data: &[Vec<f32>]) -> Result<Vec<f32>> {
        let x = data
            .iter()
            .zip(&self.inputs)
            .map(|(d, s)| e.upload(d, s))
            .collect::<Result<Vec<_>>>()?;
        let out = self.op.apply(e, &x)?;
        e.flush()?;
        Ok(e.read(&out.iter().collect::<Vec<_>>())?.concat())
    }

    /// Runs the case on `e` and on the reference executor with the same seeded inputs.
    pub fn check<E: Executor>(&self, e: &E, seed: u64) -> Result<Comparison> {
        let data = self.inputs(&mut ChaCha8Rng::seed_from_u64(seed));
        let got = self.outputs(e, &data)?;
        let want = self.outputs(&ReferenceExecutor, &data)?;
        Ok(compare(&got, &want, self.atol, self.rtol))
    }

    /// [`ExecCase::check`] on the executor of `engine`.
    pub fn check_on(&self, engine: &Engine, seed: u64) -> Result<Comparison> {
        match engine {
            Engine::Gpu(ctx) => self.check(&GpuExecutor::new(ctx), seed),
            Engine::Native(n) => self.check(n, seed),
            Engine::Reference(r) => self.check(r, seed),
        }
    }
}
