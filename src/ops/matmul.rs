//! Matrix multiply: plain, transposed-B (the X·Xᵀ Gram form and PyTorch's `Linear`), batched, with
//! fused bias and ReLU. Two kernels share one layout: register-tiled for CPU adapters and
//! shared-memory tiled for GPUs.

use super::{expect_u32, MATMUL, MAX_LOOP};
use crate::error::{Error, Result};
use crate::gpu::{Recorder, Tensor};

/// Which kernel computes the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatmulKernel {
    /// Register-tiled on CPU adapters, shared-memory tiled elsewhere.
    #[default]
    Auto,
    /// 4×4 outputs per invocation in registers, no workgroup memory.
    Register,
    /// 64×64 workgroup tiles staged in workgroup memory.
    Shared,
}

/// Options of [`matmul`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Matmul {
    /// `b` is `[N, K]` (row-major weights as in `torch.nn.Linear`) instead of `[K, N]`.
    pub trans_b: bool,
    /// Apply ReLU to the result.
    pub relu: bool,
    pub kernel: MatmulKernel,
}

struct Dims {
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    b_batched: bool,
}

fn dims(a: &Tensor, b: &Tensor, bias: Option<&Tensor>, opts: &Matmul) -> Result<Dims> {
    let op = "matmul";
    let (batch, m, k) = match *a.shape() {
        [m, k] => (1, m, k),
        [bt, m, k] => (bt, m, k),
        ref s => {
            return Err(Error::shape(
                op,
                format!("A must be [M, K] or [B, M, K], got {s:?}"),
            ))
        }
    };
    let (b_batch, rows, cols) = match *b.shape() {
        [r, c] => (None, r, c),
        [bt, r, c] => (Some(bt), r, c),
        ref s => return Err(Error::shape(op, format!("B must be 2-D or 3-D, got {s:?}"))),
    };
    let (bk, n) = if opts.trans_b {
        (cols, rows)
    } else {
        (rows, cols)
    };
    if bk != k {
        return Err(Error::shape(
            op,
            format!(
                "inner dimensions differ: A {:?} has K = {k}, B {:?}{} has K = {bk}",
                a.shape(),
                b.shape(),
                if opts.trans_b { " (transposed)" } else { "" }
            ),
        ));
    }
    if let Some(bt) = b_batch {
        if bt != batch || a.shape().len() != 3 {
            return Err(Error::shape(
                op,
                format!("batch sizes differ: A {:?}, B {:?}", a.shape(), b.shape()),
            ));
        }
    }
    if let Some(bias) = bias {
        if bias.shape() != [n] {
            return Err(Error::shape(
                op,
                format!("bias has shape {:?}, expected [{n}]", bias.shape()),
            ));
        }
    }
    if [batch, m, n, k].contains(&0) {
        return Err(Error::shape(
            op,
            format!("zero-size operand: A {:?}, B {:?}", a.shape(), b.shape()),
        ));
    }
    Ok(Dims {
        batch,
        m,
        n,
        k,
        b_batched: b_batch.is_some(),
    })
}

/// `C = A · B (+ bias) (ReLU)`. `a: [M, K]` or `[Bt, M, K]`; `b: [K, N]` (or `[N, K]` with
/// `trans_b`), optionally batched `[Bt, ·, ·]`, a 2-D `b` being shared by every batch item;
/// `bias: [N]`. Returns `[M, N]` or `[Bt, M, N]`.
pub fn matmul(
    rec: &mut Recorder<'_>,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    opts: Matmul,
) -> Result<Tensor> {
    let d = dims(a, b, bias, &opts)?;
    let out_shape: Vec<usize> = if a.shape().len() == 3 {
        vec![d.batch, d.m, d.n]
    } else {
        vec![d.m, d.n]
    };
    let c = rec.context().empty(&out_shape)?;
    let (sbk, sbn) = if opts.trans_b { (1, d.k) } else { (d.n, 1) };
    let (entry, tile) = match opts.kernel {
        MatmulKernel::Register => ("matmul_reg", 32),
        MatmulKernel::Shared => ("matmul_shared", 64),
        MatmulKernel::Auto if rec.context().is_cpu() => ("matmul_reg", 32),
        MatmulKernel::Auto => ("matmul_shared", 64),
    };
    let limit = rec.max_window_elems();
    let a_flat = a.reshape(&[d.batch * d.m, d.k])?;
    let ops = Operands {
        a: &a_flat,
        b,
        bias,
        c: &c,
        sbk,
        sbn,
        relu: opts.relu,
        entry,
        tile,
    };
    let whole = Chunk {
        m0: 0,
        m1: d.m,
        n0: 0,
        n1: d.n,
        k0: 0,
        k1: d.k,
    };
    // Whole operands in one dispatch with the batch along z when everything fits.
    let max_z = rec.context().limits().max_compute_workgroups_per_dimension as usize;
    let fits = a.len() <= limit && b.len() <= limit && c.len() <= limit;
    if fits && d.batch <= max_z && d.k <= MAX_LOOP {
        record(rec, &d, &ops, &whole, 0, d.batch)?;
        return Ok(c);
    }
    // Otherwise batch items one at a time, each split into M / N / K chunks that fit.
    let (mut mc, mut nc, mut kc) = (d.m, d.n, d.k.min(MAX_LOOP));
    loop {
        let a_span = (mc - 1) * d.k + kc;
        let b_span = (kc - 1) * sbk + (nc - 1) * sbn + 1;
        let c_span = (mc - 1) * d.n + nc;
        if a_span > limit {
            if mc > 1 {
                mc = mc.div_ceil(2)
            } else {
                kc = kc.div_ceil(2)
            }
        } else if b_span > limit {
            if (kc - 1) * sbk >= (nc - 1) * sbn {
                kc = kc.div_ceil(2)
            } else {
                nc = nc.div_ceil(2)
            }
        } else if c_span > limit {
            if mc > 1 {
                mc = mc.div_ceil(2)
            } else {
                nc = nc.div_ceil(2)
            }
        } else {
            break;
        }
    }
    for item in 0..d.batch {
        let b_off = if d.b_batched { item * d.k * d.n } else { 0 };
        for m0 in (0..d.m).step_by(mc) {
            for n0 in (0..d.n).step_by(nc) {
                for k0 in (0..d.k).step_by(kc) {
                    let chunk = Chunk {
                        m0: item * d.m + m0,
                        m1: item * d.m + (m0 + mc).min(d.m),
                        n0,
                        n1: (n0 + nc).min(d.n),
                        k0,
                        k1: (k0 + kc).min(d.k),
                    };
                    record(rec, &d, &ops, &chunk, b_off, 1)?;
                }
            }
        }
    }
    Ok(c)
}

/// Everything a dispatch shares: operands (`a` flattened to `[Bt·M, K]`), B's strides, the kernel.
struct Operands<'t> {
    a: &'t Tensor,
    b: &'t Tensor,
    bias: Option<&'t Tensor>,
    c: &'t Tensor,
    sbk: usize,
    sbn: usize,
    relu: bool,
    entry: &'static str,
    tile: usize,
}

/// Rows `m0..m1` (of the flattened batch), columns `n0..n1`, inner indices `k0..k1`.
struct Chunk {
    m0: usize,
    m1: usize,
    n0: usize,
    n1: usize,
    k0: usize,
    k1: usize,
}

/// Records one dispatch over `chunk` for `batch` consecutive batch items (workgroup z), B starting
/// at element `b_off`. Bias goes with the first K chunk, ReLU with the last, and later K chunks
/// accumulate onto C.
fn record(
    rec: &mut Recorder<'_>,
    d: &Dims,
    o: &Operands<'_>,
    ch: &Chunk,
    b_off: usize,
    batch: usize,
) -> Result<()> {
    let (a_bs, c_bs) = (d.m * d.k, d.m * d.n);
    let b_bs = if d.b_batched { d.k * d.n } else { 0 };
    let extra = batch - 1;
    let (a_w, a_base) = rec.window(
        o.a,
        ch.m0 * d.k + ch.k0,
        (ch.m1 - 1) * d.k + ch.k1 + extra * a_bs,
    )?;
    let b_lo = b_off + ch.k0 * o.sbk + ch.n0 * o.sbn;
    let b_hi = b_off + (ch.k1 - 1) * o.sbk + (ch.n1 - 1) * o.sbn + 1 + extra * b_bs;
    let (b_w, b_base) = rec.window(o.b, b_lo, b_hi)?;
    let (c_w, c_base) = rec.window(
        o.c,
        ch.m0 * d.n + ch.n0,
        (ch.m1 - 1) * d.n + ch.n1 + extra * c_bs,
    )?;
    let first_k = ch.k0 == 0;
    let last_k = ch.k1 == d.k;
    let (bias_w, bias_base) = match o.bias.filter(|_| first_k) {
        Some(t) => {
            let (w, base) = rec.window(t, ch.n0, ch.n1)?;
            (Some(w), base)
        }
        None => (None, 0),
    };
    let flags = u32::from(bias_w.is_some())
        | (u32::from(o.relu && last_k) << 1)
        | (u32::from(!first_k) << 2);
    let (m, n, k) = (ch.m1 - ch.m0, ch.n1 - ch.n0, ch.k1 - ch.k0);
    let u = |what, v| expect_u32("matmul", what, v);
    let params = [
        m as u32,
        n as u32,
        k as u32,
        a_base,
        u("K", d.k)?,
        u("A batch stride", a_bs)?,
        b_base,
        u("B stride", o.sbk)?,
        u("B stride", o.sbn)?,
        u("B batch stride", b_bs)?,
        c_base,
        u("N", d.n)?,
        u("C batch stride", c_bs)?,
        bias_base,
        flags,
    ];
    let groups = [
        n.div_ceil(o.tile) as u32,
        m.div_ceil(o.tile) as u32,
        batch as u32,
    ];
    check_grid(rec, groups)?;
    rec.dispatch(
        &MATMUL,
        o.entry,
        &[],
        &params,
        vec![Some(a_w), Some(b_w), bias_w, Some(c_w)],
        groups,
    )
}

fn check_grid(rec: &Recorder<'_>, groups: [u32; 3]) -> Result<()> {
    let max = rec.context().limits().max_compute_workgroups_per_dimension;
    if groups.iter().any(|&g| g > max) {
        return Err(Error::shape(
            "matmul",
            format!("workgroup grid {groups:?} exceeds the adapter's {max} per dimension"),
        ));
    }
    Ok(())
}

/// CPU twin: the same product with f64 accumulation. `a: [batch, m, k]`, `b` as in [`matmul`]
/// (`b_batched` false shares one `b` across the batch).
#[allow(clippy::too_many_arguments)]
pub fn matmul_cpu(
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    (batch, m, n, k): (usize, usize, usize, usize),
    trans_b: bool,
    b_batched: bool,
    relu: bool,
) -> Vec<f32> {
    let mut c = vec![0f32; batch * m * n];
    for bt in 0..batch {
        let a = &a[bt * m * k..(bt + 1) * m * k];
        let b = if b_batched {
            &b[bt * k * n..(bt + 1) * k * n]
        } else {
            &b[..k * n]
        };
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f64;
                for kk in 0..k {
                    let bv = if trans_b {
                        b[j * k + kk]
                    } else {
                        b[kk * n + j]
                    };
                    s += f64::from(a[i * k + kk]) * f64::from(bv);
                }
                if let Some(bias) = bias {
                    s += f64::from(bias[j]);
                }
                if relu && s <= 0.0 {
                    s = 0.0;
                }
                c[bt * m * n + i * n + j] = s as f32;
            }
        }
    }
    c
}
