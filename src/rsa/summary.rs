//! Model RDMs against subject RDMs with every statistic at once: per-subject scores, Mantel
//! p-values (per subject and for the subject mean), the noise ceiling, bootstrap intervals and
//! pairwise model differences. Shared by `ventral compare` and `ventral run`.

use std::time::Instant;

use serde::Serialize;

use super::bootstrap::{
    bootstrap, check_resample, difference, interval, BootstrapOptions, Difference, Interval,
    Resample,
};
use super::ceiling::{noise_ceiling, NoiseCeiling};
use super::load::{non_finite, NamedRdm};
use super::mantel::{mantel, Alternative, MantelOptions};
use super::mantel_gpu::mantel_gpu;
use super::{compare, Method};
use crate::error::{Error, Result};
use crate::gpu::Context;

/// What to compute.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryOptions {
    pub method: Method,
    /// Mantel permutations (0: none).
    pub permutations: usize,
    /// Seed of the permutations and the bootstrap.
    pub seed: u64,
    pub alternative: Alternative,
    pub noise_ceiling: bool,
    /// Bootstrap samples (0: none).
    pub bootstrap: usize,
    pub bootstrap_over: Resample,
    /// Also compare every pair of models on the bootstrap samples.
    pub differences: bool,
    /// Worker threads (0: all cores).
    pub threads: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubjectScore {
    pub subject: String,
    pub score: f64,
    pub p_value: Option<f64>,
}

/// One model RDM's scores.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    pub model: String,
    pub per_subject: Vec<SubjectScore>,
    /// Mean over subjects.
    pub mean: f64,
    /// Standard error of that mean (NaN for one subject).
    pub sem: f64,
    /// Mantel p-value of the mean (same permutation for every subject).
    pub p_value: Option<f64>,
    /// Bootstrap percentile interval of the mean.
    pub ci: Option<Interval>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DifferenceRow {
    pub model: String,
    pub other: String,
    pub mean_difference: f64,
    pub bootstrap: Difference,
}

/// Wall time of each stage, seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Seconds {
    pub compare: f64,
    pub mantel: f64,
    pub noise_ceiling: f64,
    pub bootstrap: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub method: Method,
    pub stimuli: usize,
    pub subjects: Vec<String>,
    pub noise_ceiling: Option<NoiseCeiling>,
    pub models: Vec<ModelRow>,
    pub differences: Vec<DifferenceRow>,
    /// Where the permutations ran ("none", "cpu" or "gpu: <adapter>").
    pub mantel_device: String,
    pub seconds: Seconds,
}

/// The settings recorded on every row of a summary's table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableSettings {
    pub permutations: usize,
    pub bootstrap: usize,
    pub seed: u64,
}

impl Summary {
    /// The columns of [`Summary::table`].
    pub fn columns() -> Vec<String> {
        [
            "kind",
            "region",
            "method",
            "model",
            "layer",
            "layer_index",
            "subject",
            "score",
            "sem",
            "p_value",
            "ci_low",
            "ci_high",
            "noise_ceiling_lower",
            "noise_ceiling_upper",
            "other",
            "permutations",
            "bootstrap",
            "seed",
        ]
        .iter()
        .map(|c| c.to_string())
        .collect()
    }

    /// The rows of this summary, as `ventral compare` and `ventral run` both write them: per
    /// RDM one row per subject (`kind = subject`) and one for the subject mean (`kind = layer`,
    /// with SEM, Mantel p, bootstrap interval and the noise ceiling), then one per model pair
    /// (`kind = difference`: mean difference, bootstrap SE, p and interval). RDM names
    /// `model/layer` fill both columns, with the layer's index within its model.
    pub fn table(&self, region: &str, settings: TableSettings) -> crate::measures::report::Table {
        use crate::measures::report::{Cell, Table};
        let mut t = Table::new(Summary::columns());
        let opt = |v: Option<f64>| Cell::num(v.unwrap_or(f64::NAN));
        let nc = self.noise_ceiling;
        let method = self.method.to_string();
        let tail = [
            Cell::Int(settings.permutations),
            Cell::Int(settings.bootstrap),
            Cell::text(&settings.seed.to_string()),
        ];
        let mut index = std::collections::BTreeMap::<&str, usize>::new();
        for row in &self.models {
            let (model, layer) = row.model.split_once('/').unwrap_or((&row.model, ""));
            let i = *index.entry(model).and_modify(|i| *i += 1).or_insert(0);
            let head = |kind: &str| {
                vec![
                    Cell::text(kind),
                    Cell::text(region),
                    Cell::text(&method),
                    Cell::text(model),
                    Cell::text(layer),
                    Cell::Int(i),
                ]
            };
            for ps in &row.per_subject {
                let mut r = head("subject");
                r.extend([
                    Cell::text(&ps.subject),
                    Cell::num(ps.score),
                    Cell::num(f64::NAN),
                    opt(ps.p_value),
                    Cell::num(f64::NAN),
                    Cell::num(f64::NAN),
                    Cell::num(f64::NAN),
                    Cell::num(f64::NAN),
                    Cell::text(""),
                ]);
                r.extend(tail.clone());
                t.push(r);
            }
            let mut r = head("layer");
            r.extend([
                Cell::text(""),
                Cell::num(row.mean),
                Cell::num(row.sem),
                opt(row.p_value),
                opt(row.ci.map(|c| c.low)),
                opt(row.ci.map(|c| c.high)),
                opt(nc.map(|c| c.lower)),
                opt(nc.map(|c| c.upper)),
                Cell::text(""),
            ]);
            r.extend(tail.clone());
            t.push(r);
        }
        for d in &self.differences {
            let (model, layer) = d.model.split_once('/').unwrap_or((&d.model, ""));
            let mut r = vec![
                Cell::text("difference"),
                Cell::text(region),
                Cell::text(&method),
                Cell::text(model),
                Cell::text(layer),
                Cell::num(f64::NAN),
                Cell::text(""),
                Cell::num(d.mean_difference),
                Cell::num(d.bootstrap.interval.se),
                Cell::num(d.bootstrap.p_value),
                Cell::num(d.bootstrap.interval.low),
                Cell::num(d.bootstrap.interval.high),
                Cell::num(f64::NAN),
                Cell::num(f64::NAN),
                Cell::text(&d.other),
            ];
            r.extend(tail.clone());
            t.push(r);
        }
        t
    }
}

/// The warning for a model RDM whose scores are NaN (or carry no information): a constant
/// model RDM has no order and no spread, so every method but cosine gives NaN or 0 against it;
/// `None` when it varies and every score is a number.
fn undefined_scores(
    model: &NamedRdm,
    subjects: &[NamedRdm],
    scores: &[f64],
    method: Method,
) -> Option<String> {
    let mut finite = model.condensed.iter().filter(|v| !v.is_nan());
    let constant = match finite.next() {
        Some(v) => finite.all(|w| w == v).then_some(*v),
        None => Some(f64::NAN),
    };
    let nan: Vec<&str> = subjects
        .iter()
        .zip(scores)
        .filter(|(_, s)| s.is_nan())
        .map(|(s, _)| s.name.as_str())
        .collect();
    match constant {
        Some(v) if method != Method::Cosine || v == 0.0 || v.is_nan() => Some(format!(
            "model RDM '{}' is constant (every entry {v}): its {method} scores are {} (a constant RDM has no order or spread to compare)",
            model.name,
            if nan.is_empty() { "meaningless" } else { "NaN" }
        )),
        _ if !nan.is_empty() => Some(format!(
            "model RDM '{}': its {method} score is NaN against subject RDM(s) {}",
            model.name,
            nan.join(", ")
        )),
        _ => None,
    }
}

/// Mean and standard error of the mean (NaN for fewer than two values).
pub fn mean_sem(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sem = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() / n.sqrt()
    } else {
        f64::NAN
    };
    (mean, sem)
}

/// Every statistic of `models` against `subjects` (all RDMs over the same N stimuli). With `ctx`
/// (the GPU device), Mantel tests of the dot-product methods run there; Kendall's τ and every
/// test without `ctx` run on CPU threads. `progress(done, total)` is called
/// after each model's permutations.
/// The most Mantel permutations one comparison takes (10⁷: hours per model at most, and p down
/// to 1e-7).
pub const MAX_PERMUTATIONS: usize = 10_000_000;
/// The most bootstrap samples one comparison takes (10⁶: every sample's scores are kept).
pub const MAX_BOOTSTRAP: usize = 1_000_000;

/// A usage error when `permutations` or `bootstrap` pass their limits (checked before any work).
pub fn check_counts(permutations: usize, bootstrap: usize) -> Result<()> {
    if permutations > MAX_PERMUTATIONS {
        return Err(Error::Invalid(format!(
            "permutations = {permutations} is past the limit of {MAX_PERMUTATIONS}"
        )));
    }
    if bootstrap > MAX_BOOTSTRAP {
        return Err(Error::Invalid(format!(
            "bootstrap = {bootstrap} samples is past the limit of {MAX_BOOTSTRAP}"
        )));
    }
    Ok(())
}

pub fn summarize(
    models: &[NamedRdm],
    subjects: &[NamedRdm],
    opts: &SummaryOptions,
    ctx: Option<&Context>,
    progress: &dyn Fn(usize, usize),
) -> Result<Summary> {
    check_counts(opts.permutations, opts.bootstrap)?;
    let (Some(first), Some(_)) = (subjects.first(), models.first()) else {
        return Err(Error::Invalid(
            "a comparison needs at least one model RDM and one subject RDM".into(),
        ));
    };
    let n = first.n;
    // The RDMs' values are data: what is wrong with them is a data error (exit 1) naming the RDM.
    if let Some(r) = models.iter().chain(subjects).find(|r| r.n != n) {
        return Err(Error::shape(
            "RSA",
            format!(
                "RDM '{}' is for N = {} stimuli, subject RDM '{}' for N = {n}",
                r.name, r.n, first.name
            ),
        ));
    }
    if opts.bootstrap > 0 {
        check_resample(opts.bootstrap_over, subjects.len())?;
    }
    // Refused before the permutations run, not after them.
    if opts.noise_ceiling && subjects.len() < 2 {
        return Err(Error::Invalid(format!(
            "a noise ceiling needs at least 2 subject RDMs, got {} ('{}')",
            subjects.len(),
            first.name
        )));
    }
    if opts.permutations > 0 || opts.bootstrap > 0 {
        if n < 3 {
            return Err(Error::shape(
                "RSA",
                format!(
                    "permutations and the bootstrap need RDMs of at least 3 stimuli, got N = {n}"
                ),
            ));
        }
        let roles = models
            .iter()
            .map(|r| ("model", r))
            .chain(subjects.iter().map(|r| ("subject", r)));
        if let Some(m) = roles.into_iter().find_map(|(role, r)| non_finite(r, role)) {
            return Err(Error::shape(
                "RSA",
                format!("{m}; Mantel permutations and the bootstrap need complete RDMs"),
            ));
        }
    }
    let mv: Vec<Vec<f64>> = models.iter().map(|r| r.condensed.clone()).collect();
    let sv: Vec<Vec<f64>> = subjects.iter().map(|r| r.condensed.clone()).collect();
    let mut secs = Seconds::default();

    let t = Instant::now();
    let scores: Vec<Vec<f64>> = mv
        .iter()
        .map(|m| sv.iter().map(|s| compare(m, s, opts.method)).collect())
        .collect();
    secs.compare = t.elapsed().as_secs_f64();
    for (model, row) in models.iter().zip(&scores) {
        if let Some(w) = undefined_scores(model, subjects, row, opts.method) {
            log::warn!("{w}");
        }
    }

    let t = Instant::now();
    let mut mantel_device = String::from("none");
    // Model by model, so progress can be shown; each permutation is drawn from (seed, index)
    // alone, so the results equal one batched test.
    let mut tables = Vec::new();
    if opts.permutations > 0 {
        let mopts = MantelOptions {
            method: opts.method,
            permutations: opts.permutations,
            seed: opts.seed,
            alternative: opts.alternative,
            threads: opts.threads,
        };
        let gpu = !matches!(opts.method, Method::KendallTauA | Method::KendallTauB);
        mantel_device = match ctx {
            Some(c) if gpu => format!("gpu: {}", c.adapter().summary()),
            _ => "cpu".into(),
        };
        for (i, m) in mv.iter().enumerate() {
            let one = std::slice::from_ref(m);
            tables.push(match ctx {
                Some(c) if gpu => mantel_gpu(c, one, &sv, n, &mopts)?,
                _ => mantel(one, &sv, n, &mopts)?,
            });
            progress(i + 1, mv.len());
        }
    }
    secs.mantel = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let ceiling = if opts.noise_ceiling {
        Some(noise_ceiling(&sv, opts.method)?)
    } else {
        None
    };
    secs.noise_ceiling = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let boot = if opts.bootstrap > 0 {
        let bopts = BootstrapOptions {
            method: opts.method,
            resample: opts.bootstrap_over,
            samples: opts.bootstrap,
            seed: opts.seed,
            threads: opts.threads,
        };
        Some(bootstrap(&mv, &sv, n, &bopts)?)
    } else {
        None
    };
    secs.bootstrap = t.elapsed().as_secs_f64();

    let column = |b: &Vec<Vec<f64>>, i: usize| -> Vec<f64> { b.iter().map(|s| s[i]).collect() };
    let rows: Vec<ModelRow> = models
        .iter()
        .enumerate()
        .map(|(mi, m)| {
            let (mean, sem) = mean_sem(&scores[mi]);
            ModelRow {
                model: m.name.clone(),
                per_subject: subjects
                    .iter()
                    .enumerate()
                    .map(|(si, s)| SubjectScore {
                        subject: s.name.clone(),
                        score: scores[mi][si],
                        p_value: tables.get(mi).map(|t| t.per_subject[0][si].p_value),
                    })
                    .collect(),
                mean,
                sem,
                p_value: tables.get(mi).map(|t| t.group[0].p_value),
                ci: boot.as_ref().map(|b| interval(&column(b, mi))),
            }
        })
        .collect();
    let mut differences = Vec::new();
    if let (Some(b), true) = (&boot, opts.differences) {
        for a in 0..rows.len() {
            for c in a + 1..rows.len() {
                differences.push(DifferenceRow {
                    model: rows[a].model.clone(),
                    other: rows[c].model.clone(),
                    mean_difference: rows[a].mean - rows[c].mean,
                    bootstrap: difference(&column(b, a), &column(b, c)),
                });
            }
        }
    }
    Ok(Summary {
        method: opts.method,
        stimuli: n,
        subjects: subjects.iter().map(|s| s.name.clone()).collect(),
        noise_ceiling: ceiling,
        models: rows,
        differences,
        mantel_device,
        seconds: secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rsa::mantel::mantel;

    fn rdm(name: &str, v: Vec<f64>) -> NamedRdm {
        NamedRdm {
            name: name.into(),
            n: 6,
            condensed: v,
        }
    }

    fn options(method: Method) -> SummaryOptions {
        SummaryOptions {
            method,
            permutations: 0,
            seed: 0,
            alternative: Alternative::Greater,
            noise_ceiling: false,
            bootstrap: 0,
            bootstrap_over: Resample::Stimuli,
            differences: false,
            threads: 1,
        }
    }

    #[test]
    fn a_constant_model_rdm_is_said_to_give_undefined_scores() {
        let subjects = [rdm("ann", (0..15).map(f64::from).collect())];
        let flat = rdm("flat", vec![0.5; 15]);
        let scores = [compare(
            &flat.condensed,
            &subjects[0].condensed,
            Method::Spearman,
        )];
        assert!(scores[0].is_nan());
        let w = undefined_scores(&flat, &subjects, &scores, Method::Spearman).unwrap();
        assert_eq!(
            w,
            "model RDM 'flat' is constant (every entry 0.5): its spearman scores are NaN (a constant RDM has no order or spread to compare)"
        );
        let w = undefined_scores(&flat, &subjects, &[0.0], Method::KendallTauA).unwrap();
        assert!(w.contains("kendall-tau-a scores are meaningless"), "{w}");
        // Cosine needs no spread; a varying RDM with numbers for scores gives no warning.
        assert!(undefined_scores(&flat, &subjects, &[0.9], Method::Cosine).is_none());
        assert!(undefined_scores(&subjects[0], &subjects, &[1.0], Method::Spearman).is_none());
        // The comparison still runs (NaN scores, a warning).
        let sum = summarize(
            &[flat],
            &subjects,
            &options(Method::Spearman),
            None,
            &|_, _| {},
        )
        .unwrap();
        assert!(sum.models[0].mean.is_nan());
    }

    #[test]
    fn bad_rdm_values_are_data_errors_naming_the_rdm() {
        let good = rdm("ann", (0..15).map(f64::from).collect());
        let mut holed = rdm("alexnet/fc6", (0..15).map(f64::from).collect());
        holed.condensed[3] = f64::NAN;
        let mut opts = options(Method::Spearman);
        opts.permutations = 10;
        let (models, subjects) = (std::slice::from_ref(&holed), std::slice::from_ref(&good));
        let e = summarize(models, subjects, &opts, None, &|_, _| {}).unwrap_err();
        assert!(!e.is_usage(), "{e}");
        assert!(
            e.to_string().contains(
                "model RDM 'alexnet/fc6' holds a non-finite entry (NaN) at condensed index 3 (stimuli 0 and 4)"
            ),
            "{e}"
        );
        // Without permutations or a bootstrap, NaN positions are left out.
        assert!(summarize(
            models,
            subjects,
            &options(Method::Spearman),
            None,
            &|_, _| {}
        )
        .is_ok());
        let other = NamedRdm {
            name: "bob".into(),
            n: 4,
            condensed: vec![1.0; 6],
        };
        let e = summarize(subjects, &[other], &opts, None, &|_, _| {}).unwrap_err();
        assert!(!e.is_usage() && e.to_string().contains("for N = 4"), "{e}");
        // One subject with a bootstrap over subjects is refused (a usage error) before any work.
        opts.permutations = 0;
        opts.bootstrap = 10;
        opts.bootstrap_over = Resample::Subjects;
        let e = summarize(subjects, subjects, &opts, None, &|_, _| {}).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("got 1"), "{e}");
        // A noise ceiling of one subject is refused before any permutation runs.
        let mut opts = options(Method::Spearman);
        opts.permutations = 100_000;
        opts.noise_ceiling = true;
        let done = std::cell::Cell::new(0);
        let e = summarize(subjects, subjects, &opts, None, &|_, _| {
            done.set(done.get() + 1)
        })
        .unwrap_err();
        assert!(
            e.is_usage()
                && e.to_string()
                    .contains("at least 2 subject RDMs, got 1 ('ann')"),
            "{e}"
        );
        assert_eq!(done.get(), 0, "no model was tested");
    }

    #[test]
    fn model_by_model_permutations_equal_one_batched_test() {
        let m: Vec<Vec<f64>> = (0..3)
            .map(|k| (0..15).map(|i| ((i * (k + 3)) % 7) as f64).collect())
            .collect();
        let s: Vec<Vec<f64>> = (0..4)
            .map(|k| {
                (0..15)
                    .map(|i| ((i * 5 + k) % 11) as f64 + 0.1 * k as f64)
                    .collect()
            })
            .collect();
        let opts = SummaryOptions {
            method: Method::Spearman,
            permutations: 200,
            seed: 9,
            alternative: Alternative::Greater,
            noise_ceiling: true,
            bootstrap: 50,
            bootstrap_over: Resample::Subjects,
            differences: true,
            threads: 1,
        };
        let models: Vec<NamedRdm> = m
            .iter()
            .enumerate()
            .map(|(i, v)| rdm(&format!("m{i}"), v.clone()))
            .collect();
        let subjects: Vec<NamedRdm> = s
            .iter()
            .enumerate()
            .map(|(i, v)| rdm(&format!("s{i}"), v.clone()))
            .collect();
        let calls = std::cell::Cell::new(0);
        let sum = summarize(&models, &subjects, &opts, None, &|d, t| {
            assert_eq!(t, 3);
            calls.set(d);
        })
        .unwrap();
        assert_eq!(calls.get(), 3);
        let batched = mantel(
            &m,
            &s,
            6,
            &MantelOptions {
                method: Method::Spearman,
                permutations: 200,
                seed: 9,
                alternative: Alternative::Greater,
                threads: 2,
            },
        )
        .unwrap();
        for (i, row) in sum.models.iter().enumerate() {
            assert_eq!(row.p_value, Some(batched.group[i].p_value));
            for (j, ps) in row.per_subject.iter().enumerate() {
                assert_eq!(ps.p_value, Some(batched.per_subject[i][j].p_value));
                assert_eq!(ps.score, compare(&m[i], &s[j], Method::Spearman));
            }
        }
        assert_eq!(sum.differences.len(), 3);
        assert!(sum.noise_ceiling.is_some());
        let (mean, sem) = mean_sem(&[1.0, 2.0, 3.0, 6.0]);
        assert_eq!(mean, 3.0);
        assert!((sem - (14.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-15);
    }
}
