//! The native executor ([`NativeExecutor`]) and its multithreaded f32 CPU kernels: pure functions
//! on slices that write into caller-provided outputs, so buffers can be reused across batches.
//!
//! Every kernel is deterministic: its output bits do not depend on the rayon pool's size, on the
//! batch size (image `i`'s outputs are the same alone or in a batch) or on how work is split.
//! Products go through [`gemm::sgemm`], whose per-element sums are independent of the product's
//! size; reductions elsewhere run in a fixed order inside one task. Work is spread over the
//! current rayon pool (`pool.install(..)` picks the thread count).
//!
//! Each kernel has an f64 twin in [`crate::ops`] with the same semantics; the tests compare them.

pub mod conv;
pub mod dense;
pub mod elementwise;
mod executor;
pub mod gemm;
pub mod pool;
pub mod tokens;

#[cfg(test)]
mod tests;

pub use conv::conv2d;
pub use dense::{attention, linear};
pub use elementwise::{add, batch_norm, gelu, layer_norm, relu, relu_in_place};
pub use executor::{simd_level, NativeExecutor};
pub use pool::{adaptive_avg_pool2d, max_pool2d};
pub use tokens::{patch_tokens, reduce_tokens, slice_cols, split_heads};

use crate::error::{Error, Result};

/// Elements per task of the flat elementwise kernels (a fixed split: results never depend on it).
const FLAT_CHUNK: usize = 1 << 14;

/// Fails unless `what` holds exactly `want` values.
fn expect_len(op: &'static str, what: &str, got: usize, want: usize) -> Result<()> {
    if got != want {
        return Err(Error::shape(
            op,
            format!("{what} holds {got} values, expected {want}"),
        ));
    }
    Ok(())
}

/// The product of `dims`, or an error if it overflows.
fn volume(op: &'static str, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::shape(op, format!("sizes {dims:?} overflow")))
}

/// Splits `out`, rows of `row_len` values, into per-task lists of row segments: columns
/// `bounds[b]` of row `r` go to task `task(r, b)` (`< tasks`), each list in row order. Lets
/// parallel tasks own column blocks of a row-major output without sharing it.
fn scatter_rows<'a>(
    out: &'a mut [f32],
    row_len: usize,
    bounds: &[(usize, usize)],
    tasks: usize,
    task: impl Fn(usize, usize) -> usize,
) -> Vec<Vec<&'a mut [f32]>> {
    let mut lists: Vec<Vec<&'a mut [f32]>> = (0..tasks).map(|_| Vec::new()).collect();
    if row_len == 0 {
        return lists;
    }
    for (r, mut row) in out.chunks_exact_mut(row_len).enumerate() {
        let mut at = 0;
        for (b, &(lo, hi)) in bounds.iter().enumerate() {
            let (_, rest) = row.split_at_mut(lo - at);
            let (seg, rest) = rest.split_at_mut(hi - lo);
            lists[task(r, b)].push(seg);
            row = rest;
            at = hi;
        }
    }
    lists
}

/// Runs `f` compiled for the best instruction set the CPU offers (AVX-512 or AVX2, through `pulp`)
/// so that plain loops inside it vectorise. Bits do not depend on the path taken: Rust neither
/// reassociates nor contracts float arithmetic. Call it around whole loops, not per element.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `eˣ` for `x ≤ 88` within about 2e-7 relative (`x < −87` gives 0, NaN propagates): `2ⁿ·p(r)`
/// with `n = round(x·log₂e)`, `r = x − n·ln 2` (two-part ln 2) and `p` the degree-7 Taylor
/// polynomial. Branch-free so that loops calling it vectorise (libm's `expf` does not).
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer in the low bits.
    let xc = if x < -87.0 { -87.0 } else { x };
    let t = xc * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = (xc - n * 0.693_145_75) - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    let two_n = f32::from_bits(t.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127) << 23);
    if x < -87.0 {
        0.0
    } else {
        p * two_n
    }
}

/// Runs `f` with this thread's scratch vector `slot`, grown to at least `len` values (contents
/// unspecified). Scratch is kept per thread and reused across calls.
fn with_scratch<R>(slot: usize, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    use std::cell::RefCell;
    thread_local! {
        static SCRATCH: RefCell<[Vec<f32>; 3]> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
    }
    SCRATCH.with(|s| {
        let mut buf = std::mem::take(&mut s.borrow_mut()[slot]);
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        let r = f(&mut buf[..len]);
        s.borrow_mut()[slot] = buf;
        r
    })
}
