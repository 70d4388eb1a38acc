//! The battery over layers: for each model and capture point, every asked-for index, then the
//! value at the model's feature layer, into one table.

use std::collections::BTreeMap;

use super::{Property, Score};

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
}
