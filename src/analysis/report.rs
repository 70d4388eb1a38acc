//! The output folder of `ventral run`: results.csv, results.json, rdms.safetensors,
//! manifest.json, analysis.toml and figures. Every file is written to a temporary name and renamed
//! into place, so an interrupted run leaves no half-written file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::AnalysisResult;
use crate::arrays::TensorWriter;
use crate::error::{Error, Result};
use crate::output::write_file;
use crate::rsa::summary::Summary;

/// A label made safe for a file name.
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_file(path, text.as_bytes())
}

/// `model/layer` split at the first slash (labels may not contain one; layer names may).
fn split_layer(name: &str) -> (&str, &str) {
    name.split_once('/').unwrap_or((name, ""))
}

/// Every summary's rows ([`Summary::table`], the columns `ventral compare` writes too).
pub fn results_table(r: &AnalysisResult) -> Result<crate::measures::report::Table> {
    let settings = crate::rsa::summary::TableSettings {
        permutations: r.config.compare.permutations,
        bootstrap: r.config.compare.bootstrap,
        seed: r.config.compare.seed,
    };
    let mut all = crate::measures::report::Table::new(Summary::columns());
    for (region, s) in &r.summaries {
        all.extend(s.table(region, settings))?;
    }
    Ok(all)
}

/// The best layer of each model for one summary: highest mean score.
pub fn best_layers(s: &Summary) -> Vec<(String, usize)> {
    let mut best: Vec<(String, usize)> = Vec::new();
    for (i, row) in s.models.iter().enumerate() {
        let (model, _) = split_layer(&row.model);
        match best.iter_mut().find(|(m, _)| m == model) {
            Some((_, b)) => {
                if row.mean > s.models[*b].mean || s.models[*b].mean.is_nan() {
                    *b = i;
                }
            }
            None => best.push((model.to_string(), i)),
        }
    }
    best
}

#[derive(Serialize)]
struct JsonResults<'a> {
    ventral_version: &'static str,
    stimuli: usize,
    regions: Vec<JsonRegion<'a>>,
    comparisons: Vec<JsonComparison<'a>>,
}

#[derive(Serialize)]
struct JsonRegion<'a> {
    name: &'a str,
    subjects: Vec<&'a str>,
}

#[derive(Serialize)]
struct JsonComparison<'a> {
    region: &'a str,
    /// Best layer per model (highest mean; chosen on the same data, so optimistic).
    best_layers: BTreeMap<String, String>,
    #[serde(flatten)]
    summary: &'a Summary,
}

pub fn results_json(r: &AnalysisResult) -> Result<String> {
    let doc = JsonResults {
        ventral_version: env!("CARGO_PKG_VERSION"),
        stimuli: r.stimulus_names.len(),
        regions: r
            .regions
            .iter()
            .map(|g| JsonRegion {
                name: &g.name,
                subjects: g.subjects.iter().map(|s| s.name.as_str()).collect(),
            })
            .collect(),
        comparisons: r
            .summaries
            .iter()
            .map(|(region, s)| JsonComparison {
                region,
                best_layers: best_layers(s)
                    .into_iter()
                    .map(|(m, i)| (m, s.models[i].model.clone()))
                    .collect(),
                summary: s,
            })
            .collect(),
    };
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

#[derive(Serialize)]
struct Manifest<'a> {
    ventral_version: &'static str,
    executor: &'a crate::exec::EngineReport,
    stimuli: ManifestStimuli<'a>,
    preprocess: &'a Option<crate::stimuli::Preprocess>,
    models: Vec<ManifestModel<'a>>,
    brain: Vec<ManifestRegion<'a>>,
    seeds: BTreeMap<String, u64>,
    rdm_metric: &'a str,
    rdm_storage: &'static str,
    seconds: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<ManifestProperties<'a>>,
    files: Vec<String>,
    analysis: &'a super::AnalysisConfig,
}

/// The battery's choices (SCIENCE.md §9.6), stimulus files and unscored properties.
#[derive(Serialize)]
struct ManifestProperties<'a> {
    settings: &'a BTreeMap<String, String>,
    not_scored: BTreeMap<String, &'a str>,
    feature_layers: BTreeMap<String, Vec<(String, &'a str)>>,
}

#[derive(Serialize)]
struct ManifestStimuli<'a> {
    source: &'a str,
    count: usize,
    names: &'a [String],
    sha256: &'a [String],
    label_columns: &'a [String],
    labels: &'a [Vec<String>],
}

#[derive(Serialize)]
struct ManifestModel<'a> {
    label: &'a str,
    architecture: &'a str,
    /// `sha256:<hex>` of the weights file, or `seed:<n>` for random weights.
    weights: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pretrained: &'a Option<super::PretrainedSource>,
    preprocess: &'a Option<crate::stimuli::Preprocess>,
    input_size: usize,
    capture_points: &'a [String],
    extraction_passes: usize,
    rdm_device: &'a str,
    degenerate_stimuli: &'a BTreeMap<String, Vec<usize>>,
    seconds_extract: f64,
    seconds_rdm: f64,
}

#[derive(Serialize)]
struct ManifestRegion<'a> {
    region: &'a str,
    subjects: Vec<&'a str>,
    sources: &'a [String],
}

/// Writes every output file into `folder`; returns their paths.
pub fn write_outputs(r: &AnalysisResult, folder: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(folder)
        .map_err(|e| Error::file(folder, format!("cannot create the output folder: {e}")))?;
    let mut files = Vec::new();
    let n = r.stimulus_names.len();
    if r.config.uses_stimuli() {
        files.extend(write_stimulus_measures(r, folder)?);
    }
    if let Some(p) = &r.properties {
        let table = p.table();
        for name in ["properties.csv", "properties.json"] {
            let path = folder.join(name);
            table.write(&path)?;
            files.push(path);
        }
        if r.config.output.figures {
            files.extend(crate::measures::properties::figures::write_figures(
                p, folder,
            )?);
        }
    }

    let toml_path = folder.join("analysis.toml");
    write_text(
        &toml_path,
        &format!(
            "# The analysis as run by ventral {} (defaults filled in).\n{}",
            env!("CARGO_PKG_VERSION"),
            r.config.to_toml()
        ),
    )?;
    files.push(toml_path);

    for m in &r.models {
        if r.config.output.activations {
            files.push(folder.join(format!("activations_{}.safetensors", file_safe(&m.label))));
        }
    }

    let mut seeds = BTreeMap::from([("compare".to_string(), r.config.compare.seed)]);
    if r.config.stimuli.procedural.is_some() {
        seeds.insert("stimuli".into(), r.config.stimuli.seed.unwrap_or(0));
    }
    for m in &r.config.models {
        if let (Some(s), None) = (m.seed, &m.weights) {
            seeds.insert(format!("model {}", m.label()), s);
        }
    }
    for b in &r.config.brain {
        if let Some(sim) = &b.simulated {
            seeds.insert(
                format!("simulated {}", b.region.as_deref().unwrap_or("brain")),
                sim.seed,
            );
        }
    }
    let mut seconds = BTreeMap::from([("total".to_string(), r.seconds_total)]);
    for (region, s) in &r.summaries {
        let key = format!("{region} {}", s.method);
        seconds.insert(format!("{key} mantel"), s.seconds.mantel);
        seconds.insert(format!("{key} bootstrap"), s.seconds.bootstrap);
        seconds.insert(format!("{key} noise_ceiling"), s.seconds.noise_ceiling);
    }
    let manifest_path = folder.join("manifest.json");
    let listed: Vec<String> = files
        .iter()
        .chain(std::iter::once(&manifest_path))
        .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .collect();
    let manifest = Manifest {
        ventral_version: env!("CARGO_PKG_VERSION"),
        executor: &r.executor,
        stimuli: ManifestStimuli {
            source: &r.stimulus_source,
            count: n,
            names: &r.stimulus_names,
            sha256: &r.stimulus_hashes,
            label_columns: &r.label_columns,
            labels: &r.labels,
        },
        preprocess: &r.preprocess,
        models: r
            .models
            .iter()
            .map(|m| ManifestModel {
                label: &m.label,
                architecture: &m.architecture,
                weights: &m.weights,
                pretrained: &m.pretrained,
                preprocess: &m.preprocess,
                input_size: m.input_size,
                capture_points: &m.points,
                extraction_passes: m.passes,
                rdm_device: &m.rdm_device,
                degenerate_stimuli: &m.degenerate,
                seconds_extract: m.seconds_extract,
                seconds_rdm: m.seconds_rdm,
            })
            .collect(),
        brain: r
            .regions
            .iter()
            .map(|g| ManifestRegion {
                region: &g.name,
                subjects: g.subjects.iter().map(|s| s.name.as_str()).collect(),
                sources: &g.sources,
            })
            .collect(),
        seeds,
        rdm_metric: &r.config.rdm.metric,
        rdm_storage: "rdms.safetensors holds f32 copies; statistics used the f64 values",
        seconds,
        properties: r.properties.as_ref().map(|p| ManifestProperties {
            settings: &p.settings,
            not_scored: p
                .notes
                .iter()
                .map(|(q, why)| (q.to_string(), why.as_str()))
                .collect(),
            feature_layers: p
                .models()
                .into_iter()
                .map(|m| {
                    let rows = p
                        .rows
                        .iter()
                        .filter(|r| r.model == m && r.feature_layer)
                        .map(|r| (r.property.to_string(), r.layer.as_str()))
                        .collect();
                    (m.to_string(), rows)
                })
                .collect(),
        }),
        files: listed,
        analysis: &r.config,
    };
    write_text(
        &manifest_path,
        &(serde_json::to_string_pretty(&manifest)? + "\n"),
    )?;
    files.push(manifest_path);
    Ok(files)
}

/// results.csv / .json, rdms.safetensors, the encoding and dimensionality tables and the
/// figures of the measures on the `[stimuli]` set.
fn write_stimulus_measures(r: &AnalysisResult, folder: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let csv = folder.join("results.csv");
    results_table(r)?.write(&csv)?;
    files.push(csv);
    let json = folder.join("results.json");
    write_text(&json, &results_json(r)?)?;
    files.push(json);

    // RDMs: every capture point, then each region's subjects, condensed (upper triangle, i < j).
    let n = r.stimulus_names.len();
    let mut names = Vec::new();
    let mut data: Vec<Vec<f32>> = Vec::new();
    for m in &r.models {
        for (p, d) in m.points.iter().zip(&m.rdms) {
            names.push(format!("{}/{p}", m.label));
            data.push(d.iter().map(|&v| v as f32).collect());
        }
    }
    for g in &r.regions {
        for s in &g.subjects {
            names.push(format!("brain/{}/{}", g.name, s.name));
            data.push(s.condensed.iter().map(|&v| v as f32).collect());
        }
    }
    let meta = BTreeMap::from([
        ("metric".to_string(), r.config.rdm.metric.clone()),
        ("stimuli".into(), serde_json::to_string(&r.stimulus_names)?),
        (
            "layout".into(),
            "condensed upper triangle, row-major, i < j".into(),
        ),
        ("ventral_version".into(), env!("CARGO_PKG_VERSION").into()),
    ]);
    let rdms = folder.join("rdms.safetensors");
    let mut w = TensorWriter::create(
        &rdms,
        &names,
        &vec![vec![n * (n - 1) / 2]; names.len()],
        meta,
    )?;
    w.write_rows(0, &data)?;
    w.finish()?;
    files.push(rdms);

    if let Some(enc) = &r.encoding {
        let table = enc.table();
        for name in ["encoding.csv", "encoding.json"] {
            let path = folder.join(name);
            table.write(&path)?;
            files.push(path);
        }
        let voxels = folder.join("encoding_voxels.safetensors");
        enc.write_voxels(&voxels)?;
        files.push(voxels);
    }
    if !r.dimensionality.is_empty() {
        use crate::measures::report::{Cell, Table};
        let mut t = Table::new(vec![
            "model".into(),
            "layer".into(),
            "effective_dimensionality".into(),
        ]);
        for (m, l, ed) in &r.dimensionality {
            t.push(vec![Cell::text(m), Cell::text(l), Cell::num(*ed)]);
        }
        let path = folder.join("dimensionality.csv");
        t.write(&path)?;
        files.push(path);
    }

    if r.config.output.figures {
        files.extend(super::figures::write_figures(r, folder)?);
    }
    Ok(files)
}

/// The stdout table: per region and method, each model's best layer with its score, p, CI,
/// and the noise ceiling.
pub fn summary_table(r: &AnalysisResult) -> String {
    let mut out = String::new();
    for (region, s) in &r.summaries {
        let _ = writeln!(
            out,
            "{region} ({} subjects), {}, N = {}:",
            s.subjects.len(),
            s.method,
            s.stimuli
        );
        let best = best_layers(s);
        let w = best
            .iter()
            .map(|(m, i)| m.len() + s.models[*i].model.len())
            .max()
            .unwrap_or(10)
            .max(10);
        let _ = writeln!(
            out,
            "  {:w$}  {:>8}  {:>8}  {:>8}  {:>19}",
            "best layer", "mean", "sem", "p", "95% CI"
        );
        for (_, i) in &best {
            let row = &s.models[*i];
            let _ = writeln!(
                out,
                "  {:w$}  {:>8.4}  {:>8.4}  {:>8}  {:>19}",
                row.model,
                row.mean,
                row.sem,
                row.p_value.map_or(String::new(), |p| format!("{p:.4}")),
                row.ci
                    .map_or(String::new(), |c| format!("[{:.4}, {:.4}]", c.low, c.high))
            );
        }
        if let Some(c) = s.noise_ceiling {
            let _ = writeln!(
                out,
                "  noise ceiling: lower {:.4}, upper {:.4}",
                c.lower, c.upper
            );
        }
    }
    if let Some(enc) = &r.encoding {
        out += &encoding_summary(enc);
    }
    if let Some(p) = &r.properties {
        out += &p.summary();
    }
    out
}

/// Per target and model: the layer chosen on train by mean LOO voxel r, with its held-out
/// voxel r, veRSA and cRSA (each of those with its own train-chosen layer).
fn encoding_summary(enc: &crate::measures::encoding::measure::EncodingReport) -> String {
    let mut out = String::new();
    let selected = enc.selected();
    let mut models: Vec<&str> = enc.layers.iter().map(|l| l.model.as_str()).collect();
    models.dedup();
    for (t, (subject, region)) in enc.targets.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n{region} / {subject} — encoding ({}), held-out scores of the layer chosen on train",
            enc.settings.split.describe()
        );
        let _ = writeln!(
            out,
            "  {:24}  {:>24}  {:>24}  {:>24}",
            "model", "voxel r (layer)", "veRSA (layer)", "cRSA (layer)"
        );
        for m in &models {
            let cell = |score: &'static str| {
                selected
                    .get(&(m.to_string(), t, score))
                    .map_or(String::from("–"), |&li| {
                        let l = &enc.layers[li];
                        let e = &l.evaluations[t];
                        let v = match score {
                            "encoding_r" => e.test.mean_r,
                            "versa" => e.versa_test,
                            _ => e.crsa_test,
                        };
                        format!("{v:.3} ({})", l.layer)
                    })
            };
            let _ = writeln!(
                out,
                "  {m:24}  {:>24}  {:>24}  {:>24}",
                cell("encoding_r"),
                cell("versa"),
                cell("crsa")
            );
        }
    }
    out
}
