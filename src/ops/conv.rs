//! 2-D convolution (NCHW, PyTorch semantics) with stride, padding, dilation, groups, fused bias and
//! optional ReLU.

use super::{expect_rank, expect_u32, ranges, CONV2D};
use crate::error::{Error, Result};
use crate::gpu::{Recorder, Tensor};

/// Geometry of a convolution (as `torch.nn.Conv2d`) plus the fused ReLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2d {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub relu: bool,
}

impl Default for Conv2d {
    fn default() -> Self {
        Conv2d {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
            relu: false,
        }
    }
}

/// Checked sizes of one convolution.
#[derive(Debug, Clone, Copy)]
pub struct ConvShape {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Conv2d {
    /// Validates `x: [N, C, H, W]`, `weight: [OC, C/groups, KH, KW]` and `bias: [OC]`.
    pub fn shape(
        &self,
        x: &[usize],
        weight: &[usize],
        bias: Option<&[usize]>,
    ) -> Result<ConvShape> {
        let op = "conv2d";
        expect_rank(op, "input", x, 4)?;
        expect_rank(op, "weight", weight, 4)?;
        let g = self.groups;
        if g == 0 || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(Error::shape(
                op,
                "groups, stride and dilation must be positive",
            ));
        }
        let (c_in, c_out) = (x[1], weight[0]);
        if c_in % g != 0 || c_out % g != 0 {
            return Err(Error::shape(
                op,
                format!(
                    "groups = {g} must divide input channels {c_in} and output channels {c_out}"
                ),
            ));
        }
        if c_in / g > super::MAX_LOOP {
            return Err(Error::shape(
                op,
                format!(
                    "{} input channels per group exceed the kernels' loop limit of {}",
                    c_in / g,
                    super::MAX_LOOP
                ),
            ));
        }
        if weight[1] != c_in / g {
            return Err(Error::shape(
                op,
                format!(
                    "weight {weight:?} expects {} input channels per group, input {x:?} with groups = {g} gives {}",
                    weight[1],
                    c_in / g
                ),
            ));
        }
        if let Some(b) = bias {
            if b != [c_out] {
                return Err(Error::shape(
                    op,
                    format!("bias has shape {b:?}, expected [{c_out}]"),
                ));
            }
        }
        let mut out = [0; 2];
        for d in 0..2 {
            let span = self.dilation[d] * (weight[2 + d] - 1) + 1;
            let padded = x[2 + d] + 2 * self.padding[d];
            if padded < span {
                return Err(Error::shape(
                    op,
                    format!(
                        "input {x:?} (padding {:?}) is smaller than the dilated kernel {span}",
                        self.padding
                    ),
                ));
            }
            out[d] = (padded - span) / self.stride[d] + 1;
        }
        Ok(ConvShape {
            n: x[0],
            c_in,
            h: x[2],
            w: x[3],
            c_out,
            kh: weight[2],
            kw: weight[3],
            oh: out[0],
            ow: out[1],
        })
    }
}

/// Output-channel ranges of at most `per` channels that never straddle a group boundary unless they
/// hold whole groups.
fn channel_ranges(c_out: usize, ocpg: usize, per: usize) -> Vec<(usize, usize)> {
    if per >= ocpg {
        let per = per / ocpg * ocpg;
        ranges(c_out, per).collect()
    } else {
        (0..c_out / ocpg)
            .flat_map(|g| ranges(ocpg, per).map(move |(a, b)| (g * ocpg + a, g * ocpg + b)))
            .collect()
    }
}

/// `torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups)`, then ReLU if
/// asked. Returns `[N, OC, OH, OW]`.
pub fn conv2d(
    rec: &mut Recorder<'_>,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    p: &Conv2d,
) -> Result<Tensor> {
    let s = p.shape(x.shape(), weight.shape(), bias.map(|b| b.shape()))?;
    let out = rec.context().empty(&[s.n, s.c_out, s.oh, s.ow])?;
    let limit = rec.max_window_elems();
    let (icpg, ocpg) = (s.c_in / p.groups, s.c_out / p.groups);
    let wrow = icpg * s.kh * s.kw;
    let (x_img, y_img, plane) = (s.c_in * s.h * s.w, s.c_out * s.oh * s.ow, s.oh * s.ow);
    if x_img > limit || wrow > limit || plane > limit {
        return Err(Error::shape(
            "conv2d",
            format!(
                "one image {:?}, one filter or one output plane exceeds the {}-byte storage binding limit",
                x.shape(),
                rec.context().max_binding_bytes()
            ),
        ));
    }
    let (mut imgs, mut occ) = (s.n, s.c_out);
    loop {
        let y_span = (imgs - 1) * y_img + occ * plane;
        if imgs * x_img > limit || (y_span > limit && imgs > 1) {
            imgs = imgs.div_ceil(2);
        } else if occ * wrow > limit || y_span > limit {
            occ = occ.div_ceil(2);
        } else {
            break;
        }
    }
    let channel_chunks = channel_ranges(s.c_out, ocpg, occ);
    let geometry = [
        s.c_in,
        s.h,
        s.w,
        s.c_out,
        s.oh,
        s.ow,
        s.kh,
        s.kw,
        p.stride[0],
        p.stride[1],
        p.padding[0],
        p.padding[1],
        p.dilation[0],
        p.dilation[1],
        icpg,
        ocpg,
    ];
    let geometry = geometry
        .iter()
        .map(|&v| expect_u32("conv2d", "a size", v))
        .collect::<Result<Vec<u32>>>()?;
    for (n0, n1) in ranges(s.n, imgs) {
        let (x_w, x_base) = rec.window(x, n0 * x_img, n1 * x_img)?;
        for &(oc0, oc1) in &channel_chunks {
            let oc_len = oc1 - oc0;
            let (w_w, w_base) = rec.window(weight, oc0 * wrow, oc1 * wrow)?;
            let (b_w, b_base) = match bias {
                Some(b) => {
                    let (w, base) = rec.window(b, oc0, oc1)?;
                    (Some(w), base)
                }
                None => (None, 0),
            };
            let y_lo = n0 * y_img + oc0 * plane;
            let y_hi = (n1 - 1) * y_img + oc1 * plane;
            let (y_w, y_base) = rec.window(&out, y_lo, y_hi)?;
            let mut params = vec![(n1 - n0) as u32];
            params.extend_from_slice(&geometry);
            let flags = u32::from(bias.is_some()) | (u32::from(p.relu) << 1);
            params.extend_from_slice(&[
                oc0 as u32,
                oc_len as u32,
                x_base,
                w_base,
                b_base,
                y_base,
                flags,
            ]);
            let span = ocpg.min(oc_len);
            let blocks = span.div_ceil(4) * oc_len.div_ceil(span);
            let threads = (n1 - n0) * blocks * s.oh * s.ow.div_ceil(4);
            let groups = rec.grid(threads.div_ceil(64))?;
            rec.dispatch(
                &CONV2D,
                "conv2d",
                &[],
                &params,
                vec![Some(x_w.clone()), Some(w_w), b_w, Some(y_w)],
                groups,
            )?;
        }
    }
    Ok(out)
}

/// CPU twin with f64 accumulation. Shapes as for [`conv2d`], data flat row-major.
pub fn conv2d_cpu(
    x: &[f32],
    x_shape: &[usize],
    weight: &[f32],
    w_shape: &[usize],
    bias: Option<&[f32]>,
    p: &Conv2d,
) -> Result<Vec<f32>> {
    let s = p.shape(
        x_shape,
        w_shape,
        bias.map(|b| [b.len()]).as_ref().map(|b| &b[..]),
    )?;
    let (icpg, ocpg) = (s.c_in / p.groups, s.c_out / p.groups);
    let mut y = Vec::with_capacity(s.n * s.c_out * s.oh * s.ow);
    for n in 0..s.n {
        for oc in 0..s.c_out {
            let g = oc / ocpg;
            for oy in 0..s.oh {
                for ox in 0..s.ow {
                    let mut acc = bias.map_or(0.0, |b| f64::from(b[oc]));
                    for ic in 0..icpg {
                        let c = g * icpg + ic;
                        for ky in 0..s.kh {
                            let iy = (oy * p.stride[0] + ky * p.dilation[0]) as isize
                                - p.padding[0] as isize;
                            if iy < 0 || iy >= s.h as isize {
                                continue;
                            }
                            for kx in 0..s.kw {
                                let ix = (ox * p.stride[1] + kx * p.dilation[1]) as isize
                                    - p.padding[1] as isize;
                                if ix < 0 || ix >= s.w as isize {
                                    continue;
                                }
                                let xv =
                                    x[((n * s.c_in + c) * s.h + iy as usize) * s.w + ix as usize];
                                let wv = weight[((oc * icpg + ic) * s.kh + ky) * s.kw + kx];
                                acc += f64::from(xv) * f64::from(wv);
                            }
                        }
                    }
                    if p.relu && acc <= 0.0 {
                        acc = 0.0;
                    }
                    y.push(acc as f32);
                }
            }
        }
    }
    Ok(y)
}
