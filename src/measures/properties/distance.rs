//! Distances between the flattened activations of listed image pairs: a pair-list query, not a
//! full RDM, computed directly as Σ|x − y|ᵖ in f64 (never through a Gram product, whose
//! ‖x‖² + ‖y‖² − 2⟨x, y⟩ loses the small differences these indices contrast), in parallel over
//! pairs on the host, where captured activations already are.

use rayon::prelude::*;

use super::Acts;

/// The distance of SCIENCE.md §6.0 (Euclidean, `norm(x − y, 2)`) or the CityBlock one
/// (`norm(x − y, 1)`) of Jacob et al.'s all-network part-matching script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    Euclidean,
    CityBlock,
}

named_enum!(Distance, "distance", {
    Euclidean => "euclidean",
    CityBlock => "cityblock",
});

/// Distance between rows `i` and `j` of `acts`.
pub fn distance(acts: &Acts<'_>, i: usize, j: usize, metric: Distance) -> f64 {
    let (x, y) = (row(acts, i), row(acts, j));
    match metric {
        Distance::Euclidean => x
            .iter()
            .zip(y)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
            .sqrt(),
        Distance::CityBlock => x
            .iter()
            .zip(y)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
            .sum(),
    }
}

/// Distances of every pair in `pairs`, in order.
pub fn pair_distances(acts: &Acts<'_>, pairs: &[(usize, usize)], metric: Distance) -> Vec<f64> {
    pairs
        .par_iter()
        .map(|&(i, j)| distance(acts, i, j, metric))
        .collect()
}

/// Row `i` of `acts`.
pub fn row<'a>(acts: &Acts<'a>, i: usize) -> &'a [f32] {
    &acts.data[i * acts.p..(i + 1) * acts.p]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euclidean_and_cityblock_of_listed_pairs() {
        let data = [0.0f32, 0.0, 3.0, 4.0, 1.0, 1.0];
        let acts = Acts {
            data: &data,
            n: 3,
            p: 2,
        };
        assert_eq!(
            pair_distances(&acts, &[(0, 1), (1, 2)], Distance::Euclidean),
            [5.0, 13f64.sqrt()]
        );
        assert_eq!(
            pair_distances(&acts, &[(0, 1), (2, 0)], Distance::CityBlock),
            [7.0, 2.0]
        );
    }

    #[test]
    fn small_differences_of_large_vectors_survive() {
        // Norms of 1e4 and a difference of 1e-3 in one of 10,000 features: a Gram product in f32
        // would return 0 or noise.
        let p = 10_000;
        let mut data = vec![100.0f32; 2 * p];
        data[p + 7] += 0.001;
        let acts = Acts {
            data: &data,
            n: 2,
            p,
        };
        let d = distance(&acts, 0, 1, Distance::Euclidean);
        assert!((d - f64::from(100.001f32) + 100.0).abs() < 1e-9, "{d}");
    }
}
