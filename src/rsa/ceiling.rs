//! Noise ceiling of RDM comparisons (Nili et al. 2014; rsatoolbox `boot_noise_ceiling`,
//! SCIENCE.md §4): subject RDMs are pooled after a method-dependent transform (z-score for Pearson,
//! ranks for rank methods, RMS-normalised for cosine); the upper bound compares each subject with
//! the mean of all, the lower bound with the mean of the others (leave one subject out).

use super::compare::{compare, rankdata, Method};
use crate::error::{Error, Result};

/// Lower and upper bound of the best achievable mean score.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct NoiseCeiling {
    pub lower: f64,
    pub upper: f64,
}

/// rsatoolbox's `pool_rdm` transform of one subject RDM for `method`.
pub fn pool_transform(d: &[f64], method: Method) -> Vec<f64> {
    let m = d.len() as f64;
    match method {
        Method::Pearson => {
            let mean = d.iter().sum::<f64>() / m;
            let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / m).sqrt();
            d.iter().map(|x| (x - mean) / sd).collect()
        }
        Method::Cosine => {
            let rms = (d.iter().map(|x| x * x).sum::<f64>() / m).sqrt();
            d.iter().map(|x| x / rms).collect()
        }
        _ => rankdata(d),
    }
}

/// Noise ceiling of `subjects` (condensed RDMs of the same stimuli) for `method`. Positions NaN
/// in any subject are left out. Needs at least two subjects.
pub fn noise_ceiling(subjects: &[Vec<f64>], method: Method) -> Result<NoiseCeiling> {
    let s = subjects.len();
    if s < 2 {
        return Err(Error::Invalid(format!(
            "a noise ceiling needs at least 2 subjects, got {s}"
        )));
    }
    let m = subjects[0].len();
    if let Some(i) = subjects.iter().position(|d| d.len() != m) {
        return Err(Error::Invalid(format!(
            "subject RDM {i} has {} entries, subject 0 has {m}",
            subjects[i].len()
        )));
    }
    let keep: Vec<usize> = (0..m)
        .filter(|&k| subjects.iter().all(|d| !d[k].is_nan()))
        .collect();
    let subjects: Vec<Vec<f64>> = subjects
        .iter()
        .map(|d| keep.iter().map(|&k| d[k]).collect())
        .collect();
    let transformed: Vec<Vec<f64>> = subjects.iter().map(|d| pool_transform(d, method)).collect();
    let mean_of = |skip: Option<usize>| -> Vec<f64> {
        let count = (s - usize::from(skip.is_some())) as f64;
        (0..keep.len())
            .map(|k| {
                transformed
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != skip)
                    .map(|(_, t)| t[k])
                    .sum::<f64>()
                    / count
            })
            .collect()
    };
    let all = mean_of(None);
    let upper = subjects
        .iter()
        .map(|d| compare(&all, d, method))
        .sum::<f64>()
        / s as f64;
    let lower = (0..s)
        .map(|i| compare(&mean_of(Some(i)), &subjects[i], method))
        .sum::<f64>()
        / s as f64;
    Ok(NoiseCeiling { lower, upper })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn science_md_test_vectors() {
        let set1 = [
            vec![0.1, 0.4, 0.4, 0.8, 0.3, 0.9],
            vec![0.2, 0.5, 0.3, 0.7, 0.3, 1.0],
            vec![0.3, 0.2, 0.6, 0.9, 0.1, 0.8],
        ];
        let want1 = [
            (Method::Pearson, 0.8649432423959341, 0.9393115931897477),
            (Method::Spearman, 0.7876750700280112, 0.885228145766343),
            (Method::Cosine, 0.9650808301294119, 0.9844372905190971),
            (Method::KendallTauA, 0.6, 0.7777777777777778),
            (Method::RhoA, 0.7714285714285714, 0.8761904761904762),
        ];
        let set2 = [
            vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            vec![10.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            vec![0.6, 0.1, 0.5, 0.2, 0.4, 0.3],
        ];
        let want2 = [
            (Method::Pearson, 0.14410246076673913, 0.6107773139777234),
            (Method::Spearman, 0.2608969660436018, 0.6280852886234857),
            (Method::KendallTauA, 0.2222222222222222, 0.48888888888888893),
        ];
        for (set, want) in [(&set1[..], &want1[..]), (&set2[..], &want2[..])] {
            for &(method, lower, upper) in want {
                let c = noise_ceiling(set, method).unwrap();
                assert!(
                    (c.lower - lower).abs() < 1e-12,
                    "{method} lower {} vs {lower}",
                    c.lower
                );
                assert!(
                    (c.upper - upper).abs() < 1e-12,
                    "{method} upper {} vs {upper}",
                    c.upper
                );
            }
        }
        // The pooled rank-mean RDM of set 1.
        let ranks: Vec<Vec<f64>> = set1
            .iter()
            .map(|d| pool_transform(d, Method::Spearman))
            .collect();
        let pooled: Vec<f64> = (0..6)
            .map(|k| ranks.iter().map(|r| r[k]).sum::<f64>() / 3.0)
            .collect();
        for (g, w) in pooled
            .iter()
            .zip([1.6667, 3.1667, 3.3333, 5.3333, 1.8333, 5.6667])
        {
            assert!((g - w).abs() < 1e-4);
        }
        assert!(noise_ceiling(&set1[..1], Method::Pearson).is_err());
    }
}
