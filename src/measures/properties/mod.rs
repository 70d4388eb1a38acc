//! The brain-property battery of Jacob et al. 2021 and Rajesh, Jacob & Arun 2024 (SCIENCE.md §6):
//! twelve perceptual experiments, seventeen indices, each computed on every captured layer from
//! the flattened activations of that experiment's stimuli and set beside the value measured in
//! humans or monkeys.
//!
//! Like the other measures this module knows matrices, not networks: an index takes the
//! `[n, p]` activations of one layer for one experiment's images ([`Patterns`]) and returns a
//! [`Score`]. [`stimuli`] turns the published stimulus files into those images; [`measure`]
//! drives the battery over layers and writes the table.

pub mod distance;
pub mod figures;
pub mod indices;
pub mod measure;
pub mod stimuli;

use crate::rsa::rdm::Patterns;

/// The twelve experiments; each has one stimulus set and gives one or two indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Experiment {
    Thatcher,
    MirrorConfusion,
    SceneIncongruence,
    Normalisation,
    Sparseness,
    Weber,
    RelativeSize,
    SurfaceInvariance,
    ThreeD,
    Occlusion,
    PartMatching,
    NaturalParts,
    GlobalAdvantage,
}

impl Experiment {
    pub const ALL: [Experiment; 13] = [
        Experiment::Thatcher,
        Experiment::MirrorConfusion,
        Experiment::SceneIncongruence,
        Experiment::Normalisation,
        Experiment::Sparseness,
        Experiment::Weber,
        Experiment::RelativeSize,
        Experiment::SurfaceInvariance,
        Experiment::ThreeD,
        Experiment::Occlusion,
        Experiment::PartMatching,
        Experiment::NaturalParts,
        Experiment::GlobalAdvantage,
    ];

    /// The folder of the published repositories that holds this experiment's files.
    pub fn folder(self) -> &'static str {
        match self {
            Experiment::Thatcher => "exp01_thatcher",
            Experiment::MirrorConfusion => "exp02_mirror_confusion",
            Experiment::SceneIncongruence => "exp03_scene_incongruence",
            Experiment::Normalisation => "exp04_divisive_normalization",
            Experiment::Sparseness => "exp05_correlated_sparseness",
            Experiment::Weber => "exp06_webers_law",
            Experiment::RelativeSize => "exp07_relative_size",
            Experiment::SurfaceInvariance => "exp08_surface_invariance",
            Experiment::ThreeD => "exp09_3d",
            Experiment::Occlusion => "exp10_occlusion",
            Experiment::PartMatching | Experiment::NaturalParts => "exp11_object_parts",
            Experiment::GlobalAdvantage => "exp12_global_local",
        }
    }
}

/// The seventeen indices (SCIENCE.md §6.16), named as in flags and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    Thatcher,
    MirrorConfusion,
    SceneIncongruence,
    NormalisationPairs,
    NormalisationTriplets,
    SparsenessMorphlines,
    SparsenessTextures,
    Weber,
    RelativeSize,
    SurfaceInvariance,
    ThreeD1,
    ThreeD2,
    OcclusionBasic,
    OcclusionDepth,
    PartMatching,
    NaturalParts,
    GlobalAdvantage,
}

named_enum!(Property, "property", {
    Thatcher => "thatcher",
    MirrorConfusion => "mirror-confusion",
    SceneIncongruence => "scene-incongruence",
    NormalisationPairs => "normalisation-pairs",
    NormalisationTriplets => "normalisation-triplets",
    SparsenessMorphlines => "sparseness-morphlines",
    SparsenessTextures => "sparseness-textures",
    Weber => "weber",
    RelativeSize => "relative-size",
    SurfaceInvariance => "surface-invariance",
    ThreeD1 => "3d-1",
    ThreeD2 => "3d-2",
    OcclusionBasic => "occlusion-basic",
    OcclusionDepth => "occlusion-depth",
    PartMatching => "part-matching",
    NaturalParts => "natural-parts",
    GlobalAdvantage => "global-advantage",
});

impl Property {
    pub const ALL: [Property; 17] = [
        Property::Thatcher,
        Property::MirrorConfusion,
        Property::SceneIncongruence,
        Property::NormalisationPairs,
        Property::NormalisationTriplets,
        Property::SparsenessMorphlines,
        Property::SparsenessTextures,
        Property::Weber,
        Property::RelativeSize,
        Property::SurfaceInvariance,
        Property::ThreeD1,
        Property::ThreeD2,
        Property::OcclusionBasic,
        Property::OcclusionDepth,
        Property::PartMatching,
        Property::NaturalParts,
        Property::GlobalAdvantage,
    ];

    /// The value measured in humans or monkeys (SCIENCE.md §6.1).
    pub fn brain(self) -> f64 {
        match self {
            Property::Thatcher => (4.89 - 2.92) / (4.89 + 2.92),
            Property::MirrorConfusion => (16.075 - 14.33) / (16.075 + 14.33),
            Property::SceneIncongruence => {
                ((0.774 - 0.560) / (0.774 + 0.560) + (0.630 - 0.497) / (0.630 + 0.497)) / 2.0
            }
            Property::NormalisationPairs => 0.5,
            Property::NormalisationTriplets => 0.33,
            Property::SparsenessMorphlines => 0.73,
            Property::SparsenessTextures => 0.68,
            Property::Weber => 0.1,
            Property::RelativeSize => 0.39,
            Property::SurfaceInvariance => 0.55,
            Property::ThreeD1 => 0.4,
            Property::ThreeD2 => 0.76,
            Property::OcclusionBasic => 0.67,
            Property::OcclusionDepth => 0.6,
            Property::PartMatching => 0.071,
            Property::NaturalParts => 0.16,
            Property::GlobalAdvantage => 0.0975,
        }
    }

    /// The experiment whose stimuli it is computed on.
    pub fn experiment(self) -> Experiment {
        match self {
            Property::Thatcher => Experiment::Thatcher,
            Property::MirrorConfusion => Experiment::MirrorConfusion,
            Property::SceneIncongruence => Experiment::SceneIncongruence,
            Property::NormalisationPairs | Property::NormalisationTriplets => {
                Experiment::Normalisation
            }
            Property::SparsenessMorphlines | Property::SparsenessTextures => Experiment::Sparseness,
            Property::Weber => Experiment::Weber,
            Property::RelativeSize => Experiment::RelativeSize,
            Property::SurfaceInvariance => Experiment::SurfaceInvariance,
            Property::ThreeD1 | Property::ThreeD2 => Experiment::ThreeD,
            Property::OcclusionBasic | Property::OcclusionDepth => Experiment::Occlusion,
            Property::PartMatching => Experiment::PartMatching,
            Property::NaturalParts => Experiment::NaturalParts,
            Property::GlobalAdvantage => Experiment::GlobalAdvantage,
        }
    }

    /// `all` or a comma-separated list, in battery order without repeats.
    pub fn parse_list(spec: &str) -> crate::Result<Vec<Property>> {
        if spec.trim() == "all" {
            return Ok(Property::ALL.to_vec());
        }
        let mut out: Vec<Property> = spec
            .split(',')
            .map(|s| s.trim().parse())
            .collect::<crate::Result<_>>()?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// One index on one layer: the value, its standard error over the items it averages (NaN where
/// it is one statistic, such as a correlation), the number of items, and why it is NaN when it
/// is.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub index: f64,
    pub sem: f64,
    pub n: usize,
    pub note: Option<String>,
}

impl Score {
    /// A single statistic over `n` items (no SEM).
    pub fn single(index: f64, n: usize) -> Score {
        Score {
            index,
            sem: f64::NAN,
            n,
            note: None,
        }
    }

    /// Undefined on this layer, with the reason.
    pub fn undefined(reason: impl Into<String>) -> Score {
        Score {
            index: f64::NAN,
            sem: f64::NAN,
            n: 0,
            note: Some(reason.into()),
        }
    }

    /// The NaN-ignoring mean of `values` with SEM = nanstd (N − 1) / √n_finite (MATLAB's
    /// `nanmean` and `nanstd(x)/sqrt(n)`).
    pub fn mean_of(values: &[f64]) -> Score {
        let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let k = finite.len();
        if k == 0 {
            return Score::undefined(format!("all {} items are undefined", values.len()));
        }
        let mean = finite.iter().sum::<f64>() / k as f64;
        let sem = if k > 1 {
            let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
            var.sqrt() / (k as f64).sqrt()
        } else {
            f64::NAN
        };
        Score {
            index: mean,
            sem,
            n: k,
            note: None,
        }
    }
}

/// `(x − y) / (x + y)`, NaN when both are 0 (a constant activation pair: no division by zero).
pub fn contrast(x: f64, y: f64) -> f64 {
    let s = x + y;
    if s == 0.0 {
        f64::NAN
    } else {
        (x - y) / s
    }
}

/// Activations of one layer for one experiment's images, row `i` = image `i`.
pub type Acts<'a> = Patterns<'a>;

/// A numeric table that comes with a stimulus set (pair lists, design matrices, stimulus
/// positions), row-major, as f64 whatever its class in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Table {
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}
