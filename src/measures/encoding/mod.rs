//! Voxel-wise encoding (SCIENCE.md §5.3, Conwell's `srpr` / veRSA): a layer's features are
//! sparse-randomly projected to `jl_min_dim(n, 0.1)` components ([`projection`]), standard-scaled
//! on the train images, and regressed onto every voxel by ridge with a per-voxel penalty chosen
//! from exact leave-one-out predictions ([`ridge`]). Train scores use the LOO predictions, test
//! scores the refit's predictions on held-out images, each scored per voxel by [`pearson`] or
//! [`r2_score`] ([`pearson_columns`], [`r2_columns`] for all voxels at once).

pub mod evaluate;
pub mod measure;
pub mod projection;
pub mod responses;
pub mod ridge;

pub use crate::rsa::compare::pearson;
pub use projection::{jl_min_dim, SparseProjection};
pub use ridge::{conwell_alphas, RidgeCv, RidgeModel, RidgeOptions, Select, StandardScaler};

use faer::MatRef;

use crate::error::{Error, Result};

/// scikit-learn's `r2_score` of one target: `1 − SS_res / SS_tot`. When `y_true` is constant
/// (SS_tot = 0) it is 1 for a perfect prediction and 0 otherwise (`force_finite=True`).
pub fn r2_score(y_true: &[f64], y_pred: &[f64]) -> f64 {
    let mean = y_true.iter().sum::<f64>() / y_true.len() as f64;
    let (mut res, mut tot) = (0.0, 0.0);
    for (&t, &p) in y_true.iter().zip(y_pred) {
        res += (t - p) * (t - p);
        tot += (t - mean) * (t - mean);
    }
    match (res == 0.0, tot == 0.0) {
        (true, _) => 1.0,
        (false, true) => 0.0,
        _ => 1.0 - res / tot,
    }
}

/// Pearson r per column of `actual` and `predicted` (`[m, V]` each): NaN for a column where
/// either side is constant.
pub fn pearson_columns(actual: MatRef<'_, f64>, predicted: MatRef<'_, f64>) -> Result<Vec<f64>> {
    per_column(actual, predicted, pearson)
}

/// [`r2_score`] per column of `actual` and `predicted` (`[m, V]` each).
pub fn r2_columns(actual: MatRef<'_, f64>, predicted: MatRef<'_, f64>) -> Result<Vec<f64>> {
    per_column(actual, predicted, r2_score)
}

fn per_column(
    actual: MatRef<'_, f64>,
    predicted: MatRef<'_, f64>,
    score: fn(&[f64], &[f64]) -> f64,
) -> Result<Vec<f64>> {
    if actual.shape() != predicted.shape() {
        return Err(Error::Invalid(format!(
            "scores need equal shapes; actual is {:?}, predicted {:?}",
            actual.shape(),
            predicted.shape()
        )));
    }
    Ok((0..actual.ncols())
        .map(|j| {
            let a: Vec<f64> = actual.col(j).iter().copied().collect();
            let p: Vec<f64> = predicted.col(j).iter().copied().collect();
            score(&a, &p)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn r2_follows_scikit_learn() {
        assert!((r2_score(&[1., 2., 3.], &[1., 2., 4.]) - 0.5).abs() < 1e-15);
        assert_eq!(r2_score(&[2., 2.], &[2., 2.]), 1.0);
        assert_eq!(r2_score(&[2., 2.], &[2., 3.]), 0.0);
        assert!(r2_score(&[1., 2., 3.], &[3., 2., 1.]) < -2.9);
    }

    #[test]
    fn column_scores() {
        let a = Mat::from_fn(4, 2, |i, j| if j == 0 { i as f64 } else { 1.0 });
        let p = Mat::from_fn(4, 2, |i, _| 2.0 * i as f64 + 1.0);
        let r = pearson_columns(a.as_ref(), p.as_ref()).unwrap();
        assert!((r[0] - 1.0).abs() < 1e-15 && r[1].is_nan());
        let r2 = r2_columns(a.as_ref(), p.as_ref()).unwrap();
        assert_eq!(r2[1], 0.0);
        assert!(pearson_columns(a.as_ref(), p.as_ref().subcols(0, 1))
            .unwrap_err()
            .is_usage());
    }
}
