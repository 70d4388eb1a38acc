//! Comparisons between two condensed RDMs (SCIENCE.md §2), in f64. Kendall's τ uses Knight's
//! O(m log m) algorithm (sort by a, then b within ties; discordant pairs from a Fenwick tree).

/// How two RDM vectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Pearson correlation (rsatoolbox `corr`).
    Pearson,
    /// Pearson correlation of average-tie ranks (`scipy.stats.spearmanr`).
    Spearman,
    /// Kendall τ-a: (C − D) / n0; ties count against.
    KendallTauA,
    /// Kendall τ-b (scipy's default `kendalltau`).
    KendallTauB,
    /// Spearman's ρ with the untied denominator (m³ − m)/12 (rsatoolbox `rho-a`).
    RhoA,
    /// Cosine similarity, no centring (rsatoolbox's default `cosine`).
    Cosine,
}

named_enum!(Method, "comparison method", {
    Pearson => "pearson" | "corr",
    Spearman => "spearman",
    KendallTauA => "kendall-tau-a" | "tau-a",
    KendallTauB => "kendall-tau-b" | "tau-b" | "kendall",
    RhoA => "rho-a",
    Cosine => "cosine",
});

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Pearson,
        Method::Spearman,
        Method::KendallTauA,
        Method::KendallTauB,
        Method::RhoA,
        Method::Cosine,
    ];
}

/// Compares `a` and `b` (same length). Positions that are NaN in either are left out; fewer than
/// two positions left, or a constant vector where the method divides by its spread, gives NaN.
pub fn compare(a: &[f64], b: &[f64], method: Method) -> f64 {
    assert_eq!(a.len(), b.len(), "compare: vectors differ in length");
    let (a, b): (Vec<f64>, Vec<f64>) = if a.iter().chain(b).any(|v| v.is_nan()) {
        a.iter()
            .zip(b)
            .filter(|(x, y)| !x.is_nan() && !y.is_nan())
            .map(|(x, y)| (*x, *y))
            .unzip()
    } else {
        (a.to_vec(), b.to_vec())
    };
    if a.len() < 2 {
        return f64::NAN;
    }
    match method {
        Method::Pearson => pearson(&a, &b),
        Method::Spearman => pearson(&rankdata(&a), &rankdata(&b)),
        Method::RhoA => rho_a(&rankdata(&a), &rankdata(&b)),
        Method::Cosine => cosine(&a, &b),
        Method::KendallTauA => KendallCounts::of(&a, &b).tau_a(),
        Method::KendallTauB => KendallCounts::of(&a, &b).tau_b(),
    }
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Pearson correlation; NaN when either vector is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    (sab / (saa.sqrt() * sbb.sqrt())).clamp(-1.0, 1.0)
}

/// Cosine similarity; 0 when a norm is 0 (rsatoolbox's convention).
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa == 0.0 || sbb == 0.0 {
        return 0.0;
    }
    sab / (saa.sqrt() * sbb.sqrt())
}

/// ρ_a = 12 Σ (r_a − r̄)(r_b − r̄) / (m³ − m) on average-tie ranks.
pub fn rho_a(ra: &[f64], rb: &[f64]) -> f64 {
    let m = ra.len() as f64;
    let r = (m + 1.0) / 2.0;
    let s: f64 = ra.iter().zip(rb).map(|(x, y)| (x - r) * (y - r)).sum();
    12.0 * s / (m * m * m - m)
}

/// Average ranks, 1-based (`scipy.stats.rankdata`, method "average"). NaN-free input.
pub fn rankdata(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut ranks = vec![0.0; x.len()];
    let mut s = 0;
    while s < idx.len() {
        let mut e = s + 1;
        while e < idx.len() && x[idx[e]] == x[idx[s]] {
            e += 1;
        }
        let avg = (s + e + 1) as f64 / 2.0; // mean of 1-based ranks s+1 ..= e
        for &i in &idx[s..e] {
            ranks[i] = avg;
        }
        s = e;
    }
    ranks
}

/// Dense integer ranks (0-based; ties share a rank) and the number of distinct values.
pub fn dense_ranks(x: &[f64]) -> (Vec<u32>, usize) {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut out = vec![0u32; x.len()];
    let mut rank = 0u32;
    for w in 0..idx.len() {
        if w > 0 && x[idx[w]] != x[idx[w - 1]] {
            rank += 1;
        }
        out[idx[w]] = rank;
    }
    (out, if x.is_empty() { 0 } else { rank as usize + 1 })
}

/// Σ t(t − 1)/2 over runs of equal values in a sorted slice.
pub(crate) fn tied_pairs_sorted<T: PartialEq>(sorted: &[T]) -> u64 {
    let mut total = 0u64;
    let mut s = 0;
    while s < sorted.len() {
        let mut e = s + 1;
        while e < sorted.len() && sorted[e] == sorted[s] {
            e += 1;
        }
        let t = (e - s) as u64;
        total += t * (t - 1) / 2;
        s = e;
    }
    total
}

/// Number of strict inversions (i < j, seq[i] > seq[j]) of dense ranks `seq` (all < seq.len()),
/// with a Fenwick tree over the ranks (`tree` is scratch): O(m log m). Measured 7× faster than
/// a merge sort at m = 4,186 (the 92-stimulus case): the tree stays in L1 and has no
/// data-dependent branches.
pub fn count_inversions(seq: &[u32], tree: &mut Vec<u32>) -> u64 {
    let size = seq.len() + 1;
    tree.clear();
    tree.resize(size + 1, 0);
    let mut inv = 0u64;
    for (t, &v) in seq.iter().enumerate() {
        // Earlier values ≤ v.
        let (mut i, mut le) = (v as usize + 1, 0u32);
        while i > 0 {
            le += tree[i];
            i &= i - 1;
        }
        inv += t as u64 - u64::from(le);
        let mut i = v as usize + 1;
        while i <= size {
            tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }
    inv
}

/// [`count_inversions`] for distinct values (a permutation of `0..seq.len()`): a bit per value in
/// 64-value words, plus a Fenwick tree over the words. The tree is 64× smaller than one over the
/// values (it stays in L1 at m = 500,000) and half as deep; `masks` and `tree` are scratch.
pub fn count_inversions_distinct(seq: &[u32], masks: &mut Vec<u64>, tree: &mut Vec<u32>) -> u64 {
    let words = seq.len() / 64 + 1;
    // Fixed trip counts instead of `while i > 0` walks: random data makes those loop exits
    // unpredictable. Past the end, queries read tree[0] (always 0) and updates write a sentinel
    // slot (words + 1) that no query reads.
    let depth = (usize::BITS - words.leading_zeros()) as usize;
    masks.clear();
    masks.resize(words, 0);
    tree.clear();
    tree.resize(words + 2, 0);
    let sentinel = words + 1;
    let mut inv = 0u64;
    for (t, &v) in seq.iter().enumerate() {
        let (w, bit) = ((v >> 6) as usize, v & 63);
        // Earlier values ≤ v: the bits 0..=bit of word w, plus every earlier value in words < w.
        let mut le = (masks[w] & (u64::MAX >> (63 - bit))).count_ones();
        let mut i = w;
        for _ in 0..depth {
            le += tree[i];
            i &= i.wrapping_sub(1);
        }
        inv += t as u64 - u64::from(le);
        masks[w] |= 1u64 << bit;
        let mut i = w + 1;
        for _ in 0..depth {
            tree[i.min(sentinel)] += 1;
            i += i & i.wrapping_neg();
        }
    }
    inv
}

/// Pair counts of Kendall's τ over m positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KendallCounts {
    /// m(m − 1)/2
    pub n0: u64,
    /// C − D
    pub s: i64,
    pub tied_a: u64,
    pub tied_b: u64,
}

impl KendallCounts {
    /// Knight's algorithm on two NaN-free vectors.
    pub fn of(a: &[f64], b: &[f64]) -> KendallCounts {
        let plan = KendallPlan::new(a);
        let (rb, _) = dense_ranks(b);
        let mut sorted_b = rb.clone();
        sorted_b.sort_unstable();
        let tied_b = tied_pairs_sorted(&sorted_b);
        let mut seq = vec![0u32; a.len()];
        plan.counts(&rb, tied_b, &mut seq, &mut Vec::new(), &mut Vec::new())
    }

    pub fn tau_a(&self) -> f64 {
        (self.s as f64 / self.n0 as f64).clamp(-1.0, 1.0)
    }

    pub fn tau_b(&self) -> f64 {
        let d = ((self.n0 - self.tied_a) as f64).sqrt() * ((self.n0 - self.tied_b) as f64).sqrt();
        if d == 0.0 {
            return f64::NAN;
        }
        (self.s as f64 / d).clamp(-1.0, 1.0)
    }
}

/// The part of Knight's algorithm that depends only on `a`: its sort order and its tie groups.
/// Reused across permutations of `b` in the Mantel test.
pub struct KendallPlan {
    order: Vec<u32>,
    /// `[start, end)` ranges of runs of equal `a` in sorted order, only those longer than 1.
    groups: Vec<(u32, u32)>,
    tied_a: u64,
}

impl KendallPlan {
    pub fn new(a: &[f64]) -> KendallPlan {
        let mut order: Vec<u32> = (0..a.len() as u32).collect();
        order.sort_by(|&i, &j| a[i as usize].total_cmp(&a[j as usize]));
        let mut groups = Vec::new();
        let mut tied_a = 0u64;
        let mut s = 0;
        while s < order.len() {
            let mut e = s + 1;
            while e < order.len() && a[order[e] as usize] == a[order[s] as usize] {
                e += 1;
            }
            if e - s > 1 {
                groups.push((s as u32, e as u32));
                tied_a += ((e - s) * (e - s - 1) / 2) as u64;
            }
            s = e;
        }
        KendallPlan {
            order,
            groups,
            tied_a,
        }
    }

    /// Counts for `b` given as dense ranks, with its tied-pair count `tied_b`. `seq` (length m),
    /// `masks` and `tree` are scratch.
    pub fn counts(
        &self,
        rb: &[u32],
        tied_b: u64,
        seq: &mut [u32],
        masks: &mut Vec<u64>,
        tree: &mut Vec<u32>,
    ) -> KendallCounts {
        for (s, &o) in seq.iter_mut().zip(&self.order) {
            *s = rb[o as usize];
        }
        // Sort b within runs of equal a (Knight's secondary key); pairs tied in both are the
        // tied runs inside those groups.
        let mut tied_ab = 0u64;
        for &(s, e) in &self.groups {
            let g = &mut seq[s as usize..e as usize];
            g.sort_unstable();
            tied_ab += tied_pairs_sorted(g);
        }
        let d = if tied_b == 0 {
            count_inversions_distinct(seq, masks, tree)
        } else {
            count_inversions(seq, tree)
        };
        let m = self.order.len() as u64;
        let n0 = m * m.saturating_sub(1) / 2;
        let s = n0 as i64 - self.tied_a as i64 - tied_b as i64 + tied_ab as i64 - 2 * d as i64;
        KendallCounts {
            n0,
            s,
            tied_a: self.tied_a,
            tied_b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [f64; 6] = [0.1, 0.4, 0.4, 0.8, 0.3, 0.9];
    const B: [f64; 6] = [0.2, 0.5, 0.3, 0.7, 0.3, 1.0];

    #[test]
    fn science_md_test_vector() {
        // SCIENCE.md §2.2 (scipy / rsatoolbox), to 1e-12.
        let want = [
            (Method::Pearson, 0.9479735628745247),
            (Method::Spearman, 0.9558823529411764),
            (Method::RhoA, 0.9285714285714286),
            (Method::KendallTauA, 0.8666666666666667),
            (Method::KendallTauB, 0.9285714285714286),
            (Method::Cosine, 0.9872177725716264),
        ];
        for (m, w) in want {
            let got = compare(&A, &B, m);
            assert!((got - w).abs() < 1e-12, "{m}: {got} vs {w}");
        }
        assert_eq!(rankdata(&A), [1.0, 3.5, 3.5, 5.0, 2.0, 6.0]);
        let k = KendallCounts::of(&A, &B);
        assert_eq!((k.n0, k.s, k.tied_a, k.tied_b), (15, 13, 1, 1));
    }

    #[test]
    fn knight_matches_the_quadratic_definition() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for m in [2, 3, 17, 100, 257] {
            // Few distinct values: many ties in both.
            let a: Vec<f64> = (0..m).map(|_| rng.random_range(0..7) as f64).collect();
            let b: Vec<f64> = (0..m).map(|_| rng.random_range(0..5) as f64).collect();
            let (mut s, mut ta, mut tb) = (0i64, 0u64, 0u64);
            for k in 0..m {
                for l in k + 1..m {
                    let p = (a[k] - a[l]).signum() * (b[k] - b[l]).signum();
                    if a[k] == a[l] {
                        ta += 1;
                    }
                    if b[k] == b[l] {
                        tb += 1;
                    }
                    if a[k] != a[l] && b[k] != b[l] {
                        s += p as i64;
                    }
                }
            }
            let c = KendallCounts::of(&a, &b);
            assert_eq!((c.s, c.tied_a, c.tied_b), (s, ta, tb), "m = {m}");
        }
    }

    #[test]
    fn inversions_are_counted_exactly() {
        let v: Vec<u32> = (0..1000u32).map(|x| (x * 7919) % 1000 / 3).collect();
        let mut brute = 0u64;
        for i in 0..v.len() {
            for j in i + 1..v.len() {
                brute += u64::from(v[i] > v[j]);
            }
        }
        assert!(brute > 1000);
        assert_eq!(count_inversions(&v, &mut Vec::new()), brute);
        // Distinct values: a permutation of 0..1000.
        let perm: Vec<u32> = (0..1000u32).map(|x| (x * 7919 + 13) % 1000).collect();
        let mut brute = 0u64;
        for i in 0..perm.len() {
            for j in i + 1..perm.len() {
                brute += u64::from(perm[i] > perm[j]);
            }
        }
        assert_eq!(
            count_inversions_distinct(&perm, &mut Vec::new(), &mut Vec::new()),
            brute
        );
        assert_eq!(count_inversions(&perm, &mut Vec::new()), brute);
    }

    #[test]
    fn nan_positions_are_dropped_and_degenerate_inputs_give_nan() {
        let a = [f64::NAN, 0.1, 0.4, 0.4, 0.8, 0.3, 0.9];
        let b = [5.0, 0.2, 0.5, 0.3, 0.7, 0.3, 1.0];
        assert!((compare(&a, &b, Method::Pearson) - 0.9479735628745247).abs() < 1e-12);
        assert!(compare(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], Method::Pearson).is_nan());
        assert!(compare(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], Method::KendallTauB).is_nan());
        assert_eq!(compare(&[0.0, 0.0], &[1.0, 2.0], Method::Cosine), 0.0);
        assert!(compare(&[1.0], &[1.0], Method::Spearman).is_nan());
        assert_eq!("tau-a".parse::<Method>().unwrap(), Method::KendallTauA);
        assert!("kendal".parse::<Method>().is_err());
    }
}
