//! Linear centred kernel alignment (Kornblith et al. 2019) between two pattern matrices of the same
//! stimuli: CKA(X, Y) = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) with column-centred X `[n, p]` and Y
//! `[n, q]`, computed through the n × n Gram matrices (⟨K, L⟩_F = ‖YᵀX‖²_F) of
//! [`super::gram`], summed in f64.

use super::gram::{grams_on, Rows};
use super::rdm::{check_patterns, prepare, Metric};
use crate::error::Result;
use crate::exec::{Engine, ReferenceExecutor};

/// Linear CKA of `x: [n, p]` and `y: [n, q]` (row-major, same stimuli in the same order), with
/// the Gram products on `engine`. In [0, 1]; NaN when either matrix is constant across stimuli.
pub fn linear_cka_on(
    engine: &Engine,
    x: &[f32],
    p: usize,
    y: &[f32],
    q: usize,
    n: usize,
) -> Result<f64> {
    check_patterns("CKA", x, n, p)?;
    check_patterns("CKA", y, n, q)?;
    // Column-centred rows: the Euclidean family's preparation (column means removed, no scale).
    let (px, py) = (
        prepare(x, n, p, Metric::SqEuclidean),
        prepare(y, n, q, Metric::SqEuclidean),
    );
    let rows = [
        Rows { x, n, p, prep: &px },
        Rows {
            x: y,
            n,
            p: q,
            prep: &py,
        },
    ];
    let g = grams_on(engine, &rows)?;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>();
    Ok(dot(&g[0], &g[1]) / (dot(&g[0], &g[0]).sqrt() * dot(&g[1], &g[1]).sqrt()))
}

/// [`linear_cka_on`] with the f64 reference Gram.
pub fn linear_cka(x: &[f32], p: usize, y: &[f32], q: usize, n: usize) -> Result<f64> {
    linear_cka_on(&Engine::Reference(ReferenceExecutor), x, p, y, q, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invariances_and_a_hand_value() {
        let x = [1.0f32, 2.0, 0.0, 1.0, 3.0, 5.0, 2.0, 2.0];
        // Same patterns: 1. Isotropic scaling and a shift: unchanged.
        assert!((linear_cka(&x, 2, &x, 2, 4).unwrap() - 1.0).abs() < 1e-12);
        let scaled: Vec<f32> = x.iter().map(|v| 3.0 * v + 1.0).collect();
        assert!((linear_cka(&x, 2, &scaled, 2, 4).unwrap() - 1.0).abs() < 1e-12);
        // A rotation of the features: unchanged.
        let rot: Vec<f32> = x
            .chunks(2)
            .flat_map(|r| [0.6 * r[0] - 0.8 * r[1], 0.8 * r[0] + 0.6 * r[1]])
            .collect();
        assert!((linear_cka(&x, 2, &rot, 2, 4).unwrap() - 1.0).abs() < 1e-6);
        // One feature each: CKA = squared Pearson correlation of the two columns.
        let (a, b) = ([1.0f32, 2.0, 4.0, 7.0], [2.0f32, 1.0, 5.0, 6.0]);
        let r = crate::rsa::compare::pearson(&a.map(f64::from), &b.map(f64::from));
        assert!((linear_cka(&a, 1, &b, 1, 4).unwrap() - r * r).abs() < 1e-12);
        assert!(linear_cka(&[1.0; 4], 1, &b, 1, 4).unwrap().is_nan());
    }
}
