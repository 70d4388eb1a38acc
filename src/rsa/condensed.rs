//! Condensed RDM vectors: the upper triangle, row-major, i < j (scipy `squareform` order).

use crate::error::{Error, Result};

/// Number of pairs of `n` stimuli: n(n − 1)/2.
pub fn pair_count(n: usize) -> usize {
    n * n.saturating_sub(1) / 2
}

/// Position of pair (i, j), i ≠ j, in the condensed vector of `n` stimuli (order of i, j free).
#[inline]
pub fn pair_index(n: usize, i: usize, j: usize) -> usize {
    let (i, j) = if i < j { (i, j) } else { (j, i) };
    n * i - i * (i + 1) / 2 + (j - i - 1)
}

/// The stimulus count whose condensed vector has `m` entries, or an error.
pub fn stimuli_from_pairs(m: usize) -> Result<usize> {
    let n = ((1.0 + (1.0 + 8.0 * m as f64).sqrt()) / 2.0).round() as usize;
    if pair_count(n) != m || n < 2 {
        return Err(Error::Invalid(format!(
            "{m} is not the length of a condensed RDM (n(n−1)/2 for some n ≥ 2)"
        )));
    }
    Ok(n)
}

/// `n × n` symmetric matrix with zero diagonal from a condensed vector.
pub fn condensed_to_square(v: &[f64]) -> Result<Vec<f64>> {
    let n = stimuli_from_pairs(v.len())?;
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let d = v[pair_index(n, i, j)];
            out[i * n + j] = d;
            out[j * n + i] = d;
        }
    }
    Ok(out)
}

/// Condensed vector of an `n × n` matrix. The matrix must be symmetric (to 1e-9 relative, NaNs
/// matching) with a zero (or NaN) diagonal; `what` names it in errors.
pub fn square_to_condensed(m: &[f64], n: usize, what: &str) -> Result<Vec<f64>> {
    if m.len() != n * n {
        return Err(Error::Invalid(format!(
            "{what}: {} values do not make a {n}×{n} matrix",
            m.len()
        )));
    }
    let mut out = Vec::with_capacity(pair_count(n));
    for i in 0..n {
        let d = m[i * n + i];
        if d != 0.0 && !d.is_nan() {
            return Err(Error::Invalid(format!(
                "{what}: diagonal entry ({i}, {i}) is {d}, not 0"
            )));
        }
        for j in i + 1..n {
            let (a, b) = (m[i * n + j], m[j * n + i]);
            let same = (a.is_nan() && b.is_nan())
                || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300);
            if !same {
                return Err(Error::Invalid(format!(
                    "{what}: not symmetric at ({i}, {j}): {a} vs {b}"
                )));
            }
            out.push(a);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_order_is_scipy_squareform() {
        // SCIENCE.md §0: n = 4 → (0,1),(0,2),(0,3),(1,2),(1,3),(2,3).
        let order: Vec<usize> = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
            .iter()
            .map(|&(i, j)| pair_index(4, i, j))
            .collect();
        assert_eq!(order, [0, 1, 2, 3, 4, 5]);
        assert_eq!(pair_index(4, 3, 1), 4);
        assert_eq!(stimuli_from_pairs(4186).unwrap(), 92);
        assert!(stimuli_from_pairs(7).is_err());
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let sq = condensed_to_square(&v).unwrap();
        assert_eq!(sq[3 * 4 + 2], 6.0);
        assert_eq!(square_to_condensed(&sq, 4, "m").unwrap(), v);
        let mut bad = sq.clone();
        bad[1] = 9.0;
        assert!(square_to_condensed(&bad, 4, "m")
            .unwrap_err()
            .to_string()
            .contains("not symmetric at (0, 1)"));
    }
}
