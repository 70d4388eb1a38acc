//! 2-D convolution as im2col + GEMM, in column blocks so the workspace stays bounded.

use rayon::prelude::*;

use super::gemm::{sgemm, Mat};
use super::{expect_len, scatter_rows, volume, with_scratch};
use crate::error::Result;
use crate::ops::conv::{Conv2d, ConvShape};
use crate::ops::ranges;

/// Most values of one task's im2col block: 2 MiB of f32 (a Zen 5 L2), about 224 output positions
/// of a 3×3×256 convolution, where `gemm` measured fastest.
const COL_BUDGET: usize = 1 << 19;

/// `torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups)`, then ReLU if
/// `p.relu`, into `out: [N, OC, OH, OW]` (every value overwritten).
///
/// Shapes: `x: [N, C, H, W]`, `weight: [OC, C/groups, KH, KW]`, `bias: [OC]`; checked with
/// [`Conv2d::shape`] and against the slice lengths (errors, never panics). Returns the checked
/// sizes. Work is split into (image, group, block of output positions[, block of output
/// channels]) tasks over the current rayon pool; each element's sum is independent of that split.
pub fn conv2d(
    x: &[f32],
    x_shape: [usize; 4],
    weight: &[f32],
    w_shape: [usize; 4],
    bias: Option<&[f32]>,
    p: &Conv2d,
    out: &mut [f32],
) -> Result<ConvShape> {
    let op = "conv2d";
    let bias_shape = bias.map(|b| [b.len()]);
    let s = p.shape(&x_shape, &w_shape, bias_shape.as_ref().map(|b| &b[..]))?;
    expect_len(op, "input", x.len(), volume(op, &x_shape)?)?;
    expect_len(op, "weight", weight.len(), volume(op, &w_shape)?)?;
    let plane = s.oh * s.ow;
    expect_len(op, "output", out.len(), volume(op, &[s.n, s.c_out, plane])?)?;
    let groups = p.groups;
    let (icpg, ocpg) = (s.c_in / groups, s.c_out / groups);
    let depth = icpg * s.kh * s.kw;
    let direct = s.kh == 1 && s.kw == 1 && p.stride == [1, 1] && p.padding == [0, 0];
    let block = (COL_BUDGET / depth).max(16) / 16 * 16;
    let bounds: Vec<(usize, usize)> = ranges(plane, block).collect();
    let blocks = bounds.len();
    // Few images and small planes: split output channels too, so every thread has work (bits do
    // not depend on this split either).
    let want = 4 * rayon::current_num_threads();
    let coarse = s.n * groups * blocks;
    let per_task = if coarse >= want {
        ocpg
    } else {
        ocpg.div_ceil(want.div_ceil(coarse)).max(16).min(ocpg)
    };
    let splits = ocpg.div_ceil(per_task);
    let tasks = coarse * splits;
    let lists = scatter_rows(out, plane, &bounds, tasks, |r, b| {
        let (img, oc) = (r / s.c_out, r % s.c_out);
        ((img * groups + oc / ocpg) * blocks + b) * splits + (oc % ocpg) / per_task
    });
    let x_group = icpg * s.h * s.w;
    lists
        .into_par_iter()
        .enumerate()
        .try_for_each(|(task, mut segs)| {
            let (rest, split) = (task / splits, task % splits);
            let (ig, b) = (rest / blocks, rest % blocks);
            let g = ig % groups;
            let (c0, c1) = bounds[b];
            let len = c1 - c0;
            let o0 = g * ocpg + split * per_task;
            let rows = segs.len();
            let xg = &x[ig * x_group..(ig + 1) * x_group];
            let wg = Mat::rows(&weight[o0 * depth..(o0 + rows) * depth], depth);
            with_scratch(1, rows * len, |y| -> Result<()> {
                if direct {
                    let cols = Mat::rows(&xg[c0..], plane);
                    sgemm(rows, len, depth, wg, cols, y, len, false, 1)?;
                } else {
                    with_scratch(0, depth * len, |col| {
                        im2col(xg, &s, p, (c0, c1), col);
                        sgemm(rows, len, depth, wg, Mat::rows(col, len), y, len, false, 1)
                    })?;
                }
                for (i, seg) in segs.iter_mut().enumerate() {
                    let add = bias.map_or(0.0, |bias| bias[o0 + i]);
                    let src = &y[i * len..(i + 1) * len];
                    if p.relu {
                        for (o, &v) in seg.iter_mut().zip(src) {
                            let v = v + add;
                            *o = if v <= 0.0 { 0.0 } else { v };
                        }
                    } else {
                        for (o, &v) in seg.iter_mut().zip(src) {
                            *o = v + add;
                        }
                    }
                }
                Ok(())
            })
        })?;
    Ok(s)
}

/// Columns `c0..c1` (flat output positions) of one group's im2col matrix into `col`: row
/// `(ic·KH + ky)·KW + kx`, `c1 − c0` values per row, zeros where the window reads padding.
fn im2col(xg: &[f32], s: &ConvShape, p: &Conv2d, (c0, c1): (usize, usize), col: &mut [f32]) {
    let len = c1 - c0;
    let (sh, sw) = (p.stride[0], p.stride[1]);
    let taps = s.kh * s.kw;
    for (r, row) in col.chunks_exact_mut(len).enumerate() {
        let plane = &xg[(r / taps) * s.h * s.w..(r / taps + 1) * s.h * s.w];
        let (ky, kx) = ((r % taps) / s.kw, r % s.kw);
        let y_off = (ky * p.dilation[0]) as isize - p.padding[0] as isize;
        let x_off = (kx * p.dilation[1]) as isize - p.padding[1] as isize;
        // Output columns whose input column ix = ox·sw + x_off lies in 0..w.
        let lo = if x_off >= 0 {
            0
        } else {
            ((-x_off) as usize).div_ceil(sw)
        };
        let hi = if (s.w as isize) <= x_off {
            0
        } else {
            ((s.w as isize - x_off) as usize).div_ceil(sw)
        };
        let mut j = c0;
        while j < c1 {
            let (oy, ox0) = (j / s.ow, j % s.ow);
            let ox1 = s.ow.min(ox0 + (c1 - j));
            let seg = &mut row[j - c0..j - c0 + (ox1 - ox0)];
            let iy = (oy * sh) as isize + y_off;
            if iy < 0 || iy >= s.h as isize {
                seg.fill(0.0);
            } else {
                let xrow = &plane[iy as usize * s.w..(iy as usize + 1) * s.w];
                let a = lo.clamp(ox0, ox1);
                let b = hi.clamp(a, ox1);
                seg[..a - ox0].fill(0.0);
                seg[b - ox0..].fill(0.0);
                let dst = &mut seg[a - ox0..b - ox0];
                if a < b {
                    let start = ((a * sw) as isize + x_off) as usize;
                    if sw == 1 {
                        dst.copy_from_slice(&xrow[start..start + (b - a)]);
                    } else {
                        for (o, v) in dst.iter_mut().zip(xrow[start..].iter().step_by(sw)) {
                            *o = *v;
                        }
                    }
                }
            }
            j += ox1 - ox0;
        }
    }
}
