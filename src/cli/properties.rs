//! `ventral properties`: the brain-property battery (SCIENCE.md §6) for one model, every capture
//! point, into properties.csv / .json, figures and a manifest. It builds the analysis a
//! `[[measure]] kind = "properties"` table describes and runs it through the same pipeline.

use std::path::PathBuf;

use clap::Args;

use super::model_args::ModelArgs;
use super::{DeviceArgs, Failure};
use crate::analysis::config::{
    CompareConfig, ComputeConfig, Layers, MeasureConfig, ModelConfig, OutputConfig,
    PropertiesConfig, RdmConfig, StimuliConfig, PRETRAINED,
};
use crate::analysis::AnalysisConfig;
use crate::stimuli::PreprocessConfig;

#[derive(Args, Debug)]
pub struct PropertiesArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A folder laid out like the published repositories (exp04_divisive_normalization/…,
    /// exp12_global_local/…); experiments absent from it are skipped with a note
    #[arg(long)]
    pub stimuli: Option<PathBuf>,
    /// all, or a comma-separated list: thatcher, mirror-confusion, scene-incongruence,
    /// normalisation-pairs, normalisation-triplets, sparseness-morphlines, sparseness-textures,
    /// weber, relative-size, surface-invariance, 3d-1, 3d-2, occlusion-basic, occlusion-depth,
    /// part-matching, natural-parts, global-advantage
    #[arg(long, default_value = "all")]
    pub properties: String,
    /// Capture points: all, or a comma-separated list
    #[arg(long, default_value = "all")]
    pub layers: String,
    /// Preprocessing: rajesh (black pad to square, 224, [0, 1]; Rajesh et al. 2024), jacob
    /// (square bicubic, MatConvNet's average pixel subtracted; Jacob et al. 2021), torchvision,
    /// square, pad-square or timm
    #[arg(long, default_value = "rajesh")]
    pub preprocess: String,
    /// Thatcher faces: a CSV manifest (`file` column) of the 80 images in SCIENCE.md §6.2 order
    #[arg(long)]
    pub thatcher: Option<PathBuf>,
    /// A folder of object images for mirror confusion (each flipped left–right and up–down)
    #[arg(long)]
    pub mirror_objects: Option<PathBuf>,
    /// Scene incongruence: a CSV manifest with columns file, condition
    /// (congruent|incongruent), label (1-based ImageNet class)
    #[arg(long)]
    pub scenes: Option<PathBuf>,
    /// A folder of 50 textures (sparseness, shapes vs textures)
    #[arg(long)]
    pub textures: Option<PathBuf>,
    /// The capture point whose values are reported for the model (default: the penultimate
    /// embedding, e.g. classifier.5 of VGG, avgpool of ResNet, encoder.ln of ViT)
    #[arg(long)]
    pub feature_layer: Option<String>,
    /// Normalisation: variance ddof of the visually active units, 1 (MATLAB) or 0 (Python port)
    #[arg(long, default_value_t = 1)]
    pub van_ddof: usize,
    /// Layers with at most this many visually active units get NaN
    #[arg(long, default_value_t = 10)]
    pub min_van: usize,
    /// Normalisation regression: pooled (MATLAB) or per-image (Python port)
    #[arg(long, default_value = "pooled")]
    pub normalisation_fit: String,
    /// 3D condition 2: d34-d56 (3D pair vs its 2D control) or matlab (the opposite sign)
    #[arg(long, default_value = "d34-d56")]
    pub three_d_sign: String,
    /// Part-matching distance: euclidean or cityblock (Jacob et al.'s all-network script)
    #[arg(long, default_value = "euclidean")]
    pub part_matching_distance: String,
    /// Do not round per-unit sparseness to 5 decimals (the MATLAB code rounds)
    #[arg(long)]
    pub no_sparseness_round: bool,
    /// Images per forward pass
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// GiB of activations held at once; more capture points are extracted in several passes
    #[arg(long, default_value_t = 4.0)]
    pub memory_budget: f64,
    /// Output folder
    #[arg(long)]
    pub out: PathBuf,
    /// No figures
    #[arg(long)]
    pub no_figures: bool,
    /// No progress bars
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

impl PropertiesArgs {
    /// The analysis these flags describe.
    pub fn analysis(&self) -> Result<AnalysisConfig, crate::Error> {
        let m = &self.model;
        if !(self.memory_budget > 0.0 && self.memory_budget.is_finite()) {
            return Err(crate::Error::Invalid(format!(
                "--memory-budget {} must be a positive number of GiB",
                self.memory_budget
            )));
        }
        let battery = PropertiesConfig {
            stimuli: self.stimuli.clone(),
            properties: self.properties.clone(),
            thatcher: self.thatcher.clone(),
            mirror_objects: self.mirror_objects.clone(),
            scenes: self.scenes.clone(),
            textures: self.textures.clone(),
            feature_layer: self.feature_layer.clone(),
            preprocess: Some(PreprocessConfig {
                preset: Some(self.preprocess.clone()),
                ..PreprocessConfig::default()
            }),
            van_ddof: self.van_ddof,
            min_van: self.min_van,
            normalisation_fit: self.normalisation_fit.clone(),
            three_d_sign: self.three_d_sign.clone(),
            part_matching_distance: self.part_matching_distance.clone(),
            sparseness_round: !self.no_sparseness_round,
        };
        let cfg = AnalysisConfig {
            stimuli: StimuliConfig::default(),
            preprocess: PreprocessConfig::default(),
            models: vec![ModelConfig {
                name: m.model.clone(),
                weights: if m.pretrained {
                    Some(PRETRAINED.into())
                } else {
                    m.weights.clone()
                },
                variant: m.variant.clone(),
                seed: m.random_init.then_some(m.seed),
                layers: Some(Layers::One(self.layers.clone())),
                reduce: None,
                label: None,
                batch: Some(self.batch),
            }],
            compute: ComputeConfig {
                device: self.device.device.unwrap_or_default(),
                threads: self.device.threads,
            },
            rdm: RdmConfig::default(),
            brain: Vec::new(),
            compare: CompareConfig::default(),
            measures: vec![MeasureConfig::Properties(Box::new(battery))],
            output: OutputConfig {
                folder: self.out.clone(),
                activations: false,
                figures: !self.no_figures,
                memory_budget: (self.memory_budget * f64::from(1u32 << 30)) as u64,
            },
        };
        cfg.check()?;
        Ok(cfg)
    }
}

pub fn run(args: &PropertiesArgs) -> Result<(), Failure> {
    let cfg = args.analysis()?;
    super::run::run_and_write(&cfg, &args.device.open()?, args.quiet)
}
