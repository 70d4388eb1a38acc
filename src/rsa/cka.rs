//! Linear centred kernel alignment (Kornblith et al. 2019) between two pattern matrices of the same
//! stimuli: CKA(X, Y) = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) with column-centred X `[n, p]` and Y
//! `[n, q]`, computed through the n × n Gram matrices (⟨K, L⟩_F = ‖YᵀX‖²_F) in f64.

use super::rdm::check_patterns;
use crate::error::Result;

fn centred_gram(x: &[f32], n: usize, p: usize) -> Result<Vec<f64>> {
    check_patterns("CKA", x, n, p)?;
    let mut mean = vec![0f64; p];
    for row in x.chunks_exact(p) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let rows: Vec<Vec<f64>> = x
        .chunks_exact(p)
        .map(|r| {
            r.iter()
                .zip(&mean)
                .map(|(&v, m)| f64::from(v) - m)
                .collect()
        })
        .collect();
    let mut g = vec![0f64; n * n];
    for i in 0..n {
        for j in i..n {
            let d: f64 = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
            g[i * n + j] = d;
            g[j * n + i] = d;
        }
    }
    Ok(g)
}

/// Linear CKA of `x: [n, p]` and `y: [n, q]` (row-major, same stimuli in the same order). In
/// [0, 1]; NaN when either matrix is constant across stimuli.
pub fn linear_cka(x: &[f32], p: usize, y: &[f32], q: usize, n: usize) -> Result<f64> {
    let (k, l) = (centred_gram(x, n, p)?, centred_gram(y, n, q)?);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>();
    Ok(dot(&k, &l) / (dot(&k, &k).sqrt() * dot(&l, &l).sqrt()))
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
