//! Ridge regression of many targets (voxels) on one feature matrix, with exact leave-one-out
//! (LOO) predictions for a grid of penalties and a per-target choice of penalty (SCIENCE.md §5.3
//! step 3; scikit-learn's `RidgeCV(alpha_per_target=True)`, Conwell's `RidgeCVMod`).
//!
//! The intercept is unpenalised: features and targets are centred by their train means
//! (`Xc`, `Yc`). One symmetric eigendecomposition serves every penalty α and every target:
//!
//! * dual, `p > n`: `K = Xc Xcᵀ = U diag(s) Uᵀ`, with U restricted to the complement of the
//!   constant vector (the exact null direction of K, removed by a Householder reflection), so
//!   `H_α = 11ᵀ/n + U diag(s/(s+α)) Uᵀ`. With `w = 1/(s+α)`, the LOO residual is
//!   `e_i = [U diag(w) UᵀYc]_i / Σ_j U_ij² w_j` (scikit-learn's `c / diag(G⁻¹)`, free of
//!   cancellation), and `U diag(w) UᵀYc` is also the dual coefficient matrix of the refit.
//! * primal, `p ≤ n`: `XcᵀXc = V diag(s) Vᵀ`, `P = Xc V`, so
//!   `H_α = 11ᵀ/n + P diag(w) Pᵀ`, `e_i = (Yc − P diag(w) PᵀYc)_i / (1 − H_α,ii)` and the
//!   weights of the refit are `V diag(w) PᵀYc`.
//!
//! `ŷ_LOO = y − e`. The per-α cost is one GEMM of `[n, r] × [r, V]` and a pass over `[n, V]`;
//! nothing is inverted per α.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::rsa::compare::pearson;

/// How each target's penalty is chosen from its LOO predictions. Ties keep the first (smaller)
/// α of the grid: a later α must score strictly better. A NaN score ranks below every number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// Maximal Pearson r(y, ŷ_LOO) (Conwell's `scoring='pearson_r'`).
    R,
    /// Minimal mean squared LOO error (scikit-learn's `RidgeCV` default, the best LOO R²).
    R2,
}

named_enum!(Select, "alpha selection", { R => "r" | "pearson", R2 => "r2" | "mse" });

/// The penalty grid of Conwell et al.: `logspace(−1, 5, 7)` = 0.1, 1, …, 1e5.
pub fn conwell_alphas() -> Vec<f64> {
    (-1..=5).map(|e| 10f64.powi(e)).collect()
}

/// Options of [`RidgeCv::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct RidgeOptions {
    /// Penalties, each finite and > 0, in the order ties are broken.
    pub alphas: Vec<f64>,
    pub select: Select,
    /// Standard-scale the features on the train rows first ([`StandardScaler`]); the model
    /// applies the same scaling to new rows.
    pub standardize: bool,
}

impl Default for RidgeOptions {
    /// Conwell's setting: [`conwell_alphas`], [`Select::R`], standardized features.
    fn default() -> Self {
        RidgeOptions {
            alphas: conwell_alphas(),
            select: Select::R,
            standardize: true,
        }
    }
}

/// Per-column standardization as scikit-learn's `StandardScaler`: mean and population standard
/// deviation of the fitted rows; a (near-)constant column (scikit-learn's `_is_constant_feature`
/// test on the variance) gets scale 1, so it is only centred.
#[derive(Debug, Clone, PartialEq)]
pub struct StandardScaler {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl StandardScaler {
    /// Fits the scaler on the rows of `x` (finite values).
    pub fn fit(x: MatRef<'_, f64>) -> StandardScaler {
        let n = x.nrows() as f64;
        let (mean, scale) = (0..x.ncols())
            .into_par_iter()
            .map(|j| {
                let col = x.col(j);
                let mean = col.iter().sum::<f64>() / n;
                // scikit-learn's corrected two-pass variance.
                let (mut sum, mut squares) = (0.0, 0.0);
                for &v in col.iter() {
                    sum += v - mean;
                    squares += (v - mean) * (v - mean);
                }
                let var = (squares - sum * sum / n) / n;
                let eps = f64::EPSILON;
                let constant = var <= n * eps * var + (n * mean * eps).powi(2);
                (mean, if constant { 1.0 } else { var.sqrt() })
            })
            .unzip();
        StandardScaler { mean, scale }
    }

    /// `(x − mean) / scale` column by column.
    pub fn transform(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        if x.ncols() != self.mean.len() {
            return Err(Error::Invalid(format!(
                "standard scaler fitted on {} features cannot transform {} features",
                self.mean.len(),
                x.ncols()
            )));
        }
        Ok(self.apply(x))
    }

    fn apply(&self, x: MatRef<'_, f64>) -> Mat<f64> {
        let mut out = Mat::zeros(x.nrows(), x.ncols());
        out.par_col_iter_mut().enumerate().for_each(|(j, col)| {
            let (mean, scale) = (self.mean[j], self.scale[j]);
            for (o, &v) in col.iter_mut().zip(x.col(j).iter()) {
                *o = (v - mean) / scale;
            }
        });
        out
    }
}

/// Which eigendecomposition the fit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `n × n` Gram matrix (p > n).
    Dual,
    /// `p × p` scatter matrix (p ≤ n).
    Primal,
}

/// The result of [`RidgeCv::fit`] on `n` train rows and `V` targets. Matrices are faer
/// (column-major): one column per target.
#[derive(Debug, Clone)]
pub struct RidgeCv {
    /// The penalty grid, as given.
    pub alphas: Vec<f64>,
    /// Index into `alphas` chosen per target (0 for constant targets).
    pub chosen: Vec<usize>,
    /// LOO predictions at each target's chosen α, `[n, V]`, in the targets' units.
    pub loo: Mat<f64>,
    /// Pearson r(y, ŷ_LOO) per α and target, `[n_alpha, V]`; NaN for a constant target.
    pub loo_r: Mat<f64>,
    /// Mean squared LOO error per α and target, `[n_alpha, V]` (the mean over rows of
    /// scikit-learn's `cv_results_`); 0 for a constant target.
    pub loo_mse: Mat<f64>,
    /// Targets constant on the train rows: their predictions are the constant, their r is NaN.
    pub constant: Vec<bool>,
    /// The refit on all train rows, each target with its own α.
    pub model: RidgeModel,
}

/// A ridge model refit on all train rows, each target with its own penalty.
#[derive(Debug, Clone)]
pub struct RidgeModel {
    scaler: StandardScaler,
    y_mean: Vec<f64>,
    alpha: Vec<f64>,
    coefficients: Coefficients,
}

#[derive(Debug, Clone)]
enum Coefficients {
    /// Weights `[p, V]` on the centred (scaled) features.
    Primal { w: Mat<f64> },
    /// Dual coefficients `a: [n, V]` on the centred train rows `xc: [n, p]`: `W = xcᵀ a`,
    /// never formed (it would be `p × V`).
    Dual { xc: Mat<f64>, a: Mat<f64> },
}

impl RidgeModel {
    /// Predictions `[m, V]` for new rows `x: [m, p]` (finite): `ȳ + ((x − mean)/scale) W`;
    /// a target constant on the train rows predicts that constant.
    pub fn predict(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        if x.ncols() != self.scaler.mean.len() {
            return Err(Error::Invalid(format!(
                "ridge model fitted on {} features cannot predict from {} features",
                self.scaler.mean.len(),
                x.ncols()
            )));
        }
        check_finite(x, "ridge test features")?;
        let xt = self.scaler.apply(x);
        let mut out = Mat::zeros(x.nrows(), self.y_mean.len());
        match &self.coefficients {
            Coefficients::Primal { w } => gemm(out.as_mut(), xt.as_ref(), w.as_ref()),
            Coefficients::Dual { xc, a } => {
                let mut kt = Mat::zeros(x.nrows(), xc.nrows());
                gemm(kt.as_mut(), xt.as_ref(), xc.transpose());
                gemm(out.as_mut(), kt.as_ref(), a.as_ref());
            }
        }
        for (j, &mean) in self.y_mean.iter().enumerate() {
            for v in out.col_mut(j).iter_mut() {
                *v += mean;
            }
        }
        Ok(out)
    }

    /// Input features.
    pub fn n_features(&self) -> usize {
        self.scaler.mean.len()
    }

    /// Targets.
    pub fn n_targets(&self) -> usize {
        self.y_mean.len()
    }

    /// The penalty of each target.
    pub fn alphas(&self) -> &[f64] {
        &self.alpha
    }

    /// The feature scaling applied before the weights (scale 1 without standardization).
    pub fn scaler(&self) -> &StandardScaler {
        &self.scaler
    }
}

impl RidgeCv {
    /// Fits ridge regressions of every column of `y: [n, V]` on `x: [n, p]` (n ≥ 3 train rows,
    /// finite values) for every α of the grid, chooses each target's α from its exact LOO
    /// predictions, and refits with it. Uses the dual form when p > n, the primal otherwise.
    ///
    /// Memory: a few `[n, V]` and `[r, V]` f64 buffers (r = n − 1 dual, p primal), plus the
    /// centred features `[n, p]`, which a dual model keeps for prediction.
    pub fn fit(x: MatRef<'_, f64>, y: MatRef<'_, f64>, options: &RidgeOptions) -> Result<RidgeCv> {
        let form = if x.ncols() > x.nrows() {
            Form::Dual
        } else {
            Form::Primal
        };
        fit_form(x, y, options, form)
    }
}

fn check_finite(m: MatRef<'_, f64>, what: &str) -> Result<()> {
    let bad = |j: usize| m.col(j).iter().position(|v| !v.is_finite());
    match (0..m.ncols())
        .into_par_iter()
        .find_first(|&j| bad(j).is_some())
    {
        None => Ok(()),
        Some(j) => {
            let i = bad(j).unwrap_or_default();
            Err(Error::Invalid(format!(
                "{what} hold a non-finite value ({}) at row {i}, column {j}",
                m[(i, j)]
            )))
        }
    }
}

fn validate(x: MatRef<'_, f64>, y: MatRef<'_, f64>, alphas: &[f64]) -> Result<()> {
    if alphas.is_empty() {
        return Err(Error::Invalid("ridge needs at least one alpha".into()));
    }
    if let Some((i, a)) = alphas
        .iter()
        .enumerate()
        .find(|(_, a)| !(a.is_finite() && **a > 0.0))
    {
        return Err(Error::Invalid(format!(
            "ridge alphas must be finite and > 0; alpha {i} is {a}"
        )));
    }
    if x.nrows() != y.nrows() {
        return Err(Error::Invalid(format!(
            "ridge features have {} rows but targets have {}",
            x.nrows(),
            y.nrows()
        )));
    }
    if x.nrows() < 3 {
        return Err(Error::Invalid(format!(
            "ridge with leave-one-out needs at least 3 train rows, got {}",
            x.nrows()
        )));
    }
    if x.ncols() == 0 {
        return Err(Error::Invalid("ridge needs at least one feature".into()));
    }
    check_finite(x, "ridge train features")?;
    check_finite(y, "ridge train targets")
}

/// `dst = lhs · rhs` on the current rayon pool.
fn gemm(dst: MatMut<'_, f64>, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) {
    matmul(dst, Accum::Replace, lhs, rhs, 1.0, Par::rayon(0));
}

fn eigen(m: MatRef<'_, f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    let evd = m.self_adjoint_eigen(Side::Lower).map_err(|e| {
        Error::Invalid(format!(
            "ridge: the eigendecomposition of the {0}×{0} Gram matrix failed ({e:?})",
            m.nrows()
        ))
    })?;
    // Rounding can leave null eigenvalues slightly negative; the matrix is semi-definite.
    let s = evd
        .S()
        .column_vector()
        .iter()
        .map(|&s| s.max(0.0))
        .collect();
    Ok((s, evd.U().to_owned()))
}

/// The spectrum shared by every α: `H_α − 11ᵀ/n = P diag(g(s, α)) Pᵀ`.
struct Spectrum {
    form: Form,
    s: Vec<f64>,
    /// `[n, r]`: U (dual) or Xc V (primal).
    p: Mat<f64>,
    /// `[p, p]` eigenvectors V of the primal form (the refit's weights are `V diag(w) Q`).
    v: Option<Mat<f64>>,
}

impl Spectrum {
    fn new(xc: MatRef<'_, f64>, form: Form) -> Result<Spectrum> {
        let (n, p) = (xc.nrows(), xc.ncols());
        match form {
            Form::Dual => {
                let mut k = Mat::zeros(n, n);
                gemm(k.as_mut(), xc, xc.transpose());
                let (s, u) = complement_eigen(k.as_ref())?;
                Ok(Spectrum {
                    form,
                    s,
                    p: u,
                    v: None,
                })
            }
            Form::Primal => {
                let mut c = Mat::zeros(p, p);
                gemm(c.as_mut(), xc.transpose(), xc);
                let (s, v) = eigen(c.as_ref())?;
                let mut pm = Mat::zeros(n, p);
                gemm(pm.as_mut(), xc, v.as_ref());
                Ok(Spectrum {
                    form,
                    s,
                    p: pm,
                    v: Some(v),
                })
            }
        }
    }

    /// The LOO denominators for `w = 1/(s + α)`: `Σ_j P_ij² w_j` (dual, = (1 − H_ii)/α) or
    /// `1 − 1/n − Σ_j P_ij² w_j` (primal, = 1 − H_ii).
    fn denominators(&self, w: &[f64]) -> Vec<f64> {
        let n = self.p.nrows();
        let mut h = vec![0.0; n];
        for (j, &wj) in w.iter().enumerate() {
            for (hi, &pij) in h.iter_mut().zip(self.p.col(j).iter()) {
                *hi += pij * pij * wj;
            }
        }
        if self.form == Form::Primal {
            for hi in &mut h {
                *hi = 1.0 - 1.0 / n as f64 - *hi;
            }
        }
        h
    }
}

/// Eigendecomposition of a centred Gram matrix `k: [n, n]` on the complement of the constant
/// vector: `(s, U)` with U `[n, n − 1]` orthonormal and orthogonal to 1, `k = U diag(s) Uᵀ`.
/// The Householder reflection `H = I − β v vᵀ`, `v = 1/√n + e₁`, maps 1/√n to −e₁, so the last
/// n − 1 columns of H span 1^⊥ and `HkH` minus its first row and column is k on that subspace.
fn complement_eigen(k: MatRef<'_, f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    let n = k.nrows();
    let root = 1.0 / (n as f64).sqrt();
    let mut v = vec![root; n];
    v[0] += 1.0;
    let beta = 2.0 / v.iter().map(|x| x * x).sum::<f64>();
    let t: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| k[(i, j)] * v[j]).sum())
        .collect();
    let c: f64 = v.iter().zip(&t).map(|(a, b)| a * b).sum();
    let reduced = Mat::from_fn(n - 1, n - 1, |i, j| {
        let (i, j) = (i + 1, j + 1);
        k[(i, j)] - beta * v[i] * t[j] - beta * t[i] * v[j] + beta * beta * c * v[i] * v[j]
    });
    let (s, small) = eigen(reduced.as_ref())?;
    let mut u = Mat::zeros(n, n - 1);
    for j in 0..n - 1 {
        // H [0; u'] = [0; u'] − β v (vᵀ[0; u']).
        let d = beta * root * small.col(j).iter().sum::<f64>();
        u[(0, j)] = -d * v[0];
        for i in 1..n {
            u[(i, j)] = small[(i - 1, j)] - d * v[i];
        }
    }
    Ok((s, u))
}

/// Per-target state across the α grid.
#[derive(Clone, Copy)]
struct Best {
    score: f64,
    alpha: usize,
    r: f64,
    mse: f64,
}

fn fit_form(
    x: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
    options: &RidgeOptions,
    form: Form,
) -> Result<RidgeCv> {
    validate(x, y, &options.alphas)?;
    let (n, v, alphas) = (x.nrows(), y.ncols(), &options.alphas);
    let scaler = if options.standardize {
        StandardScaler::fit(x)
    } else {
        StandardScaler {
            mean: StandardScaler::fit(x).mean,
            scale: vec![1.0; x.ncols()],
        }
    };
    let xc = scaler.apply(x);

    // Centred targets, column-major [n, V]; a constant target is exactly zero.
    let mut y_mean = vec![0.0; v];
    let mut constant = vec![false; v];
    let mut yc = vec![0.0; n * v];
    yc.par_chunks_mut(n)
        .zip(y_mean.par_iter_mut())
        .zip(constant.par_iter_mut())
        .enumerate()
        .for_each(|(j, ((col, mean), constant))| {
            let y = y.col(j);
            let first = y[0];
            if y.iter().all(|&t| t == first) {
                *constant = true;
                *mean = first;
                return;
            }
            *mean = y.iter().sum::<f64>() / n as f64;
            for (c, &t) in col.iter_mut().zip(y.iter()) {
                *c = t - *mean;
            }
        });

    let spectrum = Spectrum::new(xc.as_ref(), form)?;
    let r = spectrum.s.len();
    let mut q = vec![0.0; r * v];
    gemm(
        MatMut::from_column_major_slice_mut(&mut q, r, v),
        spectrum.p.transpose(),
        MatRef::from_column_major_slice(&yc, n, v),
    );

    let mut qw = vec![0.0; r * v];
    let mut e = vec![0.0; n * v];
    let mut best_loo = vec![0.0; n * v];
    let mut best = vec![
        Best {
            score: f64::NEG_INFINITY,
            alpha: 0,
            r: f64::NAN,
            mse: 0.0
        };
        v
    ];
    let mut loo_r = Mat::zeros(alphas.len(), v);
    let mut loo_mse = Mat::zeros(alphas.len(), v);
    // Dual: `U diag(w) Q` is also the refit's coefficient matrix at α, so each target keeps its
    // column at its best α so far and the dual refit costs nothing more.
    let mut dual_coef = match form {
        Form::Dual => vec![0.0; n * v],
        Form::Primal => Vec::new(),
    };
    let mut coef_cols: Vec<Option<&mut [f64]>> = match form {
        Form::Dual => dual_coef.chunks_mut(n).map(Some).collect(),
        Form::Primal => (0..v).map(|_| None).collect(),
    };
    for (a, &alpha) in alphas.iter().enumerate() {
        let w: Vec<f64> = spectrum.s.iter().map(|&s| 1.0 / (s + alpha)).collect();
        let den = spectrum.denominators(&w);
        qw.par_chunks_mut(r)
            .zip(q.par_chunks(r))
            .for_each(|(out, q)| {
                for ((o, &q), &w) in out.iter_mut().zip(q).zip(&w) {
                    *o = q * w;
                }
            });
        gemm(
            MatMut::from_column_major_slice_mut(&mut e, n, v),
            spectrum.p.as_ref(),
            MatRef::from_column_major_slice(&qw, r, v),
        );
        e.par_chunks(n)
            .zip(yc.par_chunks(n))
            .zip(best_loo.par_chunks_mut(n))
            .zip(best.par_iter_mut())
            .zip(coef_cols.par_iter_mut())
            .zip(constant.par_iter())
            .for_each_init(
                || vec![0.0; n],
                |loo, (((((e, yc), best_loo), best), coef), &constant)| {
                    if constant {
                        return;
                    }
                    let mut sse = 0.0;
                    for (((l, &e), &y), &d) in loo.iter_mut().zip(e).zip(yc).zip(&den) {
                        let residual = match form {
                            Form::Dual => e / d,
                            Form::Primal => (y - e) / d,
                        };
                        sse += residual * residual;
                        // Centred LOO prediction.
                        *l = y - residual;
                    }
                    let mse = sse / n as f64;
                    let r = pearson(yc, loo);
                    let score = match options.select {
                        Select::R => r,
                        Select::R2 => -mse,
                    };
                    let score = if score.is_nan() {
                        f64::NEG_INFINITY
                    } else {
                        score
                    };
                    if a == 0 || score > best.score {
                        best.score = score;
                        best.alpha = a;
                        best_loo.copy_from_slice(loo);
                        if let Some(coef) = coef {
                            coef.copy_from_slice(e);
                        }
                    }
                    best.r = r;
                    best.mse = mse;
                },
            );
        for (j, b) in best.iter().enumerate() {
            loo_r[(a, j)] = b.r;
            loo_mse[(a, j)] = b.mse;
        }
    }
    drop(coef_cols);
    let chosen: Vec<usize> = best.iter().map(|b| b.alpha).collect();

    // The primal spectrum keeps its eigenvectors V, the dual none.
    let coefficients = match spectrum.v.as_ref() {
        None => Coefficients::Dual {
            xc,
            a: MatRef::from_column_major_slice(&dual_coef, n, v).to_owned(),
        },
        // Primal refit: weights `V diag(w_α) Q` for the targets of each α, scattered into
        // place; constant targets keep zero weights.
        Some(basis) => {
            let mut w = Mat::zeros(basis.nrows(), v);
            for (a, &alpha) in alphas.iter().enumerate() {
                let group: Vec<usize> =
                    (0..v).filter(|&j| chosen[j] == a && !constant[j]).collect();
                if group.is_empty() {
                    continue;
                }
                let qg = Mat::from_fn(r, group.len(), |i, g| {
                    q[group[g] * r + i] / (spectrum.s[i] + alpha)
                });
                let mut wg = Mat::zeros(basis.nrows(), group.len());
                gemm(wg.as_mut(), basis.as_ref(), qg.as_ref());
                for (g, &j) in group.iter().enumerate() {
                    w.col_mut(j).copy_from(wg.col(g));
                }
            }
            Coefficients::Primal { w }
        }
    };
    let loo = Mat::from_fn(n, v, |i, j| y_mean[j] + best_loo[j * n + i]);
    let alpha = chosen.iter().map(|&a| alphas[a]).collect();
    Ok(RidgeCv {
        alphas: alphas.clone(),
        chosen,
        loo,
        loo_r,
        loo_mse,
        constant,
        model: RidgeModel {
            scaler,
            y_mean,
            alpha,
            coefficients,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SCIENCE.md §5.5.
    const X: [[f64; 2]; 6] = [[1., 0.], [0., 1.], [1., 1.], [2., 1.], [0., 2.], [3., 1.]];
    const Y: [f64; 6] = [1., 2., 2.5, 3.5, 3., 4.];
    const LOO: [[f64; 6]; 3] = [
        [
            1.81132075, 1.68193485, 2.55203855, 3.20279424, 3.37874187, 4.08133595,
        ],
        [2.5, 1.94886364, 2.58035714, 3.05, 2.59090909, 3.39423077],
        [
            2.93, 2.51598677, 2.65254237, 2.69895288, 2.37439024, 2.58453473,
        ],
    ];
    const R: [f64; 3] = [0.9193124673512498, 0.759151962568793, -0.509984255256438];

    fn options(alphas: &[f64], select: Select) -> RidgeOptions {
        RidgeOptions {
            alphas: alphas.to_vec(),
            select,
            standardize: false,
        }
    }

    /// The §5.5 design, optionally with each column repeated `copies` times: repeating a
    /// column c times is the original fit with that feature scaled by √c, so only the primal
    /// fit with one copy gives §5.5's numbers; `padded` checks the forms agree with each other.
    fn design(copies: usize) -> Mat<f64> {
        Mat::from_fn(6, 2 * copies, |i, j| X[i][j % 2])
    }

    fn targets() -> Mat<f64> {
        Mat::from_fn(6, 1, |i, _| Y[i])
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn loo_predictions_match_the_test_vector_in_both_forms() {
        for form in [Form::Primal, Form::Dual] {
            for (a, alpha) in [0.1, 1.0, 10.0].into_iter().enumerate() {
                let fit = fit_form(
                    design(1).as_ref(),
                    targets().as_ref(),
                    &options(&[alpha], Select::R),
                    form,
                )
                .unwrap();
                for (i, &want) in LOO[a].iter().enumerate() {
                    let got = fit.loo[(i, 0)];
                    assert!(
                        (got - want).abs() < 1e-8,
                        "{form:?} alpha {alpha} row {i}: {got} vs {want}"
                    );
                }
                assert!(
                    (fit.loo_r[(0, 0)] - R[a]).abs() < 1e-10,
                    "{form:?} alpha {alpha}"
                );
            }
            let fit = fit_form(
                design(1).as_ref(),
                targets().as_ref(),
                &options(&[0.1, 1.0, 10.0], Select::R),
                form,
            )
            .unwrap();
            assert_eq!(fit.chosen, vec![0], "{form:?}");
            for (a, &want) in R.iter().enumerate() {
                assert!(
                    (fit.loo_r[(a, 0)] - want).abs() < 1e-10,
                    "{form:?} alpha {a}"
                );
            }
            assert!(!fit.constant[0]);
        }
    }

    #[test]
    fn primal_and_dual_forms_agree() {
        // 6 rows: 2 features (primal by default), 12 (dual by default).
        let y = Mat::from_fn(6, 3, |i, j| Y[i] * (j as f64 + 1.0) + (i * j) as f64 * 0.3);
        let test = Mat::from_fn(4, 12, |i, j| ((i * 7 + j * 3) % 5) as f64 * 0.5 - 1.0);
        for copies in [1, 6] {
            for standardize in [false, true] {
                let opts = RidgeOptions {
                    alphas: vec![0.1, 1.0, 10.0],
                    select: Select::R2,
                    standardize,
                };
                let x = design(copies);
                let primal = fit_form(x.as_ref(), y.as_ref(), &opts, Form::Primal).unwrap();
                let dual = fit_form(x.as_ref(), y.as_ref(), &opts, Form::Dual).unwrap();
                assert_eq!(primal.chosen, dual.chosen);
                let t = test.as_ref().subcols(0, 2 * copies);
                let (pp, pd) = (
                    primal.model.predict(t).unwrap(),
                    dual.model.predict(t).unwrap(),
                );
                for j in 0..3 {
                    for a in 0..3 {
                        assert!(close(primal.loo_mse[(a, j)], dual.loo_mse[(a, j)], 1e-10));
                        assert!(close(primal.loo_r[(a, j)], dual.loo_r[(a, j)], 1e-10));
                    }
                    for i in 0..6 {
                        assert!(close(primal.loo[(i, j)], dual.loo[(i, j)], 1e-10));
                    }
                    for i in 0..4 {
                        assert!(
                            close(pp[(i, j)], pd[(i, j)], 1e-10),
                            "{copies} {standardize}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn selection_rules_differ_and_ties_keep_the_smaller_alpha() {
        let x = design(1);
        let fit = |alphas: &[f64], select| {
            RidgeCv::fit(x.as_ref(), targets().as_ref(), &options(alphas, select)).unwrap()
        };
        // R2 picks the α of least LOO MSE; equal alphas tie, and the first one stays.
        let r2 = fit(&[10.0, 0.1, 1.0], Select::R2);
        let best = (0..3)
            .min_by(|&a, &b| r2.loo_mse[(a, 0)].total_cmp(&r2.loo_mse[(b, 0)]))
            .unwrap();
        assert_eq!(r2.chosen, vec![best]);
        assert_eq!(fit(&[1.0, 1.0], Select::R).chosen, vec![0]);
        assert_eq!(fit(&[1.0, 1.0], Select::R2).chosen, vec![0]);
        assert_eq!(fit(&[10.0, 1.0, 0.1], Select::R).chosen, vec![2]);
    }

    #[test]
    fn refit_predictions_are_the_closed_form_ridge() {
        // Primal closed form: w = (XcᵀXc + αI)⁻¹ Xcᵀ yc on 2 features, b = ȳ − x̄ w.
        let (x, alpha) = (design(1), 0.1);
        let fit = RidgeCv::fit(
            x.as_ref(),
            targets().as_ref(),
            &options(&[alpha], Select::R),
        )
        .unwrap();
        let xm = [7.0 / 6.0, 1.0];
        let ym = Y.iter().sum::<f64>() / 6.0;
        let (mut a, mut b, mut d, mut u, mut z) = (alpha, 0.0, alpha, 0.0, 0.0);
        for i in 0..6 {
            let (p, q, t) = (X[i][0] - xm[0], X[i][1] - xm[1], Y[i] - ym);
            a += p * p;
            b += p * q;
            d += q * q;
            u += p * t;
            z += q * t;
        }
        let det = a * d - b * b;
        let w = [(d * u - b * z) / det, (a * z - b * u) / det];
        let test = Mat::from_fn(2, 2, |i, j| [[0.5, -1.0], [4.0, 2.0]][i][j]);
        let pred = fit.model.predict(test.as_ref()).unwrap();
        for i in 0..2 {
            let want = ym + (test[(i, 0)] - xm[0]) * w[0] + (test[(i, 1)] - xm[1]) * w[1];
            assert!(
                (pred[(i, 0)] - want).abs() < 1e-12,
                "{} vs {want}",
                pred[(i, 0)]
            );
        }
        let dual = fit_form(
            x.as_ref(),
            targets().as_ref(),
            &options(&[alpha], Select::R),
            Form::Dual,
        )
        .unwrap();
        let pred = dual.model.predict(test.as_ref()).unwrap();
        for i in 0..2 {
            let want = ym + (test[(i, 0)] - xm[0]) * w[0] + (test[(i, 1)] - xm[1]) * w[1];
            assert!(
                (pred[(i, 0)] - want).abs() < 1e-12,
                "dual: {} vs {want}",
                pred[(i, 0)]
            );
        }
    }

    #[test]
    fn constant_targets_stay_finite() {
        let y = Mat::from_fn(6, 2, |i, j| if j == 0 { 0.7 } else { Y[i] });
        for form in [Form::Primal, Form::Dual] {
            let fit = fit_form(
                design(1).as_ref(),
                y.as_ref(),
                &options(&[0.1, 1.0], Select::R),
                form,
            )
            .unwrap();
            assert_eq!(fit.constant, vec![true, false]);
            assert_eq!(fit.chosen[0], 0);
            assert!(fit.loo.col(0).iter().all(|&v| v == 0.7));
            assert!(fit.loo_r.col(0).iter().all(|v| v.is_nan()));
            assert!(fit.loo_mse.col(0).iter().all(|&v| v == 0.0));
            // The other target is unaffected: §5.5 at α = 0.1.
            assert!((fit.loo[(0, 1)] - LOO[0][0]).abs() < 1e-8);
            let pred = fit.model.predict(design(1).as_ref()).unwrap();
            assert!(pred.col(0).iter().all(|&v| v == 0.7));
            assert!(pred.col(1).iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn bad_inputs_are_usage_errors() {
        let (x, y) = (design(1), targets());
        let fit = |x: MatRef<'_, f64>, y: MatRef<'_, f64>, alphas: &[f64]| {
            RidgeCv::fit(x, y, &options(alphas, Select::R)).unwrap_err()
        };
        for alphas in [&[][..], &[0.0], &[1.0, -1.0], &[f64::NAN], &[f64::INFINITY]] {
            assert!(fit(x.as_ref(), y.as_ref(), alphas).is_usage(), "{alphas:?}");
        }
        let e = fit(x.as_ref().subrows(0, 2), y.as_ref().subrows(0, 2), &[1.0]);
        assert!(
            e.is_usage() && e.to_string().contains("3 train rows"),
            "{e}"
        );
        assert!(fit(x.as_ref(), y.as_ref().subrows(0, 5), &[1.0]).is_usage());
        let mut bad = targets();
        bad[(4, 0)] = f64::NAN;
        let e = fit(x.as_ref(), bad.as_ref(), &[1.0]);
        assert!(
            e.is_usage() && e.to_string().contains("row 4, column 0"),
            "{e}"
        );
        let mut bad = design(1);
        bad[(2, 1)] = f64::INFINITY;
        let e = fit(bad.as_ref(), y.as_ref(), &[1.0]);
        assert!(
            e.to_string().contains("features") && e.to_string().contains("row 2, column 1"),
            "{e}"
        );
        let model = RidgeCv::fit(x.as_ref(), y.as_ref(), &options(&[1.0], Select::R))
            .unwrap()
            .model;
        assert!(model.predict(design(2).as_ref()).unwrap_err().is_usage());
        assert_eq!("pearson".parse::<Select>().unwrap(), Select::R);
        assert!("best".parse::<Select>().unwrap_err().is_usage());
    }

    #[test]
    fn standard_scaler_matches_scikit_learn_conventions() {
        let x = Mat::from_fn(4, 3, |i, j| match j {
            0 => i as f64,
            1 => 5.0,
            _ => (i * i) as f64,
        });
        let s = StandardScaler::fit(x.as_ref());
        assert_eq!(s.mean, vec![1.5, 5.0, 3.5]);
        assert!((s.scale[0] - 1.25f64.sqrt()).abs() < 1e-15);
        assert_eq!(s.scale[1], 1.0);
        let z = s.transform(x.as_ref()).unwrap();
        assert!(z.col(1).iter().all(|&v| v == 0.0));
        assert!(s
            .transform(x.as_ref().subcols(0, 2))
            .unwrap_err()
            .is_usage());
    }

    /// Conwell's size: `cargo test --release --lib conwell_size -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing at full size (about 1 GB of memory)"]
    fn conwell_size() {
        use rand::{Rng, SeedableRng};
        let (n, p, v, m) = (500, 5920, 10_000, 500);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let x = Mat::from_fn(n, p, |_, _| rng.random::<f64>() - 0.5);
        let y = Mat::from_fn(n, v, |_, _| rng.random::<f64>());
        let test = Mat::from_fn(m, p, |_, _| rng.random::<f64>() - 0.5);
        let start = std::time::Instant::now();
        let fit = RidgeCv::fit(x.as_ref(), y.as_ref(), &RidgeOptions::default()).unwrap();
        let fitted = start.elapsed();
        let pred = fit.model.predict(test.as_ref()).unwrap();
        eprintln!(
            "n {n}, p {p}, V {v}, 7 alphas, {} threads: fit {:.3} s, predict {m} rows {:.3} s",
            rayon::current_num_threads(),
            fitted.as_secs_f64(),
            (start.elapsed() - fitted).as_secs_f64()
        );
        assert!(pred.col(0).iter().all(|v| v.is_finite()));
    }

    /// tests/fixtures/encoding/ridge_cv.json (make_encoding_fixtures.py, scikit-learn 1.9.1).
    mod scikit_learn {
        use super::*;
        use serde_json::Value;

        fn fixture() -> Value {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/encoding/ridge_cv.json"
            );
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        }

        fn numbers(v: &Value) -> Vec<f64> {
            match v {
                Value::Array(items) => items.iter().flat_map(numbers).collect(),
                v => vec![v.as_f64().unwrap()],
            }
        }

        /// A JSON `[rows][cols]` array.
        fn matrix(v: &Value) -> Mat<f64> {
            let rows = v.as_array().unwrap().len();
            let data = numbers(v);
            MatRef::from_row_major_slice(&data, rows, data.len() / rows).to_owned()
        }

        fn chosen_alphas(fit: &RidgeCv) -> Vec<f64> {
            fit.chosen.iter().map(|&a| fit.alphas[a]).collect()
        }

        #[track_caller]
        fn assert_close(got: f64, want: f64, what: &str) {
            let err = (got - want).abs() / want.abs().max(1e-3);
            assert!(
                err < 1e-8,
                "{what}: {got} vs scikit-learn {want} (relative error {err:.2e})"
            );
        }

        fn check_design(case: &Value, alphas: &[f64], name: &str) {
            let (x, y, test) = (
                matrix(&case["x_train"]),
                matrix(&case["y_train"]),
                matrix(&case["x_test"]),
            );
            let (n, v, na) = (y.nrows(), y.ncols(), alphas.len());
            let run = |select, standardize, form| {
                let opts = RidgeOptions {
                    alphas: alphas.to_vec(),
                    select,
                    standardize,
                };
                fit_form(x.as_ref(), y.as_ref(), &opts, form).unwrap()
            };
            let predictions = |fit: &RidgeCv, want: &Value, what: &str| {
                let (got, want) = (fit.model.predict(test.as_ref()).unwrap(), matrix(want));
                for i in 0..test.nrows() {
                    for j in 0..v {
                        assert_close(
                            got[(i, j)],
                            want[(i, j)],
                            &format!("{what} predict[{i}, {j}]"),
                        );
                    }
                }
            };
            // Both forms must reproduce scikit-learn, whichever mode it used.
            for form in [Form::Dual, Form::Primal] {
                let what = format!("{name} {form:?}");

                let raw = run(Select::R2, false, form);
                let want = &case["raw_r2"];
                assert_eq!(
                    chosen_alphas(&raw),
                    numbers(&want["alpha"]),
                    "{what} raw alpha_"
                );
                // cv_results_: [n, V, n_alpha] squared LOO errors.
                let cv = numbers(&want["cv_results"]);
                for j in 0..v {
                    for a in 0..na {
                        let mse = (0..n).map(|i| cv[(i * v + j) * na + a]).sum::<f64>() / n as f64;
                        assert_close(
                            raw.loo_mse[(a, j)],
                            mse,
                            &format!("{what} raw mse[{a}, {j}]"),
                        );
                    }
                    let a = raw.chosen[j];
                    for i in 0..n {
                        let e = (y[(i, j)] - raw.loo[(i, j)]).powi(2);
                        assert_close(
                            e,
                            cv[(i * v + j) * na + a],
                            &format!("{what} raw cv[{i}, {j}]"),
                        );
                    }
                }
                predictions(&raw, &want["predict"], &format!("{what} raw"));

                let scaled = run(Select::R2, true, form);
                let want = &case["scaled_r2"];
                assert_eq!(
                    chosen_alphas(&scaled),
                    numbers(&want["alpha"]),
                    "{what} scaled alpha_"
                );
                let mse = matrix(&want["mse"]);
                for j in 0..v {
                    for a in 0..na {
                        assert_close(
                            scaled.loo_mse[(a, j)],
                            mse[(a, j)],
                            &format!("{what} scaled mse[{a}, {j}]"),
                        );
                    }
                }
                predictions(&scaled, &want["predict"], &format!("{what} scaled"));

                let r = run(Select::R, true, form);
                let want = &case["scaled_r"];
                assert_eq!(
                    chosen_alphas(&r),
                    numbers(&want["alpha"]),
                    "{what} r alpha_"
                );
                let (loo, rs) = (matrix(&want["loo"]), matrix(&want["r"]));
                for j in 0..v {
                    for a in 0..na {
                        assert!(
                            (r.loo_r[(a, j)] - rs[(a, j)]).abs() < 1e-10,
                            "{what} r[{a}, {j}]"
                        );
                    }
                    for i in 0..n {
                        assert_close(r.loo[(i, j)], loo[(i, j)], &format!("{what} loo[{i}, {j}]"));
                    }
                }
                predictions(&r, &want["predict"], &format!("{what} r"));
            }
        }

        #[test]
        fn ridge_cv_matches_scikit_learn_dual_design() {
            let f = fixture();
            check_design(&f["dual"], &numbers(&f["alphas"]), "dual (40 x 60)");
        }

        #[test]
        fn ridge_cv_matches_scikit_learn_primal_design() {
            let f = fixture();
            check_design(&f["primal"], &numbers(&f["alphas"]), "primal (40 x 12)");
        }

        #[test]
        fn public_fit_picks_the_form_by_shape() {
            let f = fixture();
            let alphas = numbers(&f["alphas"]);
            for name in ["dual", "primal"] {
                let case = &f[name];
                let (x, y) = (matrix(&case["x_train"]), matrix(&case["y_train"]));
                let fit = RidgeCv::fit(x.as_ref(), y.as_ref(), &RidgeOptions::default()).unwrap();
                assert_eq!(fit.alphas, alphas);
                assert_eq!(
                    chosen_alphas(&fit),
                    numbers(&case["scaled_r"]["alpha"]),
                    "{name}"
                );
            }
        }
    }
}
