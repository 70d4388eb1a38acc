//! Sparse random projection (SCIENCE.md §5.3 step 1), distributed as scikit-learn's
//! `SparseRandomProjection(density='auto')`: a `k × p` matrix R whose entries are
//! `±sqrt(1/density)/sqrt(k)` with probability `density/2` each and 0 otherwise,
//! `density = 1/sqrt(p)`; projected features are `Z = F Rᵀ`.
//!
//! numpy's random stream cannot be reproduced, so the matrix is a different draw from the same
//! distribution: a pure function of `(p, k, seed)`, independent of thread count.

use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// The Johnson–Lindenstrauss bound `floor(4 ln n / (eps²/2 − eps³/3))` (scikit-learn's
/// `johnson_lindenstrauss_min_dim`): the number of components that keeps every pairwise distance
/// of `n_samples` points within a factor `1 ± eps` with good probability. n = 1000, eps = 0.1 →
/// 5920. Errors unless `0 < eps < 1` and `n_samples ≥ 2`.
pub fn jl_min_dim(n_samples: usize, eps: f64) -> Result<usize> {
    if !(eps > 0.0 && eps < 1.0) {
        return Err(Error::Invalid(format!(
            "Johnson-Lindenstrauss eps must lie in (0, 1), got {eps}"
        )));
    }
    if n_samples < 2 {
        return Err(Error::Invalid(format!(
            "Johnson-Lindenstrauss bound needs at least 2 samples, got {n_samples}"
        )));
    }
    let denominator = eps * eps / 2.0 - eps * eps * eps / 3.0;
    Ok((4.0 * (n_samples as f64).ln() / denominator) as usize)
}

/// A seeded sparse random projection from `p` input features to `k` components, stored by
/// output row (CSR): row `j` holds the sorted input columns whose entry is `+value`, then the
/// sorted columns whose entry is `−value`.
///
/// Expected nonzeros: `k · p · density = k · sqrt(p)` (5920 · 896 ≈ 5.3 M for a 802,816-feature
/// layer), held as one `u32` column index each, so memory is about `4 · nnz + 16 · k` bytes
/// ([`SparseProjection::memory_bytes`]). Building costs O(nnz), never O(k · p).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseProjection {
    p: usize,
    k: usize,
    seed: u64,
    density: f64,
    value: f64,
    /// Row `j`'s nonzeros are `indices[offsets[j]..offsets[j + 1]]`, positives before `split[j]`.
    offsets: Vec<usize>,
    split: Vec<usize>,
    indices: Vec<u32>,
}

impl SparseProjection {
    /// Draws the `k × p` matrix for `seed` (`density = 1/sqrt(p)`). `k > p` is allowed (Conwell's
    /// `upsampling=True`). Errors when `p` or `k` is 0 or `p` exceeds `u32::MAX`.
    ///
    /// Each entry is nonzero independently with probability `density`: the gaps between nonzero
    /// columns of a row are geometric, drawn by inversion (so the indices come out sorted and
    /// distinct without sampling a binomial count first), and each nonzero takes a fair sign.
    /// Row `j` draws from ChaCha8 stream `j` of `seed`, so rows are built in parallel and the
    /// matrix does not depend on the thread count.
    pub fn new(p: usize, k: usize, seed: u64) -> Result<SparseProjection> {
        if p == 0 || k == 0 {
            return Err(Error::Invalid(format!(
                "sparse random projection needs at least one input feature and one component, got p = {p}, k = {k}"
            )));
        }
        if p > u32::MAX as usize {
            return Err(Error::Invalid(format!(
                "sparse random projection supports at most {} input features, got {p}",
                u32::MAX
            )));
        }
        let density = 1.0 / (p as f64).sqrt();
        // Same expression as scikit-learn's `np.sqrt(1 / density) / np.sqrt(n_components)`.
        let value = (1.0 / density).sqrt() / (k as f64).sqrt();
        let rows: Vec<(Vec<u32>, Vec<u32>)> = (0..k)
            .into_par_iter()
            .map(|j| draw_row(p, density, seed, j as u64))
            .collect();
        let nnz: usize = rows.iter().map(|(pos, neg)| pos.len() + neg.len()).sum();
        let mut offsets = Vec::with_capacity(k + 1);
        let mut split = Vec::with_capacity(k);
        let mut indices = Vec::with_capacity(nnz);
        offsets.push(0);
        for (pos, neg) in rows {
            indices.extend_from_slice(&pos);
            split.push(indices.len());
            indices.extend_from_slice(&neg);
            offsets.push(indices.len());
        }
        Ok(SparseProjection {
            p,
            k,
            seed,
            density,
            value,
            offsets,
            split,
            indices,
        })
    }

    /// Input features.
    pub fn p(&self) -> usize {
        self.p
    }

    /// Output components.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The seed the matrix was drawn with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Probability that an entry is nonzero, `1/sqrt(p)`.
    pub fn density(&self) -> f64 {
        self.density
    }

    /// Magnitude of every nonzero entry, `sqrt(1/density)/sqrt(k)`.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Number of nonzero entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Bytes held by the matrix.
    pub fn memory_bytes(&self) -> usize {
        4 * self.indices.len()
            + std::mem::size_of::<usize>() * (self.offsets.len() + self.split.len())
    }

    /// Output row `j` of R: the sorted input columns with entry `+value` and those with `−value`.
    pub fn row(&self, j: usize) -> (&[u32], &[u32]) {
        let (start, mid, end) = (self.offsets[j], self.split[j], self.offsets[j + 1]);
        (&self.indices[start..mid], &self.indices[mid..end])
    }

    /// Projects `n_rows` rows of F (`rows: [n_rows, p]`, row-major) into `out: [n_rows, k]`
    /// (row-major): `out[i, j] = value · (Σ_{c ∈ pos_j} F[i, c] − Σ_{c ∈ neg_j} F[i, c])`, summed
    /// in f64 in column order. Rows are independent, so a layer can be projected batch by batch
    /// as it streams past; every output element is one sequential sum, so the result is
    /// bitwise the same for any batch size and thread count. Runs on the current rayon pool;
    /// works in blocks of 16 rows transposed to feature-major (memory: 16 × p floats).
    pub fn project_into(&self, rows: &[f32], n_rows: usize, out: &mut [f64]) -> Result<()> {
        if rows.len() != n_rows * self.p {
            return Err(Error::Invalid(format!(
                "projection input holds {} values, expected {n_rows} rows × {} features",
                rows.len(),
                self.p
            )));
        }
        if out.len() != n_rows * self.k {
            return Err(Error::Invalid(format!(
                "projection output holds {} values, expected {n_rows} rows × {} components",
                out.len(),
                self.k
            )));
        }
        // Rows go in blocks of ROWS, transposed to feature-major so that each nonzero of R reads
        // the block's values of its feature from one cache line; tasks take COMPONENTS outputs.
        const ROWS: usize = 16;
        const COMPONENTS: usize = 64;
        let (p, k) = (self.p, self.k);
        let mut t = vec![0f32; p * ROWS.min(n_rows)];
        for (block, z) in rows.chunks(ROWS * p).zip(out.chunks_mut(ROWS * k)) {
            let m = block.len() / p;
            t[..p * m]
                .par_chunks_mut(m)
                .enumerate()
                .with_min_len(4096)
                .for_each(|(c, col)| {
                    for (r, v) in col.iter_mut().enumerate() {
                        *v = block[r * p + c];
                    }
                });
            let t = &t[..p * m];
            let tiles: Vec<Vec<f64>> = (0..k.div_ceil(COMPONENTS))
                .into_par_iter()
                .map(|c| {
                    let js = c * COMPONENTS..((c + 1) * COMPONENTS).min(k);
                    let mut tile = Vec::with_capacity(js.len() * m);
                    for j in js {
                        let (pos, neg) = self.row(j);
                        let sums = |idx: &[u32]| {
                            let mut acc = [0f64; ROWS];
                            for &i in idx {
                                let col = &t[i as usize * m..(i as usize + 1) * m];
                                for (a, &v) in acc.iter_mut().zip(col) {
                                    *a += f64::from(v);
                                }
                            }
                            acc
                        };
                        let (sp, sn) = (sums(pos), sums(neg));
                        tile.extend((0..m).map(|r| self.value * (sp[r] - sn[r])));
                    }
                    tile
                })
                .collect();
            for (c, tile) in tiles.iter().enumerate() {
                for (jj, vals) in tile.chunks(m).enumerate() {
                    for (r, &v) in vals.iter().enumerate() {
                        z[r * k + c * COMPONENTS + jj] = v;
                    }
                }
            }
        }
        Ok(())
    }

    /// [`SparseProjection::project_into`] into a new `[n_rows, k]` row-major vector.
    pub fn project(&self, rows: &[f32], n_rows: usize) -> Result<Vec<f64>> {
        let mut out = vec![0.0; n_rows * self.k];
        self.project_into(rows, n_rows, &mut out)?;
        Ok(out)
    }
}

/// Nonzero columns of output row `j` (positive, negative), each sorted.
fn draw_row(p: usize, density: f64, seed: u64, j: u64) -> (Vec<u32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(j);
    let expected = (p as f64 * density) as usize;
    let (mut pos, mut neg) = (Vec::with_capacity(expected), Vec::with_capacity(expected));
    // ln(1 − density) through libm, so the matrix is the same on every platform; −inf when
    // density = 1 (p = 1), which makes every gap 0.
    let log_q = libm::log1p(-density);
    let mut next = 0usize;
    loop {
        let bits = rng.next_u64();
        // Top 53 bits → u ∈ (0, 1]; the lowest bit is the sign (independent bits of ChaCha).
        let u = ((bits >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64);
        // Failures before the next success, P(gap ≥ g) = (1 − density)^g.
        let gap = (libm::log(u) / log_q).floor();
        if gap >= (p - next) as f64 {
            break;
        }
        let column = next + gap as usize;
        if bits & 1 == 0 {
            pos.push(column as u32);
        } else {
            neg.push(column as u32);
        }
        next = column + 1;
        if next == p {
            break;
        }
    }
    (pos, neg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn random_rows(n: usize, p: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * p)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect()
    }

    #[test]
    fn jl_min_dim_matches_scikit_learn() {
        assert_eq!(jl_min_dim(1000, 0.1).unwrap(), 5920);
        assert_eq!(jl_min_dim(500, 0.1).unwrap(), 5326);
        assert_eq!(jl_min_dim(92, 0.1).unwrap(), 3875);
        assert_eq!(jl_min_dim(118, 0.1).unwrap(), 4089);
        for eps in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(jl_min_dim(100, eps).unwrap_err().is_usage(), "eps {eps}");
        }
        assert!(jl_min_dim(1, 0.1).unwrap_err().is_usage());
    }

    #[test]
    fn entries_take_two_values_at_the_right_density() {
        let (p, k) = (10_000, 300);
        let r = SparseProjection::new(p, k, 0).unwrap();
        assert_eq!(r.density(), 0.01);
        assert_eq!(r.value(), (1.0f64 / 0.01).sqrt() / (k as f64).sqrt());
        let (mut n_pos, mut n_neg) = (0usize, 0usize);
        for j in 0..k {
            let (pos, neg) = r.row(j);
            for list in [pos, neg] {
                assert!(list.windows(2).all(|w| w[0] < w[1]), "row {j} not sorted");
                assert!(list.iter().all(|&c| (c as usize) < p));
            }
            assert!(
                pos.iter().all(|c| neg.binary_search(c).is_err()),
                "row {j} overlaps"
            );
            n_pos += pos.len();
            n_neg += neg.len();
        }
        assert_eq!(r.nnz(), n_pos + n_neg);
        let cells = (p * k) as f64;
        let d = r.density();
        let se = (d * (1.0 - d) / cells).sqrt();
        let fraction = r.nnz() as f64 / cells;
        assert!(
            (fraction - d).abs() < 4.0 * se,
            "nonzero fraction {fraction} vs {d} ± {se}"
        );
        // Signs are fair: positives ~ Binomial(nnz, 1/2).
        let half_se = (r.nnz() as f64 * 0.25).sqrt();
        assert!(
            (n_pos as f64 - r.nnz() as f64 / 2.0).abs() < 4.0 * half_se,
            "{n_pos} / {n_neg}"
        );
        // The dense product with a one-hot row is the matrix column: every value is ±value or 0.
        let mut e = vec![0.0f32; p];
        e[1234] = 1.0;
        for z in r.project(&e, 1).unwrap() {
            assert!(z == 0.0 || z == r.value() || z == -r.value(), "{z}");
        }
    }

    #[test]
    fn density_one_fills_every_entry() {
        let r = SparseProjection::new(1, 5, 3).unwrap();
        assert_eq!(r.nnz(), 5);
        let z = r.project(&[2.0], 1).unwrap();
        assert!(z.iter().all(|&v| v.abs() == 2.0 / 5f64.sqrt()), "{z:?}");
    }

    #[test]
    fn the_matrix_is_a_function_of_the_seed() {
        let a = SparseProjection::new(5000, 40, 7).unwrap();
        assert_eq!(a, SparseProjection::new(5000, 40, 7).unwrap());
        assert_ne!(
            a.indices,
            SparseProjection::new(5000, 40, 8).unwrap().indices
        );
        assert!(SparseProjection::new(0, 4, 0).unwrap_err().is_usage());
        assert!(SparseProjection::new(4, 0, 0).unwrap_err().is_usage());
    }

    #[test]
    fn projection_is_bitwise_stable_across_batches_and_threads() {
        let (n, p, k) = (23, 3001, 150);
        let x = random_rows(n, p, 11);
        let pool = |t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
        };
        // Built on two pool sizes: the matrix does not depend on the thread count either.
        let r = pool(1).install(|| SparseProjection::new(p, k, 5).unwrap());
        assert_eq!(
            r,
            pool(2).install(|| SparseProjection::new(p, k, 5).unwrap())
        );
        let whole = pool(2).install(|| r.project(&x, n).unwrap());
        for (threads, batch) in [(1, 1), (2, 1), (1, 7), (2, 7)] {
            let mut out = vec![0.0; n * k];
            pool(threads).install(|| {
                for (rows, z) in x.chunks(batch * p).zip(out.chunks_mut(batch * k)) {
                    r.project_into(rows, rows.len() / p, z).unwrap();
                }
            });
            let same = out
                .iter()
                .zip(&whole)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{threads} threads, batches of {batch}");
        }
        // Against the dense product.
        for i in [0, n - 1] {
            for j in [0, 77, k - 1] {
                let (pos, neg) = r.row(j);
                let dense: f64 = (0..p)
                    .map(|c| {
                        let s = if pos.contains(&(c as u32)) {
                            1.0
                        } else if neg.contains(&(c as u32)) {
                            -1.0
                        } else {
                            0.0
                        };
                        s * r.value() * f64::from(x[i * p + c])
                    })
                    .sum();
                assert!((whole[i * k + j] - dense).abs() < 1e-12, "({i}, {j})");
            }
        }
        let mut short = vec![0.0; k];
        assert!(r
            .project_into(&x[..p - 1], 1, &mut short)
            .unwrap_err()
            .is_usage());
        assert!(r
            .project_into(&x[..p], 1, &mut short[..k - 1])
            .unwrap_err()
            .is_usage());
    }

    #[test]
    fn pairwise_distances_stay_within_the_jl_bound() {
        let (n, p, eps) = (30, 2000, 0.3);
        let k = jl_min_dim(n, eps).unwrap();
        let x = random_rows(n, p, 1);
        let r = SparseProjection::new(p, k, 0).unwrap();
        let z = r.project(&x, n).unwrap();
        let mut worst = 0.0f64;
        for i in 0..n {
            for j in i + 1..n {
                let before: f64 = (0..p)
                    .map(|c| f64::from(x[i * p + c] - x[j * p + c]).powi(2))
                    .sum();
                let after: f64 = (0..k).map(|c| (z[i * k + c] - z[j * k + c]).powi(2)).sum();
                let ratio = after / before;
                worst = worst.max((ratio - 1.0).abs());
                assert!(
                    (1.0 - eps..=1.0 + eps).contains(&ratio),
                    "pair ({i}, {j}): squared-distance ratio {ratio} (k = {k})"
                );
            }
        }
        assert!(worst > 0.0);
    }

    /// A VGG-16 conv layer (802,816 features) to Conwell's k:
    /// `cargo test --lib projection_layer_size -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing at full size"]
    fn projection_layer_size() {
        let (p, k, n) = (802_816, 5920, 16);
        let start = std::time::Instant::now();
        let r = SparseProjection::new(p, k, 0).unwrap();
        let built = start.elapsed();
        let x = random_rows(n, p, 2);
        let start = std::time::Instant::now();
        let z = r.project(&x, n).unwrap();
        let projected = start.elapsed();
        eprintln!(
            "p {p}, k {k}: nnz {} ({} MB), built in {:.3} s; {n} rows in {:.3} s",
            r.nnz(),
            r.memory_bytes() >> 20,
            built.as_secs_f64(),
            projected.as_secs_f64()
        );
        assert!(z.iter().all(|v| v.is_finite()));
    }
}
