//! The battery over layers: for each model and capture point, every asked-for index, then the
//! value at the model's feature layer, into one table.

use std::collections::BTreeMap;
use std::ops::Range;

use super::indices::{self, Options};
use super::stimuli::ExperimentStimuli;
use super::{Acts, Experiment, Property, Score};
use crate::measures::report::{Cell, Table};

/// One index on one layer of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyRow {
    pub model: String,
    pub layer: String,
    /// Position of `layer` among the model's captured points (0-based).
    pub layer_index: usize,
    pub property: Property,
    pub score: Score,
    /// This row is the value reported for the model: its feature layer, or the nearest earlier
    /// layer with a finite index (SCIENCE.md §6.0, §6.17).
    pub feature_layer: bool,
}

/// Everything the battery produced.
#[derive(Debug, Clone, Default)]
pub struct PropertiesReport {
    pub rows: Vec<PropertyRow>,
    /// The choices made where the published implementations differ (SCIENCE.md §9.6), by name.
    pub settings: BTreeMap<String, String>,
    /// Properties not scored and why (a missing stimulus set, a classifier-only index on a
    /// model without one).
    pub notes: Vec<(Property, String)>,
}

impl PropertiesReport {
    /// The models in first-seen order.
    pub fn models(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.model.as_str()) {
                out.push(&r.model);
            }
        }
        out
    }

    /// The feature-layer value of each scored property of `model`.
    pub fn feature_values(&self, model: &str) -> Vec<(Property, f64)> {
        self.rows
            .iter()
            .filter(|r| r.model == model && r.feature_layer)
            .map(|r| (r.property, r.score.index))
            .collect()
    }

    /// Rajesh et al.'s brain similarity `1 / (1 + ‖model − brain‖₂)` over the properties with a
    /// finite feature-layer value, and how many those are.
    pub fn brain_similarity(&self, model: &str) -> (f64, usize) {
        let v: Vec<(Property, f64)> = self
            .feature_values(model)
            .into_iter()
            .filter(|(_, x)| x.is_finite())
            .collect();
        if v.is_empty() {
            return (f64::NAN, 0);
        }
        let d = v
            .iter()
            .map(|(p, x)| (x - p.brain()).powi(2))
            .sum::<f64>()
            .sqrt();
        (1.0 / (1.0 + d), v.len())
    }

    /// `properties.csv` / `.json`: one row per model, layer and property.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            [
                "model",
                "layer",
                "layer_index",
                "property",
                "index",
                "sem",
                "n",
                "brain",
                "feature_layer",
                "note",
            ]
            .map(String::from)
            .to_vec(),
        );
        for r in &self.rows {
            t.push(vec![
                Cell::text(&r.model),
                Cell::text(&r.layer),
                Cell::Int(r.layer_index),
                Cell::text(&r.property.to_string()),
                Cell::num(r.score.index),
                Cell::num(r.score.sem),
                Cell::Int(r.score.n),
                Cell::num(r.property.brain()),
                Cell::Bool(r.feature_layer),
                Cell::text(r.score.note.as_deref().unwrap_or("")),
            ]);
        }
        t
    }

    /// The stdout table: each property's feature-layer value per model beside the brain's, then
    /// each model's brain similarity and the properties left out.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let models = self.models();
        let mut out = String::from("\nbrain-property battery (value at the feature layer)\n");
        let _ = write!(out, "  {:24} {:>8}", "property", "brain");
        for m in &models {
            let _ = write!(out, " {:>14}", truncate(m, 14));
        }
        out.push('\n');
        let mut properties: Vec<Property> = self.rows.iter().map(|r| r.property).collect();
        properties.sort_unstable();
        properties.dedup();
        for p in properties {
            let _ = write!(out, "  {:24} {:>8.3}", p.to_string(), p.brain());
            for m in &models {
                let v = self
                    .rows
                    .iter()
                    .find(|r| r.model == *m && r.property == p && r.feature_layer)
                    .map_or(f64::NAN, |r| r.score.index);
                let _ = write!(out, " {v:>14.3}");
            }
            out.push('\n');
        }
        for m in &models {
            let (s, k) = self.brain_similarity(m);
            let layers: Vec<&str> = self
                .rows
                .iter()
                .filter(|r| r.model == *m && r.feature_layer)
                .map(|r| r.layer.as_str())
                .collect();
            let mut layers = layers;
            layers.dedup();
            let _ = writeln!(
                out,
                "  {m}: brain similarity {s:.3} over {k} properties (feature layer {})",
                layers.join(", ")
            );
        }
        for (p, why) in &self.notes {
            let _ = writeln!(out, "  not scored: {p}: {why}");
        }
        out
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Every asked-for index of one experiment on one layer: `acts` holds that layer's activations
/// for all of `set`'s images, in its order. Properties of other experiments are left out; one
/// whose part of the set is absent (5b without textures) is undefined with the reason.
pub fn score_experiment(
    set: &ExperimentStimuli,
    acts: &Acts<'_>,
    properties: &[Property],
    o: &Options,
) -> Vec<(Property, Score)> {
    let wanted: Vec<Property> = properties
        .iter()
        .copied()
        .filter(|p| p.experiment() == set.experiment)
        .collect();
    let rows = |r: Range<usize>| Acts {
        data: &acts.data[r.start * acts.p..r.end * acts.p],
        n: r.len(),
        p: acts.p,
    };
    let table = |name: &str| {
        set.table(name)
            .ok_or_else(|| format!("the stimulus set has no table '{name}'"))
    };
    let column = |name: &str| table(name).map(|t| t.data.clone());
    let mut out = Vec::new();
    let mut push = |p: Property, s: Score| {
        if wanted.contains(&p) {
            out.push((p, s));
        }
    };
    let missing = |e: String| Score::undefined(e);
    match set.experiment {
        Experiment::Thatcher => push(Property::Thatcher, indices::thatcher(acts)),
        Experiment::MirrorConfusion => {
            push(Property::MirrorConfusion, indices::mirror_confusion(acts))
        }
        Experiment::SceneIncongruence => {
            let s = match (column("labels"), column("congruent")) {
                (Ok(l), Ok(c)) => {
                    let labels: Vec<usize> = l.iter().map(|&v| v as usize).collect();
                    let congruent: Vec<bool> = c.iter().map(|&v| v != 0.0).collect();
                    indices::scene_incongruence(acts, &labels, &congruent)
                }
                (Err(e), _) | (_, Err(e)) => missing(e),
            };
            push(Property::SceneIncongruence, s)
        }
        Experiment::Normalisation => {
            let (pairs, triplets) = match table("stim_pos") {
                Ok(t) => indices::normalisation(acts, t, o),
                Err(e) => (missing(e.clone()), missing(e)),
            };
            push(Property::NormalisationPairs, pairs);
            push(Property::NormalisationTriplets, triplets);
        }
        Experiment::Sparseness => {
            let s = match set.part("morphlines") {
                Some(r) => indices::sparseness_morphlines(&rows(r), o),
                None => missing("the stimulus set has no morph-lines".into()),
            };
            push(Property::SparsenessMorphlines, s);
            let s = match (set.part("shapes"), set.part("textures")) {
                (Some(s), Some(t)) if s.end == t.start => {
                    indices::sparseness_textures(&rows(s.start..t.end), s.len(), o)
                }
                _ => missing("no texture set given (--textures, 50 images)".into()),
            };
            push(Property::SparsenessTextures, s);
        }
        Experiment::Weber => {
            let s = match (column("rel"), column("abs")) {
                (Ok(rel), Ok(abs)) => indices::weber(acts, &rel, &abs),
                (Err(e), _) | (_, Err(e)) => missing(e),
            };
            push(Property::Weber, s)
        }
        Experiment::RelativeSize => push(Property::RelativeSize, indices::relative_size(acts)),
        Experiment::SurfaceInvariance => push(
            Property::SurfaceInvariance,
            indices::surface_invariance(acts),
        ),
        Experiment::ThreeD => {
            let (c1, c2) = indices::three_d(acts, o);
            push(Property::ThreeD1, c1);
            push(Property::ThreeD2, c2);
        }
        Experiment::Occlusion => {
            let (basic, depth) = indices::occlusion(acts);
            push(Property::OcclusionBasic, basic);
            push(Property::OcclusionDepth, depth);
        }
        Experiment::PartMatching => push(Property::PartMatching, indices::part_matching(acts, o)),
        Experiment::NaturalParts => {
            let s = match (
                table("Xn"),
                table("Xu"),
                table("img_pairs"),
                column("common_stim_pair_inds"),
            ) {
                (Ok(xn), Ok(xu), Ok(pairs), Ok(common)) => {
                    let common: Vec<usize> = common.iter().map(|&v| v as usize).collect();
                    indices::natural_parts(acts, xn, xu, pairs, &common)
                }
                (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => missing(e),
            };
            push(Property::NaturalParts, s)
        }
        Experiment::GlobalAdvantage => {
            let s = match table("pairs") {
                Ok(t) => indices::global_advantage(acts, t),
                Err(e) => missing(e),
            };
            push(Property::GlobalAdvantage, s)
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measures::properties::Table;

    fn set(experiment: Experiment, n: usize) -> ExperimentStimuli {
        ExperimentStimuli {
            experiment,
            names: (0..n).map(|i| i.to_string()).collect(),
            images: Vec::new(),
            parts: Vec::new(),
            tables: BTreeMap::new(),
            sources: Vec::new(),
        }
    }

    #[test]
    fn global_advantage_through_the_dispatcher() {
        // SCIENCE.md §6.15: (G1L1, G1L2, G2L1, G2L2) at [[0,0],[1,0],[0,3],[1,3]] → GA = 0.5.
        let mut s = set(Experiment::GlobalAdvantage, 4);
        let ids = [(1, 1), (1, 2), (2, 1), (2, 2)];
        let mut data = Vec::new();
        for i in 0..4 {
            for j in i + 1..4 {
                let (a, b): ((i32, i32), (i32, i32)) = (ids[i], ids[j]);
                data.extend([a.0, a.1, b.0, b.1].map(f64::from));
            }
        }
        s.tables.insert(
            "pairs".into(),
            Table {
                rows: 6,
                cols: 4,
                data,
            },
        );
        let x = [0.0f32, 0.0, 1.0, 0.0, 0.0, 3.0, 1.0, 3.0];
        let a = Acts {
            data: &x,
            n: 4,
            p: 2,
        };
        let all = Property::ALL;
        let out = score_experiment(&s, &a, &all, &Options::default());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, Property::GlobalAdvantage);
        assert!((out[0].1.index - 0.5).abs() < 1e-12, "{:?}", out[0].1);
        // Not asked for: nothing.
        assert!(score_experiment(&s, &a, &[Property::Weber], &Options::default()).is_empty());
    }

    #[test]
    fn a_missing_part_or_table_is_undefined_with_the_reason() {
        let mut s = set(Experiment::Sparseness, 44);
        s.parts.push(("morphlines".into(), 0..44));
        let x: Vec<f32> = (0..44 * 3).map(|i| ((i * 7919) % 13) as f32).collect();
        let a = Acts {
            data: &x,
            n: 44,
            p: 3,
        };
        let out = score_experiment(&s, &a, &Property::ALL, &Options::default());
        assert_eq!(out.len(), 2);
        let textures = &out[1];
        assert_eq!(textures.0, Property::SparsenessTextures);
        assert!(textures.1.index.is_nan());
        assert!(textures.1.note.as_deref().unwrap().contains("texture"));
        let g = set(Experiment::GlobalAdvantage, 4);
        let out = score_experiment(&g, &a, &Property::ALL, &Options::default());
        assert!(out[0]
            .1
            .note
            .as_deref()
            .unwrap()
            .contains("no table 'pairs'"));
    }

    #[test]
    fn report_summary_and_similarity() {
        let row = |model: &str, property, index, feature_layer| PropertyRow {
            model: model.into(),
            layer: "l".into(),
            layer_index: 0,
            property,
            score: Score::single(index, 3),
            feature_layer,
        };
        let r = PropertiesReport {
            rows: vec![
                row("a", Property::NormalisationPairs, 0.5, true),
                row("a", Property::Weber, 0.1 + 3.0, true),
                row("a", Property::Weber, 9.0, false),
                row("a", Property::GlobalAdvantage, f64::NAN, true),
            ],
            settings: BTreeMap::new(),
            notes: vec![(Property::Thatcher, "no faces".into())],
        };
        let (s, k) = r.brain_similarity("a");
        assert_eq!(k, 2);
        assert!((s - 0.25).abs() < 1e-12, "{s}");
        let text = r.summary();
        assert!(
            text.contains("brain similarity 0.250 over 2 properties"),
            "{text}"
        );
        assert!(text.contains("not scored: thatcher: no faces"), "{text}");
        let t = r.table();
        assert_eq!(t.rows.len(), 4);
        assert_eq!(t.columns[7], "brain");
    }
}
