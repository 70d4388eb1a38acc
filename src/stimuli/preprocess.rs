//! Preprocessing exact to the reference (SCIENCE.md §8): Pillow's antialiased bilinear resize on
//! 8-bit images (its fixed-point path, horizontal pass then vertical, each rounded to u8),
//! torchvision's shorter-side resize with truncated long side, centre crop with
//! round-half-to-even offsets, ÷255 and per-channel normalisation in f32.

use crate::error::{Error, Result};

/// An 8-bit RGB image, row-major, interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb8 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

/// ImageNet statistics used by torchvision's classification weights.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// torchvision's `ImageClassification` transform: resize the shorter side to `resize`, centre crop
/// `crop`, scale to [0, 1], normalise.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Torchvision {
    pub resize: usize,
    pub crop: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for Torchvision {
    fn default() -> Self {
        Torchvision {
            resize: 256,
            crop: 224,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }
    }
}

impl Torchvision {
    /// `[3, crop, crop]` f32, channel-major.
    pub fn apply(&self, img: &Rgb8) -> Result<Vec<f32>> {
        let (w, h) = (img.width, img.height);
        if w == 0 || h == 0 {
            return Err(Error::Invalid("empty image".into()));
        }
        // torchvision `_compute_resized_output_size`: the long side is truncated.
        let (ow, oh) = if w <= h {
            (self.resize, self.resize * h / w)
        } else {
            (self.resize * w / h, self.resize)
        };
        let resized = resize_bilinear(img, ow, oh);
        let c = self.crop;
        if c > ow || c > oh {
            return Err(Error::Invalid(format!(
                "crop {c} is larger than the resized image {ow}×{oh}"
            )));
        }
        let top = ((oh - c) as f64 / 2.0).round_ties_even() as usize;
        let left = ((ow - c) as f64 / 2.0).round_ties_even() as usize;
        let mut out = vec![0f32; 3 * c * c];
        for ch in 0..3 {
            for y in 0..c {
                for x in 0..c {
                    let v = resized.data[((top + y) * ow + left + x) * 3 + ch];
                    out[(ch * c + y) * c + x] =
                        (f32::from(v) / 255.0 - self.mean[ch]) / self.std[ch];
                }
            }
        }
        Ok(out)
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's per-output-pixel source window and fixed-point weights for one axis.
struct Coeffs {
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    weights: Vec<i32>,
}

fn coeffs(in_size: usize, out_size: usize) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // the bilinear filter's support is 1
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let triangle = |x: f64| {
        let x = x.abs();
        if x < 1.0 {
            1.0 - x
        } else {
            0.0
        }
    };
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // C casts truncate toward zero.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let count = xmax - xmin;
        let w: Vec<f64> = (0..count)
            .map(|x| triangle((x as f64 + xmin as f64 - center + 0.5) / filterscale))
            .collect();
        let total: f64 = w.iter().sum();
        for (x, &v) in w.iter().enumerate() {
            let k = if total != 0.0 { v / total } else { v };
            let f = k * f64::from(1u32 << PRECISION_BITS);
            weights[xx * ksize + x] = if k < 0.0 {
                (f - 0.5) as i32
            } else {
                (f + 0.5) as i32
            };
        }
        bounds.push((xmin, count));
    }
    Coeffs {
        bounds,
        ksize,
        weights,
    }
}

fn clip8(v: i64) -> u8 {
    if v >= 1 << (PRECISION_BITS + 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// One resampling pass along x (`horizontal`) or y, as Pillow's `ImagingResample{Horizontal,Vertical}_8bpc`.
fn pass(img: &Rgb8, out_len: usize, horizontal: bool) -> Rgb8 {
    let (w, h) = (img.width, img.height);
    let c = coeffs(if horizontal { w } else { h }, out_len);
    let (ow, oh) = if horizontal {
        (out_len, h)
    } else {
        (w, out_len)
    };
    let mut data = vec![0u8; ow * oh * 3];
    for y in 0..oh {
        for x in 0..ow {
            let o = if horizontal { x } else { y };
            let (start, count) = c.bounds[o];
            let k = &c.weights[o * c.ksize..o * c.ksize + count];
            for ch in 0..3 {
                let mut acc: i64 = 1 << (PRECISION_BITS - 1);
                for (i, &wgt) in k.iter().enumerate() {
                    let (sx, sy) = if horizontal {
                        (start + i, y)
                    } else {
                        (x, start + i)
                    };
                    acc += i64::from(img.data[(sy * w + sx) * 3 + ch]) * i64::from(wgt);
                }
                data[(y * ow + x) * 3 + ch] = clip8(acc);
            }
        }
    }
    Rgb8 {
        width: ow,
        height: oh,
        data,
    }
}

/// `PIL.Image.resize((width, height), Image.BILINEAR)` on an RGB image (antialiased when
/// downscaling). A no-op when the size is unchanged.
pub fn resize_bilinear(img: &Rgb8, width: usize, height: usize) -> Rgb8 {
    let mut out = img.clone();
    if width != img.width {
        out = pass(&out, width, true);
    }
    if height != img.height {
        out = pass(&out, height, false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SCIENCE.md §8.4: 6×8 (H×W) image, pixel (y, x) = [(30x + 5y) mod 256, 40y, 200 − 10x − 10y].
    fn science_image() -> Rgb8 {
        let (w, h) = (8, 6);
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[
                    ((30 * x + 5 * y) % 256) as u8,
                    (40 * y) as u8,
                    (200 - 10 * x - 10 * y) as u8,
                ]);
            }
        }
        Rgb8 {
            width: w,
            height: h,
            data,
        }
    }

    #[test]
    fn pillow_bilinear_matches_science_vector() {
        let r = resize_bilinear(&science_image(), 5, 4);
        let red: Vec<u8> = r.data.iter().step_by(3).copied().collect();
        let want = [
            14, 60, 107, 154, 200, 21, 67, 114, 161, 207, 28, 74, 121, 168, 214, 35, 81, 128, 175,
            221,
        ];
        assert_eq!(red, want);
    }

    #[test]
    fn torchvision_transform_matches_science_vector() {
        let t = Torchvision {
            resize: 4,
            crop: 4,
            ..Torchvision::default()
        };
        let out = t.apply(&science_image()).unwrap();
        // Crop left = round_half_even(0.5) = 0: the first row starts at resized column 0.
        let want_r = [-1.878157f32, -1.090419, -0.285555, 0.519308];
        for (g, w) in out[..4].iter().zip(want_r) {
            assert!((g - w).abs() < 2e-6, "{g} vs {w}");
        }
        assert!(out[16..20].iter().all(|&g| (g + 1.773109).abs() < 2e-6));
        assert!(Torchvision {
            resize: 4,
            crop: 5,
            ..Torchvision::default()
        }
        .apply(&science_image())
        .is_err());
    }
}
