//! Mantel permutation tests (SCIENCE.md §3), batched: many model RDMs × many subject RDMs share
//! one set of seeded stimulus permutations. Native multi-threaded CPU path.
//!
//! Stimuli are permuted jointly on rows and columns of the subject RDM (the model RDM stays put,
//! which is the same test: relabelling both is a permutation of pairs). For the correlation-type
//! methods each statistic is a dot product of pre-centred, pre-normalised vectors (mean and norm
//! are permutation-invariant); Kendall's τ reuses the model's sort order (Knight's algorithm), so a
//! permutation costs one merge sort.

use rand::seq::SliceRandom;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::compare::{dense_ranks, rankdata, tied_pairs_sorted, KendallPlan, Method};
use super::condensed::{pair_count, pair_index};
use crate::error::{Error, Result};

/// Which tail the p-value counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alternative {
    /// #{s_k ≥ s_obs}
    Greater,
    /// #{s_k ≤ s_obs}
    Less,
    /// #{|s_k| ≥ |s_obs|} (scikit-bio's default)
    TwoSided,
}

named_enum!(Alternative, "alternative", { Greater => "greater", Less => "less", TwoSided => "two-sided" });

/// Options of a Mantel test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MantelOptions {
    pub method: Method,
    pub permutations: usize,
    pub seed: u64,
    pub alternative: Alternative,
    /// Worker threads (0: all available cores).
    pub threads: usize,
}

/// Result of one model × subject test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MantelResult {
    /// The observed statistic.
    pub statistic: f64,
    /// (#{permutations at least as extreme} + 1) / (permutations + 1); NaN with 0 permutations.
    pub p_value: f64,
    /// Permutations at least as extreme as the observed statistic.
    pub extreme: usize,
}

/// The `k`-th permutation of `n` stimuli for `seed`: a Fisher–Yates shuffle driven by ChaCha20
/// stream `k`, so any permutation can be drawn independently of the others and of thread count.
pub fn permutation(seed: u64, k: u64, n: usize) -> Vec<u32> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(k);
    let mut p: Vec<u32> = (0..n as u32).collect();
    p.shuffle(&mut rng);
    p
}

/// A subject RDM prepared for permutation: a square `n × n` table of its transformed values.
enum Prepared {
    /// f32 halves the memory the permutation gathers from; products are summed in f64.
    Values(Vec<f32>),
    Ranks {
        square: Vec<u32>,
        tied: u64,
    },
}

/// A model RDM prepared for comparison with permuted subject RDMs.
enum Model {
    Dot(Vec<f32>),
    Kendall(KendallPlan),
}

fn centre_normalise(v: &[f64], centre: bool) -> Vec<f64> {
    let mean = if centre {
        v.iter().sum::<f64>() / v.len() as f64
    } else {
        0.0
    };
    let norm = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>().sqrt();
    v.iter().map(|x| (x - mean) / norm).collect()
}

/// The vector each dot-product method correlates: centred and normalised values or ranks; for
/// ρ_a ranks centred on (m + 1)/2 and scaled so the dot product is ρ_a.
pub(super) fn transform(v: &[f64], method: Method) -> Vec<f64> {
    let m = v.len() as f64;
    match method {
        Method::Pearson => centre_normalise(v, true),
        Method::Cosine => centre_normalise(v, false),
        Method::Spearman => centre_normalise(&rankdata(v), true),
        Method::RhoA => {
            let s = (12.0 / (m * m * m - m)).sqrt();
            rankdata(v)
                .iter()
                .map(|r| (r - (m + 1.0) / 2.0) * s)
                .collect()
        }
        Method::KendallTauA | Method::KendallTauB => unreachable!("Kendall has no dot form"),
    }
}

pub(super) fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// The condensed vector of the `n × n` table `sq` with stimuli relabelled by `p`:
/// `out[k(i, j)] = sq[p(i), p(j)]`.
fn permuted<T: Copy>(sq: &[T], n: usize, p: &[usize], out: &mut Vec<T>) {
    out.clear();
    for i in 0..n {
        let row = &sq[p[i] * n..(p[i] + 1) * n];
        out.extend(p[i + 1..].iter().map(|&j| row[j]));
    }
}

/// `dot(a, permuted(sq))` without materialising the permuted vector (one model: saves writing
/// and re-reading m values per permutation).
fn permuted_dot(sq: &[f32], n: usize, p: &[usize], a: &[f32]) -> f64 {
    let mut total = 0.0;
    let mut k = 0;
    for i in 0..n {
        let row = &sq[p[i] * n..(p[i] + 1) * n];
        let len = n - i - 1;
        let ai = &a[k..k + len];
        let mut acc = [0f64; 4];
        let (pc, ac) = (p[i + 1..].chunks_exact(4), ai.chunks_exact(4));
        let tail: f64 = pc
            .remainder()
            .iter()
            .zip(ac.remainder())
            .map(|(&j, &x)| f64::from(x) * f64::from(row[j]))
            .sum();
        for (pj, x) in pc.zip(ac) {
            for l in 0..4 {
                acc[l] += f64::from(x[l]) * f64::from(row[pj[l]]);
            }
        }
        total += acc.iter().sum::<f64>() + tail;
        k += len;
    }
    total
}

/// Dot product of f32 vectors summed in f64, in 8 independent lanes (vectorises).
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += f64::from(x[l]) * f64::from(y[l]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

pub(super) fn square<T: Copy + Default>(v: &[T], n: usize) -> Vec<T> {
    let mut sq = vec![T::default(); n * n];
    for i in 0..n {
        for j in i + 1..n {
            let x = v[pair_index(n, i, j)];
            sq[i * n + j] = x;
            sq[j * n + i] = x;
        }
    }
    sq
}

/// Checks the inputs of a Mantel test; returns the number of pairs.
pub(super) fn validate(models: &[Vec<f64>], subjects: &[Vec<f64>], n: usize) -> Result<usize> {
    if n < 3 {
        return Err(Error::shape(
            "mantel",
            format!("the Mantel test needs at least 3 stimuli, got {n}"),
        ));
    }
    let m = pair_count(n);
    for (i, v) in models.iter().enumerate() {
        check(&format!("model RDM {i}"), v, m)?;
    }
    for (i, v) in subjects.iter().enumerate() {
        check(&format!("subject RDM {i}"), v, m)?;
    }
    Ok(m)
}

fn check(name: &str, v: &[f64], m: usize) -> Result<()> {
    // Data errors (exit 1), not usage: the values are wrong, not the flags.
    if v.len() != m {
        return Err(Error::shape(
            "mantel",
            format!("{name} has {} entries, expected {m}", v.len()),
        ));
    }
    if let Some(k) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::shape(
            "mantel",
            format!(
                "{name} holds a non-finite entry ({}) at condensed index {k}; the Mantel test needs complete RDMs",
                v[k]
            ),
        ));
    }
    Ok(())
}

/// Results of a batched Mantel test.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MantelTable {
    /// `[model][subject]`.
    pub per_subject: Vec<Vec<MantelResult>>,
    /// Per model: the mean statistic over subjects, tested with the same permutation applied to
    /// every subject at once.
    pub group: Vec<MantelResult>,
}

/// Mantel tests of every model RDM against every subject RDM (condensed, `n` stimuli), with the
/// seeded permutations of [`permutation`]. Observed statistics equal [`super::compare`] on the
/// same vectors.
pub fn mantel(
    models: &[Vec<f64>],
    subjects: &[Vec<f64>],
    n: usize,
    opts: &MantelOptions,
) -> Result<MantelTable> {
    mantel_with(models, subjects, n, opts, &|k| permutation(opts.seed, k, n))
}

/// [`mantel`] with the `k`-th permutation (k < `opts.permutations`) drawn by `draw`.
pub fn mantel_with(
    models: &[Vec<f64>],
    subjects: &[Vec<f64>],
    n: usize,
    opts: &MantelOptions,
    draw: &(dyn Fn(u64) -> Vec<u32> + Sync),
) -> Result<MantelTable> {
    let m = validate(models, subjects, n)?;
    let kendall = matches!(opts.method, Method::KendallTauA | Method::KendallTauB);
    let prepared: Vec<Prepared> = subjects
        .iter()
        .map(|s| {
            if kendall {
                let (r, _) = dense_ranks(s);
                let mut sorted = r.clone();
                sorted.sort_unstable();
                let tied = tied_pairs_sorted(&sorted);
                Prepared::Ranks {
                    square: square(&r, n),
                    tied,
                }
            } else {
                Prepared::Values(square(&to_f32(&transform(s, opts.method)), n))
            }
        })
        .collect();
    let model_prep: Vec<Model> = models
        .iter()
        .map(|v| {
            if kendall {
                Model::Kendall(KendallPlan::new(v))
            } else {
                Model::Dot(to_f32(&transform(v, opts.method)))
            }
        })
        .collect();

    let stat = |perm: &[usize], scratch: &mut Scratch| -> Vec<f64> {
        let mut out = Vec::with_capacity(models.len() * subjects.len());
        for subject in &prepared {
            match subject {
                Prepared::Values(sq) if model_prep.len() == 1 => {
                    let Model::Dot(a) = &model_prep[0] else {
                        unreachable!()
                    };
                    out.push(permuted_dot(sq, n, perm, a));
                }
                Prepared::Values(sq) => {
                    permuted(sq, n, perm, &mut scratch.values);
                    for model in &model_prep {
                        let Model::Dot(a) = model else { unreachable!() };
                        out.push(dot(a, &scratch.values));
                    }
                }
                Prepared::Ranks { square: sq, tied } => {
                    permuted(sq, n, perm, &mut scratch.ranks);
                    for model in &model_prep {
                        let Model::Kendall(plan) = model else {
                            unreachable!()
                        };
                        let c = plan.counts(
                            &scratch.ranks,
                            *tied,
                            &mut scratch.seq,
                            &mut scratch.masks,
                            &mut scratch.tree,
                        );
                        out.push(if opts.method == Method::KendallTauA {
                            c.tau_a()
                        } else {
                            c.tau_b()
                        });
                    }
                }
            }
        }
        // Group statistics: each model's mean over subjects.
        let (nm, ns) = (models.len(), subjects.len());
        for mi in 0..nm {
            out.push((0..ns).map(|si| out[si * nm + mi]).sum::<f64>() / ns as f64);
        }
        out
    };
    let mut scratch = Scratch::new(m);
    let identity: Vec<usize> = (0..n).collect();
    // Extremes are counted against the observed statistic computed the same way as the permuted
    // ones; the reported statistic is `compare`'s exact f64 value.
    let observed = stat(&identity, &mut scratch);
    let extreme_of = |s: f64, obs: f64| is_extreme(opts.alternative, s, obs, 1e-12);

    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |t| t.get())
    } else {
        opts.threads
    }
    .clamp(1, opts.permutations.max(1));
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stat, observed) = (&stat, &observed);
                scope.spawn(move || {
                    let mut scratch = Scratch::new(m);
                    let mut counts = vec![0usize; observed.len()];
                    for k in (t..opts.permutations).step_by(threads) {
                        let p: Vec<usize> =
                            draw(k as u64).into_iter().map(|v| v as usize).collect();
                        for (c, (s, o)) in counts
                            .iter_mut()
                            .zip(stat(&p, &mut scratch).iter().zip(observed))
                        {
                            *c += usize::from(extreme_of(*s, *o));
                        }
                    }
                    counts
                })
            })
            .collect();
        handles
            .into_iter()
            .fold(vec![0usize; observed.len()], |mut acc, h| {
                for (a, c) in acc
                    .iter_mut()
                    .zip(h.join().expect("Mantel worker panicked"))
                {
                    *a += c;
                }
                acc
            })
    });

    Ok(table(models, subjects, opts, &counts))
}

/// Whether a permuted statistic `s` is at least as extreme as `obs`, with a relative slack so
/// float-equal statistics (the identity permutation among them) count as ties.
pub(super) fn is_extreme(alternative: Alternative, s: f64, obs: f64, slack: f64) -> bool {
    let eps = slack * obs.abs().max(1e-300);
    match alternative {
        Alternative::Greater => s >= obs - eps,
        Alternative::Less => s <= obs + eps,
        Alternative::TwoSided => s.abs() >= obs.abs() - eps,
    }
}

/// The reported table: exact f64 statistics from [`super::compare`] (group rows: their mean over
/// subjects) and p-values from `counts`, laid out subject-major then one group entry per model.
pub(super) fn table(
    models: &[Vec<f64>],
    subjects: &[Vec<f64>],
    opts: &MantelOptions,
    counts: &[usize],
) -> MantelTable {
    let (nm, ns) = (models.len(), subjects.len());
    let exact: Vec<f64> = {
        let per: Vec<f64> = (0..ns)
            .flat_map(|si| (0..nm).map(move |mi| (si, mi)))
            .map(|(si, mi)| super::compare::compare(&models[mi], &subjects[si], opts.method))
            .collect();
        let group = (0..nm).map(|mi| (0..ns).map(|si| per[si * nm + mi]).sum::<f64>() / ns as f64);
        per.iter().copied().chain(group).collect()
    };
    let result = |idx: usize| {
        let statistic = exact[idx];
        let p_value = if opts.permutations == 0 || statistic.is_nan() {
            f64::NAN
        } else {
            (counts[idx] + 1) as f64 / (opts.permutations + 1) as f64
        };
        MantelResult {
            statistic,
            p_value,
            extreme: counts[idx],
        }
    };
    MantelTable {
        per_subject: (0..nm)
            .map(|mi| (0..ns).map(|si| result(si * nm + mi)).collect())
            .collect(),
        group: (0..nm).map(|mi| result(ns * nm + mi)).collect(),
    }
}

struct Scratch {
    values: Vec<f32>,
    ranks: Vec<u32>,
    seq: Vec<u32>,
    masks: Vec<u64>,
    tree: Vec<u32>,
}

impl Scratch {
    fn new(m: usize) -> Scratch {
        Scratch {
            values: Vec::with_capacity(m),
            ranks: Vec::with_capacity(m),
            seq: vec![0; m],
            masks: Vec::new(),
            tree: Vec::with_capacity(m + 2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rsa::compare::compare;

    const A: [f64; 6] = [0.1, 0.4, 0.4, 0.8, 0.3, 0.9];
    const B: [f64; 6] = [0.3, 0.2, 0.6, 0.9, 0.1, 0.8];

    #[test]
    fn observed_statistics_match_compare_for_every_method() {
        for method in Method::ALL {
            let opts = MantelOptions {
                method,
                permutations: 0,
                seed: 0,
                alternative: Alternative::Greater,
                threads: 1,
            };
            let r = mantel(&[A.to_vec()], &[B.to_vec()], 4, &opts)
                .unwrap()
                .per_subject[0][0];
            let want = compare(&A, &B, method);
            assert!(
                (r.statistic - want).abs() < 1e-12,
                "{method}: {} vs {want}",
                r.statistic
            );
            assert!(r.p_value.is_nan());
        }
        // SCIENCE.md §3.
        assert!((compare(&A, &B, Method::Pearson) - 0.8255105208203424).abs() < 1e-12);
        assert!((compare(&A, &B, Method::Spearman) - 0.7247137945655605).abs() < 1e-12);
    }

    #[test]
    fn permutations_are_seeded_and_thread_count_free() {
        assert_eq!(permutation(9, 4, 10), permutation(9, 4, 10));
        assert_ne!(permutation(9, 4, 10), permutation(9, 5, 10));
        let mut p = permutation(1, 0, 50);
        p.sort_unstable();
        assert_eq!(p, (0..50).collect::<Vec<u32>>());
        let n = 12;
        let v = |s: u64| -> Vec<f64> {
            (0..pair_count(n))
                .map(|k| ((k as u64 * 2654435761 + s) % 97) as f64)
                .collect()
        };
        let run = |threads| {
            let opts = MantelOptions {
                method: Method::KendallTauA,
                permutations: 200,
                seed: 5,
                alternative: Alternative::TwoSided,
                threads,
            };
            mantel(&[v(1), v(2)], &[v(3)], n, &opts).unwrap()
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn all_23_permutations_give_the_science_md_p_value() {
        // SCIENCE.md §3: over the 23 non-identity permutations of 4 stimuli none reaches the
        // observed statistic, so p = 1/24 for Pearson and Spearman, both alternatives.
        let mut perms: Vec<Vec<u32>> = Vec::new();
        for code in 0..256u32 {
            let p: Vec<u32> = (0..4).map(|d| (code >> (2 * d)) & 3).collect();
            let mut s = p.clone();
            s.sort_unstable();
            if s == [0, 1, 2, 3] && p != [0, 1, 2, 3] {
                perms.push(p);
            }
        }
        assert_eq!(perms.len(), 23);
        for method in [Method::Pearson, Method::Spearman] {
            for alternative in [Alternative::Greater, Alternative::TwoSided] {
                let opts = MantelOptions {
                    method,
                    permutations: 23,
                    seed: 0,
                    alternative,
                    threads: 2,
                };
                let r = mantel_with(&[A.to_vec()], &[B.to_vec()], 4, &opts, &|k| {
                    perms[k as usize].clone()
                })
                .unwrap()
                .per_subject[0][0];
                assert_eq!(r.extreme, 0, "{method} {alternative}");
                assert!((r.p_value - 1.0 / 24.0).abs() < 1e-15);
            }
        }
        // The first permutations' statistics (self-inverse ones, so permuting A or B agrees).
        for (p, want) in [([0, 1, 3, 2], 0.03617775), ([0, 2, 1, 3], 0.05591107)] {
            let permuted: Vec<f64> = (0..4)
                .flat_map(|i| (i + 1..4).map(move |j| (i, j)))
                .map(|(i, j)| A[pair_index(4, p[i], p[j])])
                .collect();
            assert!((compare(&permuted, &B, Method::Pearson) - want).abs() < 1e-8);
        }
    }
}
