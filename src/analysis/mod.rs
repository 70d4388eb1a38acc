//! The main job, `ventral run`: stimuli → networks → RDMs → measures (RSA against brain RDMs,
//! voxel-wise encoding against responses, effective dimensionality) → report. This module wires
//! the rooms together (stimuli, models, rsa, measures); it computes nothing of its own beyond
//! the demo's simulated subjects and voxels.

pub mod config;
pub mod extract;
pub mod figures;
pub mod properties;
pub mod report;

use std::collections::BTreeMap;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use config::AnalysisConfig;

use crate::arrays::TensorWriter;
use crate::error::{Error, Result};
use crate::exec::{Engine, EngineReport};
use crate::measures::dimensionality::ed_from_features;
use crate::measures::encoding::evaluate::Target;
use crate::measures::encoding::measure::{EncodingReport, LayerFeatures, LayerProjector};
use crate::measures::properties::measure::PropertiesReport;
use crate::models::{build, Capture, Network, Reduce};
use crate::rsa::bootstrap::Resample;
use crate::rsa::load::{read_rdms, NamedRdm};
use crate::rsa::mantel::Alternative;
use crate::rsa::rdm::{rdms_on, Metric, Patterns};
use crate::rsa::summary::{summarize, Summary, SummaryOptions};
use crate::rsa::{pair_index, Method};
use crate::stimuli::{Preprocess, ProceduralSet, StimulusSet};
use crate::weights::Weights;

/// Progress of the long stages; the CLI draws bars, tests pass [`NoProgress`].
pub trait Progress {
    /// A new stage with `total` steps.
    fn stage(&self, name: &str, total: u64);
    fn advance(&self, steps: u64);
    fn finish(&self);
}

pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Subject RDMs of one region.
#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    pub subjects: Vec<NamedRdm>,
    /// Where they came from (file with SHA-256, or the simulation settings).
    pub sources: Vec<String>,
}

/// One network's RDMs.
#[derive(Debug, Clone)]
pub struct ModelResult {
    pub label: String,
    pub architecture: String,
    pub weights: String,
    /// Where published weights came from (`weights = "pretrained"`).
    pub pretrained: Option<PretrainedSource>,
    /// The preprocessing this model's inputs went through (a pretrained model without a
    /// `[preprocess]` table uses its checkpoint's own).
    pub preprocess: Option<Preprocess>,
    pub input_size: usize,
    pub points: Vec<String>,
    /// Condensed RDM per point.
    pub rdms: Vec<Vec<f64>>,
    /// Per point: stimuli whose patterns are constant (NaN distances under correlation).
    pub degenerate: BTreeMap<String, Vec<usize>>,
    /// Capture points held per extraction pass.
    pub passes: usize,
    pub rdm_device: String,
    pub seconds_extract: f64,
    pub seconds_rdm: f64,
}

/// The published checkpoint a model's weights were converted from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PretrainedSource {
    pub url: String,
    pub variant: String,
    /// SHA-256 of the downloaded file.
    pub sha256: String,
}

/// Everything a run produced, before it is written.
pub struct AnalysisResult {
    pub config: AnalysisConfig,
    pub stimulus_source: String,
    pub stimulus_names: Vec<String>,
    pub label_columns: Vec<String>,
    pub labels: Vec<Vec<String>>,
    pub stimulus_hashes: Vec<String>,
    pub preprocess: Option<Preprocess>,
    /// Which executor ran the forward passes and RDMs.
    pub executor: EngineReport,
    pub regions: Vec<Region>,
    pub models: Vec<ModelResult>,
    /// One per (region, method), region-major (empty when RSA is not a measure).
    pub summaries: Vec<(String, Summary)>,
    /// The encoding measure's scores, when asked for.
    pub encoding: Option<EncodingReport>,
    /// Effective dimensionality of every captured point (model, point, ED), when asked for.
    pub dimensionality: Vec<(String, String, f64)>,
    /// The brain-property battery, when it is a measure.
    pub properties: Option<PropertiesReport>,
    pub seconds_total: f64,
}

/// One N(0, 1) draw by Box–Muller (the simulations' noise; the same on every platform's libm).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The demo's subjects: d(i, j) = [category differs] + 0.5·|magnitude_i − magnitude_j| +
/// noise·ε, with ε ~ N(0, 1) drawn from ChaCha8 seeded by (seed, subject).
pub fn simulate_subjects(
    stimuli: &StimulusSet,
    sim: &config::SimulatedBrain,
) -> Result<Vec<NamedRdm>> {
    let col = |name: &str| stimuli.label_columns.iter().position(|c| c == name);
    let Some(cat) = col("category") else {
        return Err(Error::Invalid(
            "simulated subjects need a 'category' label column (procedural stimuli or a manifest with one)".into(),
        ));
    };
    let mag = col("magnitude");
    let n = stimuli.len();
    let value = |i: usize| -> f64 {
        mag.and_then(|m| stimuli.labels[i][m].parse().ok())
            .unwrap_or(0.0)
    };
    if sim.subjects == 0 || sim.noise.is_nan() || sim.noise < 0.0 {
        return Err(Error::Invalid(
            "simulated subjects: subjects ≥ 1 and noise ≥ 0".into(),
        ));
    }
    Ok((0..sim.subjects)
        .map(|s| {
            let mut rng = ChaCha8Rng::seed_from_u64(sim.seed.wrapping_mul(1_000_003) ^ s as u64);
            let mut d = vec![0.0; n * (n - 1) / 2];
            for i in 0..n {
                for j in i + 1..n {
                    let between =
                        f64::from(u8::from(stimuli.labels[i][cat] != stimuli.labels[j][cat]));
                    let eps = standard_normal(&mut rng);
                    d[pair_index(n, i, j)] =
                        between + 0.5 * (value(i) - value(j)).abs() + sim.noise * eps;
                }
            }
            NamedRdm {
                name: format!("subject{:02}", s + 1),
                n,
                condensed: d,
            }
        })
        .collect())
}

/// The demo's voxels (see [`config::SimulatedVoxels`]): one target per subject.
pub fn simulate_voxels(
    stimuli: &StimulusSet,
    sim: &config::SimulatedVoxels,
) -> Result<Vec<Target>> {
    let col = |name: &str| stimuli.label_columns.iter().position(|c| c == name);
    let Some(cat) = col("category") else {
        return Err(Error::Invalid(
            "simulated voxels need a 'category' label column (procedural stimuli or a manifest with one)".into(),
        ));
    };
    if sim.subjects == 0 || sim.voxels == 0 || sim.noise.is_nan() || sim.noise < 0.0 {
        return Err(Error::Invalid(
            "simulated voxels: subjects ≥ 1, voxels ≥ 1 and noise ≥ 0".into(),
        ));
    }
    let mag = col("magnitude");
    let n = stimuli.len();
    let mut categories: Vec<&str> = stimuli.labels.iter().map(|l| l[cat].as_str()).collect();
    categories.sort_unstable();
    categories.dedup();
    let region = sim.region.clone().unwrap_or_else(|| "simulated".into());
    (0..sim.subjects)
        .map(|s| {
            let mut rng = ChaCha8Rng::seed_from_u64(sim.seed.wrapping_mul(1_000_003) ^ s as u64);
            let mut normal = || standard_normal(&mut rng);
            let a: Vec<f64> = (0..sim.voxels * categories.len())
                .map(|_| normal())
                .collect();
            let b: Vec<f64> = (0..sim.voxels).map(|_| normal()).collect();
            let mut y = faer::Mat::<f64>::zeros(n, sim.voxels);
            for i in 0..n {
                let c = categories
                    .binary_search(&stimuli.labels[i][cat].as_str())
                    .expect("a listed category");
                let m: f64 = mag
                    .and_then(|m| stimuli.labels[i][m].parse().ok())
                    .unwrap_or(0.0);
                for v in 0..sim.voxels {
                    y[(i, v)] = a[v * categories.len() + c] + b[v] * m + sim.noise * normal();
                }
            }
            Target::new(&format!("subject{:02}", s + 1), &region, y, None)
        })
        .collect()
}

/// The subject RDMs of every `[[brain]]` entry, grouped by region, checked against N.
pub fn load_regions(cfg: &AnalysisConfig, stimuli: &StimulusSet) -> Result<Vec<Region>> {
    let n = stimuli.len();
    let rsa = cfg.uses_rsa();
    let c = &cfg.compare;
    let mut regions: Vec<Region> = Vec::new();
    for b in &cfg.brain {
        let region = b.region.clone().unwrap_or_else(|| "brain".into());
        let (mut subjects, source) = match (&b.file, &b.simulated) {
            (Some(path), _) => {
                let rdms = read_rdms(path)?;
                if rdms[0].n != n {
                    return Err(Error::file(
                        path,
                        format!(
                            "subject RDM '{}' is for N = {} stimuli, the stimulus set ({}) has N = {n}",
                            rdms[0].name, rdms[0].n, stimuli.source
                        ),
                    ));
                }
                if rsa && (c.permutations > 0 || c.bootstrap > 0) {
                    crate::rsa::load::check_complete(&rdms, "subject", path)?;
                }
                let per = b.sessions_per_subject.unwrap_or(1);
                if rdms.len() % per != 0 {
                    return Err(Error::file(
                        path,
                        format!(
                            "{} RDMs do not split into subjects of {per} sessions",
                            rdms.len()
                        ),
                    ));
                }
                let averaged: Vec<NamedRdm> = rdms
                    .chunks(per)
                    .map(|c| NamedRdm {
                        name: c[0].name.clone(),
                        n,
                        condensed: (0..c[0].condensed.len())
                            .map(|k| c.iter().map(|r| r.condensed[k]).sum::<f64>() / per as f64)
                            .collect(),
                    })
                    .collect();
                let src = format!(
                    "{} sha256:{} ({} RDMs, {per} per subject, averaged)",
                    path.display(),
                    crate::weights::sha256_file(path)?,
                    rdms.len()
                );
                (averaged, src)
            }
            (None, Some(sim)) => (
                simulate_subjects(stimuli, sim)?,
                format!(
                    "simulated: {} subjects, noise {}, seed {}",
                    sim.subjects, sim.noise, sim.seed
                ),
            ),
            (None, None) => unreachable!("checked by AnalysisConfig::check"),
        };
        if let Some(names) = &b.subjects {
            if names.len() != subjects.len() {
                return Err(Error::Invalid(format!(
                    "[[brain]] {}: {} subject names for {} subjects",
                    b.file
                        .as_ref()
                        .map_or("simulated".into(), |p| p.display().to_string()),
                    names.len(),
                    subjects.len()
                )));
            }
            for (s, name) in subjects.iter_mut().zip(names) {
                s.name = name.clone();
            }
        }
        let existing = regions.iter().find(|r| r.name == region);
        let mut names: Vec<&str> = existing
            .map(|r| r.subjects.iter().map(|s| s.name.as_str()).collect())
            .unwrap_or_default();
        for s in &subjects {
            if names.contains(&s.name.as_str()) {
                return Err(Error::Invalid(format!(
                    "[[brain]] region '{region}': two subjects are named '{}'; give each a unique name (subjects = [...])",
                    s.name
                )));
            }
            names.push(&s.name);
        }
        match regions.iter_mut().find(|r| r.name == region) {
            Some(r) => {
                r.subjects.extend(subjects);
                r.sources.push(source);
            }
            None => regions.push(Region {
                name: region,
                subjects,
                sources: vec![source],
            }),
        }
    }
    if rsa && c.bootstrap > 0 {
        let resample: Resample = c.bootstrap_over.parse()?;
        for r in &regions {
            crate::rsa::bootstrap::check_resample(resample, r.subjects.len()).map_err(|e| {
                Error::Invalid(format!(
                    "[compare] bootstrap_over = \"{resample}\": region '{}' has {} subject(s): {e}",
                    r.name,
                    r.subjects.len()
                ))
            })?;
        }
    }
    Ok(regions)
}

/// The stimulus set an analysis names.
pub fn open_stimuli(cfg: &AnalysisConfig) -> Result<StimulusSet> {
    let s = &cfg.stimuli;
    let set = if let Some(d) = &s.folder {
        StimulusSet::folder(d)?
    } else if let Some(m) = &s.manifest {
        StimulusSet::manifest(m)?
    } else if let Some(t) = &s.tensor {
        StimulusSet::tensor(t, 3)?
    } else {
        let kind: ProceduralSet = s.procedural.as_deref().unwrap_or("demo").parse()?;
        StimulusSet::procedural(kind, s.size.unwrap_or(224), s.seed.unwrap_or(0))?
    };
    if set.len() < 3 {
        // What the folder, manifest or tensor holds is data (exit 1); a procedural set is words.
        let message = format!("{} stimuli; RSA needs at least 3", set.len());
        let file = [&s.folder, &s.manifest, &s.tensor]
            .into_iter()
            .flatten()
            .next();
        return Err(match file {
            Some(path) => Error::file(path, message),
            None => Error::Invalid(format!("{}: {message}", set.source)),
        });
    }
    Ok(set)
}

/// Capture points split into passes whose activations (`n` stimuli, f32) fit `budget` bytes.
fn passes(points: &[String], features: &[usize], n: usize, budget: u64) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut used = 0u64;
    for (i, &f) in features.iter().enumerate().take(points.len()) {
        let bytes = (n * f * 4) as u64;
        match out.last_mut() {
            Some(last) if used + bytes <= budget => {
                last.push(i);
                used += bytes;
            }
            _ => {
                out.push(vec![i]);
                used = bytes;
            }
        }
    }
    out
}

/// Runs a whole analysis and returns its results (nothing is written).
pub fn run_analysis(
    cfg: &AnalysisConfig,
    engine: &Engine,
    progress: &dyn Progress,
) -> Result<AnalysisResult> {
    let start = Instant::now();
    // Everything that can be checked is checked before the first forward pass.
    let metric: Metric = cfg.rdm.metric.parse()?;
    let methods: Vec<Method> = cfg
        .compare
        .methods
        .iter()
        .map(|m| m.parse())
        .collect::<Result<_>>()?;
    let alternative: Alternative = cfg.compare.alternative.parse()?;
    let resample: Resample = cfg.compare.bootstrap_over.parse()?;
    let pre = cfg.preprocess.build()?;
    // A battery-only analysis has no [stimuli]: it reads its own sets.
    let mut stimuli = if cfg.uses_stimuli() {
        Some(open_stimuli(cfg)?)
    } else {
        None
    };
    let n = stimuli.as_ref().map_or(0, StimulusSet::len);
    let regions = match &stimuli {
        Some(s) => load_regions(cfg, s)?,
        None => Vec::new(),
    };
    let mut battery = match cfg.properties().next() {
        Some(p) => {
            let b = properties::Battery::load(p)?;
            let report = b.report();
            Some((b, report))
        }
        None => None,
    };
    use config::MeasureConfig;
    let rsa_wanted = cfg.uses_rsa();
    let dimensionality_wanted = cfg
        .measures
        .iter()
        .any(|m| matches!(m, MeasureConfig::Dimensionality {}));
    let encodings: Vec<&config::EncodingConfig> = cfg
        .measures
        .iter()
        .filter_map(|m| match m {
            MeasureConfig::Encoding(e) => Some(e.as_ref()),
            _ => None,
        })
        .collect();
    if encodings.len() > 1 {
        return Err(Error::Invalid(
            "one [[measure]] kind = \"encoding\" per analysis (list every response file in it)"
                .into(),
        ));
    }
    let mut encoding = match (encodings.first(), &stimuli) {
        (Some(e), Some(stimuli)) => {
            let settings = e.settings()?;
            settings.split.folds(n)?;
            let mut targets = Vec::new();
            for path in &e.responses {
                targets.extend(crate::measures::encoding::responses::read_targets(
                    path,
                    n,
                    Some(&stimuli.names),
                    &e.subjects,
                )?);
            }
            if let Some(sim) = &e.simulated {
                targets.extend(simulate_voxels(stimuli, sim)?);
            }
            crate::measures::encoding::responses::check_unique(&targets)?;
            let report = EncodingReport::new(&settings, &targets, e.predictions);
            Some((*e, settings, targets, report))
        }
        _ => None,
    };
    let mut dimensionality = Vec::new();
    let mut prepared = Vec::new();
    for m in &cfg.models {
        let graph = build(&m.name)?;
        let reduce: Reduce = m.reduce.as_deref().unwrap_or("none").parse()?;
        let spec = m.layers.as_ref().map_or("all".into(), |l| l.spec());
        let capture = Capture::parse(&graph, &spec, reduce)
            .map_err(|e| Error::Invalid(format!("[[model]] '{}': {e}", m.label())))?;
        let (weights, pretrained) = match (&m.weights, m.seed) {
            _ if m.is_pretrained() => {
                let (w, got) = crate::models::pretrained::load(
                    &m.name,
                    m.variant.as_deref(),
                    &graph.specs,
                    true,
                )?;
                (w, Some(got))
            }
            (Some(path), _) => (Weights::load(path, &graph.specs)?, None),
            (None, seed) => (Weights::random(&graph.specs, seed.unwrap_or(0)), None),
        };
        // A pretrained model without a [preprocess] table gets its checkpoint's own transform.
        let model_pre = match &pretrained {
            Some(got) if cfg.preprocess == crate::stimuli::PreprocessConfig::default() => {
                Some(got.preprocess.clone())
            }
            _ => pre.clone(),
        };
        prepared.push((m, graph, capture, weights, pretrained, model_pre));
    }
    let stimulus_hashes = match &stimuli {
        Some(s) => s.hashes()?,
        None => Vec::new(),
    };

    let mut models = Vec::new();
    for (m, graph, capture, weights, pretrained, model_pre) in prepared {
        let net = Network::new(engine, graph, &weights)?;
        if let Some((b, report)) = battery.as_mut() {
            let batch = m.batch.unwrap_or(16);
            b.run(
                &net,
                &capture,
                &m.label(),
                batch,
                cfg.output.memory_budget,
                progress,
                report,
            )?;
        }
        let Some(stimuli) = stimuli.as_mut() else {
            continue;
        };
        let (h, w) = stimuli.tensor_size().unwrap_or_else(|| {
            let s = model_pre.as_ref().map_or(224, Preprocess::output_size);
            (s, s)
        });
        let pre_or_default = model_pre.clone().unwrap_or_default();
        let label = m.label();
        let per_image = capture.shapes(net.graph(), h, w)?;
        let features: Vec<usize> = per_image.iter().map(|s| s.iter().product()).collect();
        let groups = passes(&capture.points, &features, n, cfg.output.memory_budget);
        let batch = m.batch.unwrap_or(16);
        let architecture = net.graph().model.clone();
        let weights_tag = weights.source.tag();
        let mut writer = if cfg.output.activations {
            let shapes: Vec<Vec<usize>> = per_image
                .iter()
                .map(|s| std::iter::once(n).chain(s.iter().copied()).collect())
                .collect();
            let meta = BTreeMap::from([
                ("model".to_string(), architecture.clone()),
                ("weights".into(), weights_tag.clone()),
                ("stimuli".into(), serde_json::to_string(&stimuli.names)?),
                ("ventral_version".into(), env!("CARGO_PKG_VERSION").into()),
            ]);
            let path = cfg.output.folder.join(format!(
                "activations_{}.safetensors",
                report::file_safe(&label)
            ));
            std::fs::create_dir_all(&cfg.output.folder)
                .map_err(|e| Error::file(&cfg.output.folder, format!("cannot create: {e}")))?;
            Some(TensorWriter::create(&path, &capture.points, &shapes, meta)?)
        } else {
            None
        };
        let encoded: Vec<bool> = match &encoding {
            Some((e, ..)) => {
                let only = e.layers.as_ref().map(|l| {
                    l.spec()
                        .split(',')
                        .map(str::trim)
                        .map(str::to_string)
                        .collect::<Vec<String>>()
                });
                if let Some(missing) = only.iter().flatten().find(|l| !capture.points.contains(l)) {
                    return Err(Error::Invalid(format!(
                        "[[measure]] encoding: layer '{missing}' is not captured from model '{label}'"
                    )));
                }
                capture
                    .points
                    .iter()
                    .map(|p| only.as_ref().is_none_or(|o| o.contains(p)))
                    .collect()
            }
            None => vec![false; capture.points.len()],
        };
        let mut rdms = vec![Vec::new(); capture.points.len()];
        let mut degenerate = BTreeMap::new();
        let (mut t_extract, mut t_rdm) = (0.0, 0.0);
        let mut device_used = String::new();
        progress.stage(&format!("{label}: activations"), (n * groups.len()) as u64);
        for group in &groups {
            let sub = Capture {
                points: group.iter().map(|&i| capture.points[i].clone()).collect(),
                reduce: capture.reduce,
            };
            let mut acts: Vec<Vec<f32>> = group
                .iter()
                .map(|&i| Vec::with_capacity(n * features[i]))
                .collect();
            // The encoding measure's projection runs on each batch as it streams past.
            let mut projectors: Vec<Option<LayerProjector>> = group
                .iter()
                .map(|&i| match &encoding {
                    Some((_, settings, ..)) if encoded[i] => {
                        LayerProjector::new(n, features[i], settings.projection).map(Some)
                    }
                    _ => Ok(None),
                })
                .collect::<Result<_>>()?;
            let t = Instant::now();
            let sink = |lo: usize, hi: usize, out: Vec<Vec<f32>>| {
                for (k, o) in out.into_iter().enumerate() {
                    if let Some(wr) = writer.as_mut() {
                        wr.write_tensor_rows(group[k], lo, &o)?;
                    }
                    if let Some(p) = projectors[k].as_mut() {
                        p.push(lo, hi, &o)?;
                    }
                    acts[k].extend_from_slice(&o);
                }
                progress.advance((hi - lo) as u64);
                Ok(())
            };
            extract::extract_batches(&net, stimuli, &pre_or_default, &sub, batch, (h, w), sink)?;
            t_extract += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let patterns: Vec<Patterns<'_>> = group
                .iter()
                .zip(&acts)
                .map(|(&i, a)| Patterns {
                    data: a,
                    n,
                    p: features[i],
                })
                .collect();
            let names: Vec<String> = sub.points.iter().map(|p| format!("{label}/{p}")).collect();
            let (out, used) = rdms_on(engine, &patterns, &names, metric)?;
            device_used = used;
            for (&i, r) in group.iter().zip(out) {
                if !r.degenerate.is_empty() {
                    log::warn!(
                        "{label}/{}: stimuli {:?} have constant patterns; their {metric} distances are NaN",
                        capture.points[i],
                        r.degenerate
                    );
                    degenerate.insert(capture.points[i].clone(), r.degenerate);
                }
                rdms[i] = r.condensed;
            }
            t_rdm += t.elapsed().as_secs_f64();
            for (k, &i) in group.iter().enumerate() {
                let point = &capture.points[i];
                let needs_ed = dimensionality_wanted || projectors[k].is_some();
                let ed_raw = if needs_ed {
                    ed_from_features(&acts[k], n, features[i])?
                } else {
                    f64::NAN
                };
                if dimensionality_wanted {
                    dimensionality.push((label.clone(), point.clone(), ed_raw));
                }
                if let (Some(p), Some((_, _, targets, report))) =
                    (projectors[k].take(), encoding.as_mut())
                {
                    progress.stage(&format!("{label}/{point}: encoding"), 1);
                    let (features, ed_projected) = p.finish()?;
                    let layer = LayerFeatures {
                        model: label.clone(),
                        layer: point.clone(),
                        features,
                        rdm: rdms[i].clone(),
                        ed_raw,
                        ed_projected,
                    };
                    report.add(layer, targets)?;
                    progress.finish();
                }
            }
        }
        progress.finish();
        if let Some(wr) = writer {
            wr.finish()?;
        }
        models.push(ModelResult {
            label,
            architecture,
            weights: weights_tag,
            pretrained: pretrained.map(|got| PretrainedSource {
                url: got.url,
                variant: got.variant,
                sha256: got.sha256,
            }),
            preprocess: model_pre,
            input_size: h,
            points: capture.points.clone(),
            rdms,
            degenerate,
            passes: groups.len(),
            rdm_device: device_used,
            seconds_extract: t_extract,
            seconds_rdm: t_rdm,
        });
    }

    let layer_rdms: Vec<NamedRdm> = models
        .iter()
        .flat_map(|m| {
            m.points.iter().zip(&m.rdms).map(|(p, r)| NamedRdm {
                name: format!("{}/{p}", m.label),
                n,
                condensed: r.clone(),
            })
        })
        .collect();
    let mut summaries = Vec::new();
    for region in regions.iter().filter(|_| rsa_wanted) {
        for &method in &methods {
            let opts = SummaryOptions {
                method,
                permutations: cfg.compare.permutations,
                seed: cfg.compare.seed,
                alternative,
                noise_ceiling: cfg.compare.noise_ceiling && region.subjects.len() > 1,
                bootstrap: cfg.compare.bootstrap,
                bootstrap_over: resample,
                differences: false,
                threads: cfg.compare.threads,
            };
            progress.stage(
                &format!("{} vs {}: {method}", region.name, "layers"),
                layer_rdms.len() as u64,
            );
            let s = summarize(
                &layer_rdms,
                &region.subjects,
                &opts,
                engine.context(),
                &|_, _| progress.advance(1),
            )?;
            progress.finish();
            summaries.push((region.name.clone(), s));
        }
    }
    let (stimulus_source, stimulus_names, label_columns, labels) = match stimuli {
        Some(s) => (s.source, s.names, s.label_columns, s.labels),
        None => (String::new(), Vec::new(), Vec::new(), Vec::new()),
    };
    Ok(AnalysisResult {
        config: cfg.clone(),
        stimulus_source,
        stimulus_names,
        label_columns,
        labels,
        stimulus_hashes,
        preprocess: pre,
        executor: engine.report(),
        regions,
        models,
        summaries,
        encoding: encoding.map(|(_, _, _, report)| report),
        dimensionality,
        properties: battery.map(|(_, report)| report),
        seconds_total: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_respect_the_budget() {
        let pts: Vec<String> = (0..4).map(|i| i.to_string()).collect();
        // 10 stimuli × features × 4 bytes: 400, 800, 400, 4000 bytes.
        let g = passes(&pts, &[10, 20, 10, 100], 10, 1200);
        assert_eq!(g, vec![vec![0, 1], vec![2], vec![3]]);
        assert_eq!(
            passes(&pts, &[1, 1, 1, 1], 10, 1 << 30),
            vec![vec![0, 1, 2, 3]]
        );
    }

    #[test]
    fn simulated_subjects_have_the_planted_structure() {
        let set = StimulusSet::procedural(ProceduralSet::Demo, 16, 0).unwrap();
        let sim = config::SimulatedBrain {
            subjects: 3,
            noise: 0.0,
            seed: 1,
        };
        let s = simulate_subjects(&set, &sim).unwrap();
        assert_eq!(s.len(), 3);
        let n = set.len();
        // Stimuli 0 and 1 are both shapes (magnitudes 0 and 0.5); 0 and 9 differ in category.
        assert_eq!(s[0].condensed[pair_index(n, 0, 1)], 0.25);
        assert_eq!(s[0].condensed[pair_index(n, 0, 9)], 1.0);
        let noisy = simulate_subjects(
            &set,
            &config::SimulatedBrain {
                noise: 0.5,
                ..sim.clone()
            },
        )
        .unwrap();
        assert_ne!(noisy[0].condensed, noisy[1].condensed, "subjects differ");
        assert_eq!(
            noisy[0].condensed,
            simulate_subjects(&set, &config::SimulatedBrain { noise: 0.5, ..sim }).unwrap()[0]
                .condensed,
            "seeded"
        );
    }
}
