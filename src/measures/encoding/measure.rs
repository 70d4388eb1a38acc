//! The encoding measure as the CLI and the pipeline run it: each layer's features are projected
//! as they stream past ([`LayerProjector`]), then every layer is scored against every target
//! ([`evaluate`]), layers are chosen on train scores, and the results become one table (CSV or
//! JSON, through [`crate::measures::report`]) and one safetensors file of per-voxel scores and
//! held-out predictions.

use std::collections::BTreeMap;
use std::path::Path;

use faer::Mat;

use super::evaluate::{evaluate, Evaluation, Fold, Split, Target};
use super::ridge::RidgeOptions;
use super::{jl_min_dim, SparseProjection};
use crate::error::{Error, Result};
use crate::measures::dimensionality::{ed_from_features, ed_from_gram};
use crate::measures::report::{Cell, Table};

/// Whether features are sparse-randomly projected first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Projection {
    /// To `jl_min_dim(N, eps)` components (scikit-learn's `SparseRandomProjection`), even when
    /// the layer has fewer features.
    Srp { eps: f64, seed: u64 },
    /// The raw features.
    None,
}

/// Everything that decides an encoding result (recorded with it).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodingSettings {
    pub split: Split,
    pub projection: Projection,
    pub ridge: RidgeOptions,
}

impl EncodingSettings {
    /// Conwell et al.'s setting: even/odd split, SRP with eps 0.1 and seed 0, α = 0.1…1e5,
    /// per-voxel LOO Pearson selection, standard-scaled features.
    pub fn conwell() -> EncodingSettings {
        EncodingSettings {
            split: Split::EvenOdd,
            projection: Projection::Srp { eps: 0.1, seed: 0 },
            ridge: RidgeOptions::default(),
        }
    }

    /// The settings named by words, as the CLI flags and the analysis file give them: split
    /// (`even-odd`, `kfold:K`, a file), projection (`srp`, `none`), eps, seed, scale
    /// (`standard`, `none`), select (`r`, `r2`), alphas (empty: Conwell's grid). Bad values are
    /// usage errors.
    #[allow(clippy::too_many_arguments)]
    pub fn from_words(
        split: &str,
        projection: &str,
        eps: f64,
        seed: u64,
        scale: &str,
        select: &str,
        alphas: &[f64],
    ) -> Result<EncodingSettings> {
        let projection = match projection {
            "srp" if eps > 0.0 && eps < 1.0 => Projection::Srp { eps, seed },
            "srp" => return Err(Error::Invalid(format!("eps {eps}: must lie in (0, 1)"))),
            "none" => Projection::None,
            other => {
                return Err(Error::Invalid(format!(
                    "projection '{other}': use srp or none"
                )))
            }
        };
        let standardize = match scale {
            "standard" => true,
            "none" => false,
            other => {
                return Err(Error::Invalid(format!(
                    "scale '{other}': use standard or none"
                )))
            }
        };
        let mut ridge = RidgeOptions {
            select: select.parse::<super::Select>()?,
            standardize,
            ..RidgeOptions::default()
        };
        if !alphas.is_empty() {
            if let Some(a) = alphas.iter().find(|a| !(a.is_finite() && **a > 0.0)) {
                return Err(Error::Invalid(format!(
                    "alphas: every penalty must be > 0 (got {a})"
                )));
            }
            ridge.alphas = alphas.to_vec();
        }
        Ok(EncodingSettings {
            split: Split::parse(split)?,
            projection,
            ridge,
        })
    }

    /// The settings as key/value pairs (manifest, file metadata).
    pub fn record(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("split".into(), self.split.describe());
        match self.projection {
            Projection::Srp { eps, seed } => {
                m.insert("projection".into(), "srp".into());
                m.insert("eps".into(), eps.to_string());
                m.insert("seed".into(), seed.to_string());
            }
            Projection::None => {
                m.insert("projection".into(), "none".into());
            }
        }
        let alphas: Vec<String> = self.ridge.alphas.iter().map(|a| a.to_string()).collect();
        m.insert("alphas".into(), alphas.join(","));
        m.insert(
            "select".into(),
            format!("{:?}", self.ridge.select).to_lowercase(),
        );
        let scale = if self.ridge.standardize {
            "standard"
        } else {
            "none"
        };
        m.insert("scale".into(), scale.into());
        m
    }
}

/// One layer's features on their way to the measure: projected batch by batch (so the whole
/// layer never sits in memory), or kept whole when there is no projection.
pub struct LayerProjector {
    n: usize,
    p: usize,
    projection: Option<SparseProjection>,
    /// `[n, k]` row-major (projected or raw).
    features: Vec<f64>,
}

impl LayerProjector {
    /// For `n` stimuli of `p` features.
    pub fn new(n: usize, p: usize, projection: Projection) -> Result<LayerProjector> {
        let projection = match projection {
            Projection::Srp { eps, seed } => {
                Some(SparseProjection::new(p, jl_min_dim(n, eps)?, seed)?)
            }
            Projection::None => None,
        };
        let k = projection.as_ref().map_or(p, SparseProjection::k);
        Ok(LayerProjector {
            n,
            p,
            projection,
            features: vec![0.0; n * k],
        })
    }

    /// Components per stimulus.
    pub fn k(&self) -> usize {
        self.projection.as_ref().map_or(self.p, SparseProjection::k)
    }

    /// Stimuli `lo..hi`, `rows: [hi − lo, p]`.
    pub fn push(&mut self, lo: usize, hi: usize, rows: &[f32]) -> Result<()> {
        let k = self.k();
        if hi > self.n || lo > hi || rows.len() != (hi - lo) * self.p {
            return Err(Error::Invalid(format!(
                "layer rows {lo}..{hi} with {} values do not fit {} stimuli × {} features",
                rows.len(),
                self.n,
                self.p
            )));
        }
        let out = &mut self.features[lo * k..hi * k];
        match &self.projection {
            Some(srp) => srp.project_into(rows, hi - lo, out),
            None => {
                for (o, &r) in out.iter_mut().zip(rows) {
                    *o = f64::from(r);
                }
                Ok(())
            }
        }
    }

    /// The features `[n, k]`, and their effective dimensionality.
    pub fn finish(self) -> Result<(Mat<f64>, f64)> {
        let (n, k) = (self.n, self.k());
        let f = &self.features;
        let x = Mat::from_fn(n, k, |i, j| f[i * k + j]);
        let gram = &x * x.transpose();
        let g: Vec<f64> = (0..n * n).map(|e| gram[(e / n, e % n)]).collect();
        Ok((x, ed_from_gram(&g, n)?))
    }
}

/// One layer ready to score: its (projected) features, the RDM of its raw features, and the
/// effective dimensionality of both.
pub struct LayerFeatures {
    pub model: String,
    pub layer: String,
    pub features: Mat<f64>,
    pub rdm: Vec<f64>,
    pub ed_raw: f64,
    pub ed_projected: f64,
}

impl LayerFeatures {
    /// From a whole layer in memory, `raw: [n, p]`, with its raw RDM already computed.
    pub fn from_raw(
        model: &str,
        layer: &str,
        raw: &[f32],
        n: usize,
        rdm: Vec<f64>,
        projection: Projection,
    ) -> Result<LayerFeatures> {
        let p = raw.len() / n.max(1);
        let ed_raw = ed_from_features(raw, n, p)?;
        let mut proj = LayerProjector::new(n, p, projection)?;
        proj.push(0, n, raw)?;
        let (features, ed_projected) = proj.finish()?;
        Ok(LayerFeatures {
            model: model.into(),
            layer: layer.into(),
            features,
            rdm,
            ed_raw,
            ed_projected,
        })
    }
}

/// The scores of every layer against every target.
pub struct EncodingReport {
    pub settings: EncodingSettings,
    pub targets: Vec<(String, String)>,
    pub layers: Vec<LayerResult>,
    keep_predictions: bool,
}

/// One layer's scores against each target (in `EncodingReport::targets` order).
pub struct LayerResult {
    pub model: String,
    pub layer: String,
    pub components: usize,
    pub ed_raw: f64,
    pub ed_projected: f64,
    pub evaluations: Vec<Evaluation>,
}

impl EncodingReport {
    /// An empty report for `targets`; with `keep_predictions` each evaluation keeps its held-out
    /// predictions (for [`EncodingReport::write_voxels`]), else only the scores.
    pub fn new(settings: &EncodingSettings, targets: &[Target], keep_predictions: bool) -> Self {
        EncodingReport {
            settings: settings.clone(),
            targets: targets
                .iter()
                .map(|t| (t.subject.clone(), t.region.clone()))
                .collect(),
            layers: Vec::new(),
            keep_predictions,
        }
    }

    /// Scores one layer against every target (the same targets as [`EncodingReport::new`]);
    /// the layer's features are dropped afterwards.
    pub fn add(&mut self, layer: LayerFeatures, targets: &[Target]) -> Result<()> {
        let n = targets.first().map_or(0, |t| t.y.nrows());
        let folds: Vec<Fold> = self.settings.split.folds(n)?;
        let evaluations = targets
            .iter()
            .map(|t| {
                let mut e = evaluate(
                    layer.features.as_ref(),
                    &layer.rdm,
                    t,
                    &folds,
                    &self.settings.ridge,
                )
                .map_err(|e| {
                    Error::Invalid(format!(
                        "{}/{} vs {}/{}: {e}",
                        layer.model, layer.layer, t.subject, t.region
                    ))
                })?;
                if !self.keep_predictions {
                    e.predictions = Mat::zeros(0, 0);
                }
                Ok(e)
            })
            .collect::<Result<Vec<_>>>()?;
        self.layers.push(LayerResult {
            model: layer.model,
            layer: layer.layer,
            components: layer.features.ncols(),
            ed_raw: layer.ed_raw,
            ed_projected: layer.ed_projected,
            evaluations,
        });
        Ok(())
    }
}

/// The scores of a report, by name: (train, test) of one evaluation.
fn scores(e: &Evaluation) -> [(&'static str, f64, f64); 7] {
    let c = |v: Option<f64>| v.unwrap_or(f64::NAN);
    [
        ("encoding_r", e.train.mean_r, e.test.mean_r),
        ("encoding_r_median", e.train.median_r, e.test.median_r),
        ("encoding_r2", e.train.mean_r2, e.test.mean_r2),
        (
            "encoding_above_chance",
            e.train.above_chance,
            e.test.above_chance,
        ),
        (
            "encoding_r_over_ceiling",
            c(e.train.mean_r_over_ceiling),
            c(e.test.mean_r_over_ceiling),
        ),
        ("versa", e.versa_train, e.versa_test),
        ("crsa", e.crsa_train, e.crsa_test),
    ]
}

impl EncodingReport {
    /// For each (model, target, score): the layer with the best train value (the first on a
    /// tie; NaN never), as an index into `layers`.
    pub fn selected(&self) -> BTreeMap<(String, usize, &'static str), usize> {
        let mut best: BTreeMap<(String, usize, &'static str), (usize, f64)> = BTreeMap::new();
        for (li, l) in self.layers.iter().enumerate() {
            for (t, e) in l.evaluations.iter().enumerate() {
                for (score, train, _) in scores(e) {
                    if !train.is_finite() {
                        continue;
                    }
                    let key = (l.model.clone(), t, score);
                    match best.get(&key) {
                        Some(&(_, b)) if b >= train => {}
                        _ => {
                            best.insert(key, (li, train));
                        }
                    }
                }
            }
        }
        best.into_iter().map(|(k, (li, _))| (k, li)).collect()
    }

    /// Long-format rows: model, layer, region, subject, score, train, test, selected (the layer
    /// chosen on train for this model, target and score), voxels, constant_voxels; then the
    /// effective dimensionality rows (score `effective_dimensionality_raw` / `_projected`, over
    /// all stimuli, in the test column), and the settings on every row.
    pub fn table(&self) -> Table {
        let record = self.settings.record();
        let settings: Vec<(String, String)> = ["split", "projection", "seed", "select"]
            .iter()
            .map(|k| (k.to_string(), record.get(*k).cloned().unwrap_or_default()))
            .collect();
        let mut columns: Vec<String> = [
            "model",
            "layer",
            "region",
            "subject",
            "score",
            "train",
            "test",
            "selected",
            "voxels",
            "constant_voxels",
            "components",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        columns.extend(settings.iter().map(|(k, _)| k.clone()));
        let mut t = Table::new(columns);
        let selected = self.selected();
        for (li, l) in self.layers.iter().enumerate() {
            for (ti, e) in l.evaluations.iter().enumerate() {
                let (subject, region) = &self.targets[ti];
                for (score, train, test) in scores(e) {
                    let chosen = selected.get(&(l.model.clone(), ti, score)) == Some(&li);
                    let mut row = vec![
                        Cell::text(&l.model),
                        Cell::text(&l.layer),
                        Cell::text(region),
                        Cell::text(subject),
                        Cell::text(score),
                        Cell::num(train),
                        Cell::num(test),
                        Cell::Bool(chosen),
                        Cell::Int(e.test.voxels),
                        Cell::Int(e.test.constant),
                        Cell::Int(l.components),
                    ];
                    row.extend(settings.iter().map(|(_, v)| Cell::text(v)));
                    t.push(row);
                }
            }
            for (score, v) in [
                ("effective_dimensionality_raw", l.ed_raw),
                ("effective_dimensionality_projected", l.ed_projected),
            ] {
                let mut row = vec![
                    Cell::text(&l.model),
                    Cell::text(&l.layer),
                    Cell::text(""),
                    Cell::text(""),
                    Cell::text(score),
                    Cell::num(f64::NAN),
                    Cell::num(v),
                    Cell::Bool(false),
                    Cell::Int(0),
                    Cell::Int(0),
                    Cell::Int(l.components),
                ];
                row.extend(settings.iter().map(|(_, v)| Cell::text(v)));
                t.push(row);
            }
        }
        t
    }

    /// Per layer and target: held-out predictions `[n_test, V]` (when kept), the chosen α, test r, test R²
    /// and LOO r per voxel `[V]`, and the held-out stimulus indices, as f32 safetensors
    /// (`<model>/<layer>/<subject>/<region>/predictions`, …), settings in the metadata.
    pub fn write_voxels(&self, path: &Path) -> Result<()> {
        let mut names = Vec::new();
        let mut shapes = Vec::new();
        let mut data: Vec<Vec<f32>> = Vec::new();
        for l in &self.layers {
            for (ti, e) in l.evaluations.iter().enumerate() {
                let (subject, region) = &self.targets[ti];
                let base = format!("{}/{}/{subject}/{region}", l.model, l.layer);
                let (m, v) = (e.test_index.len(), e.voxels.test_r.len());
                let f = |x: &[f64]| x.iter().map(|&a| a as f32).collect::<Vec<f32>>();
                if self.keep_predictions {
                    names.push(format!("{base}/predictions"));
                    shapes.push(vec![m, v]);
                    data.push(
                        (0..m * v)
                            .map(|i| e.predictions[(i / v, i % v)] as f32)
                            .collect(),
                    );
                }
                let idx: Vec<f32> = e.test_index.iter().map(|&i| i as f32).collect();
                for (what, shape, values) in [
                    ("alpha", vec![v], f(&e.voxels.alpha)),
                    ("test_r", vec![v], f(&e.voxels.test_r)),
                    ("test_r2", vec![v], f(&e.voxels.test_r2)),
                    ("train_r", vec![v], f(&e.voxels.train_r)),
                    ("test_index", vec![m], idx),
                ] {
                    names.push(format!("{base}/{what}"));
                    shapes.push(shape);
                    data.push(values);
                }
            }
        }
        let mut meta = self.settings.record();
        meta.insert("ventral_version".into(), env!("CARGO_PKG_VERSION").into());
        let mut w = crate::arrays::TensorWriter::create(path, &names, &shapes, meta)?;
        for (i, d) in data.iter().enumerate() {
            w.write_tensor_rows(i, 0, d)?;
        }
        w.finish()
    }
}
