//! The analysis file (`ventral run ANALYSIS.toml`): every table and key, its default, and the
//! checks that run before any work starts. Relative paths are relative to the file's folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::exec::Device;
use crate::stimuli::PreprocessConfig;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// The stimuli of RSA, encoding and dimensionality (an analysis of properties alone needs
    /// none: the battery has its own).
    #[serde(default)]
    pub stimuli: StimuliConfig,
    #[serde(default)]
    pub preprocess: PreprocessConfig,
    /// `[[model]]` tables, one per network.
    #[serde(default, rename = "model")]
    pub models: Vec<ModelConfig>,
    #[serde(default)]
    pub compute: ComputeConfig,
    #[serde(default)]
    pub rdm: RdmConfig,
    /// `[[brain]]` tables, one per RDM file (or simulated set).
    #[serde(default)]
    pub brain: Vec<BrainConfig>,
    #[serde(default)]
    pub compare: CompareConfig,
    /// `[[measure]]` tables: what is computed from one extraction (default: RSA alone).
    #[serde(default, rename = "measure", skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<MeasureConfig>,
    #[serde(default)]
    pub output: OutputConfig,
}

/// One measure of the layers: `kind = "rsa"` (model RDMs against `[[brain]]` RDMs, with the
/// `[compare]` settings), `"encoding"` (voxel-wise encoding, veRSA and cRSA against responses)
/// `"dimensionality"` (effective dimensionality of every layer) or `"properties"` (the
/// brain-property battery on its own stimuli).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MeasureConfig {
    Rsa {},
    Encoding(Box<EncodingConfig>),
    Dimensionality {},
    Properties(Box<PropertiesConfig>),
}

impl MeasureConfig {
    /// Whether it is computed on the `[stimuli]` set (every measure but the property battery).
    pub fn uses_stimuli(&self) -> bool {
        !matches!(self, MeasureConfig::Properties(_))
    }
}

/// `[[measure]] kind = "properties"`: the brain-property battery (SCIENCE.md §6; the flags of
/// `ventral properties`, same defaults).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PropertiesConfig {
    /// A folder laid out like the published repositories (`exp04_divisive_normalization/…`).
    pub stimuli: Option<PathBuf>,
    /// `all` (default) or a comma-separated list of property names.
    pub properties: String,
    /// Thatcher faces: a manifest of the 80 images in SCIENCE.md §6.2 order.
    pub thatcher: Option<PathBuf>,
    /// A folder of object images, flipped for mirror confusion.
    pub mirror_objects: Option<PathBuf>,
    /// Scene-incongruence manifest (`file,condition,label`).
    pub scenes: Option<PathBuf>,
    /// A folder of 50 textures (index 5b).
    pub textures: Option<PathBuf>,
    /// The capture point whose values are the model's (default: the penultimate embedding).
    pub feature_layer: Option<String>,
    /// The battery's preprocessing (its own, not `[preprocess]`): default `rajesh` (black pad
    /// to square, 224, [0, 1]); `jacob` is the MATLAB pipeline; any other preset works too.
    pub preprocess: Option<PreprocessConfig>,
    /// Variance ddof of the visually active units of normalisation: 1 (MATLAB, default) or 0.
    pub van_ddof: usize,
    /// Layers with at most this many visually active units get NaN (default 10).
    pub min_van: usize,
    /// Normalisation regression: pooled (MATLAB, default) or per-image (Python port).
    pub normalisation_fit: String,
    /// 3D condition 2: d34-d56 (default) or matlab.
    pub three_d_sign: String,
    /// Part-matching distance: euclidean (default) or cityblock.
    pub part_matching_distance: String,
    /// Round sparseness to 5 decimals as the MATLAB code (default true).
    pub sparseness_round: bool,
}

impl Default for PropertiesConfig {
    fn default() -> Self {
        PropertiesConfig {
            stimuli: None,
            properties: "all".into(),
            thatcher: None,
            mirror_objects: None,
            scenes: None,
            textures: None,
            feature_layer: None,
            preprocess: None,
            van_ddof: 1,
            min_van: 10,
            normalisation_fit: "pooled".into(),
            three_d_sign: "d34-d56".into(),
            part_matching_distance: "euclidean".into(),
            sparseness_round: true,
        }
    }
}

impl PropertiesConfig {
    /// The properties asked for, in battery order.
    pub fn properties(&self) -> Result<Vec<crate::measures::properties::Property>> {
        crate::measures::properties::Property::parse_list(&self.properties)
    }

    /// The index options (usage errors for unknown words).
    pub fn options(&self) -> Result<crate::measures::properties::indices::Options> {
        if self.van_ddof > 1 {
            return Err(Error::Invalid(format!(
                "[[measure]] properties: van_ddof is 0 or 1, not {}",
                self.van_ddof
            )));
        }
        Ok(crate::measures::properties::indices::Options {
            van_ddof: self.van_ddof,
            min_van: self.min_van,
            normalisation_fit: self.normalisation_fit.parse()?,
            three_d_sign: self.three_d_sign.parse()?,
            part_matching_distance: self.part_matching_distance.parse()?,
            sparseness_round: self.sparseness_round,
        })
    }

    /// Where each experiment's stimuli are.
    pub fn paths(&self) -> crate::measures::properties::stimuli::StimulusPaths {
        crate::measures::properties::stimuli::StimulusPaths {
            root: self.stimuli.clone(),
            thatcher: self.thatcher.clone(),
            mirror: self.mirror_objects.clone(),
            scenes: self.scenes.clone(),
            textures: self.textures.clone(),
        }
    }
}

/// `[[measure]] kind = "encoding"`: responses from files or simulated, and the method's settings
/// (the flags of `ventral encode`, same defaults).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EncodingConfig {
    /// Response files ([stimuli, voxels] per subject and region; see `ventral encode`).
    pub responses: Vec<PathBuf>,
    /// Simulated voxels (the demo's).
    pub simulated: Option<SimulatedVoxels>,
    /// Only these subjects (default all).
    pub subjects: Vec<String>,
    /// Only these capture points (default every captured point).
    pub layers: Option<Layers>,
    /// even-odd (default), kfold:K, or a file of train/test marks.
    pub split: String,
    /// Ridge penalties (default 0.1, 1, …, 1e5).
    pub alphas: Vec<f64>,
    /// r (default: per-voxel LOO Pearson) or r2 (LOO squared error).
    pub select: String,
    /// srp (default) or none.
    pub projection: String,
    pub eps: f64,
    /// standard (default) or none.
    pub scale: String,
    /// Seed of the projection (default 0).
    pub seed: u64,
    /// Also keep the held-out predictions in `encoding_voxels.safetensors` (default false).
    pub predictions: bool,
}

impl Default for EncodingConfig {
    fn default() -> Self {
        EncodingConfig {
            responses: Vec::new(),
            simulated: None,
            subjects: Vec::new(),
            layers: None,
            split: "even-odd".into(),
            alphas: Vec::new(),
            select: "r".into(),
            projection: "srp".into(),
            eps: 0.1,
            scale: "standard".into(),
            seed: 0,
            predictions: false,
        }
    }
}

impl EncodingConfig {
    pub fn settings(&self) -> Result<crate::measures::encoding::measure::EncodingSettings> {
        crate::measures::encoding::measure::EncodingSettings::from_words(
            &self.split,
            &self.projection,
            self.eps,
            self.seed,
            &self.scale,
            &self.select,
            &self.alphas,
        )
        .map_err(|e| Error::Invalid(format!("[[measure]] encoding: {e}")))
    }
}

/// Voxel responses drawn from a procedural set's labels: voxel v's response to stimulus i is
/// `a[v, category_i] + b[v]·magnitude_i + noise·ε`, with a, b, ε ~ N(0, 1) from ChaCha8 seeded
/// by (seed, subject).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimulatedVoxels {
    pub subjects: usize,
    pub voxels: usize,
    pub noise: f64,
    pub seed: u64,
    /// Region name (default "simulated").
    pub region: Option<String>,
}

/// Exactly one of `folder`, `manifest`, `tensor` or `procedural`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StimuliConfig {
    /// Every image in a folder, sorted by file name.
    pub folder: Option<PathBuf>,
    /// CSV with a `file` column (relative to the CSV) and label columns, in stimulus order.
    pub manifest: Option<PathBuf>,
    /// Preprocessed float32 `[N, 3, H, W]` .npy (with `preprocess.preset = "none"`).
    pub tensor: Option<PathBuf>,
    /// shapes, bars, navon, mirror or demo.
    pub procedural: Option<String>,
    /// Procedural image size in pixels (default 224).
    pub size: Option<usize>,
    /// Procedural position jitter seed (default 0).
    pub seed: Option<u64>,
}

/// Capture points: `"all"` or a list of names (see `ventral layers`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Layers {
    One(String),
    List(Vec<String>),
}

impl Layers {
    pub fn spec(&self) -> String {
        match self {
            Layers::One(s) => s.clone(),
            Layers::List(v) => v.join(","),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Architecture (see `ventral layers --list`).
    pub name: String,
    /// Trained weights: a .safetensors or PyTorch checkpoint (.pth/.pt/.bin) with the model's
    /// state_dict names, or `"pretrained"` for the published weights (downloaded once into the
    /// cache); or give `seed`.
    pub weights: Option<PathBuf>,
    /// With `weights = "pretrained"`: which published weights (e.g. "IMAGENET1K_V2"); default
    /// the model's first listed variant.
    pub variant: Option<String>,
    /// Seed of random weights drawn with the model's own init scheme.
    pub seed: Option<u64>,
    /// Default "all".
    pub layers: Option<Layers>,
    /// none (default), mean or max over space.
    pub reduce: Option<String>,
    /// Name in the results (default: the architecture, with `-seedN` for random weights).
    pub label: Option<String>,
    /// Images per forward pass (default 16).
    pub batch: Option<usize>,
}

/// The value of `weights` that asks for the published weights.
pub const PRETRAINED: &str = "pretrained";

impl ModelConfig {
    /// Whether `weights = "pretrained"`.
    pub fn is_pretrained(&self) -> bool {
        self.weights.as_deref() == Some(Path::new(PRETRAINED))
    }

    /// The label given, or the model id (`/` as `_`: results name layers `label/layer`) with
    /// `-seedN` for random weights.
    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            let name = self.name.replace('/', "_");
            match self.seed {
                Some(s) if self.weights.is_none() => format!("{name}-seed{s}"),
                _ => name,
            }
        })
    }
}

/// Where everything runs: forward passes, RDMs and the GPU Mantel path.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComputeConfig {
    /// auto (default: a hardware GPU, else native CPU threads), gpu, native or reference.
    pub device: Device,
    /// Native threads (0, the default: one per core).
    pub threads: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RdmConfig {
    /// correlation (default), euclidean, sq-euclidean or cosine.
    pub metric: String,
}

impl Default for RdmConfig {
    fn default() -> Self {
        RdmConfig {
            metric: "correlation".into(),
        }
    }
}

/// Subject RDMs from a file, or simulated from a procedural set's labels.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BrainConfig {
    /// Any `[..., N, N]` or `[..., N(N−1)/2]` array (.npy, .npz, .safetensors, .mat, .csv).
    pub file: Option<PathBuf>,
    /// Simulated subjects (the demo's).
    pub simulated: Option<SimulatedBrain>,
    /// Region name (default "brain"); results are per region.
    pub region: Option<String>,
    /// Subject names, one per subject after session averaging.
    pub subjects: Option<Vec<String>>,
    /// The file's RDMs come subject-major with this many sessions each; they are averaged
    /// (default 1).
    pub sessions_per_subject: Option<usize>,
}

/// d(i, j) = [category differs] + 0.5·|magnitude_i − magnitude_j| + noise·ε, ε ~ N(0, 1)
/// independent per subject and pair.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimulatedBrain {
    pub subjects: usize,
    pub noise: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompareConfig {
    /// pearson, spearman (default), kendall-tau-a, kendall-tau-b, rho-a, cosine.
    pub methods: Vec<String>,
    /// Mantel permutations (default 1000; 0: none).
    pub permutations: usize,
    /// Seed of permutations and bootstrap (default 0).
    pub seed: u64,
    /// greater (default), less or two-sided.
    pub alternative: String,
    /// Default true.
    pub noise_ceiling: bool,
    /// Bootstrap samples (default 0: none).
    pub bootstrap: usize,
    /// stimuli (default), subjects or both.
    pub bootstrap_over: String,
    /// Worker threads (0: all cores).
    pub threads: usize,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            methods: vec!["spearman".into()],
            permutations: 1000,
            seed: 0,
            alternative: "greater".into(),
            noise_ceiling: true,
            bootstrap: 0,
            bootstrap_over: "stimuli".into(),
            threads: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Output folder (default "ventral-results").
    pub folder: PathBuf,
    /// Also write every model's activations (`activations_<model>.safetensors`).
    pub activations: bool,
    /// Figures in PNG and SVG (default true).
    pub figures: bool,
    /// Bytes of activations held at once per model; more capture points than fit are
    /// extracted in several passes (default 2 GiB).
    pub memory_budget: u64,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            folder: "ventral-results".into(),
            activations: false,
            figures: true,
            memory_budget: 2 << 30,
        }
    }
}

impl AnalysisConfig {
    /// Reads and checks an analysis file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<AnalysisConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        let mut cfg: AnalysisConfig = toml::from_str(&text).map_err(|e| {
            Error::Invalid(format!("{}: {}", path.display(), e.to_string().trim_end()))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.rebase(base);
        cfg.check()?;
        Ok(cfg)
    }

    fn rebase(&mut self, base: &Path) {
        let fix = |p: &mut Option<PathBuf>| {
            if let Some(q) = p {
                if q.is_relative() {
                    *q = base.join(&*q);
                }
            }
        };
        fix(&mut self.stimuli.folder);
        fix(&mut self.stimuli.manifest);
        fix(&mut self.stimuli.tensor);
        for m in &mut self.models {
            if !m.is_pretrained() {
                fix(&mut m.weights);
            }
        }
        for b in &mut self.brain {
            fix(&mut b.file);
        }
        for m in &mut self.measures {
            if let MeasureConfig::Properties(p) = m {
                for q in [
                    &mut p.stimuli,
                    &mut p.thatcher,
                    &mut p.mirror_objects,
                    &mut p.scenes,
                    &mut p.textures,
                ] {
                    fix(q);
                }
            }
            if let MeasureConfig::Encoding(e) = m {
                for r in &mut e.responses {
                    if r.is_relative() {
                        *r = base.join(&*r);
                    }
                }
                let marks = Path::new(&e.split);
                let word = e.split == "even-odd" || e.split.starts_with("kfold:");
                if !word && marks.is_relative() {
                    e.split = base.join(marks).display().to_string();
                }
            }
        }
        if self.output.folder.is_relative() {
            self.output.folder = base.join(&self.output.folder);
        }
    }

    /// Checks that need no file I/O: one stimulus source, weights or seed per model, unique
    /// labels, one source per brain entry.
    pub fn check(&self) -> Result<()> {
        let s = &self.stimuli;
        let sources = [
            s.folder.is_some(),
            s.manifest.is_some(),
            s.tensor.is_some(),
            s.procedural.is_some(),
        ];
        let given = sources.iter().filter(|&&b| b).count();
        if given > 1 || (given == 0 && self.uses_stimuli()) {
            return Err(Error::Invalid(
                "[stimuli]: give exactly one of folder, manifest, tensor or procedural".into(),
            ));
        }
        if s.procedural.is_none() && (s.size.is_some() || s.seed.is_some()) {
            return Err(Error::Invalid(
                "[stimuli]: size and seed apply to procedural stimuli only".into(),
            ));
        }
        let none = self.preprocess.preset.as_deref() == Some("none");
        if s.tensor.is_some() != none {
            return Err(Error::Invalid(
                "[stimuli] tensor goes with [preprocess] preset = \"none\", and only with it"
                    .into(),
            ));
        }
        if self.models.is_empty() {
            return Err(Error::Invalid(
                "no [[model]]: name at least one network".into(),
            ));
        }
        let mut labels = Vec::new();
        for m in &self.models {
            match (&m.weights, m.seed) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(Error::Invalid(format!(
                        "[[model]] '{}': give either weights = FILE or seed = N",
                        m.name
                    )))
                }
                _ => {}
            }
            if m.variant.is_some() && !m.is_pretrained() {
                return Err(Error::Invalid(format!(
                    "[[model]] '{}': variant goes with weights = \"pretrained\"",
                    m.name
                )));
            }
            if m.batch == Some(0) {
                return Err(Error::Invalid(format!(
                    "[[model]] '{}': batch must be at least 1",
                    m.name
                )));
            }
            let l = m.label();
            if l.contains('/') || l.is_empty() {
                return Err(Error::Invalid(format!(
                    "[[model]] '{}': label '{l}' must be non-empty and without '/'",
                    m.name
                )));
            }
            if labels.contains(&l) {
                return Err(Error::Invalid(format!(
                    "two models are labelled '{l}'; set label = \"...\" to tell them apart"
                )));
            }
            labels.push(l);
        }
        let rsa = self.uses_rsa();
        let battery: Vec<&PropertiesConfig> = self.properties().collect();
        if battery.len() > 1 {
            return Err(Error::Invalid(
                "one [[measure]] kind = \"properties\" per analysis".into(),
            ));
        }
        for p in battery {
            p.properties()?;
            p.options()?;
        }
        if rsa && self.brain.is_empty() {
            return Err(Error::Invalid(
                "no [[brain]]: give at least one RDM file (or simulated subjects)".into(),
            ));
        }
        for m in &self.measures {
            if let MeasureConfig::Encoding(e) = m {
                if e.responses.is_empty() == e.simulated.is_none() {
                    return Err(Error::Invalid(
                        "[[measure]] encoding: give either responses = [FILE, …] or simulated = { … }"
                            .into(),
                    ));
                }
                e.settings()?;
                if let Some(v) = &e.simulated {
                    let table = "[[measure]] encoding simulated";
                    if !(v.noise.is_finite() && v.noise >= 0.0) {
                        return Err(Error::Invalid(format!(
                            "{table}: noise = {} must be a finite number ≥ 0",
                            v.noise
                        )));
                    }
                    if v.subjects == 0 || v.voxels == 0 {
                        return Err(Error::Invalid(format!(
                            "{table}: subjects = {} and voxels = {} must each be at least 1",
                            v.subjects, v.voxels
                        )));
                    }
                }
            }
        }
        for b in &self.brain {
            if b.file.is_some() == b.simulated.is_some() {
                return Err(Error::Invalid(
                    "[[brain]]: give either file = PATH or simulated = { ... }".into(),
                ));
            }
            if b.sessions_per_subject == Some(0) {
                return Err(Error::Invalid(
                    "[[brain]]: sessions_per_subject must be at least 1".into(),
                ));
            }
            if let Some(sim) = &b.simulated {
                let table = format!(
                    "[[brain]] region '{}' simulated",
                    b.region.as_deref().unwrap_or("brain")
                );
                if !(sim.noise.is_finite() && sim.noise >= 0.0) {
                    return Err(Error::Invalid(format!(
                        "{table}: noise = {} must be a finite number ≥ 0",
                        sim.noise
                    )));
                }
                if sim.subjects == 0 {
                    return Err(Error::Invalid(format!(
                        "{table}: subjects = 0; simulate at least 1"
                    )));
                }
            }
        }
        crate::rsa::summary::check_counts(self.compare.permutations, self.compare.bootstrap)
            .map_err(|e| Error::Invalid(format!("[compare]: {e}")))?;
        if self.compare.methods.is_empty() {
            return Err(Error::Invalid("[compare]: methods is empty".into()));
        }
        let resample: crate::rsa::bootstrap::Resample = self
            .compare
            .bootstrap_over
            .parse()
            .map_err(|e| Error::Invalid(format!("[compare] bootstrap_over: {e}")))?;
        if rsa && self.compare.bootstrap > 0 {
            // Regions of simulated subjects alone are counted here; those read from files when
            // the files are read (before any extraction).
            let mut counts: Vec<(&str, Option<usize>)> = Vec::new();
            for b in &self.brain {
                let region = b.region.as_deref().unwrap_or("brain");
                let add = b.simulated.as_ref().map(|s| s.subjects);
                match counts.iter_mut().find(|(r, _)| *r == region) {
                    Some((_, c)) => *c = c.zip(add).map(|(a, b)| a + b),
                    None => counts.push((region, add)),
                }
            }
            for (region, count) in counts {
                if let Some(c) = count {
                    crate::rsa::bootstrap::check_resample(resample, c).map_err(|e| {
                        Error::Invalid(format!(
                            "[compare] bootstrap_over = \"{resample}\": region '{region}' has {c} subject(s): {e}"
                        ))
                    })?;
                }
            }
        }
        if self.output.memory_budget == 0 {
            return Err(Error::Invalid(
                "[output] memory_budget = 0: give a positive number of bytes of activations held at once (default 2 GiB)".into(),
            ));
        }
        Ok(())
    }

    /// Whether RSA is a measure (it is when none is listed).
    pub fn uses_rsa(&self) -> bool {
        self.measures.is_empty()
            || self
                .measures
                .iter()
                .any(|m| matches!(m, MeasureConfig::Rsa {}))
    }

    /// Whether any measure runs on the `[stimuli]` set.
    pub fn uses_stimuli(&self) -> bool {
        self.measures.is_empty() || self.measures.iter().any(MeasureConfig::uses_stimuli)
    }

    /// The property battery's settings, when it is a measure.
    pub fn properties(&self) -> impl Iterator<Item = &PropertiesConfig> {
        self.measures.iter().filter_map(|m| match m {
            MeasureConfig::Properties(p) => Some(p.as_ref()),
            _ => None,
        })
    }

    /// The built-in demo: procedural stimuli, seeded random AlexNet and ResNet-18, four simulated
    /// subjects, Spearman and Kendall τa with permutations, noise ceiling and bootstrap; and
    /// voxel-wise encoding of two simulated subjects' voxels, and every layer's effective
    /// dimensionality.
    pub fn demo(folder: PathBuf) -> AnalysisConfig {
        let model = |name: &str| ModelConfig {
            name: name.into(),
            weights: None,
            variant: None,
            seed: Some(0),
            layers: None,
            reduce: None,
            label: None,
            batch: None,
        };
        AnalysisConfig {
            compute: ComputeConfig::default(),
            stimuli: StimuliConfig {
                procedural: Some("demo".into()),
                size: Some(224),
                seed: Some(0),
                ..StimuliConfig::default()
            },
            preprocess: PreprocessConfig {
                preset: Some("square".into()),
                ..PreprocessConfig::default()
            },
            models: vec![model("alexnet"), model("resnet18")],
            rdm: RdmConfig::default(),
            brain: vec![BrainConfig {
                simulated: Some(SimulatedBrain {
                    subjects: 4,
                    noise: 0.4,
                    seed: 1,
                }),
                region: Some("simulated".into()),
                ..BrainConfig::default()
            }],
            compare: CompareConfig {
                methods: vec!["spearman".into(), "kendall-tau-a".into()],
                permutations: 1000,
                bootstrap: 200,
                ..CompareConfig::default()
            },
            measures: vec![
                MeasureConfig::Rsa {},
                MeasureConfig::Encoding(Box::new(EncodingConfig {
                    simulated: Some(SimulatedVoxels {
                        subjects: 2,
                        voxels: 100,
                        noise: 1.0,
                        seed: 2,
                        region: None,
                    }),
                    ..EncodingConfig::default()
                })),
                MeasureConfig::Dimensionality {},
            ],
            output: OutputConfig {
                folder,
                ..OutputConfig::default()
            },
        }
    }

    /// The analysis as a TOML file (recorded in the output folder).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AnalysisConfig> {
        let cfg: AnalysisConfig =
            toml::from_str(text).map_err(|e| Error::Invalid(e.to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    const GOOD: &str = r#"
[stimuli]
folder = "images"

[[model]]
name = "alexnet"
seed = 3
layers = ["features.2", "classifier.6"]

[[brain]]
file = "hit.npy"
sessions_per_subject = 2
"#;

    #[test]
    fn defaults_fill_what_is_not_written() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.models[0].label(), "alexnet-seed3");
        assert_eq!(
            c.models[0].layers.as_ref().unwrap().spec(),
            "features.2,classifier.6"
        );
        assert_eq!(c.compare.methods, ["spearman"]);
        assert_eq!(c.compare.permutations, 1000);
        assert!(c.compare.noise_ceiling && c.output.figures);
        assert_eq!(c.rdm.metric, "correlation");
        let round = parse(&c.to_toml()).unwrap();
        assert_eq!(round.models[0].seed, Some(3));
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse(&GOOD.replace("[[brain]]", "[[brain]]\nsubject = 1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `subject`"), "{e}");
        let e = parse(&GOOD.replace("seed = 3", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("either weights"), "{e}");
        let e = parse(&GOOD.replace(
            "folder = \"images\"",
            "folder = \"a\"\nmanifest = \"b.csv\"",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("exactly one"), "{e}");
        let e = parse(&GOOD.replace("file = \"hit.npy\"", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("either file"), "{e}");
        let e = parse(&GOOD.replace("seed = 3", "seed = \"x\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid type"), "{e}");
        // Results name layers `label/layer`: a label may not hold a slash; a timm id's default
        // label swaps its slash for '_'.
        let e = parse(&GOOD.replace("seed = 3", "seed = 3\nlabel = \"a/b\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("without '/'"), "{e}");
        let c = parse(&GOOD.replace("alexnet", "timm/vit_small_patch16_224")).unwrap();
        assert_eq!(c.models[0].label(), "timm_vit_small_patch16_224-seed3");
        let e = parse(&GOOD.replace("seed = 3", "seed = 3\nvariant = \"IMAGENET1K_V1\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("variant goes with"), "{e}");
    }

    #[test]
    fn pretrained_is_a_word_not_a_path() {
        let text = GOOD.replace(
            "seed = 3",
            "weights = \"pretrained\"\nvariant = \"IMAGENET1K_V1\"",
        );
        let mut c: AnalysisConfig = toml::from_str(&text).unwrap();
        c.rebase(Path::new("/data/study"));
        c.check().unwrap();
        assert!(c.models[0].is_pretrained());
        assert_eq!(
            c.models[0].weights.as_deref(),
            Some(Path::new("pretrained"))
        );
        assert_eq!(c.models[0].label(), "alexnet");
    }

    #[test]
    fn a_battery_alone_needs_no_stimuli_and_its_words_are_checked() {
        let text = r#"
[[model]]
name = "vgg16"
seed = 0

[[measure]]
kind = "properties"
stimuli = "brain-properties"
properties = "weber,3d-2"
three_d_sign = "matlab"
preprocess = { preset = "jacob" }
"#;
        let mut c: AnalysisConfig = toml::from_str(text).unwrap();
        c.rebase(Path::new("/data/study"));
        c.check().unwrap();
        assert!(!c.uses_stimuli());
        let p = c.properties().next().unwrap();
        assert_eq!(
            p.stimuli.as_deref(),
            Some(Path::new("/data/study/brain-properties"))
        );
        use crate::measures::properties::{indices::ThreeDSign, Property};
        assert_eq!(
            p.properties().unwrap(),
            [Property::Weber, Property::ThreeD2]
        );
        assert_eq!(p.options().unwrap().three_d_sign, ThreeDSign::Matlab);
        let round = parse(&c.to_toml()).unwrap();
        assert_eq!(round.properties().next(), Some(p));
        for (from, to, word) in [
            ("three_d_sign = \"matlab\"", "three_d_sign = \"up\"", "up"),
            ("weber,3d-2", "weber,3d-9", "3d-9"),
            ("three_d_sign = \"matlab\"", "van_ddof = 2", "van_ddof"),
        ] {
            let e = parse(&text.replace(from, to)).unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        }
        // RSA beside it still needs [stimuli].
        let e = parse(&text.replace("[[measure]]", "[[measure]]\nkind = \"rsa\"\n[[measure]]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("exactly one of folder"), "{e}");
    }
}
