//! Bootstrap over stimuli and/or subjects (seeded) for confidence intervals of model scores and
//! of paired differences between models.
//!
//! A stimulus bootstrap sample draws n stimuli with replacement and keeps every pair of draws
//! that are different stimuli (pairs of a stimulus with itself have no dissimilarity; rsatoolbox
//! drops them as NaN). A subject bootstrap sample draws subjects with replacement. A model's score
//! in a sample is the mean over the sampled subjects of its comparison with each.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::compare::{compare, dense_ranks, pearson, rho_a, Method};
use super::condensed::{pair_count, pair_index};
use crate::error::{Error, Result};

/// What a bootstrap sample resamples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resample {
    Stimuli,
    Subjects,
    Both,
}

named_enum!(Resample, "bootstrap", { Stimuli => "stimuli", Subjects => "subjects", Both => "both" });

/// Options of a bootstrap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapOptions {
    pub method: Method,
    pub resample: Resample,
    pub samples: usize,
    pub seed: u64,
    /// Worker threads (0: all available cores).
    pub threads: usize,
}

/// Percentile interval and spread of a bootstrap distribution.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// 2.5th percentile (linear interpolation, as numpy's default).
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
    /// Standard deviation of the bootstrap distribution (the bootstrap standard error).
    pub se: f64,
}

/// A paired difference between two models' scores over the same bootstrap samples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Difference {
    pub interval: Interval,
    /// Two-sided bootstrap p-value: 2·min(#{d ≤ 0}, #{d ≥ 0}) / samples, at most 1.
    pub p_value: f64,
}

/// `q`-th percentile (0–100) of `v` with linear interpolation; NaNs are ignored.
pub fn percentile(v: &[f64], q: f64) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let pos = q / 100.0 * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Interval of a bootstrap distribution.
pub fn interval(v: &[f64]) -> Interval {
    let x: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let se = (x.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0)).sqrt();
    Interval {
        low: percentile(&x, 2.5),
        high: percentile(&x, 97.5),
        se,
    }
}

/// Paired difference `a − b` of two models' bootstrap scores.
pub fn difference(a: &[f64], b: &[f64]) -> Difference {
    let d: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x - y)
        .filter(|x| !x.is_nan())
        .collect();
    let le = d.iter().filter(|&&x| x <= 0.0).count();
    let ge = d.iter().filter(|&&x| x >= 0.0).count();
    Difference {
        interval: interval(&d),
        p_value: (2.0 * le.min(ge) as f64 / d.len() as f64).min(1.0),
    }
}

/// A vector prepared for fast comparison of its subsamples: values and dense ranks.
struct Ranked {
    values: Vec<f64>,
    dense: Vec<u32>,
    distinct: usize,
}

impl Ranked {
    fn new(v: &[f64]) -> Ranked {
        let (dense, distinct) = dense_ranks(v);
        Ranked {
            values: v.to_vec(),
            dense,
            distinct,
        }
    }

    /// Average (1-based) ranks of the entries at `idx`, by counting over the dense ranks: O(len).
    fn subsample_ranks(&self, idx: &[usize], counts: &mut Vec<u32>) -> Vec<f64> {
        counts.clear();
        counts.resize(self.distinct, 0);
        for &k in idx {
            counts[self.dense[k] as usize] += 1;
        }
        // Average rank of each dense value: (start + 1 + start + count) / 2.
        let mut avg = vec![0.0; self.distinct];
        let mut start = 0u64;
        for (a, &c) in avg.iter_mut().zip(counts.iter()) {
            *a = (2 * start + u64::from(c) + 1) as f64 / 2.0;
            start += u64::from(c);
        }
        idx.iter().map(|&k| avg[self.dense[k] as usize]).collect()
    }
}

/// Score of `model` against `subject` on the positions `idx`.
fn score(
    model: &Ranked,
    subject: &Ranked,
    idx: &[usize],
    method: Method,
    counts: &mut Vec<u32>,
) -> f64 {
    match method {
        Method::Spearman | Method::RhoA => {
            let (ra, rb) = (
                model.subsample_ranks(idx, counts),
                subject.subsample_ranks(idx, counts),
            );
            if method == Method::Spearman {
                pearson(&ra, &rb)
            } else {
                rho_a(&ra, &rb)
            }
        }
        _ => {
            let a: Vec<f64> = idx.iter().map(|&k| model.values[k]).collect();
            let b: Vec<f64> = idx.iter().map(|&k| subject.values[k]).collect();
            compare(&a, &b, method)
        }
    }
}

/// A usage error when `resample` draws subjects but there are fewer than two: every sample
/// would hold the one subject, giving a zero-width interval and p = 0 for every difference.
pub fn check_resample(resample: Resample, subjects: usize) -> Result<()> {
    if resample != Resample::Stimuli && subjects < 2 {
        return Err(Error::Invalid(format!(
            "a bootstrap over {resample} needs at least 2 subjects, got {subjects} (resampling one subject gives a zero-width interval); bootstrap over stimuli instead"
        )));
    }
    Ok(())
}

/// Bootstrap distribution of each model's mean score over subjects: `[sample][model]`. Each
/// sample `k` is drawn from ChaCha20 stream `k` of `seed`, so results do not depend on threads.
pub fn bootstrap(
    models: &[Vec<f64>],
    subjects: &[Vec<f64>],
    n: usize,
    opts: &BootstrapOptions,
) -> Result<Vec<Vec<f64>>> {
    let m = pair_count(n);
    if n < 3 || subjects.is_empty() || models.is_empty() {
        return Err(Error::shape(
            "bootstrap",
            format!(
                "needs ≥ 3 stimuli, ≥ 1 model and ≥ 1 subject; got {n} stimuli, {} models, {} subjects",
                models.len(),
                subjects.len()
            ),
        ));
    }
    check_resample(opts.resample, subjects.len())?;
    let all = models
        .iter()
        .enumerate()
        .map(|(i, v)| ("model", i, v))
        .chain(subjects.iter().enumerate().map(|(i, v)| ("subject", i, v)));
    for (what, i, v) in all {
        if v.len() != m || v.iter().any(|x| !x.is_finite()) {
            return Err(Error::shape(
                "bootstrap",
                format!(
                    "{what} RDM {i} has {} entries or non-finite values; the bootstrap needs complete RDMs of {m} entries",
                    v.len()
                ),
            ));
        }
    }
    let models: Vec<Ranked> = models.iter().map(|v| Ranked::new(v)).collect();
    let subjects: Vec<Ranked> = subjects.iter().map(|v| Ranked::new(v)).collect();
    let sample = |k: usize| -> Vec<f64> {
        let mut rng = ChaCha20Rng::seed_from_u64(opts.seed);
        rng.set_stream(k as u64);
        let stim: Vec<usize> = match opts.resample {
            Resample::Subjects => (0..n).collect(),
            _ => (0..n).map(|_| rng.random_range(0..n)).collect(),
        };
        let subj: Vec<usize> = match opts.resample {
            Resample::Stimuli => (0..subjects.len()).collect(),
            _ => (0..subjects.len())
                .map(|_| rng.random_range(0..subjects.len()))
                .collect(),
        };
        let mut idx = Vec::with_capacity(m);
        for p in 0..n {
            for q in p + 1..n {
                if stim[p] != stim[q] {
                    idx.push(pair_index(n, stim[p], stim[q]));
                }
            }
        }
        let mut counts = Vec::new();
        models
            .iter()
            .map(|model| {
                subj.iter()
                    .map(|&s| score(model, &subjects[s], &idx, opts.method, &mut counts))
                    .sum::<f64>()
                    / subj.len() as f64
            })
            .collect()
    };
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |t| t.get())
    } else {
        opts.threads
    }
    .clamp(1, opts.samples.max(1));
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); opts.samples];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let sample = &sample;
                scope.spawn(move || {
                    (t..opts.samples)
                        .step_by(threads)
                        .map(|k| (k, sample(k)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (k, v) in h.join().expect("bootstrap worker panicked") {
                out[k] = v;
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rsa::compare::rankdata;

    #[test]
    fn one_subject_is_refused_when_subjects_are_resampled() {
        let n = 5;
        let v: Vec<f64> = (0..pair_count(n)).map(|k| k as f64).collect();
        for resample in [Resample::Subjects, Resample::Both] {
            let opts = BootstrapOptions {
                method: Method::Spearman,
                resample,
                samples: 20,
                seed: 0,
                threads: 1,
            };
            let e = bootstrap(std::slice::from_ref(&v), std::slice::from_ref(&v), n, &opts)
                .unwrap_err();
            assert!(e.is_usage(), "{e}");
            let e = e.to_string();
            assert!(
                e.contains(&format!(
                    "bootstrap over {resample} needs at least 2 subjects, got 1"
                )),
                "{e}"
            );
        }
        check_resample(Resample::Stimuli, 1).unwrap();
        check_resample(Resample::Subjects, 2).unwrap();
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        assert!((percentile(&v, 2.5) - 1.0).abs() < 1e-12);
        assert!((percentile(&v, 97.5) - 8.475).abs() < 1e-12);
        assert!((percentile(&v, 50.0) - 3.5).abs() < 1e-12);
        let d = difference(&[1.0, 2.0, 3.0, 4.0], &[0.0, 0.0, 0.0, 5.0]);
        assert!((d.p_value - 0.5).abs() < 1e-12);
    }

    #[test]
    fn subsample_ranks_match_rankdata() {
        let v = [0.5, 0.1, 0.5, 0.9, 0.3, 0.1, 0.7];
        let r = Ranked::new(&v);
        let idx = [0, 2, 2, 5, 6, 1, 4];
        let sub: Vec<f64> = idx.iter().map(|&k| v[k]).collect();
        assert_eq!(r.subsample_ranks(&idx, &mut Vec::new()), rankdata(&sub));
    }

    #[test]
    fn bootstrap_is_seeded_thread_free_and_centred_on_the_score() {
        let n = 20;
        let m = pair_count(n);
        let noise = |s: u64| -> Vec<f64> {
            (0..m)
                .map(|k| ((k as u64 * 2654435761 + s * 97) % 1000) as f64 / 1000.0)
                .collect()
        };
        let base = noise(1);
        let subjects: Vec<Vec<f64>> = (2..6)
            .map(|s| {
                base.iter()
                    .zip(noise(s))
                    .map(|(b, e)| b + 0.5 * e)
                    .collect()
            })
            .collect();
        let models = vec![base.clone(), noise(9)];
        for method in [
            Method::Spearman,
            Method::RhoA,
            Method::KendallTauA,
            Method::Pearson,
        ] {
            let opts = |threads| BootstrapOptions {
                method,
                resample: Resample::Both,
                samples: 64,
                seed: 3,
                threads,
            };
            let a = bootstrap(&models, &subjects, n, &opts(1)).unwrap();
            assert_eq!(
                a,
                bootstrap(&models, &subjects, n, &opts(4)).unwrap(),
                "{method}"
            );
            let full: f64 = subjects
                .iter()
                .map(|s| compare(&base, s, method))
                .sum::<f64>()
                / 4.0;
            let scores: Vec<f64> = a.iter().map(|s| s[0]).collect();
            let iv = interval(&scores);
            assert!(
                iv.low < full && full < iv.high,
                "{method}: {full} outside [{}, {}]",
                iv.low,
                iv.high
            );
            let d = difference(&scores, &a.iter().map(|s| s[1]).collect::<Vec<_>>());
            assert!(
                d.interval.low > 0.0 && d.p_value < 0.05,
                "{method}: the true model wins"
            );
        }
    }
}
