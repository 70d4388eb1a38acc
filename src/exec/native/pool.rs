//! Max pool and adaptive average pool over planes `[planes, H, W]`, with PyTorch's rules.

use rayon::prelude::*;

use super::{expect_len, volume};
use crate::error::{Error, Result};
use crate::ops::pool::Pool2d;

/// `torch.nn.functional.max_pool2d` over `x: [planes, h, w]` into `out: [planes, OH, OW]` with
/// `[OH, OW] = p.output_size(..)` (padding, dilation, ceil mode), as
/// [`crate::ops::pool::cpu::max_pool2d`]: NaN propagates, padding never wins, a window with no
/// input value gives −∞. Returns `[OH, OW]`; errors on bad geometry or slice lengths.
pub fn max_pool2d(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    p: &Pool2d,
    out: &mut [f32],
) -> Result<[usize; 2]> {
    let op = "max_pool2d";
    if h == 0 || w == 0 {
        return Err(Error::shape(op, format!("empty {h}×{w} input")));
    }
    let [oh, ow] = p.output_size(op, h, w)?;
    expect_len(op, "input", x.len(), volume(op, &[planes, h, w])?)?;
    expect_len(op, "output", out.len(), volume(op, &[planes, oh, ow])?)?;
    if planes == 0 {
        return Ok([oh, ow]);
    }
    out.par_chunks_mut(oh * ow)
        .zip(x.par_chunks(h * w))
        .for_each(|(o, plane)| {
            for oy in 0..oh {
                let y0 = (oy * p.stride[0]) as isize - p.padding[0] as isize;
                for ox in 0..ow {
                    let x0 = (ox * p.stride[1]) as isize - p.padding[1] as isize;
                    let mut m: Option<f32> = None;
                    for ky in 0..p.kernel[0] {
                        let iy = y0 + (ky * p.dilation[0]) as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        let row = &plane[iy as usize * w..(iy as usize + 1) * w];
                        for kx in 0..p.kernel[1] {
                            let ix = x0 + (kx * p.dilation[1]) as isize;
                            if ix < 0 || ix >= w as isize {
                                continue;
                            }
                            let v = row[ix as usize];
                            m = match m {
                                Some(c) if c.is_nan() || !(v > c || v.is_nan()) => Some(c),
                                _ => Some(v),
                            };
                        }
                    }
                    o[oy * ow + ox] = m.unwrap_or(f32::NEG_INFINITY);
                }
            }
        });
    Ok([oh, ow])
}

/// `torch.nn.functional.adaptive_avg_pool2d` over `x: [planes, h, w]` into
/// `out: [planes, OH, OW]`: bin `i` spans `[floor(i·H/OH), ceil((i+1)·H/OH))` (likewise for
/// columns), summed in f64 in row-major order (as [`crate::ops::pool::cpu::adaptive_avg_pool2d`]).
pub fn adaptive_avg_pool2d(
    x: &[f32],
    planes: usize,
    h: usize,
    w: usize,
    [oh, ow]: [usize; 2],
    out: &mut [f32],
) -> Result<()> {
    let op = "adaptive_avg_pool2d";
    if oh == 0 || ow == 0 || h == 0 || w == 0 {
        return Err(Error::shape(
            op,
            format!("input {h}×{w} and output {oh}×{ow} must be non-empty"),
        ));
    }
    expect_len(op, "input", x.len(), volume(op, &[planes, h, w])?)?;
    expect_len(op, "output", out.len(), volume(op, &[planes, oh, ow])?)?;
    if planes == 0 {
        return Ok(());
    }
    out.par_chunks_mut(oh * ow)
        .zip(x.par_chunks(h * w))
        .for_each(|(o, plane)| {
            for oy in 0..oh {
                let (y0, y1) = (oy * h / oh, ((oy + 1) * h).div_ceil(oh));
                for ox in 0..ow {
                    let (x0, x1) = (ox * w / ow, ((ox + 1) * w).div_ceil(ow));
                    let mut s = 0f64;
                    for row in plane[y0 * w..y1 * w].chunks_exact(w) {
                        s += row[x0..x1].iter().map(|&v| f64::from(v)).sum::<f64>();
                    }
                    o[oy * ow + ox] = (s / ((y1 - y0) * (x1 - x0)) as f64) as f32;
                }
            }
        });
    Ok(())
}
