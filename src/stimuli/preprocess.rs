//! Preprocessing exact to the reference (SCIENCE.md §8): Pillow's antialiased bilinear and bicubic
//! resizes on 8-bit images (its fixed-point path, horizontal pass then vertical, each rounded to
//! u8; the pass order of Pillow ≤ 12, which Pillow 13 changes for some downscales), torchvision's
//! shorter-side resize with truncated long side, centre crop with
//! round-half-to-even offsets, ÷255 and per-channel normalisation in f32.
//!
//! Presets: `torchvision` (resize shorter side, centre crop, ImageNet statistics), `square` (direct
//! resize to S×S, Conwell et al. 2024), `pad-square` (black padding to square, resize, [0, 1] with no
//! normalisation, Rajesh et al. 2024) and `timm` (shorter side to ⌊S / crop_pct⌋, centre crop S,
//! the model's interpolation and statistics); for the property battery `rajesh` (= `pad-square`)
//! and `jacob` (square bicubic resize, MatConvNet's average pixel subtracted on the 0–255 scale).

use serde::{Deserialize, Serialize};

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
/// MatConvNet's `imagenet-vgg-verydeep-16` average pixel, 0–255 scale (Jacob et al. 2021).
pub const VGG_AVERAGE_PIXEL: [f32; 3] = [123.68, 116.779, 103.939];
/// timm's IMAGENET_INCEPTION_MEAN/STD (the default of its ViT configurations).
pub const INCEPTION_MEAN: [f32; 3] = [0.5, 0.5, 0.5];
pub const INCEPTION_STD: [f32; 3] = [0.5, 0.5, 0.5];

/// Pillow's resampling filters (antialiased when downscaling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    Bilinear,
    Bicubic,
}

named_enum!(Filter, "interpolation", {
    Bilinear => "bilinear",
    Bicubic => "bicubic",
});

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }

    /// Pillow's `bilinear_filter` and `bicubic_filter` (a = −0.5).
    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bilinear if x < 1.0 => 1.0 - x,
            Filter::Bicubic if x < 1.0 => ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1.0,
            Filter::Bicubic if x < 2.0 => (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5,
            _ => 0.0,
        }
    }
}

/// How the image is brought to size before any crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// The shorter side becomes this; the longer side is truncated (torchvision `Resize(int)`).
    ShorterSide(usize),
    /// Both sides become this, aspect ratio not kept (`Resize((s, s))`).
    Square(usize),
}

/// Per-channel `(x − mean) / std` after scaling to [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Normalize {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// The ImageNet statistics of torchvision's weights.
pub const IMAGENET: Normalize = Normalize {
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
};

/// One preprocessing pipeline: optional black padding to square, resize, optional centre crop,
/// ÷255, optional normalisation. Output: `[3, S, S]` f32, channel-major.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preprocess {
    /// Name of the preset it was made from.
    pub preset: &'static str,
    /// Pad the shorter side with black, `|h − w| / 2` (floor) pixels on each side, as
    /// torchvision's `Pad` in Rajesh et al.'s pipeline (an odd difference stays one pixel short).
    pub pad_square: bool,
    pub resize: Resize,
    pub crop: Option<usize>,
    pub filter: Filter,
    pub normalize: Option<Normalize>,
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess::torchvision(256, 224)
    }
}

impl Preprocess {
    /// torchvision's `ImageClassification`: shorter side to `resize`, centre crop `crop`, bilinear,
    /// ImageNet statistics.
    pub fn torchvision(resize: usize, crop: usize) -> Self {
        Preprocess {
            preset: "torchvision",
            pad_square: false,
            resize: Resize::ShorterSide(resize),
            crop: Some(crop),
            filter: Filter::Bilinear,
            normalize: Some(IMAGENET),
        }
    }

    /// `Resize((size, size))` (bilinear) and ImageNet statistics, no crop (Conwell et al. 2024).
    pub fn square(size: usize) -> Self {
        Preprocess {
            preset: "square",
            pad_square: false,
            resize: Resize::Square(size),
            crop: None,
            filter: Filter::Bilinear,
            normalize: Some(IMAGENET),
        }
    }

    /// Black padding to square, `Resize((size, size))` (bilinear), [0, 1], no normalisation
    /// (Rajesh et al. 2024).
    pub fn pad_square(size: usize) -> Self {
        Preprocess {
            preset: "pad-square",
            pad_square: true,
            resize: Resize::Square(size),
            crop: None,
            filter: Filter::Bilinear,
            normalize: None,
        }
    }

    /// Rajesh et al.'s property battery: [`Preprocess::pad_square`] under the battery's name.
    pub fn rajesh(size: usize) -> Self {
        Preprocess {
            preset: "rajesh",
            ..Preprocess::pad_square(size)
        }
    }

    /// Jacob et al.'s MATLAB pipeline: `imresize(img, [S S])` (bicubic, antialiased, aspect ratio
    /// not kept) and the average pixel of MatConvNet's VGG-16 subtracted on the 0–255 scale, no
    /// std division; written as a normalisation with mean = pixel / 255 and std = 1 / 255. The
    /// resize is Pillow's bicubic (the same a = −0.5 kernel), rounded to u8 after each pass.
    pub fn jacob(size: usize) -> Self {
        Preprocess {
            preset: "jacob",
            pad_square: false,
            resize: Resize::Square(size),
            crop: None,
            filter: Filter::Bicubic,
            normalize: Some(Normalize {
                mean: VGG_AVERAGE_PIXEL.map(|m| m / 255.0),
                std: [1.0 / 255.0; 3],
            }),
        }
    }

    /// timm's eval transform: shorter side to ⌊size / crop_pct⌋, centre crop `size`.
    pub fn timm(size: usize, crop_pct: f64, filter: Filter, normalize: Normalize) -> Result<Self> {
        if !(crop_pct > 0.0 && crop_pct <= 1.0) {
            return Err(Error::Invalid(format!(
                "crop_pct {crop_pct} must be in (0, 1]"
            )));
        }
        Ok(Preprocess {
            preset: "timm",
            pad_square: false,
            resize: Resize::ShorterSide((size as f64 / crop_pct).floor() as usize),
            crop: Some(size),
            filter,
            normalize: Some(normalize),
        })
    }

    /// Side of the square output.
    pub fn output_size(&self) -> usize {
        match (self.crop, self.resize) {
            (Some(c), _) => c,
            (None, Resize::ShorterSide(s) | Resize::Square(s)) => s,
        }
    }

    /// Checks the sizes once, before any image is read.
    pub fn validate(&self) -> Result<()> {
        let r = match self.resize {
            Resize::ShorterSide(s) | Resize::Square(s) => s,
        };
        if r == 0 || self.crop == Some(0) {
            return Err(Error::Invalid(format!(
                "{} preprocessing: sizes must be at least 1",
                self.preset
            )));
        }
        match self.crop {
            Some(c) if c > r => Err(Error::Invalid(format!(
                "{} preprocessing: crop {c} is larger than the resize {r}",
                self.preset
            ))),
            _ => Ok(()),
        }
    }

    /// `[3, S, S]` f32, channel-major.
    pub fn apply(&self, img: &Rgb8) -> Result<Vec<f32>> {
        if img.width == 0 || img.height == 0 {
            return Err(Error::Invalid("empty image".into()));
        }
        let padded;
        let img = if self.pad_square {
            padded = pad_to_square(img);
            &padded
        } else {
            img
        };
        let (w, h) = (img.width, img.height);
        let (ow, oh) = match self.resize {
            // torchvision `_compute_resized_output_size`: the long side is truncated.
            Resize::ShorterSide(s) if w <= h => (s, s * h / w),
            Resize::ShorterSide(s) => (s * w / h, s),
            Resize::Square(s) => (s, s),
        };
        let resized = resize(img, ow, oh, self.filter);
        let c = self.crop.unwrap_or(ow.min(oh));
        if c > ow || c > oh {
            return Err(Error::Invalid(format!(
                "crop {c} is larger than the resized image {ow}×{oh}"
            )));
        }
        let top = ((oh - c) as f64 / 2.0).round_ties_even() as usize;
        let left = ((ow - c) as f64 / 2.0).round_ties_even() as usize;
        let (mean, std) = self
            .normalize
            .map_or(([0.0; 3], [1.0; 3]), |n| (n.mean, n.std));
        let mut out = vec![0f32; 3 * c * c];
        for ch in 0..3 {
            for y in 0..c {
                for x in 0..c {
                    let v = resized.data[((top + y) * ow + left + x) * 3 + ch];
                    let v = f32::from(v) / 255.0;
                    out[(ch * c + y) * c + x] = if self.normalize.is_some() {
                        (v - mean[ch]) / std[ch]
                    } else {
                        v
                    };
                }
            }
        }
        Ok(out)
    }
}

/// A preprocessing choice as written in an analysis file or on the command line; every field but
/// the preset is optional and defaults per preset.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PreprocessConfig {
    /// torchvision (default), square, pad-square, rajesh, jacob, timm or none (stimuli are a preprocessed tensor).
    pub preset: Option<String>,
    /// Side of the model input (the crop for torchvision and timm); default 224.
    pub size: Option<usize>,
    /// torchvision: the shorter side before the crop; default 256.
    pub resize: Option<usize>,
    /// timm: crop fraction; default 0.9 (timm's ViT configuration).
    pub crop_pct: Option<f64>,
    /// bilinear or bicubic; default bilinear (timm: bicubic).
    pub interpolation: Option<String>,
    /// Per-channel mean and std replacing the preset's (ImageNet; timm: 0.5).
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
}

impl PreprocessConfig {
    /// The pipeline, or `None` for the `none` preset.
    pub fn build(&self) -> Result<Option<Preprocess>> {
        let preset = self.preset.as_deref().unwrap_or("torchvision");
        let size = self.size.unwrap_or(224);
        let filter: Option<Filter> = self.interpolation.as_deref().map(str::parse).transpose()?;
        let used = |what: &str, set: bool| -> Result<()> {
            if set {
                Err(Error::Invalid(format!(
                    "preprocessing '{preset}' takes no '{what}'"
                )))
            } else {
                Ok(())
            }
        };
        if preset != "torchvision" {
            used("resize", self.resize.is_some())?;
        }
        if preset != "timm" {
            used("crop_pct", self.crop_pct.is_some())?;
        }
        let mut p = match preset {
            "none" => {
                used("size", self.size.is_some())?;
                used("interpolation", filter.is_some())?;
                used("mean", self.mean.is_some() || self.std.is_some())?;
                return Ok(None);
            }
            "torchvision" => Preprocess::torchvision(self.resize.unwrap_or(256), size),
            "square" => Preprocess::square(size),
            "pad-square" => Preprocess::pad_square(size),
            "rajesh" => Preprocess::rajesh(size),
            "jacob" => Preprocess::jacob(size),
            "timm" => Preprocess::timm(
                size,
                self.crop_pct.unwrap_or(0.9),
                filter.unwrap_or(Filter::Bicubic),
                Normalize {
                    mean: INCEPTION_MEAN,
                    std: INCEPTION_STD,
                },
            )?,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown preprocessing preset '{other}'; use torchvision, square, pad-square, rajesh, jacob, timm or none"
                )))
            }
        };
        if let Some(f) = filter {
            p.filter = f;
        }
        match (self.mean, self.std) {
            (None, None) => {}
            (Some(mean), Some(std)) => {
                if std.iter().any(|&s| s <= 0.0 || !s.is_finite()) {
                    return Err(Error::Invalid(format!(
                        "preprocessing std {std:?} must be positive"
                    )));
                }
                p.normalize = Some(Normalize { mean, std });
            }
            _ => {
                return Err(Error::Invalid(
                    "preprocessing: give both mean and std, or neither".into(),
                ))
            }
        }
        p.validate()?;
        Ok(Some(p))
    }
}

/// Black padding of `|h − w| / 2` pixels on both sides of the shorter dimension.
fn pad_to_square(img: &Rgb8) -> Rgb8 {
    let (w, h) = (img.width, img.height);
    let (px, py) = if w < h {
        ((h - w) / 2, 0)
    } else {
        (0, (w - h) / 2)
    };
    let (ow, oh) = (w + 2 * px, h + 2 * py);
    let mut data = vec![0u8; ow * oh * 3];
    for y in 0..h {
        let dst = ((y + py) * ow + px) * 3;
        data[dst..dst + w * 3].copy_from_slice(&img.data[y * w * 3..(y + 1) * w * 3]);
    }
    Rgb8 {
        width: ow,
        height: oh,
        data,
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's per-output-pixel source window and fixed-point weights for one axis.
struct Coeffs {
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    weights: Vec<i32>,
}

/// Pillow's (and PyTorch's antialiased `interpolate`) resampling weights for one axis: for each
/// output index, the first source index and the normalised f64 weights of its window.
pub(crate) fn filter_weights(
    in_size: usize,
    out_size: usize,
    filter: Filter,
) -> Vec<(usize, Vec<f64>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    // Pillow multiplies by the reciprocal; dividing rounds differently and moves weights by 1 ulp.
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C casts truncate toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let w: Vec<f64> = (0..xmax - xmin)
                .map(|x| filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = w.iter().sum();
            let w = w
                .iter()
                .map(|&v| if total != 0.0 { v / total } else { v })
                .collect();
            (xmin, w)
        })
        .collect()
}

fn coeffs(in_size: usize, out_size: usize, filter: Filter) -> Coeffs {
    let support = filter.support() * (in_size as f64 / out_size as f64).max(1.0);
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    for (xx, (xmin, w)) in filter_weights(in_size, out_size, filter)
        .into_iter()
        .enumerate()
    {
        for (x, &k) in w.iter().enumerate() {
            let f = k * f64::from(1u32 << PRECISION_BITS);
            weights[xx * ksize + x] = if k < 0.0 {
                (f - 0.5) as i32
            } else {
                (f + 0.5) as i32
            };
        }
        bounds.push((xmin, w.len()));
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
fn pass(img: &Rgb8, out_len: usize, horizontal: bool, filter: Filter) -> Rgb8 {
    let (w, h) = (img.width, img.height);
    let c = coeffs(if horizontal { w } else { h }, out_len, filter);
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

/// `PIL.Image.resize((width, height), filter)` on an RGB image (antialiased when downscaling). A
/// no-op when the size is unchanged.
pub fn resize(img: &Rgb8, width: usize, height: usize, filter: Filter) -> Rgb8 {
    let mut out = img.clone();
    if width != img.width {
        out = pass(&out, width, true, filter);
    }
    if height != img.height {
        out = pass(&out, height, false, filter);
    }
    out
}

/// `PIL.Image.resize((width, height), Image.BILINEAR)`.
pub fn resize_bilinear(img: &Rgb8, width: usize, height: usize) -> Rgb8 {
    resize(img, width, height, Filter::Bilinear)
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
    fn padding_centres_the_image_and_configs_are_checked() {
        let img = Rgb8 {
            width: 1,
            height: 4,
            data: vec![200; 12],
        };
        let p = pad_to_square(&img);
        assert_eq!((p.width, p.height), (3, 4));
        assert_eq!(&p.data[..9], &[0, 0, 0, 200, 200, 200, 0, 0, 0]);
        let cfg = |preset: &str| PreprocessConfig {
            preset: Some(preset.into()),
            ..PreprocessConfig::default()
        };
        assert_eq!(
            cfg("torchvision").build().unwrap(),
            Some(Preprocess::default())
        );
        let t = cfg("timm").build().unwrap().unwrap();
        assert_eq!((t.resize, t.crop), (Resize::ShorterSide(248), Some(224)));
        assert_eq!(t.filter, Filter::Bicubic);
        assert_eq!(cfg("none").build().unwrap(), None);
        assert!(cfg("fancy").build().is_err());
        // The battery's presets: rajesh pads and keeps [0, 1]; jacob leaves x − pixel on 0–255.
        let r = cfg("rajesh").build().unwrap().unwrap();
        assert!(r.pad_square && r.normalize.is_none() && r.preset == "rajesh");
        let j = cfg("jacob").build().unwrap().unwrap();
        let flat = Rgb8 {
            width: 5,
            height: 3,
            data: vec![200; 45],
        };
        let out = j.apply(&flat).unwrap();
        assert_eq!(out.len(), 3 * 224 * 224);
        for (c, pixel) in VGG_AVERAGE_PIXEL.iter().enumerate() {
            let v = out[c * 224 * 224 + 1000];
            assert!((v - (200.0 - pixel)).abs() < 1e-3, "{c}: {v}");
        }
        let bad = PreprocessConfig {
            resize: Some(100),
            ..cfg("torchvision")
        };
        assert!(bad.build().unwrap_err().to_string().contains("larger"));
        let bad = PreprocessConfig {
            crop_pct: Some(0.9),
            ..cfg("square")
        };
        assert!(bad.build().unwrap_err().to_string().contains("crop_pct"));
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
        let t = Preprocess::torchvision(4, 4);
        let out = t.apply(&science_image()).unwrap();
        // Crop left = round_half_even(0.5) = 0: the first row starts at resized column 0.
        let want_r = [-1.878157f32, -1.090419, -0.285555, 0.519308];
        for (g, w) in out[..4].iter().zip(want_r) {
            assert!((g - w).abs() < 2e-6, "{g} vs {w}");
        }
        assert!(out[16..20].iter().all(|&g| (g + 1.773109).abs() < 2e-6));
        assert!(Preprocess::torchvision(4, 5)
            .apply(&science_image())
            .is_err());
        assert!(Preprocess::torchvision(4, 5).validate().is_err());
    }
}
