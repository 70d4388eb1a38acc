//! The one place that calls the `gemm` crate: a safe, checked f32 matrix product whose every output
//! element is computed the same way whatever the matrix sizes, so results never depend on how a
//! caller splits its work (batch size, column blocks, thread count).
//!
//! How `gemm` 0.19 sums (read from its source): in its main path each output element is one FMA
//! chain over a k-block (`kc`, a single accumulator starting at zero), and each block's sum is added
//! into the destination (`dst = fma(1, acc, dst)`, or `dst = acc` for the first block). `kc` depends
//! on `m`, `n` and `k` unless `k ≤ 512`, so [`sgemm`] splits `k` itself at fixed boundaries
//! (0..512, 512..1024, …). Other paths sum differently: the "horizontal" kernels (`m·n ≤ 256` with
//! both operands contiguous along `k`), the gemv kernels (`m ≤ 1` or `n ≤ 1`) and `gevv`
//! (`k ≤ 2`). [`sgemm`] never lets `gemm` take them: such products (all small) run in a scalar loop
//! that performs exactly the main path's FMA chain, and a single row or column next to a long other
//! dimension is padded to two with a zero row or column in thread-local scratch.

#![allow(unsafe_code)]

use std::cell::RefCell;

use crate::error::{Error, Result};
use crate::ops::ranges;

/// `k` is summed in blocks of this many at fixed boundaries; see the module docs.
pub const K_CHUNK: usize = 512;

/// Products with `m·n` at most this (or with a `k` block of at most two) use the scalar loop.
const SMALL_MN: usize = 256;

/// A read-only `rows × cols` matrix view: element `(i, j)` is `data[i·row_stride + j·col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> Mat<'a> {
    /// Row-major storage with `ld` values between rows: element `(i, j)` at `data[i·ld + j]`.
    pub fn rows(data: &'a [f32], ld: usize) -> Self {
        Mat {
            data,
            row_stride: ld,
            col_stride: 1,
        }
    }

    /// The transpose of row-major storage with `ld` values between rows: element `(i, j)` at
    /// `data[j·ld + i]` (e.g. a `[out, in]` weight used as an `in × out` operand).
    pub fn transposed(data: &'a [f32], ld: usize) -> Self {
        Mat {
            data,
            row_stride: 1,
            col_stride: ld,
        }
    }

    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.row_stride + j * self.col_stride]
    }

    /// Fails unless every element of a `rows × cols` view lies inside `data`.
    fn check(&self, what: &str, rows: usize, cols: usize) -> Result<()> {
        if rows == 0 || cols == 0 {
            return Ok(());
        }
        let last = (rows - 1)
            .checked_mul(self.row_stride)
            .and_then(|r| (cols - 1).checked_mul(self.col_stride).map(|c| (r, c)))
            .and_then(|(r, c)| r.checked_add(c));
        match last {
            Some(last) if last < self.data.len() && last <= isize::MAX as usize => Ok(()),
            _ => Err(Error::shape(
                "sgemm",
                format!(
                    "{what}: a {rows}×{cols} view with strides ({}, {}) does not fit {} values",
                    self.row_stride,
                    self.col_stride,
                    self.data.len()
                ),
            )),
        }
    }
}

thread_local! {
    /// Scratch of the padded single-row / single-column products (operand, then result).
    static PAD: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `c = a·b` (or `c += a·b` when `accumulate`) for `a: m × k`, `b: k × n` and a row-major
/// `c: m × n` with `ldc ≥ n` values between rows. `threads` is handed to `gemm`'s own rayon
/// parallelism (`1`: none, `0`: the current pool's size).
///
/// Promise: every element of `c` is the FMA chain over each fixed 512-long block of `k` plus the
/// sum of the blocks in order, so its bits depend only on its row of `a`, its column of `b` and
/// `k` — never on `m`, `n`, strides or `threads`. Errors (never panics) when a view does not fit
/// its slice.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    threads: usize,
) -> Result<()> {
    a.check("lhs", m, k)?;
    b.check("rhs", k, n)?;
    if ldc < n {
        return Err(Error::shape(
            "sgemm",
            format!("output row stride {ldc} is below its {n} columns"),
        ));
    }
    Mat::rows(c, ldc).check("output", m, n)?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[i * ldc..i * ldc + n].fill(0.0);
            }
        }
        return Ok(());
    }
    if m * n <= SMALL_MN {
        scalar(m, n, (0, k), a, b, c, ldc, accumulate);
        return Ok(());
    }
    if m == 1 || n == 1 {
        return padded(m, n, k, a, b, c, ldc, accumulate, threads);
    }
    for (k0, k1) in ranges(k, K_CHUNK) {
        let read_dst = accumulate || k0 > 0;
        if k1 - k0 <= 2 {
            scalar(m, n, (k0, k1), a, b, c, ldc, read_dst);
            continue;
        }
        let par = if threads == 1 {
            gemm::Parallelism::None
        } else {
            gemm::Parallelism::Rayon(threads)
        };
        // SAFETY: `check` proved that every element (i, kk) of `a` (i < m, kk < k), (kk, j) of `b`
        // and (i, j) of `c` lies inside its slice, and `c` is borrowed mutably so it aliases
        // neither operand. The offsets `k0·stride` stay inside those views because k0 < k. Strides
        // fit `isize` because the last offsets do. `gemm` reads only those elements (and writes
        // only those of `c`), with `m, n ≥ 2`, `m·n > 256` and `3 ≤ k1 − k0 ≤ 512` as the module
        // docs require for size-independent sums.
        unsafe {
            gemm::gemm(
                m,
                n,
                k1 - k0,
                c.as_mut_ptr(),
                1,
                ldc as isize,
                read_dst,
                a.data.as_ptr().add(k0 * a.col_stride),
                a.col_stride as isize,
                a.row_stride as isize,
                b.data.as_ptr().add(k0 * b.row_stride),
                b.col_stride as isize,
                b.row_stride as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                par,
            );
        }
    }
    Ok(())
}

/// The main path's arithmetic, one element at a time, over `k` in `k0..k1` (split at the same
/// fixed boundaries).
#[allow(clippy::too_many_arguments)]
fn scalar(
    m: usize,
    n: usize,
    (k0, k1): (usize, usize),
    a: Mat<'_>,
    b: Mat<'_>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    for i in 0..m {
        for j in 0..n {
            let mut dst = c[i * ldc + j];
            let mut first = !accumulate;
            let mut lo = k0;
            while lo < k1 {
                let hi = ((lo / K_CHUNK + 1) * K_CHUNK).min(k1);
                let mut acc = 0f32;
                for kk in lo..hi {
                    acc = a.at(i, kk).mul_add(b.at(kk, j), acc);
                }
                dst = if first { acc } else { acc + dst };
                first = false;
                lo = hi;
            }
            c[i * ldc + j] = dst;
        }
    }
}

/// A single row (or column) with more than 256 outputs: pad it to two with a zero row (column)
/// in scratch, so `gemm` takes its main path.
#[allow(clippy::too_many_arguments)]
fn padded(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    threads: usize,
) -> Result<()> {
    // Taken out of the thread-local while in use, so a nested call on this thread (rayon work
    // stealing inside `gemm`'s own parallelism) finds empty vectors instead of a held borrow.
    let (mut op, mut out) = PAD.with(|pad| std::mem::take(&mut *pad.borrow_mut()));
    op.clear();
    op.resize(2 * k, 0.0);
    out.clear();
    out.resize(2 * m.max(n), 0.0);
    let result = if m == 1 {
        // op: 2 × k, row 0 = a's row; out: 2 × n.
        for (kk, v) in op[..k].iter_mut().enumerate() {
            *v = a.at(0, kk);
        }
        out[..n].copy_from_slice(&c[..n]);
        let r = sgemm(
            2,
            n,
            k,
            Mat::rows(&op, k),
            b,
            &mut out,
            n,
            accumulate,
            threads,
        );
        c[..n].copy_from_slice(&out[..n]);
        r
    } else {
        // op: k × 2, column 0 = b's column; out: m × 2.
        for kk in 0..k {
            op[2 * kk] = b.at(kk, 0);
        }
        for i in 0..m {
            out[2 * i] = c[i * ldc];
        }
        let r = sgemm(
            m,
            2,
            k,
            a,
            Mat::rows(&op, 2),
            &mut out,
            2,
            accumulate,
            threads,
        );
        for i in 0..m {
            c[i * ldc] = out[2 * i];
        }
        r
    };
    PAD.with(|pad| *pad.borrow_mut() = (op, out));
    result
}

#[cfg(test)]
mod tests {
    use super::super::tests::data;
    use super::*;

    fn reference(m: usize, n: usize, k: usize, a: Mat<'_>, b: Mat<'_>) -> Vec<f64> {
        let mut c = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|kk| f64::from(a.at(i, kk)) * f64::from(b.at(kk, j)))
                    .sum();
            }
        }
        c
    }

    #[test]
    fn sgemm_matches_f64_and_is_independent_of_sizes() {
        // k with a last block of 2 (scalar inside gemm calls), of 76, and below one block.
        for &(m, n, k) in &[(37, 29, 1026), (21, 19, 1100), (18, 40, 300), (3, 5, 7)] {
            let a = data(m * k, 1);
            let bt = data(n * k, 2); // stored [n, k]: b is its transpose
            let (am, bm) = (Mat::rows(&a, k), Mat::transposed(&bt, k));
            let mut c = vec![f32::NAN; m * n];
            sgemm(m, n, k, am, bm, &mut c, n, false, 1).unwrap();
            let want = reference(m, n, k, am, bm);
            let scale = want.iter().fold(0f64, |s, v| s.max(v.abs()));
            for (x, y) in c.iter().zip(&want) {
                assert!((f64::from(*x) - y).abs() <= 1e-5 * scale, "{x} vs {y}");
            }
            // Row by row (m = 1: padded or scalar) and column by column (n = 1) give the same bits.
            for i in 0..m {
                let mut row = vec![0f32; n];
                let ai = Mat::rows(&a[i * k..], k);
                sgemm(1, n, k, ai, bm, &mut row, n, false, 1).unwrap();
                for j in 0..n {
                    assert_eq!(row[j].to_bits(), c[i * n + j].to_bits(), "row {i} col {j}");
                }
            }
            for j in 0..n {
                let mut col = vec![0f32; m];
                let bj = Mat::transposed(&bt[j * k..], k);
                sgemm(m, 1, k, am, bj, &mut col, 1, false, 1).unwrap();
                for i in 0..m {
                    assert_eq!(col[i].to_bits(), c[i * n + j].to_bits(), "row {i} col {j}");
                }
            }
            // gemm's own threads; the first k-block, then the rest accumulated onto it.
            let mut c2 = vec![0f32; m * n];
            sgemm(m, n, k, am, bm, &mut c2, n, false, 2).unwrap();
            assert_eq!(c, c2);
            if k > K_CHUNK {
                let mut c3 = vec![0f32; m * n];
                sgemm(m, n, K_CHUNK, am, bm, &mut c3, n, false, 1).unwrap();
                let a_rest = Mat::rows(&a[K_CHUNK..], k);
                let b_rest = Mat::transposed(&bt[K_CHUNK..], k);
                sgemm(m, n, k - K_CHUNK, a_rest, b_rest, &mut c3, n, true, 1).unwrap();
                assert_eq!(c, c3);
            }
        }
    }

    #[test]
    fn sgemm_rejects_views_that_do_not_fit() {
        let a = vec![0f32; 10];
        let mut c = vec![0f32; 4];
        let r = sgemm(
            2,
            2,
            6,
            Mat::rows(&a, 5),
            Mat::rows(&a, 2),
            &mut c,
            2,
            false,
            1,
        );
        assert!(r.is_err());
        let r = sgemm(
            2,
            2,
            5,
            Mat::rows(&a, 5),
            Mat::rows(&a, 2),
            &mut c,
            1,
            false,
            1,
        );
        assert!(r.is_err());
    }
}
