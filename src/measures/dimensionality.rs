//! Effective dimensionality (SCIENCE.md §5.4, Conwell's `ManifoldGeometry`): the participation
//! ratio `ED = (Σλ)² / Σλ²` of the eigenvalues λ of the features' covariance. The sample
//! covariance's scale (ddof) cancels, and `(Σλ)² / Σλ² = (tr C)² / ‖C‖_F²` for any symmetric C
//! with those nonzero eigenvalues, so no eigendecomposition is needed: C can be the `p × p`
//! scatter matrix `XcᵀXc` or the `n × n` centred Gram matrix `Xc Xcᵀ`, whichever is smaller.
//!
//! NaN policy: ED is NaN (0/0) when the features have no variance (every eigenvalue 0).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use crate::error::{Error, Result};

/// `(Σλ)² / Σλ²`; NaN for an empty or all-zero spectrum.
pub fn ed_from_eigenvalues(lambda: &[f64]) -> f64 {
    let sum: f64 = lambda.iter().sum();
    let squares: f64 = lambda.iter().map(|l| l * l).sum();
    sum * sum / squares
}

/// ED from the uncentred Gram matrix `g = X Xᵀ` (`n × n`, either layout; symmetric) of n ≥ 2
/// patterns: `(tr Kc)² / ‖Kc‖_F²` with `Kc = J g J`, `J = I − 11ᵀ/n`, which has the same
/// nonzero eigenvalues as the covariance of X (up to the factor n − 1).
pub fn ed_from_gram(g: &[f64], n: usize) -> Result<f64> {
    if n < 2 {
        return Err(Error::Invalid(format!(
            "effective dimensionality needs at least 2 patterns, got {n}"
        )));
    }
    if g.len() != n * n {
        return Err(Error::Invalid(format!(
            "Gram matrix holds {} values, expected {n} × {n}",
            g.len()
        )));
    }
    if let Some(i) = g.iter().position(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!(
            "Gram matrix holds a non-finite value at row {}, column {}",
            i / n,
            i % n
        )));
    }
    let row_mean: Vec<f64> = g
        .chunks(n)
        .map(|r| r.iter().sum::<f64>() / n as f64)
        .collect();
    let grand = row_mean.iter().sum::<f64>() / n as f64;
    let (mut trace, mut frobenius) = (0.0, 0.0);
    for (i, row) in g.chunks(n).enumerate() {
        for (j, &gij) in row.iter().enumerate() {
            // Column means equal row means for a symmetric g.
            let kc = gij - row_mean[i] - row_mean[j] + grand;
            frobenius += kc * kc;
            if i == j {
                trace += kc;
            }
        }
    }
    Ok(trace * trace / frobenius)
}

/// ED of the features `x: [n, p]` (row-major f32, n ≥ 2 patterns), accumulated in f64: from the
/// `p × p` scatter matrix when p ≤ n, else from the `n × n` Gram matrix summed over chunks of
/// 4096 centred features, so memory stays at `O(n · 4096 + min(n, p)²)` f64 besides `x`.
pub fn ed_from_features(x: &[f32], n: usize, p: usize) -> Result<f64> {
    if n < 2 {
        return Err(Error::Invalid(format!(
            "effective dimensionality needs at least 2 patterns, got {n}"
        )));
    }
    if x.len() != n * p || p == 0 {
        return Err(Error::Invalid(format!(
            "feature matrix holds {} values, expected {n} patterns × {p} features (p ≥ 1)",
            x.len()
        )));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!(
            "feature matrix holds a non-finite value at row {}, column {}",
            i / p,
            i % p
        )));
    }
    let mut mean = vec![0.0f64; p];
    for row in x.chunks(p) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let centred = |c0: usize, width: usize| {
        Mat::from_fn(n, width, |i, j| f64::from(x[i * p + c0 + j]) - mean[c0 + j])
    };
    let par = Par::rayon(0);
    let c = if p <= n {
        let xc = centred(0, p);
        let mut c = Mat::zeros(p, p);
        matmul(
            c.as_mut(),
            Accum::Replace,
            xc.transpose(),
            xc.as_ref(),
            1.0,
            par,
        );
        c
    } else {
        const CHUNK: usize = 4096;
        let mut g = Mat::zeros(n, n);
        for c0 in (0..p).step_by(CHUNK) {
            let xc = centred(c0, CHUNK.min(p - c0));
            matmul(
                g.as_mut(),
                Accum::Add,
                xc.as_ref(),
                xc.transpose(),
                1.0,
                par,
            );
        }
        g
    };
    Ok(trace_ratio(c.as_ref()))
}

/// `(tr C)² / ‖C‖_F²`.
fn trace_ratio(c: MatRef<'_, f64>) -> f64 {
    let trace: f64 = (0..c.nrows()).map(|i| c[(i, i)]).sum();
    let frobenius: f64 = (0..c.ncols())
        .map(|j| c.col(j).iter().map(|v| v * v).sum::<f64>())
        .sum();
    trace * trace / frobenius
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SCIENCE.md §5.4.
    const X: [[f32; 3]; 5] = [
        [2., 0., 1.],
        [0., 1., 0.],
        [1., 3., 2.],
        [4., 1., 0.],
        [3., 2., 5.],
    ];
    const ED: f64 = 2.1469240837696333;

    fn gram(x: &[f32], n: usize, p: usize) -> Vec<f64> {
        let mut g = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                g[i * n + j] = (0..p)
                    .map(|c| f64::from(x[i * p + c]) * f64::from(x[j * p + c]))
                    .sum();
            }
        }
        g
    }

    #[test]
    fn eigenvalue_test_vectors() {
        assert!((ed_from_eigenvalues(&[3., 2., 1.]) - 36.0 / 14.0).abs() < 1e-15);
        let lambda = [4.88856396, 2.47326677, 0.73816927];
        assert!((ed_from_eigenvalues(&lambda) - ED).abs() < 1e-7);
        assert!(ed_from_eigenvalues(&[0.0, 0.0]).is_nan());
    }

    #[test]
    fn features_and_gram_give_the_test_vector() {
        let x: Vec<f32> = X.concat();
        let from_features = ed_from_features(&x, 5, 3).unwrap();
        assert!((from_features - ED).abs() < 1e-12, "{from_features}");
        let from_gram = ed_from_gram(&gram(&x, 5, 3), 5).unwrap();
        assert!((from_gram - ED).abs() < 1e-12, "{from_gram}");
        // Features of the transpose (p > n: the chunked Gram path) against the scatter matrix of
        // the same data computed here.
        let t: Vec<f32> = (0..3).flat_map(|j| (0..5).map(move |i| X[i][j])).collect();
        let (n, p) = (3, 5);
        let mut c = vec![0.0f64; p * p];
        let mean: Vec<f64> = (0..p)
            .map(|k| (0..n).map(|i| f64::from(t[i * p + k])).sum::<f64>() / n as f64)
            .collect();
        for a in 0..p {
            for b in 0..p {
                c[a * p + b] = (0..n)
                    .map(|i| {
                        (f64::from(t[i * p + a]) - mean[a]) * (f64::from(t[i * p + b]) - mean[b])
                    })
                    .sum();
            }
        }
        let want = trace_ratio(MatRef::from_row_major_slice(&c, p, p));
        let got = ed_from_features(&t, n, p).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert!((ed_from_gram(&gram(&t, n, p), n).unwrap() - want).abs() < 1e-12);
    }

    #[test]
    fn chunked_gram_matches_one_chunk() {
        use rand::{Rng, SeedableRng};
        // 9000 features: three chunks, one partial.
        let (n, p) = (4, 9000);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let x: Vec<f32> = (0..n * p).map(|_| rng.random::<f32>() * 10.0).collect();
        let got = ed_from_features(&x, n, p).unwrap();
        let want = ed_from_gram(&gram(&x, n, p), n).unwrap();
        assert!((got - want).abs() < 1e-9 && got > 1.0, "{got} vs {want}");
    }

    #[test]
    fn degenerate_inputs() {
        assert!(ed_from_features(&[1.0, 1.0, 1.0, 1.0], 2, 2)
            .unwrap()
            .is_nan());
        assert!(ed_from_features(&[1.0, 2.0], 1, 2).unwrap_err().is_usage());
        assert!(ed_from_features(&[1.0, 2.0, 3.0], 2, 2)
            .unwrap_err()
            .is_usage());
        let e = ed_from_features(&[1.0, 2.0, f32::NAN, 3.0], 2, 2).unwrap_err();
        assert!(
            e.is_usage() && e.to_string().contains("row 1, column 0"),
            "{e}"
        );
        assert!(ed_from_gram(&[1.0; 3], 2).unwrap_err().is_usage());
    }
}
