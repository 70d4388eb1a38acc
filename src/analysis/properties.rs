//! The brain-property battery inside an analysis: its stimulus sets are read once, then every
//! model's capture points are extracted on each set (in passes that fit the memory budget, as
//! the main stimuli are) and scored by [`score_experiment`]; the value reported for a model is
//! the one at its feature layer (SCIENCE.md §6.0, §6.17).

use std::collections::BTreeMap;

use super::config::PropertiesConfig;
use super::{extract, passes, Progress};
use crate::error::{Error, Result};
use crate::measures::properties::indices::Options;
use crate::measures::properties::measure::{score_experiment, PropertiesReport, PropertyRow};
use crate::measures::properties::stimuli::{self, ExperimentStimuli, Loaded};
use crate::measures::properties::{Acts, Experiment, Property, Score};
use crate::models::{Capture, Graph, Network};
use crate::stimuli::{Preprocess, PreprocessConfig, StimulusSet};

/// The battery's stimuli and settings, ready for any number of models.
pub struct Battery {
    pub properties: Vec<Property>,
    pub options: Options,
    pub preprocess: Preprocess,
    pub feature_layer: Option<String>,
    pub sets: Vec<ExperimentStimuli>,
    /// Properties that cannot be scored with what was given, and why.
    pub notes: Vec<(Property, String)>,
}

impl Battery {
    /// Reads every stimulus set the asked-for properties need; an absent one becomes a note.
    pub fn load(cfg: &PropertiesConfig) -> Result<Battery> {
        let properties = cfg.properties()?;
        let options = cfg.options()?;
        let preprocess = cfg
            .preprocess
            .clone()
            .unwrap_or_else(|| PreprocessConfig {
                preset: Some("rajesh".into()),
                ..PreprocessConfig::default()
            })
            .build()?
            .ok_or_else(|| {
                Error::Invalid(
                    "the property battery preprocesses its own images; preset 'none' is not possible"
                        .into(),
                )
            })?;
        let paths = cfg.paths();
        let mut experiments: Vec<Experiment> = properties.iter().map(|p| p.experiment()).collect();
        experiments.sort_unstable();
        experiments.dedup();
        let mut sets = Vec::new();
        let mut notes = Vec::new();
        for e in experiments {
            match stimuli::load(e, &paths)? {
                Loaded::Ready(s) => sets.push(s),
                Loaded::Missing(why) => notes.extend(
                    properties
                        .iter()
                        .filter(|p| p.experiment() == e)
                        .map(|&p| (p, why.clone())),
                ),
            }
        }
        if properties.contains(&Property::SparsenessTextures)
            && sets
                .iter()
                .any(|s| s.experiment == Experiment::Sparseness && s.part("textures").is_none())
        {
            notes.push((
                Property::SparsenessTextures,
                "no texture set given (--textures: a folder of 50 textures)".into(),
            ));
        }
        notes.sort_by_key(|n| n.0);
        if properties.iter().all(|p| notes.iter().any(|(q, _)| q == p)) {
            let why: Vec<String> = notes.iter().map(|(p, w)| format!("{p}: {w}")).collect();
            return Err(Error::Invalid(format!(
                "no property of the battery can be scored with the stimuli given ({})",
                why.join("; ")
            )));
        }
        Ok(Battery {
            properties,
            options,
            preprocess,
            feature_layer: cfg.feature_layer.clone(),
            sets,
            notes,
        })
    }

    /// The properties that will be scored.
    fn scored(&self) -> Vec<Property> {
        self.properties
            .iter()
            .copied()
            .filter(|p| !self.notes.iter().any(|(q, _)| q == p))
            .collect()
    }

    /// An empty report carrying the battery's settings and notes.
    pub fn report(&self) -> PropertiesReport {
        let mut settings: BTreeMap<String, String> = self.options.settings().into_iter().collect();
        settings.insert("preprocess".into(), self.preprocess.preset.into());
        settings.insert(
            "distance".into(),
            "on flattened activations, in f64, pair by pair".into(),
        );
        settings.insert(
            "feature_layer".into(),
            self.feature_layer.clone().unwrap_or_else(|| {
                "encoder.ln or fc_norm where present, else the last point before the output's trailing points (walking back to a finite value)".into()
            }),
        );
        for s in &self.sets {
            settings.insert(
                format!("stimuli {}", s.experiment.folder()),
                format!(
                    "{} images from {}",
                    s.images.len(),
                    s.sources
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        PropertiesReport {
            rows: Vec::new(),
            settings,
            notes: self.notes.clone(),
        }
    }

    /// Scores every property on every point of `capture` for one model and adds the rows.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        net: &Network<'_>,
        capture: &Capture,
        label: &str,
        batch: usize,
        budget: u64,
        progress: &dyn Progress,
        report: &mut PropertiesReport,
    ) -> Result<()> {
        let graph = net.graph();
        let points = &capture.points;
        let feature = match &self.feature_layer {
            Some(f) => points.iter().position(|p| p == f).ok_or_else(|| {
                Error::Invalid(format!(
                    "feature layer '{f}' is not captured from model '{label}' (`ventral layers --model {}` lists the points)",
                    graph.model
                ))
            })?,
            None => default_feature_point(graph, capture)?,
        };
        let wanted = self.scored();
        // scores[property] = per point (None where it is not computed: scene incongruence is
        // only read from the output).
        let mut scores: BTreeMap<Property, Vec<Option<Score>>> = BTreeMap::new();
        let size = self.preprocess.output_size();
        for set in &self.sets {
            let here: Vec<Property> = wanted
                .iter()
                .copied()
                .filter(|p| p.experiment() == set.experiment)
                .collect();
            if here.is_empty() {
                continue;
            }
            let which: Vec<usize> = if set.experiment == Experiment::SceneIncongruence {
                vec![points.len() - 1]
            } else {
                (0..points.len()).collect()
            };
            let sub = Capture {
                points: which.iter().map(|&i| points[i].clone()).collect(),
                reduce: capture.reduce,
            };
            let n = set.images.len();
            let features: Vec<usize> = sub
                .shapes(graph, size, size)?
                .iter()
                .map(|s| s.iter().product())
                .collect();
            let groups = passes(&sub.points, &features, n, budget);
            let mut images = StimulusSet::images(
                format!("{} stimuli", set.experiment.folder()),
                set.names.clone(),
                set.images.clone(),
            )?;
            progress.stage(
                &format!("{label}: {}", set.experiment.folder()),
                (n * groups.len()) as u64,
            );
            for group in &groups {
                let pass = Capture {
                    points: group.iter().map(|&i| sub.points[i].clone()).collect(),
                    reduce: capture.reduce,
                };
                let mut acts: Vec<Vec<f32>> = group
                    .iter()
                    .map(|&i| Vec::with_capacity(n * features[i]))
                    .collect();
                extract::extract_batches(
                    net,
                    &mut images,
                    &self.preprocess,
                    &pass,
                    batch,
                    (size, size),
                    |lo, hi, out| {
                        for (a, o) in acts.iter_mut().zip(out) {
                            a.extend_from_slice(&o);
                        }
                        progress.advance((hi - lo) as u64);
                        Ok(())
                    },
                )?;
                for (k, &i) in group.iter().enumerate() {
                    let a = Acts {
                        data: &acts[k],
                        n,
                        p: features[i],
                    };
                    for (p, s) in score_experiment(set, &a, &here, &self.options) {
                        scores.entry(p).or_insert_with(|| vec![None; points.len()])[which[i]] =
                            Some(s);
                    }
                }
            }
            progress.finish();
        }
        for (property, per_point) in scores {
            // The feature layer, or the nearest earlier point with a finite value.
            let computed: Vec<usize> = (0..points.len())
                .filter(|&i| per_point[i].is_some())
                .collect();
            let at = computed.iter().rev().copied().find(|&i| {
                i <= feature && per_point[i].as_ref().is_some_and(|s| s.index.is_finite())
            });
            // Nothing finite at or before it: the last point at or before it, or the output's
            // own point when that is all there is (scene incongruence).
            let flagged = at
                .or_else(|| computed.iter().copied().rfind(|&i| i <= feature))
                .or(computed.last().copied());
            for i in computed {
                let score = per_point[i].clone().expect("computed");
                report.rows.push(PropertyRow {
                    model: label.to_string(),
                    layer: points[i].clone(),
                    layer_index: i,
                    property,
                    score,
                    feature_layer: Some(i) == flagged,
                });
            }
        }
        Ok(())
    }
}

/// The model's feature layer among the captured points (SCIENCE.md §6.0): torchvision ViT's
/// `encoder.ln` (all tokens), timm ViT/DeiT's `fc_norm`; otherwise the point before the output's trailing points (the points after the
/// last one whose size differs from the output's: VGG's `classifier.5`, ResNet's `avgpool`,
/// CORnet's `decoder.flatten`). When that point is not captured, the last captured one before
/// it (or the first captured).
fn default_feature_point(graph: &Graph, capture: &Capture) -> Result<usize> {
    let all: Vec<&crate::models::Point> = graph.points.iter().filter(|p| !p.on_request).collect();
    let shapes = graph.shapes(1, graph.default_size, graph.default_size)?;
    let size = |p: &crate::models::Point| shapes[p.node][1..].iter().product::<usize>();
    let named = ["encoder.ln", "fc_norm"]
        .iter()
        .find_map(|n| all.iter().position(|p| p.name == *n));
    let target = match named {
        Some(i) => i,
        None => {
            let out = all.last().map_or(0, |p| size(p));
            all.iter()
                .rposition(|p| size(p) != out)
                .unwrap_or(all.len().saturating_sub(1))
        }
    };
    let order = |name: &str| all.iter().position(|p| p.name == name);
    let before = capture
        .points
        .iter()
        .rposition(|p| order(p).is_some_and(|o| o <= target));
    Ok(before.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{build, Reduce};

    #[test]
    fn feature_layers_are_the_penultimate_embeddings() {
        for (model, point) in [
            ("vgg16", "classifier.5"),
            ("alexnet", "classifier.5"),
            ("resnet18", "avgpool"),
            ("cornet_z", "decoder.flatten"),
            ("vit_b_16", "encoder.ln"),
            ("timm/deit_tiny_patch16_224", "fc_norm"),
        ] {
            let g = build(model).unwrap();
            let all = Capture::parse(&g, "all", Reduce::None).unwrap();
            let i = default_feature_point(&g, &all).unwrap();
            assert_eq!(all.points[i], point, "{model}");
        }
        // Not captured: the last captured point before it.
        let g = build("resnet18").unwrap();
        let some = Capture::parse(&g, "layer3,layer4,fc", Reduce::None).unwrap();
        assert_eq!(
            some.points[default_feature_point(&g, &some).unwrap()],
            "layer4"
        );
    }
}
