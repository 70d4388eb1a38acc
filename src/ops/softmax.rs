//! Softmax over the last dimension.

use super::{expect_u32, ranges, row_split, SOFTMAX};
use crate::error::Result;
use crate::gpu::{Recorder, Tensor};

/// Softmax over the last dimension of `x` (any rank ≥ 1).
pub fn softmax_rows(rec: &mut Recorder<'_>, x: &Tensor) -> Result<Tensor> {
    let (rows, cols, per) = row_split("softmax", x.shape(), rec.max_window_elems())?;
    let out = rec.context().empty(x.shape())?;
    for (r0, r1) in ranges(rows, per) {
        let (xw, xb) = rec.window(x, r0 * cols, r1 * cols)?;
        let (ow, ob) = rec.window(&out, r0 * cols, r1 * cols)?;
        let groups = rec.grid(r1 - r0)?;
        let params = [
            (r1 - r0) as u32,
            expect_u32("softmax", "cols", cols)?,
            xb,
            ob,
        ];
        rec.dispatch(
            &SOFTMAX,
            "softmax_rows",
            &[],
            &params,
            vec![Some(xw), Some(ow)],
            groups,
        )?;
    }
    Ok(out)
}

/// CPU twin: max-subtracted softmax of each row of length `cols`, in f64.
pub fn softmax_rows_cpu(x: &[f32], cols: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for row in x.chunks(cols) {
        let m = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let e: Vec<f64> = row.iter().map(|&v| (f64::from(v) - m).exp()).collect();
        let s: f64 = e.iter().sum();
        out.extend(e.iter().map(|v| (v / s) as f32));
    }
    out
}
