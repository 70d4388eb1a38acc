//! One layer against one set of brain responses (SCIENCE.md §5.2–5.3): on each fold a ridge
//! model per voxel is fitted on the train stimuli (penalty by exact LOO), and the layer is scored
//! by voxel-wise encoding (Pearson r and R² of held-out predictions, LOO on train), by veRSA (the
//! RDM of predicted responses against the brain RDM) and by classical RSA on the same split.
//!
//! Splits: Conwell's even/odd (train = even indices, test = odd), scikit-learn's unshuffled
//! `KFold(K)`, or a given train/test mark per stimulus. With several folds, held-out predictions
//! are pooled (each stimulus is predicted by the fold that held it out) and test scores are taken
//! on the pool; train scores are means over folds.

use faer::{Mat, MatRef};

use super::ridge::{RidgeCv, RidgeOptions};
use super::{pearson_columns, r2_columns};
use crate::error::{Error, Result};
use crate::rsa::condensed::pair_index;

/// How stimuli are split into train and test.
#[derive(Debug, Clone, PartialEq)]
pub enum Split {
    /// Train = even indices, test = odd (Conwell et al.).
    EvenOdd,
    /// scikit-learn's `KFold(K, shuffle=False)`: K contiguous blocks, the first `n % K` one
    /// stimulus larger; each block is held out once.
    KFold(usize),
    /// `true` = train, `false` = test, one per stimulus.
    Given(Vec<bool>),
}

impl Split {
    /// `even-odd`, `kfold:K`, or a file with one `train`/`test` (or `1`/`0`) per line.
    pub fn parse(s: &str) -> Result<Split> {
        if s == "even-odd" || s == "evenodd" {
            return Ok(Split::EvenOdd);
        }
        if let Some(k) = s.strip_prefix("kfold:") {
            let k: usize = k
                .parse()
                .map_err(|_| Error::Invalid(format!("--split {s}: K must be a whole number")))?;
            if k < 2 {
                return Err(Error::Invalid(format!("--split {s}: K must be at least 2")));
            }
            return Ok(Split::KFold(k));
        }
        let path = std::path::Path::new(s);
        if !path.is_file() {
            return Err(Error::Invalid(format!(
                "--split {s}: use even-odd, kfold:K or a file of train/test marks"
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        let marks = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, l)| match l {
                "train" | "1" => Ok(true),
                "test" | "0" => Ok(false),
                other => Err(Error::file(
                    path,
                    format!("line {}: '{other}' is not train/test (or 1/0)", i + 1),
                )),
            })
            .collect::<Result<Vec<bool>>>()?;
        Ok(Split::Given(marks))
    }

    /// A name for reports (`even-odd`, `kfold:5`, `given`).
    pub fn describe(&self) -> String {
        match self {
            Split::EvenOdd => "even-odd".into(),
            Split::KFold(k) => format!("kfold:{k}"),
            Split::Given(_) => "given".into(),
        }
    }

    /// The folds over `n` stimuli; each has at least 3 train and 3 test stimuli.
    pub fn folds(&self, n: usize) -> Result<Vec<Fold>> {
        let folds = match self {
            Split::EvenOdd => vec![Fold {
                train: (0..n).step_by(2).collect(),
                test: (1..n).step_by(2).collect(),
            }],
            Split::KFold(k) => {
                if *k > n {
                    return Err(Error::Invalid(format!(
                        "kfold:{k} needs at least {k} stimuli, there are {n}"
                    )));
                }
                let mut start = 0;
                (0..*k)
                    .map(|f| {
                        let size = n / k + usize::from(f < n % k);
                        let test: Vec<usize> = (start..start + size).collect();
                        start += size;
                        let train = (0..n).filter(|i| !test.contains(i)).collect();
                        Fold { train, test }
                    })
                    .collect()
            }
            Split::Given(marks) => {
                if marks.len() != n {
                    return Err(Error::Invalid(format!(
                        "the split marks {} stimuli, the responses have {n}",
                        marks.len()
                    )));
                }
                vec![Fold {
                    train: (0..n).filter(|&i| marks[i]).collect(),
                    test: (0..n).filter(|&i| !marks[i]).collect(),
                }]
            }
        };
        for (f, fold) in folds.iter().enumerate() {
            if fold.train.len() < 3 || fold.test.len() < 3 {
                return Err(Error::Invalid(format!(
                    "split {} fold {}: {} train and {} test stimuli; each needs at least 3",
                    self.describe(),
                    f + 1,
                    fold.train.len(),
                    fold.test.len()
                )));
            }
        }
        Ok(folds)
    }
}

/// Stimulus indices of one fold, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// One subject's responses in one region: `[N stimuli, V voxels]`, with an optional noise
/// ceiling per voxel (in units of r) and the brain RDM (correlation distance across voxels).
#[derive(Debug, Clone)]
pub struct Target {
    pub subject: String,
    pub region: String,
    pub y: Mat<f64>,
    pub ceiling: Option<Vec<f64>>,
    /// Condensed `1 − corrcoef` of the stimulus patterns over voxels.
    pub rdm: Vec<f64>,
}

impl Target {
    /// Checks the responses (finite; errors name the subject, voxel and stimulus) and the
    /// ceiling's length, and computes the brain RDM.
    pub fn new(
        subject: &str,
        region: &str,
        y: Mat<f64>,
        ceiling: Option<Vec<f64>>,
    ) -> Result<Target> {
        let (n, v) = y.shape();
        if n < 6 || v == 0 {
            return Err(Error::Invalid(format!(
                "responses of {subject}/{region}: {n} stimuli × {v} voxels; encoding needs at least 6 stimuli and 1 voxel"
            )));
        }
        for j in 0..v {
            if let Some(i) = y.col(j).iter().position(|x| !x.is_finite()) {
                return Err(Error::Invalid(format!(
                    "responses of {subject}/{region}: voxel {j} is {} at stimulus {i}",
                    y[(i, j)]
                )));
            }
        }
        if let Some(c) = &ceiling {
            if c.len() != v {
                return Err(Error::Invalid(format!(
                    "noise ceiling of {subject}/{region} has {} values for {v} voxels",
                    c.len()
                )));
            }
        }
        let rdm = correlation_rdm(y.as_ref());
        Ok(Target {
            subject: subject.into(),
            region: region.into(),
            y,
            ceiling,
            rdm,
        })
    }
}

/// Condensed correlation-distance RDM (`1 − r` between rows across columns) of `x: [m, V]`, in
/// f64; a constant row gives NaN for each of its pairs.
pub fn correlation_rdm(x: MatRef<'_, f64>) -> Vec<f64> {
    let (m, v) = x.shape();
    let mut z = Mat::<f64>::zeros(m, v);
    for i in 0..m {
        let mean = x.row(i).iter().sum::<f64>() / v as f64;
        let norm = x
            .row(i)
            .iter()
            .map(|&a| (a - mean) * (a - mean))
            .sum::<f64>()
            .sqrt();
        for j in 0..v {
            z[(i, j)] = if norm > 0.0 {
                (x[(i, j)] - mean) / norm
            } else {
                f64::NAN
            };
        }
    }
    let g = &z * z.transpose();
    let mut d = vec![0.0; m * (m - 1) / 2];
    for i in 0..m {
        for j in i + 1..m {
            d[pair_index(m, i, j)] = 1.0 - g[(i, j)];
        }
    }
    d
}

/// The pairs of `subset` (ascending stimulus indices) of a condensed RDM over `n` stimuli.
pub fn sub_rdm(condensed: &[f64], n: usize, subset: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(subset.len() * subset.len().saturating_sub(1) / 2);
    for (a, &i) in subset.iter().enumerate() {
        for &j in &subset[a + 1..] {
            out.push(condensed[pair_index(n, i, j)]);
        }
    }
    out
}

/// Pearson r of two RDMs over the pairs where both are finite (NaN when fewer than 3 remain).
pub fn rdm_pearson(a: &[f64], b: &[f64]) -> f64 {
    let (x, y): (Vec<f64>, Vec<f64>) = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(&x, &y)| (x, y))
        .unzip();
    if x.len() < 3 {
        return f64::NAN;
    }
    crate::rsa::compare::pearson(&x, &y)
}

/// The smallest r significantly above 0 (one-sided p < 0.05, Fisher z) for `m` stimuli.
pub fn chance_r(m: usize) -> f64 {
    if m <= 3 {
        return f64::INFINITY;
    }
    (1.644_853_626_951_472_2 / ((m - 3) as f64).sqrt()).tanh()
}

/// Per-voxel scores of one layer against one target.
#[derive(Debug, Clone)]
pub struct VoxelScores {
    /// Pearson r of the pooled held-out predictions.
    pub test_r: Vec<f64>,
    /// R² (scikit-learn's `r2_score`) of the pooled held-out predictions.
    pub test_r2: Vec<f64>,
    /// Pearson r and R² of the LOO predictions at the chosen penalty (means over folds).
    pub train_r: Vec<f64>,
    pub train_r2: Vec<f64>,
    /// The chosen penalty (geometric mean over folds).
    pub alpha: Vec<f64>,
    /// Constant on the train stimuli of some fold (or on the held-out ones): no score.
    pub constant: Vec<bool>,
}

/// Summary of voxel scores over a region, constant voxels left out.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct VoxelSummary {
    pub mean_r: f64,
    pub median_r: f64,
    pub mean_r2: f64,
    /// Fraction of scored voxels whose r exceeds [`chance_r`].
    pub above_chance: f64,
    /// Mean over voxels with a positive ceiling of r / ceiling.
    pub mean_r_over_ceiling: Option<f64>,
    pub voxels: usize,
    pub constant: usize,
}

impl VoxelSummary {
    fn of(r: &[f64], r2: &[f64], constant: &[bool], ceiling: Option<&[f64]>, m: usize) -> Self {
        let keep: Vec<usize> = (0..r.len())
            .filter(|&j| !constant[j] && r[j].is_finite())
            .collect();
        let k = keep.len().max(1) as f64;
        let mut sorted: Vec<f64> = keep.iter().map(|&j| r[j]).collect();
        sorted.sort_by(f64::total_cmp);
        let median_r = match sorted.len() {
            0 => f64::NAN,
            l if l % 2 == 1 => sorted[l / 2],
            l => 0.5 * (sorted[l / 2 - 1] + sorted[l / 2]),
        };
        let nan_if_empty = |v: f64| if keep.is_empty() { f64::NAN } else { v };
        let chance = chance_r(m);
        let ceiled = ceiling.map(|c| {
            let v: Vec<f64> = keep
                .iter()
                .filter(|&&j| c[j] > 0.0)
                .map(|&j| r[j] / c[j])
                .collect();
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        });
        VoxelSummary {
            mean_r: nan_if_empty(keep.iter().map(|&j| r[j]).sum::<f64>() / k),
            median_r,
            mean_r2: nan_if_empty(keep.iter().map(|&j| r2[j]).sum::<f64>() / k),
            above_chance: nan_if_empty(keep.iter().filter(|&&j| r[j] > chance).count() as f64 / k),
            mean_r_over_ceiling: ceiled,
            voxels: keep.len(),
            constant: r.len() - keep.len(),
        }
    }
}

/// Everything one layer scored against one target.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub voxels: VoxelScores,
    /// Summaries of the held-out (test) and LOO (train) voxel scores.
    pub test: VoxelSummary,
    pub train: VoxelSummary,
    /// Held-out predictions `[test.len(), V]`, rows in `test_index` order.
    pub predictions: Mat<f64>,
    /// The stimuli predicted, ascending.
    pub test_index: Vec<usize>,
    pub versa_train: f64,
    pub versa_test: f64,
    pub crsa_train: f64,
    pub crsa_test: f64,
    /// Mean noise ceiling (r) over the scored voxels, when the target has ceilings.
    pub ceiling: Option<f64>,
}

/// Scores `features: [N, k]` (projected, or raw) against `target` on `folds`; `model_rdm` is the
/// condensed RDM of the layer's raw features (for cRSA, SCIENCE.md §5.2: unprojected).
pub fn evaluate(
    features: MatRef<'_, f64>,
    model_rdm: &[f64],
    target: &Target,
    folds: &[Fold],
    ridge: &RidgeOptions,
) -> Result<Evaluation> {
    let (n, v) = target.y.shape();
    if features.nrows() != n || model_rdm.len() != n * (n - 1) / 2 {
        return Err(Error::Invalid(format!(
            "{}/{}: {n} stimuli in the responses, {} in the features",
            target.subject,
            target.region,
            features.nrows()
        )));
    }
    let rows = |m: MatRef<'_, f64>, idx: &[usize]| -> Mat<f64> {
        Mat::from_fn(idx.len(), m.ncols(), |i, j| m[(idx[i], j)])
    };
    let mut test_index: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
    test_index.sort_unstable();
    let pos = |i: usize| test_index.binary_search(&i).expect("a test stimulus");
    let mut pooled = Mat::<f64>::zeros(test_index.len(), v);
    let mut train_r = vec![0.0; v];
    let mut train_r2 = vec![0.0; v];
    let mut log_alpha = vec![0.0; v];
    let mut constant = vec![false; v];
    let (mut versa_train, mut crsa_train, mut crsa_test) = (0.0, 0.0, 0.0);
    for fold in folds {
        let x_train = rows(features, &fold.train);
        let y_train = rows(target.y.as_ref(), &fold.train);
        let fit = RidgeCv::fit(x_train.as_ref(), y_train.as_ref(), ridge)?;
        let pred = fit.model.predict(rows(features, &fold.test).as_ref())?;
        for (t, &i) in fold.test.iter().enumerate() {
            let at = pos(i);
            for j in 0..v {
                pooled[(at, j)] = pred[(t, j)];
            }
        }
        let loo_r = pearson_columns(y_train.as_ref(), fit.loo.as_ref())?;
        let loo_r2 = r2_columns(y_train.as_ref(), fit.loo.as_ref())?;
        for j in 0..v {
            constant[j] |= fit.constant[j];
            train_r[j] += loo_r[j] / folds.len() as f64;
            train_r2[j] += loo_r2[j] / folds.len() as f64;
            log_alpha[j] += fit.alphas[fit.chosen[j]].ln() / folds.len() as f64;
        }
        let brain_train = sub_rdm(&target.rdm, n, &fold.train);
        versa_train += rdm_pearson(&correlation_rdm(fit.loo.as_ref()), &brain_train);
        crsa_train += rdm_pearson(&sub_rdm(model_rdm, n, &fold.train), &brain_train);
        crsa_test += rdm_pearson(
            &sub_rdm(model_rdm, n, &fold.test),
            &sub_rdm(&target.rdm, n, &fold.test),
        );
    }
    let k = folds.len() as f64;
    let actual = rows(target.y.as_ref(), &test_index);
    let test_r = pearson_columns(actual.as_ref(), pooled.as_ref())?;
    let test_r2 = r2_columns(actual.as_ref(), pooled.as_ref())?;
    for j in 0..v {
        constant[j] |= !test_r[j].is_finite();
    }
    let versa_test = rdm_pearson(
        &correlation_rdm(pooled.as_ref()),
        &sub_rdm(&target.rdm, n, &test_index),
    );
    let ceiling = target.ceiling.as_deref();
    let m = test_index.len();
    let train_m = folds.iter().map(|f| f.train.len()).min().unwrap_or(0);
    let test = VoxelSummary::of(&test_r, &test_r2, &constant, ceiling, m);
    let train = VoxelSummary::of(&train_r, &train_r2, &constant, ceiling, train_m);
    let ceiling_mean = ceiling.map(|c| {
        let kept: Vec<f64> = (0..v)
            .filter(|&j| !constant[j] && c[j].is_finite())
            .map(|j| c[j])
            .collect();
        kept.iter().sum::<f64>() / kept.len() as f64
    });
    Ok(Evaluation {
        voxels: VoxelScores {
            test_r,
            test_r2,
            train_r,
            train_r2,
            alpha: log_alpha.iter().map(|a| a.exp()).collect(),
            constant,
        },
        test,
        train,
        predictions: pooled,
        test_index,
        versa_train: versa_train / k,
        versa_test,
        crsa_train: crsa_train / k,
        crsa_test: crsa_test / k,
        ceiling: ceiling_mean,
    })
}
