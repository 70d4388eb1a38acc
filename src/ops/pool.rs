//! Max pool, average pool and adaptive average pool over `[N, C, H, W]`, with PyTorch's rules.

use super::{expect_rank, expect_u32, ranges, POOL};
use crate::error::{Error, Result};
use crate::gpu::{Recorder, Tensor};

/// Window geometry of `max_pool2d` / `avg_pool2d` (as `torch.nn.MaxPool2d` / `AvgPool2d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    /// Max pool only; average pool requires `[1, 1]`.
    pub dilation: [usize; 2],
    pub ceil_mode: bool,
    /// Average pool only: padded zeros count in the divisor.
    pub count_include_pad: bool,
}

impl Pool2d {
    /// Square window, stride and padding; no dilation, floor mode, padding counted.
    pub fn square(kernel: usize, stride: usize, padding: usize) -> Self {
        Pool2d {
            kernel: [kernel; 2],
            stride: [stride; 2],
            padding: [padding; 2],
            dilation: [1; 2],
            ceil_mode: false,
            count_include_pad: true,
        }
    }

    /// Output `[OH, OW]` for input `[H, W]`, or an error naming the bad parameter.
    pub fn output_size(&self, op: &'static str, h: usize, w: usize) -> Result<[usize; 2]> {
        let mut out = [0; 2];
        for (d, &len) in [h, w].iter().enumerate() {
            let (k, s, p, dil) = (
                self.kernel[d],
                self.stride[d],
                self.padding[d],
                self.dilation[d],
            );
            if k == 0 || s == 0 || dil == 0 {
                return Err(Error::shape(
                    op,
                    "kernel, stride and dilation must be positive",
                ));
            }
            if p > k / 2 {
                return Err(Error::shape(
                    op,
                    format!("padding {p} must be at most half the kernel size {k}"),
                ));
            }
            let span = dil * (k - 1) + 1;
            if len + 2 * p < span {
                return Err(Error::shape(
                    op,
                    format!("input size {len} (+2×{p} padding) is smaller than the window {span}"),
                ));
            }
            let num = len + 2 * p - span;
            let mut o = if self.ceil_mode {
                num.div_ceil(s)
            } else {
                num / s
            } + 1;
            // The last window must start inside the input or its left padding.
            if self.ceil_mode && (o - 1) * s >= len + p {
                o -= 1;
            }
            out[d] = o;
        }
        Ok(out)
    }
}

fn planes_of(op: &'static str, x: &Tensor) -> Result<(usize, usize, usize)> {
    expect_rank(op, "input", x.shape(), 4)?;
    let s = x.shape();
    Ok((s[0] * s[1], s[2], s[3]))
}

fn dispatch_pool(
    rec: &mut Recorder<'_>,
    entry: &'static str,
    x: &Tensor,
    out_hw: [usize; 2],
    geometry: [u32; 9],
) -> Result<Tensor> {
    let (planes, h, w) = planes_of(entry, x)?;
    let [oh, ow] = out_hw;
    let s = x.shape();
    let out = rec.context().empty(&[s[0], s[1], oh, ow])?;
    let per = rec.max_window_elems() / (h * w).max(oh * ow);
    if per == 0 {
        return Err(Error::shape(
            entry,
            format!("one {h}×{w} plane exceeds the storage binding limit"),
        ));
    }
    for (p0, p1) in ranges(planes, per) {
        let (xw, xb) = rec.window(x, p0 * h * w, p1 * h * w)?;
        let (yw, yb) = rec.window(&out, p0 * oh * ow, p1 * oh * ow)?;
        let n = (p1 - p0) * oh * ow;
        let mut params = vec![
            expect_u32(entry, "output elements", n)?,
            h as u32,
            w as u32,
            oh as u32,
            ow as u32,
        ];
        params.extend_from_slice(&geometry);
        params.extend_from_slice(&[xb, yb]);
        let groups = rec.grid(n.div_ceil(256))?;
        rec.dispatch(&POOL, entry, &[], &params, vec![Some(xw), Some(yw)], groups)?;
    }
    Ok(out)
}

fn geometry(p: &Pool2d) -> [u32; 9] {
    [
        p.kernel[0] as u32,
        p.kernel[1] as u32,
        p.stride[0] as u32,
        p.stride[1] as u32,
        p.padding[0] as u32,
        p.padding[1] as u32,
        p.dilation[0] as u32,
        p.dilation[1] as u32,
        u32::from(p.count_include_pad),
    ]
}

/// `torch.nn.functional.max_pool2d` on `[N, C, H, W]`.
pub fn max_pool2d(rec: &mut Recorder<'_>, x: &Tensor, p: &Pool2d) -> Result<Tensor> {
    let (_, h, w) = planes_of("max_pool2d", x)?;
    let out = p.output_size("max_pool2d", h, w)?;
    dispatch_pool(rec, "max_pool2d", x, out, geometry(p))
}

/// `torch.nn.functional.avg_pool2d` on `[N, C, H, W]` (no dilation).
pub fn avg_pool2d(rec: &mut Recorder<'_>, x: &Tensor, p: &Pool2d) -> Result<Tensor> {
    if p.dilation != [1, 1] {
        return Err(Error::shape(
            "avg_pool2d",
            "average pooling has no dilation",
        ));
    }
    let (_, h, w) = planes_of("avg_pool2d", x)?;
    let out = p.output_size("avg_pool2d", h, w)?;
    dispatch_pool(rec, "avg_pool2d", x, out, geometry(p))
}

/// `torch.nn.functional.adaptive_avg_pool2d` on `[N, C, H, W]` to `[N, C, OH, OW]`.
pub fn adaptive_avg_pool2d(rec: &mut Recorder<'_>, x: &Tensor, out: [usize; 2]) -> Result<Tensor> {
    if out.contains(&0) {
        return Err(Error::shape(
            "adaptive_avg_pool2d",
            "output size must be positive",
        ));
    }
    dispatch_pool(rec, "adaptive_avg_pool2d", x, out, [0; 9])
}

/// CPU twins over flat `[planes, H, W]` data.
pub mod cpu {
    use super::Pool2d;

    /// Max pool (NaN propagates; padding never wins).
    pub fn max_pool2d(x: &[f32], planes: usize, h: usize, w: usize, p: &Pool2d) -> Vec<f32> {
        let [oh, ow] = p.output_size("max_pool2d", h, w).expect("valid geometry");
        let mut out = Vec::with_capacity(planes * oh * ow);
        for plane in x.chunks(h * w).take(planes) {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut m: Option<f32> = None;
                    for ky in 0..p.kernel[0] {
                        let iy = (oy * p.stride[0] + ky * p.dilation[0]) as isize
                            - p.padding[0] as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        for kx in 0..p.kernel[1] {
                            let ix = (ox * p.stride[1] + kx * p.dilation[1]) as isize
                                - p.padding[1] as isize;
                            if ix < 0 || ix >= w as isize {
                                continue;
                            }
                            let v = plane[iy as usize * w + ix as usize];
                            m = match m {
                                Some(c) if c.is_nan() || !(v > c || v.is_nan()) => Some(c),
                                _ => Some(v),
                            };
                        }
                    }
                    out.push(m.unwrap_or(f32::NEG_INFINITY));
                }
            }
        }
        out
    }

    /// Average pool with PyTorch's divisor rule, sums in f64.
    pub fn avg_pool2d(x: &[f32], planes: usize, h: usize, w: usize, p: &Pool2d) -> Vec<f32> {
        let [oh, ow] = p.output_size("avg_pool2d", h, w).expect("valid geometry");
        let mut out = Vec::with_capacity(planes * oh * ow);
        for plane in x.chunks(h * w).take(planes) {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut y0 = (oy * p.stride[0]) as isize - p.padding[0] as isize;
                    let mut x0 = (ox * p.stride[1]) as isize - p.padding[1] as isize;
                    let mut y1 = (y0 + p.kernel[0] as isize).min((h + p.padding[0]) as isize);
                    let mut x1 = (x0 + p.kernel[1] as isize).min((w + p.padding[1]) as isize);
                    let pool_size = (y1 - y0) * (x1 - x0);
                    y0 = y0.max(0);
                    x0 = x0.max(0);
                    y1 = y1.min(h as isize);
                    x1 = x1.min(w as isize);
                    let mut s = 0.0f64;
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            s += f64::from(plane[iy as usize * w + ix as usize]);
                        }
                    }
                    let div = if p.count_include_pad {
                        pool_size
                    } else {
                        (y1 - y0) * (x1 - x0)
                    };
                    out.push((s / div as f64) as f32);
                }
            }
        }
        out
    }

    /// Adaptive average pool: bin `i` spans `[floor(i·H/OH), ceil((i+1)·H/OH))`.
    pub fn adaptive_avg_pool2d(
        x: &[f32],
        planes: usize,
        h: usize,
        w: usize,
        out_hw: [usize; 2],
    ) -> Vec<f32> {
        let [oh, ow] = out_hw;
        let mut out = Vec::with_capacity(planes * oh * ow);
        for plane in x.chunks(h * w).take(planes) {
            for oy in 0..oh {
                let (y0, y1) = (oy * h / oh, ((oy + 1) * h).div_ceil(oh));
                for ox in 0..ow {
                    let (x0, x1) = (ox * w / ow, ((ox + 1) * w).div_ceil(ow));
                    let mut s = 0.0f64;
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            s += f64::from(plane[iy * w + ix]);
                        }
                    }
                    out.push((s / ((y1 - y0) * (x1 - x0)) as f64) as f32);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Pool2d;

    #[test]
    fn output_size_matches_pytorch() {
        // torch: MaxPool2d(3, 2) on 55 -> 27 (AlexNet); ceil_mode on 112 with k=3,s=2 -> 56.
        let p = Pool2d::square(3, 2, 0);
        assert_eq!(p.output_size("t", 55, 55).unwrap(), [27, 27]);
        let c = Pool2d {
            ceil_mode: true,
            ..p
        };
        assert_eq!(c.output_size("t", 112, 112).unwrap(), [56, 56]);
        // ResNet stem: k=3, s=2, p=1 on 112 -> 56.
        assert_eq!(
            Pool2d::square(3, 2, 1).output_size("t", 112, 112).unwrap(),
            [56, 56]
        );
        // ceil mode drops a window that would start in the right padding: k=2,s=2,p=1 on 5 -> 3.
        let d = Pool2d {
            ceil_mode: true,
            ..Pool2d::square(2, 2, 1)
        };
        assert_eq!(d.output_size("t", 5, 5).unwrap(), [3, 3]);
        assert!(Pool2d::square(3, 1, 2).output_size("t", 8, 8).is_err());
    }
}
