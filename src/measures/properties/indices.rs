//! The seventeen indices (SCIENCE.md §6.2–6.15), each from one layer's activations of one
//! experiment's images.
//!
//! Every function checks the shape of what it is given (image count, table shapes, index ranges)
//! and returns [`Score::undefined`] with the reason instead of panicking; so do layers on which an
//! index is undefined (too few visually active units, no active tetrad, every distance 0,
//! constant units). Activations are read as f32 and every computation is in f64; pair distances
//! come from [`pair_distances`] (direct Σ|x − y|ᵖ, parallel over pairs).
//!
//! Where the published implementations differ (SCIENCE.md §9.6) the MATLAB definitions are
//! followed except its two bugs (natural-part predictions from the wrong design matrix, the extra
//! zero column of relative size); the remaining choices are [`Options`], and
//! [`Options::settings`] names every one for the output metadata.

use faer::Mat;
use rayon::prelude::*;

use super::distance::{pair_distances, Distance};
use super::{contrast, Acts, Score, Table};

/// How the multiple-object normalisation slope is fitted (SCIENCE.md §6.5 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalisationFit {
    /// MATLAB: one regression per layer pooling every (unit, image) point.
    Pooled,
    /// Python port: one regression per image over its units, then the mean of the slopes.
    PerImage,
}

named_enum!(NormalisationFit, "normalisation fit", {
    Pooled => "pooled",
    PerImage => "per-image",
});

/// The sign of 3D condition 2 (SCIENCE.md §6.11, §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreeDSign {
    /// `(d34 − d56)/(d34 + d56)`: the cuboid pair more distinct than its 2D control is
    /// human-like (Python port; recommended).
    D34MinusD56,
    /// `(d56 − d34)/(d56 + d34)`, as MATLAB `check_3D.m` computes it.
    Matlab,
}

named_enum!(ThreeDSign, "3D condition-2 sign", {
    D34MinusD56 => "d34-d56",
    Matlab => "matlab",
});

/// The choices left open by the published implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Delta degrees of freedom of the visually-active-unit variance of §6.5 (1 = MATLAB `var`,
    /// 0 = numpy `np.var`).
    pub van_ddof: usize,
    /// Normalisation is undefined on layers with at most this many visually active units.
    pub min_van: usize,
    pub normalisation_fit: NormalisationFit,
    pub three_d_sign: ThreeDSign,
    /// Distance of part matching (§6.13): Euclidean (distance-metric script) or CityBlock
    /// (MATLAB all-network script).
    pub part_matching_distance: Distance,
    /// Round every sparseness to 5 decimals before correlating (MATLAB).
    pub sparseness_round: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            van_ddof: 1,
            min_van: 10,
            normalisation_fit: NormalisationFit::Pooled,
            three_d_sign: ThreeDSign::D34MinusD56,
            part_matching_distance: Distance::Euclidean,
            sparseness_round: true,
        }
    }
}

impl Options {
    /// Every choice by name for the output metadata: the options, then the resolutions fixed
    /// here (SCIENCE.md §9.6).
    pub fn settings(&self) -> Vec<(String, String)> {
        let chosen = [
            ("van_ddof", self.van_ddof.to_string()),
            ("min_van", self.min_van.to_string()),
            ("normalisation_fit", self.normalisation_fit.to_string()),
            ("three_d_sign", self.three_d_sign.to_string()),
            (
                "part_matching_distance",
                self.part_matching_distance.to_string(),
            ),
            ("sparseness_round", self.sparseness_round.to_string()),
        ];
        let fixed = [
            ("distance", "euclidean (norm(x − y, 2))"),
            ("scene_accuracy", "top-1, pooled per condition"),
            ("normalisation_groups", "position-major (MATLAB)"),
            ("normalisation_van", "variance > 0.1 at every position"),
            ("normalisation_scale", "C = max(max(Fc), max(Fs))"),
            ("sparseness_van", "min–max normalised sum > 0"),
            ("sparseness_textures_normalisation", "joint (MATLAB)"),
            ("weber_pairs", "(c, c+10)"),
            ("tetrad_residual", "|r1−r2−r3+r4|"),
            ("tetrad_modulation", "(d23−d14)/(d23+d14)"),
            (
                "tetrad_selection",
                "top floor(frac·N_active) by residual, stable, tetrad-major",
            ),
            ("relative_size_counter", "24 tetrads (no extra zero column)"),
            ("part_matching_reference", "whole object (MATLAB)"),
            ("natural_parts_design", "each set's own matrix"),
            ("natural_parts_fit", "least squares by pseudo-inverse"),
        ];
        chosen
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .chain(
                fixed
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            )
            .collect()
    }
}

/// An index that cannot be computed: the undefined score carrying the reason.
type Checked<T> = Result<T, Score>;

fn undefined<T>(reason: impl Into<String>) -> Checked<T> {
    Err(Score::undefined(reason))
}

fn settle(r: Checked<Score>) -> Score {
    r.unwrap_or_else(|s| s)
}

fn settle_two(r: Checked<(Score, Score)>) -> (Score, Score) {
    r.unwrap_or_else(|s| (s.clone(), s))
}

/// The activations hold `n × p` values, `p > 0`.
fn check_acts(a: &Acts<'_>) -> Checked<()> {
    if a.p == 0 {
        return undefined(format!("activations of {} images have no features", a.n));
    }
    match a.n.checked_mul(a.p) {
        Some(len) if len == a.data.len() => Ok(()),
        _ => undefined(format!(
            "activations hold {} values, not {} images × {} features",
            a.data.len(),
            a.n,
            a.p
        )),
    }
}

fn expect_images(a: &Acts<'_>, n: usize, what: &str) -> Checked<()> {
    check_acts(a)?;
    if a.n != n {
        return undefined(format!("{what}: expected {n} images, got {}", a.n));
    }
    Ok(())
}

fn check_table(t: &Table, rows: Option<usize>, cols: usize, what: &str) -> Checked<()> {
    if t.rows.checked_mul(t.cols) != Some(t.data.len()) {
        return undefined(format!(
            "{what}: table holds {} values, not {} × {}",
            t.data.len(),
            t.rows,
            t.cols
        ));
    }
    if t.cols != cols || rows.is_some_and(|r| r != t.rows) {
        let want = rows.map_or_else(|| "N".to_string(), |r| r.to_string());
        return undefined(format!(
            "{what}: expected a {want} × {cols} table, got {} × {}",
            t.rows, t.cols
        ));
    }
    Ok(())
}

/// A table entry that must be a 1-based index in `1..=max`, as 0-based.
fn one_based(v: f64, max: usize, what: &str) -> Checked<usize> {
    if v.fract() == 0.0 && v >= 1.0 && v <= max as f64 {
        Ok(v as usize - 1)
    } else {
        undefined(format!("{what}: {v} is not an index in 1..={max}"))
    }
}

/// The NaN-ignoring mean of per-item contrasts, or the reason when every item is NaN.
fn mean_or_reason(values: &[f64], what: &str) -> Score {
    if values.iter().all(|v| v.is_nan()) {
        Score::undefined(format!(
            "all {} {what} are undefined (zero or non-finite distances)",
            values.len()
        ))
    } else {
        Score::mean_of(values)
    }
}

/// `contrast(d(x), d(y))` for each item `[x, y]` of two image pairs.
fn pair_contrasts(a: &Acts<'_>, items: &[[(usize, usize); 2]], metric: Distance) -> Vec<f64> {
    let pairs: Vec<(usize, usize)> = items.iter().flatten().copied().collect();
    pair_distances(a, &pairs, metric)
        .chunks_exact(2)
        .map(|d| contrast(d[0], d[1]))
        .collect()
}

/// Pearson r, or `None` with fewer than 2 points, a non-finite value or a constant vector.
fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let finite = |v: &[f64]| v.iter().all(|e| e.is_finite());
    let constant = |v: &[f64]| v.iter().all(|e| *e == v[0]);
    if x.len() != y.len() || x.len() < 2 || !finite(x) || !finite(y) || constant(x) || constant(y) {
        return None;
    }
    Some(crate::rsa::compare::pearson(x, y))
}

// ---------------------------------------------------------------------------------------------
// §6.2 – §6.4

/// Thatcher effect (§6.2): 80 images [20 upright, 20 upright Thatcherised, 20 inverted, 20
/// inverted Thatcherised]; per face `(d_up − d_inv)/(d_up + d_inv)`, mean over faces.
pub fn thatcher(a: &Acts<'_>) -> Score {
    settle(thatcher_checked(a))
}

fn thatcher_checked(a: &Acts<'_>) -> Checked<Score> {
    expect_images(a, 80, "Thatcher")?;
    let items: Vec<[(usize, usize); 2]> =
        (0..20).map(|i| [(i, i + 20), (i + 40, i + 60)]).collect();
    Ok(mean_or_reason(
        &pair_contrasts(a, &items, Distance::Euclidean),
        "faces",
    ))
}

/// Mirror confusion (§6.3): `3N` images [N originals, N left–right flips, N up–down flips];
/// per object `(d_UD − d_LR)/(d_UD + d_LR)`, mean over objects.
pub fn mirror_confusion(a: &Acts<'_>) -> Score {
    settle(mirror_confusion_checked(a))
}

fn mirror_confusion_checked(a: &Acts<'_>) -> Checked<Score> {
    check_acts(a)?;
    if a.n == 0 || !a.n.is_multiple_of(3) {
        return undefined(format!(
            "mirror confusion: expected 3N images (originals, LR flips, UD flips), got {}",
            a.n
        ));
    }
    let n = a.n / 3;
    let items: Vec<[(usize, usize); 2]> = (0..n).map(|i| [(i, i + 2 * n), (i, i + n)]).collect();
    Ok(mean_or_reason(
        &pair_contrasts(a, &items, Distance::Euclidean),
        "objects",
    ))
}

/// Scene incongruence (§6.4) on 1000 ImageNet logits: top-1 accuracy pooled over the congruent
/// and over the incongruent images, `(acc_c − acc_i)/(acc_c + acc_i)`; `labels` are 0-based.
pub fn scene_incongruence(logits: &Acts<'_>, labels: &[usize], congruent: &[bool]) -> Score {
    settle(scene_incongruence_checked(logits, labels, congruent))
}

fn scene_incongruence_checked(
    logits: &Acts<'_>,
    labels: &[usize],
    congruent: &[bool],
) -> Checked<Score> {
    check_acts(logits)?;
    if logits.p != 1000 {
        return undefined(format!(
            "scene incongruence needs the 1000 ImageNet logits, got {} outputs",
            logits.p
        ));
    }
    let n = logits.n;
    if labels.len() != n || congruent.len() != n {
        return undefined(format!(
            "scene incongruence: {n} images but {} labels and {} conditions",
            labels.len(),
            congruent.len()
        ));
    }
    if let Some(l) = labels.iter().find(|&&l| l >= 1000) {
        return undefined(format!(
            "scene incongruence: label {l} is not a class in 0..1000"
        ));
    }
    // [congruent, incongruent] × [correct, total]
    let mut counts = [[0usize; 2]; 2];
    for (i, (&label, &cong)) in labels.iter().zip(congruent).enumerate() {
        let row = &logits.data[i * 1000..(i + 1) * 1000];
        let mut best: Option<(usize, f32)> = None;
        for (c, &v) in row.iter().enumerate() {
            if !v.is_nan() && best.is_none_or(|(_, b)| v > b) {
                best = Some((c, v));
            }
        }
        let slot = &mut counts[usize::from(!cong)];
        slot[1] += 1;
        if best.is_some_and(|(c, _)| c == label) {
            slot[0] += 1;
        }
    }
    if counts[0][1] == 0 || counts[1][1] == 0 {
        return undefined(format!(
            "scene incongruence needs both conditions: {} congruent, {} incongruent images",
            counts[0][1], counts[1][1]
        ));
    }
    let acc = |c: [usize; 2]| c[0] as f64 / c[1] as f64;
    let index = contrast(acc(counts[0]), acc(counts[1]));
    if index.is_nan() {
        return undefined("no image classified correctly in either condition");
    }
    Ok(Score::single(index, n))
}

// ---------------------------------------------------------------------------------------------
// §6.5 multiple-object normalisation

/// Ordinary least squares `y ≈ slope·x + intercept`; `(NaN, NaN)` when `x` is constant (or
/// empty, or the lengths differ).
pub fn ols_slope(x: &[f64], y: &[f64]) -> (f64, f64) {
    if x.len() != y.len() {
        return (f64::NAN, f64::NAN);
    }
    ols(x.iter().copied().zip(y.iter().copied()))
}

/// Two-pass OLS over the points of a re-iterable stream (the pooled fit never materialises its
/// unit × image points).
fn ols<I: Iterator<Item = (f64, f64)> + Clone>(points: I) -> (f64, f64) {
    let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
    let mut first = None;
    let mut constant = true;
    for (x, y) in points.clone() {
        n += 1;
        sx += x;
        sy += y;
        match first {
            None => first = Some(x),
            Some(f) => constant &= x == f,
        }
    }
    if n == 0 || constant {
        return (f64::NAN, f64::NAN);
    }
    let (mx, my) = (sx / n as f64, sy / n as f64);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (x, y) in points {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
    }
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

const EMPTY: f64 = 999.0;
const POSITIONS: [&str; 3] = ["top", "middle", "bottom"];

/// Multiple-object normalisation (§6.5): slopes of the combined response on the summed
/// singleton responses for pairs and for triplets.
///
/// `stim_pos` is the file's table, one row per image: the object at (top, middle, bottom), 999
/// = empty. Rows with one object are the singletons; the visually active units vary by more
/// than 0.1 across the singletons of each position (position-major groups, as MATLAB), and a
/// pair or triplet's summed response adds the singletons with the same object at the same
/// position.
pub fn normalisation(a: &Acts<'_>, stim_pos: &Table, o: &Options) -> (Score, Score) {
    settle_two(normalisation_checked(a, stim_pos, o))
}

fn normalisation_checked(a: &Acts<'_>, stim_pos: &Table, o: &Options) -> Checked<(Score, Score)> {
    check_acts(a)?;
    check_table(stim_pos, Some(a.n), 3, "normalisation stim_pos")?;
    let p = a.p;
    // (position, object) → singleton row; the singleton rows of each position.
    let mut single: Vec<(Key, usize)> = Vec::new();
    let mut groups: [Vec<usize>; 3] = Default::default();
    // Per combined image: its singleton keys; pairs then triplets.
    let mut combined: [Vec<(usize, Vec<Key>)>; 2] = Default::default();
    for r in 0..stim_pos.rows {
        let mut keys = Vec::with_capacity(3);
        for (pos, &v) in stim_pos.row(r).iter().enumerate() {
            if v == EMPTY {
                continue;
            }
            if !(v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15) {
                return undefined(format!(
                    "normalisation stim_pos row {r}: {v} is not an object id"
                ));
            }
            keys.push((pos, v as i64));
        }
        match keys.len() {
            1 => {
                if !single.iter().any(|(k, _)| *k == keys[0]) {
                    single.push((keys[0], r));
                    groups[keys[0].0].push(r);
                }
            }
            2 | 3 => combined[keys.len() - 2].push((r, keys)),
            _ => return undefined(format!("normalisation stim_pos row {r} names no object")),
        }
    }
    for (g, pos) in groups.iter().zip(POSITIONS) {
        let need = o.van_ddof.max(1);
        if g.len() <= need {
            return undefined(format!(
                "normalisation: {} singletons at the {pos} position (variance needs > {need})",
                g.len()
            ));
        }
    }
    // Visually active units: variance across the singletons > 0.1 at every position.
    let van: Vec<usize> = (0..p)
        .into_par_iter()
        .filter(|&u| {
            groups.iter().all(|g| {
                let v = |i: usize| f64::from(a.data[i * p + u]);
                let mean = g.iter().map(|&i| v(i)).sum::<f64>() / g.len() as f64;
                let ss = g.iter().map(|&i| (v(i) - mean).powi(2)).sum::<f64>();
                ss / (g.len() - o.van_ddof) as f64 > 0.1
            })
        })
        .collect();
    if van.len() <= o.min_van {
        return undefined(format!(
            "{} visually active units (need more than {})",
            van.len(),
            o.min_van
        ));
    }
    let score = |which: usize| {
        settle(normalisation_score(
            a,
            &van,
            &single,
            &combined[which],
            ["pair", "triplet"][which],
            o.normalisation_fit,
        ))
    };
    Ok((score(0), score(1)))
}

/// (position, object id) of a singleton.
type Key = (usize, i64);

/// One of the two slopes: `images` are the pair (or triplet) rows with their singleton keys.
fn normalisation_score(
    a: &Acts<'_>,
    van: &[usize],
    single: &[(Key, usize)],
    images: &[(usize, Vec<Key>)],
    what: &str,
    fit: NormalisationFit,
) -> Checked<Score> {
    if images.is_empty() {
        return undefined(format!("normalisation: no {what} images"));
    }
    // (combined row, singleton rows)
    let mut design: Vec<(usize, Vec<usize>)> = Vec::with_capacity(images.len());
    for (r, keys) in images {
        let mut rows = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(&(_, s)) = single.iter().find(|(k, _)| k == key) else {
                return undefined(format!(
                    "normalisation: {what} image {r} has object {} at the {} position, \
                     which has no singleton",
                    key.1, POSITIONS[key.0]
                ));
            };
            rows.push(s);
        }
        design.push((*r, rows));
    }
    normalisation_fit(a, van, &design, fit, what)
}

/// `(Fs, Fc)` of every visually active unit of every combined image of `design`, image-major:
/// the summed singleton responses and the combined response.
fn responses<'a>(
    data: &'a [f32],
    p: usize,
    van: &'a [usize],
    design: &'a [(usize, Vec<usize>)],
) -> impl Iterator<Item = (f64, f64)> + Clone + 'a {
    design.iter().flat_map(move |(c, s)| {
        van.iter().map(move |&u| {
            let fs: f64 = s.iter().map(|&i| f64::from(data[i * p + u])).sum();
            (fs, f64::from(data[c * p + u]))
        })
    })
}

/// The slope of `Fc/C` on `Fs/C` over the visually active units `van` of the combined images
/// `design` (combined row, its singleton rows).
fn normalisation_fit(
    a: &Acts<'_>,
    van: &[usize],
    design: &[(usize, Vec<usize>)],
    fit: NormalisationFit,
    what: &str,
) -> Checked<Score> {
    let (data, p) = (a.data, a.p);
    let scale = |d: &[(usize, Vec<usize>)]| {
        responses(data, p, van, d)
            .map(|(fs, fc)| fs.max(fc))
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let points = |d, c: f64| responses(data, p, van, d).map(move |(fs, fc)| (fs / c, fc / c));
    match fit {
        NormalisationFit::Pooled => {
            let c = scale(design);
            if !c.is_finite() || c == 0.0 {
                return undefined(format!(
                    "normalisation ({what}s): the largest response is {c}"
                ));
            }
            let (slope, _) = ols(points(design, c));
            if !slope.is_finite() {
                return undefined(format!(
                    "normalisation ({what}s): the regression is undefined \
                     (constant or non-finite summed responses)"
                ));
            }
            Ok(Score::single(slope, design.len() * van.len()))
        }
        NormalisationFit::PerImage => {
            let slopes: Vec<f64> = design
                .par_iter()
                .map(|img| {
                    let one = std::slice::from_ref(img);
                    let c = scale(one);
                    if !c.is_finite() || c == 0.0 {
                        return f64::NAN;
                    }
                    let slope = ols(points(one, c)).0;
                    if slope.is_finite() {
                        slope
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            if slopes.iter().all(|s| s.is_nan()) {
                return undefined(format!(
                    "normalisation ({what}s): every per-image regression is undefined"
                ));
            }
            Ok(Score::mean_of(&slopes))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Min–max normalised units (§6.6, §6.8)

/// Unit `u`'s `(min, max − min)` across all images of `a` (NaN ignored).
fn unit_scale(a: &Acts<'_>, u: usize) -> (f64, f64) {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for i in 0..a.n {
        let x = a.data[i * a.p + u];
        lo = lo.min(x);
        hi = hi.max(x);
    }
    (f64::from(lo), f64::from(hi) - f64::from(lo))
}

/// `(x − min)/(max − min)`; 0 for a constant unit.
fn scaled(x: f32, (lo, range): (f64, f64)) -> f64 {
    if range > 0.0 {
        (f64::from(x) - lo) / range
    } else {
        0.0
    }
}

/// Column `u` of `a` min–max normalised across all images, into `out`.
fn normalised_column(a: &Acts<'_>, u: usize, out: &mut Vec<f64>) {
    let s = unit_scale(a, u);
    out.clear();
    out.extend((0..a.n).map(|i| scaled(a.data[i * a.p + u], s)));
}

// ---------------------------------------------------------------------------------------------
// §6.6 correlated sparseness

/// Sparseness `(1 − (Σr)²/(n Σr²)) / (1 − 1/n)` (Vinje & Gallant); NaN when `Σr² = 0` or
/// fewer than 2 responses.
pub fn sparseness(r: &[f64]) -> f64 {
    let n = r.len() as f64;
    let s1: f64 = r.iter().sum();
    let s2: f64 = r.iter().map(|x| x * x).sum();
    if r.len() < 2 || s2 == 0.0 {
        return f64::NAN;
    }
    (1.0 - s1 * s1 / (n * s2)) / (1.0 - 1.0 / n)
}

fn rounded(s: f64, round: bool) -> f64 {
    if round {
        (s * 1e5).round() / 1e5
    } else {
        s
    }
}

/// Pearson r across units of two sparseness vectors, NaNs dropped pairwise.
fn sparseness_correlation(pairs: Vec<(f64, f64)>, what: &str) -> Checked<Score> {
    if pairs.is_empty() {
        return undefined(format!(
            "sparseness ({what}): no visually active units (every unit is constant)"
        ));
    }
    let (x, y): (Vec<f64>, Vec<f64>) = pairs
        .into_iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .unzip();
    match correlation(&x, &y) {
        Some(r) => Ok(Score::single(r, x.len())),
        None => undefined(format!(
            "sparseness ({what}): {} units with defined sparseness, \
             constant or too few to correlate",
            x.len()
        )),
    }
}

/// The 8 end-points of the 4 morph-lines of 11 images.
const MORPH_REFERENCE: [usize; 8] = [0, 11, 22, 33, 10, 21, 32, 43];

/// Correlated sparseness, morph-lines (§6.6 5a): 44 images = 4 morph-lines × 11; Pearson r across
/// visually active units of the sparseness over the 8 end-points and the largest sparseness
/// over the morph-lines.
pub fn sparseness_morphlines(a: &Acts<'_>, o: &Options) -> Score {
    settle(sparseness_morphlines_checked(a, o))
}

fn sparseness_morphlines_checked(a: &Acts<'_>, o: &Options) -> Checked<Score> {
    expect_images(a, 44, "sparseness (morph-lines)")?;
    let round = o.sparseness_round;
    let pairs: Vec<(f64, f64)> = (0..a.p)
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(col, sub), u| {
                normalised_column(a, u, col);
                if col.iter().sum::<f64>() > 0.0 {
                    sub.clear();
                    sub.extend(MORPH_REFERENCE.iter().map(|&i| col[i]));
                    let s_ref = rounded(sparseness(sub), round);
                    let s_max = col
                        .chunks_exact(11)
                        .map(|line| rounded(sparseness(line), round))
                        .fold(f64::NAN, f64::max);
                    Some((s_ref, s_max))
                } else {
                    None
                }
            },
        )
        .flatten()
        .collect();
    sparseness_correlation(pairs, "morph-lines")
}

/// Correlated sparseness, shapes vs textures (§6.6 5b): the first `n_shapes` images are shapes,
/// the rest textures; units normalised over all images jointly (MATLAB), active in both sets;
/// Pearson r across units of the shape and texture sparseness.
pub fn sparseness_textures(a: &Acts<'_>, n_shapes: usize, o: &Options) -> Score {
    settle(sparseness_textures_checked(a, n_shapes, o))
}

fn sparseness_textures_checked(a: &Acts<'_>, n_shapes: usize, o: &Options) -> Checked<Score> {
    check_acts(a)?;
    if n_shapes < 2 || n_shapes > a.n || a.n - n_shapes < 2 {
        return undefined(format!(
            "sparseness (textures): {} images with {n_shapes} shapes \
             leave fewer than 2 shapes or 2 textures",
            a.n
        ));
    }
    let round = o.sparseness_round;
    let pairs: Vec<(f64, f64)> = (0..a.p)
        .into_par_iter()
        .map_init(Vec::new, |col, u| {
            normalised_column(a, u, col);
            let (shapes, textures) = col.split_at(n_shapes);
            if shapes.iter().sum::<f64>() > 0.0 && textures.iter().sum::<f64>() > 0.0 {
                Some((
                    rounded(sparseness(shapes), round),
                    rounded(sparseness(textures), round),
                ))
            } else {
                None
            }
        })
        .flatten()
        .collect();
    sparseness_correlation(pairs, "textures")
}

// ---------------------------------------------------------------------------------------------
// §6.7 Weber's law

/// Weber's law (§6.7): `2m` images [L1 of pairs 0..m, L2 of pairs 0..m] (m = 10), `d_c =
/// d(c, c + m)`; `Pearson(d, rel) − Pearson(d, abs)`.
pub fn weber(a: &Acts<'_>, rel: &[f64], abs: &[f64]) -> Score {
    settle(weber_checked(a, rel, abs))
}

fn weber_checked(a: &Acts<'_>, rel: &[f64], abs: &[f64]) -> Checked<Score> {
    check_acts(a)?;
    let m = rel.len();
    if abs.len() != m || m < 2 || a.n != 2 * m {
        return undefined(format!(
            "Weber: expected {} images for {m} ratios and {} differences, got {}",
            2 * m,
            abs.len(),
            a.n
        ));
    }
    let pairs: Vec<(usize, usize)> = (0..m).map(|c| (c, c + m)).collect();
    let d = pair_distances(a, &pairs, Distance::Euclidean);
    weber_from_distances(&d, rel, abs)
}

fn weber_from_distances(d: &[f64], rel: &[f64], abs: &[f64]) -> Checked<Score> {
    let (Some(r_rel), Some(r_abs)) = (correlation(d, rel), correlation(d, abs)) else {
        return undefined(format!(
            "Weber: the {} pair distances or the ratios/differences are constant or non-finite",
            d.len()
        ));
    };
    Ok(Score::single(r_rel - r_abs, d.len()))
}

// ---------------------------------------------------------------------------------------------
// §6.8 tetrads

/// Residual of the additive 2×2 model `|r1 − r2 − r3 + r4|` and modulation index
/// `(d23 − d14)/(d23 + d14)` of one unit's responses to a tetrad.
fn tetrad_cell(r: [f64; 4]) -> (f64, f64) {
    let re = (r[0] - r[1] - r[2] + r[3]).abs();
    let mi = contrast((r[1] - r[2]).abs(), (r[0] - r[3]).abs());
    (re, mi)
}

/// The residual given to entries without one, so that they sort last (MATLAB).
const NO_RESIDUAL: f64 = -9999999.0;

/// Tetrad interaction index (§6.8): units min–max normalised across all images of `a`, visually
/// active ones (normalised sum > 0) kept; per (unit, tetrad) entry active when its 4 responses
/// sum to > 0; the `floor(frac · N_active)` active entries of largest residual (stable,
/// tetrad-major) averaged for their modulation index.
pub fn tetrad(a: &Acts<'_>, tetrads: &[[usize; 4]], frac: f64) -> Score {
    settle(tetrad_checked(a, tetrads, frac))
}

fn tetrad_checked(a: &Acts<'_>, tetrads: &[[usize; 4]], frac: f64) -> Checked<Score> {
    check_acts(a)?;
    if tetrads.is_empty() {
        return undefined("tetrad index: no tetrads");
    }
    if let Some(t) = tetrads.iter().find(|t| t.iter().any(|&i| i >= a.n)) {
        return undefined(format!(
            "tetrad index: tetrad {t:?} is out of range for {} images",
            a.n
        ));
    }
    if frac.is_nan() || frac <= 0.0 || frac > 1.0 {
        return undefined(format!("tetrad index: fraction {frac} is not in (0, 1]"));
    }
    let p = a.p;
    // (residual, modulation, tetrad-major position t·p + u) of every active entry.
    let per_unit: Vec<Option<Vec<(f64, f64, usize)>>> = (0..p)
        .into_par_iter()
        .map(|u| {
            let s = unit_scale(a, u);
            let sum: f64 = (0..a.n).map(|i| scaled(a.data[i * p + u], s)).sum();
            if sum.is_nan() || sum <= 0.0 {
                return None;
            }
            let entries = tetrads
                .iter()
                .enumerate()
                .filter_map(|(t, idx)| {
                    let r = idx.map(|i| scaled(a.data[i * p + u], s));
                    let total: f64 = r.iter().sum();
                    if total.is_nan() || total <= 0.0 {
                        return None;
                    }
                    let (re, mi) = tetrad_cell(r);
                    let re = if re.is_nan() { NO_RESIDUAL } else { re };
                    Some((re, mi, t * p + u))
                })
                .collect();
            Some(entries)
        })
        .collect();
    let n_van = per_unit.iter().filter(|e| e.is_some()).count();
    if n_van == 0 {
        return undefined("tetrad index: no visually active units (every unit is constant)");
    }
    let mut entries: Vec<(f64, f64, usize)> = per_unit.into_iter().flatten().flatten().collect();
    let n_active = entries.len();
    if n_active == 0 {
        return undefined(format!(
            "tetrad index: no active tetrads ({n_van} visually active units)"
        ));
    }
    let k = (frac * n_active as f64).floor() as usize;
    if k == 0 {
        return undefined(format!(
            "tetrad index: {frac} of {n_active} active (unit, tetrad) entries selects none"
        ));
    }
    // Descending residual, ties in tetrad-major order: the prefix of a stable sort.
    let order =
        |x: &(f64, f64, usize), y: &(f64, f64, usize)| y.0.total_cmp(&x.0).then(x.2.cmp(&y.2));
    if k < n_active {
        entries.select_nth_unstable_by(k - 1, order);
        entries.truncate(k);
    }
    entries.sort_unstable_by(order);
    let mi: Vec<f64> = entries.iter().map(|e| e.1).collect();
    if mi.iter().all(|m| m.is_nan()) {
        return undefined(format!(
            "tetrad index: all {k} selected entries have d14 = d23 = 0"
        ));
    }
    Ok(Score::mean_of(&mi))
}

/// Relative size (§6.9): 96 images, tetrads `4t..4t+4`, top 7 %.
pub fn relative_size(a: &Acts<'_>) -> Score {
    if let Err(s) = expect_images(a, 96, "relative size") {
        return s;
    }
    let tetrads: Vec<[usize; 4]> = (0..24)
        .map(|t| [4 * t, 4 * t + 1, 4 * t + 2, 4 * t + 3])
        .collect();
    tetrad(a, &tetrads, 0.07)
}

/// Surface invariance (§6.10): 6 sets × 13 images, tetrads `13s + [0, 1+3g, 2+3g, 3+3g]`, top
/// 9 %.
pub fn surface_invariance(a: &Acts<'_>) -> Score {
    if let Err(s) = expect_images(a, 78, "surface invariance") {
        return s;
    }
    let tetrads: Vec<[usize; 4]> = (0..6)
        .flat_map(|s| {
            (0..4).map(move |g| {
                [
                    13 * s,
                    13 * s + 1 + 3 * g,
                    13 * s + 2 + 3 * g,
                    13 * s + 3 + 3 * g,
                ]
            })
        })
        .collect();
    tetrad(a, &tetrads, 0.09)
}

// ---------------------------------------------------------------------------------------------
// §6.11 – §6.15

/// 3D processing (§6.11): 2 sets × 6 images; condition 1 `(d34 − d12)/(d34 + d12)`, condition
/// 2 by [`ThreeDSign`]; each the mean over the 2 sets.
pub fn three_d(a: &Acts<'_>, o: &Options) -> (Score, Score) {
    settle_two(three_d_checked(a, o))
}

fn three_d_checked(a: &Acts<'_>, o: &Options) -> Checked<(Score, Score)> {
    expect_images(a, 12, "3D")?;
    let c1: Vec<[(usize, usize); 2]> = [0, 6].map(|b| [(b + 2, b + 3), (b, b + 1)]).to_vec();
    let c2: Vec<[(usize, usize); 2]> = [0, 6]
        .map(|b| match o.three_d_sign {
            ThreeDSign::D34MinusD56 => [(b + 2, b + 3), (b + 4, b + 5)],
            ThreeDSign::Matlab => [(b + 4, b + 5), (b + 2, b + 3)],
        })
        .to_vec();
    Ok((
        mean_or_reason(&pair_contrasts(a, &c1, Distance::Euclidean), "sets"),
        mean_or_reason(&pair_contrasts(a, &c2, Distance::Euclidean), "sets"),
    ))
}

/// Occlusion (§6.12) on images 0..12 (later ones ignored): basic `(d(0,2) − d(0,1))/(…)` and
/// its 180° copy; depth ordering, the 4 indices of §6.12.
pub fn occlusion(a: &Acts<'_>) -> (Score, Score) {
    settle_two(occlusion_checked(a))
}

fn occlusion_checked(a: &Acts<'_>) -> Checked<(Score, Score)> {
    check_acts(a)?;
    if a.n < 12 {
        return undefined(format!(
            "occlusion: expected at least 12 images, got {}",
            a.n
        ));
    }
    let basic = [[(0, 2), (0, 1)], [(3, 5), (3, 4)]];
    let depth = [
        [(6, 7), (6, 1)],
        [(8, 9), (8, 4)],
        [(1, 10), (1, 6)],
        [(4, 11), (4, 8)],
    ];
    Ok((
        mean_or_reason(&pair_contrasts(a, &basic, Distance::Euclidean), "sets"),
        mean_or_reason(&pair_contrasts(a, &depth, Distance::Euclidean), "indices"),
    ))
}

/// Part matching (§6.13): 2 sets × (whole, natural cut, unnatural cut); `(dU − dN)/(dU + dN)`
/// with both distances from the whole object (MATLAB), mean over the sets.
pub fn part_matching(a: &Acts<'_>, o: &Options) -> Score {
    settle(part_matching_checked(a, o))
}

fn part_matching_checked(a: &Acts<'_>, o: &Options) -> Checked<Score> {
    expect_images(a, 6, "part matching")?;
    let items = [[(0, 2), (0, 1)], [(3, 5), (3, 4)]];
    Ok(mean_or_reason(
        &pair_contrasts(a, &items, o.part_matching_distance),
        "sets",
    ))
}

/// Predictions `Xβ` of the least-squares fit `d ≈ Xβ` (pseudo-inverse: unique even when `X` is
/// rank-deficient).
fn least_squares_predictions(x: &Table, d: &[f64]) -> Option<Vec<f64>> {
    let xm = Mat::<f64>::from_fn(x.rows, x.cols, |i, j| x.get(i, j));
    let svd = xm.as_ref().thin_svd().ok()?;
    let pinv = svd.pseudoinverse();
    let dm = Mat::<f64>::from_fn(d.len(), 1, |i, _| d[i]);
    let beta = &pinv * &dm;
    let pred = &xm * &beta;
    Some((0..x.rows).map(|i| pred[(i, 0)]).collect())
}

const NATURAL_PARTS_IMAGES: usize = 98;

/// Natural-part advantage (§6.14): for each set an OLS fit of the pair distances on its own
/// design matrix (`xu` for set 1, unnatural, pairs `0..xu.rows` of `img_pairs`; `xn` for set 2,
/// natural, the next `xn.rows`), Pearson r of observed and predicted over the `common` pairs
/// (1-based into each set's pairs); `r_natural − r_unnatural`. `img_pairs` is 1-based.
pub fn natural_parts(
    a: &Acts<'_>,
    xn: &Table,
    xu: &Table,
    img_pairs: &Table,
    common: &[usize],
) -> Score {
    settle(natural_parts_checked(a, xn, xu, img_pairs, common))
}

fn natural_parts_checked(
    a: &Acts<'_>,
    xn: &Table,
    xu: &Table,
    img_pairs: &Table,
    common: &[usize],
) -> Checked<Score> {
    expect_images(a, NATURAL_PARTS_IMAGES, "natural parts")?;
    check_table(xu, None, xu.cols, "natural parts Xu")?;
    check_table(xn, None, xn.cols, "natural parts Xn")?;
    let (mu, mn) = (xu.rows, xn.rows);
    check_table(img_pairs, Some(mu + mn), 2, "natural parts img_pairs")?;
    if xu.cols == 0 || xn.cols == 0 {
        return undefined("natural parts: a design matrix has no columns");
    }
    if !xu.data.iter().chain(&xn.data).all(|v| v.is_finite()) {
        return undefined("natural parts: a design matrix has non-finite entries");
    }
    let m = mu.min(mn);
    if common.len() < 2 {
        return undefined(format!(
            "natural parts: {} common pairs (need at least 2)",
            common.len()
        ));
    }
    if let Some(c) = common.iter().find(|&&c| c == 0 || c > m) {
        return undefined(format!(
            "natural parts: common pair {c} is not an index in 1..={m}"
        ));
    }
    let mut pairs = Vec::with_capacity(mu + mn);
    for r in 0..img_pairs.rows {
        let i = one_based(img_pairs.get(r, 0), a.n, "natural parts img_pairs")?;
        let j = one_based(img_pairs.get(r, 1), a.n, "natural parts img_pairs")?;
        pairs.push((i, j));
    }
    let d = pair_distances(a, &pairs, Distance::Euclidean);
    if !d.iter().all(|v| v.is_finite()) {
        return undefined("natural parts: non-finite pair distances");
    }
    let (du, dn) = d.split_at(mu);
    let r = |x: &Table, d: &[f64], set: &str| -> Checked<f64> {
        let Some(pred) = least_squares_predictions(x, d) else {
            return undefined(format!("natural parts: the {set} fit did not converge"));
        };
        let obs: Vec<f64> = common.iter().map(|&c| d[c - 1]).collect();
        let fit: Vec<f64> = common.iter().map(|&c| pred[c - 1]).collect();
        correlation(&obs, &fit).ok_or_else(|| {
            Score::undefined(format!(
                "natural parts: observed or predicted {set} distances \
                     are constant over the common pairs"
            ))
        })
    };
    let r_unnatural = r(xu, du, "unnatural")?;
    let r_natural = r(xn, dn, "natural")?;
    Ok(Score::single(r_natural - r_unnatural, common.len()))
}

/// Global advantage (§6.15): `pairs` rows (g1, l1, g2, l2) in `pdist` order over the images;
/// `(mG − mL)/(mG + mL)` of the mean distances of pairs that differ only in global shape
/// (`l1 == l2`) and only in local shape (`g1 == g2`).
pub fn global_advantage(a: &Acts<'_>, pairs: &Table) -> Score {
    settle(global_advantage_checked(a, pairs))
}

fn global_advantage_checked(a: &Acts<'_>, pairs: &Table) -> Checked<Score> {
    check_acts(a)?;
    let n = a.n;
    check_table(
        pairs,
        Some(n.saturating_mul(n.saturating_sub(1)) / 2),
        4,
        "global advantage pairs",
    )?;
    if !pairs.data.iter().all(|v| v.is_finite()) {
        return undefined("global advantage: non-finite entries in the pair table");
    }
    let (mut global, mut local) = (Vec::new(), Vec::new());
    let mut r = 0;
    for i in 0..n {
        for j in i + 1..n {
            let row = pairs.row(r);
            if row[1] == row[3] {
                global.push((i, j));
            }
            if row[0] == row[2] {
                local.push((i, j));
            }
            r += 1;
        }
    }
    if global.is_empty() || local.is_empty() {
        return undefined(format!(
            "global advantage: {} global-only and {} local-only pairs (need both)",
            global.len(),
            local.len()
        ));
    }
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let m_g = mean(pair_distances(a, &global, Distance::Euclidean));
    let m_l = mean(pair_distances(a, &local, Distance::Euclidean));
    let index = contrast(m_g, m_l);
    if !index.is_finite() {
        return undefined("global advantage: zero or non-finite distances");
    }
    Ok(Score::single(index, global.len() + local.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acts(data: &[f32], n: usize) -> Acts<'_> {
        Acts {
            data,
            n,
            p: data.len() / n,
        }
    }

    fn close(x: f64, y: f64, tol: f64) {
        assert!((x - y).abs() <= tol, "{x} vs {y}");
    }

    fn is_undefined(s: &Score, needle: &str) {
        assert!(s.index.is_nan(), "{s:?}");
        let note = s.note.as_deref().unwrap_or("");
        assert!(note.contains(needle), "note {note:?} lacks {needle:?}");
    }

    fn table(rows: usize, cols: usize, data: Vec<f64>) -> Table {
        Table { rows, cols, data }
    }

    /// §6.2/§6.3 test value: (√2 − 0.5)/(√2 + 0.5).
    const TI: f64 = 0.47759225007251715;

    #[test]
    fn thatcher_test_vector() {
        let face: [[f32; 3]; 4] = [[1., 0., 0.], [0., 1., 0.], [1., 1., 0.], [1., 1., 0.5]];
        let mut data = Vec::new();
        for q in face {
            for _ in 0..20 {
                data.extend_from_slice(&q);
            }
        }
        let s = thatcher(&acts(&data, 80));
        close(s.index, TI, 1e-12);
        close(TI, (2f64.sqrt() - 0.5) / (2f64.sqrt() + 0.5), 1e-15);
        assert_eq!(s.n, 20);
        assert!(s.note.is_none());
        close(s.sem, 0.0, 1e-15);
    }

    #[test]
    fn thatcher_shapes_and_constants() {
        is_undefined(
            &thatcher(&acts(&[0.0; 79], 79)),
            "expected 80 images, got 79",
        );
        is_undefined(&thatcher(&acts(&[0.0; 160], 80)), "faces are undefined");
        // Data shorter than n × p.
        let bad = Acts {
            data: &[0.0; 10],
            n: 80,
            p: 3,
        };
        is_undefined(&thatcher(&bad), "activations hold 10 values");
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let o = Options::default();
        let t = table(0, 0, Vec::new());
        for n in [0, 1, 3, usize::MAX] {
            let a = Acts { data: &[], n, p: 0 };
            let scores = [
                thatcher(&a),
                mirror_confusion(&a),
                scene_incongruence(&a, &[], &[]),
                normalisation(&a, &t, &o).0,
                sparseness_morphlines(&a, &o),
                sparseness_textures(&a, 2, &o),
                weber(&a, &[], &[]),
                tetrad(&a, &[[0, 0, 0, 0]], 0.5),
                relative_size(&a),
                surface_invariance(&a),
                three_d(&a, &o).1,
                occlusion(&a).0,
                part_matching(&a, &o),
                natural_parts(&a, &t, &t, &t, &[]),
                global_advantage(&a, &t),
            ];
            for s in scores {
                is_undefined(&s, "no features");
            }
        }
        // Features but a wrong length, or n·p overflowing.
        let a = Acts {
            data: &[1.0; 6],
            n: usize::MAX,
            p: 2,
        };
        is_undefined(&global_advantage(&a, &t), "activations hold 6 values");
        is_undefined(
            &tetrad(&a, &[[0, 1, 2, 3]], 0.5),
            "activations hold 6 values",
        );
    }

    #[test]
    fn mirror_test_vector() {
        let data = [1., 2., 3., 1., 2., 4., 3., 2., 1.];
        let s = mirror_confusion(&acts(&data, 3));
        close(s.index, TI, 1e-12);
        assert_eq!(s.n, 1);
        // Two objects (originals 0, 0; LR 1, 0; UD 3, 2): 0.5 and 1.
        let data = [0f32, 0., 1., 0., 3., 2.];
        let s = mirror_confusion(&acts(&data, 6));
        close(s.index, 0.75, 1e-12);
        close(s.sem, 0.25, 1e-12);
        is_undefined(&mirror_confusion(&acts(&[0.0; 4], 4)), "expected 3N images");
        is_undefined(&mirror_confusion(&acts(&[], 1)), "no features");
        is_undefined(
            &mirror_confusion(&acts(&[5.0; 6], 6)),
            "objects are undefined",
        );
    }

    #[test]
    fn scene_incongruence_pooled_top1() {
        let mut logits = vec![0f32; 4 * 1000];
        let labels = [3usize, 7, 3, 9];
        let congruent = [true, true, false, false];
        // Congruent: both right; incongruent: one right, one wrong (a tie goes to the first
        // maximum, class 0).
        logits[3] = 5.0;
        logits[1000 + 7] = 1.0;
        logits[2000 + 3] = 2.0;
        logits[3000 + 9] = f32::NAN;
        let s = scene_incongruence(&acts(&logits, 4), &labels, &congruent);
        close(s.index, (1.0 - 0.5) / 1.5, 1e-12);
        assert_eq!(s.n, 4);
        // Nothing right anywhere.
        let s = scene_incongruence(&acts(&vec![0f32; 4000], 4), &[5, 5, 5, 5], &congruent);
        is_undefined(&s, "no image classified correctly");
        // All NaN logits give no prediction, no panic.
        let s = scene_incongruence(&acts(&vec![f32::NAN; 4000], 4), &labels, &congruent);
        is_undefined(&s, "no image classified correctly");
        is_undefined(
            &scene_incongruence(&acts(&[0.0; 40], 4), &labels, &congruent),
            "needs the 1000 ImageNet logits, got 10",
        );
        is_undefined(
            &scene_incongruence(&acts(&logits, 4), &labels[..3], &congruent),
            "4 images but 3 labels",
        );
        is_undefined(
            &scene_incongruence(&acts(&logits, 4), &[3, 7, 3, 1000], &congruent),
            "label 1000",
        );
        is_undefined(
            &scene_incongruence(&acts(&logits, 4), &labels, &[true; 4]),
            "0 incongruent",
        );
    }

    #[test]
    fn ols_test_vector() {
        let fs = [1., 2., 3., 4., 5., 6.];
        let fc = [0.9, 1.2, 1.8, 2.1, 2.4, 3.2];
        let x: Vec<f64> = fs.iter().map(|v| v / 6.0).collect();
        let y: Vec<f64> = fc.iter().map(|v| v / 6.0).collect();
        let (b, b0) = ols_slope(&x, &y);
        close(b, 0.44, 1e-12);
        close(b0, 0.065_555_555_555_555_56, 1e-12);
        close(b0, 2.36 / 36.0, 1e-12);
        let (b, b0) = ols_slope(&[0.1, 0.1, 0.1], &[1.0, 2.0, 3.0]);
        assert!(b.is_nan() && b0.is_nan());
        assert!(ols_slope(&[], &[]).0.is_nan());
        assert!(ols_slope(&[1.0, 2.0], &[1.0]).0.is_nan());
    }

    /// 3 objects × 3 positions (position-major), 3 pairs, 2 triplets; `units` units whose
    /// singleton responses are multiples of 3 (so averages are exact in f32), one constant
    /// unit, combined images answering with the average of their singletons.
    fn normalisation_set(units: usize) -> (Vec<f32>, Table) {
        let mut pos: Vec<[f64; 3]> = Vec::new();
        for p in 0..3 {
            for k in 1..=3 {
                let mut r = [EMPTY; 3];
                r[p] = f64::from(k);
                pos.push(r);
            }
        }
        pos.extend([
            [1., 2., EMPTY],
            [2., EMPTY, 3.],
            [EMPTY, 3., 1.],
            [1., 2., 3.],
            [3., 1., 2.],
        ]);
        let p = units + 1;
        let single = |u: usize, k: usize, pp: usize| 3.0 * ((u * 7 + k * 5 + pp * 11) % 13) as f32;
        let mut data = Vec::new();
        for row in &pos {
            let objs: Vec<(usize, usize)> = row
                .iter()
                .enumerate()
                .filter(|(_, &v)| v != EMPTY)
                .map(|(pp, &v)| (pp, v as usize))
                .collect();
            for u in 0..units {
                let s: f32 = objs.iter().map(|&(pp, k)| single(u, k, pp)).sum();
                data.push(s / objs.len() as f32);
            }
            data.push(4.0);
        }
        assert_eq!(data.len(), pos.len() * p);
        (data, table(pos.len(), 3, pos.concat()))
    }

    #[test]
    fn normalisation_average_of_singletons() {
        let (data, sp) = normalisation_set(12);
        let a = acts(&data, sp.rows);
        for fit in [NormalisationFit::Pooled, NormalisationFit::PerImage] {
            for ddof in [0, 1] {
                let o = Options {
                    normalisation_fit: fit,
                    van_ddof: ddof,
                    ..Options::default()
                };
                let (pairs, triplets) = normalisation(&a, &sp, &o);
                close(pairs.index, 0.5, 1e-12);
                close(triplets.index, 1.0 / 3.0, 1e-12);
                match fit {
                    NormalisationFit::Pooled => {
                        assert_eq!(pairs.index, 0.5);
                        assert_eq!((pairs.n, triplets.n), (3 * 12, 2 * 12));
                    }
                    NormalisationFit::PerImage => assert_eq!((pairs.n, triplets.n), (3, 2)),
                }
            }
        }
        // 12 visually active units (the constant one is not).
        let o = Options {
            min_van: 12,
            ..Options::default()
        };
        let (pairs, triplets) = normalisation(&a, &sp, &o);
        is_undefined(&pairs, "12 visually active units (need more than 12)");
        is_undefined(&triplets, "12 visually active units");
        let (data, sp) = normalisation_set(3);
        let (pairs, _) = normalisation(&acts(&data, sp.rows), &sp, &Options::default());
        is_undefined(&pairs, "3 visually active units (need more than 10)");
    }

    #[test]
    fn normalisation_shapes_and_constants() {
        let (data, sp) = normalisation_set(12);
        let o = Options::default();
        let zeros = vec![0f32; data.len()];
        let (pairs, _) = normalisation(&acts(&zeros, sp.rows), &sp, &o);
        is_undefined(&pairs, "0 visually active units");
        let short = table(sp.rows - 1, 3, sp.data[..sp.data.len() - 3].to_vec());
        let (pairs, _) = normalisation(&acts(&data, sp.rows), &short, &o);
        is_undefined(&pairs, "expected a 14 × 3 table, got 13 × 3");
        let ragged = table(sp.rows, 3, sp.data[..5].to_vec());
        is_undefined(
            &normalisation(&acts(&data, sp.rows), &ragged, &o).0,
            "table holds 5 values",
        );
        let mut empty_row = sp.clone();
        empty_row.data[3 * 9..3 * 10].copy_from_slice(&[EMPTY; 3]);
        is_undefined(
            &normalisation(&acts(&data, sp.rows), &empty_row, &o).1,
            "row 9 names no object",
        );
        let mut odd = sp.clone();
        odd.data[0] = 1.5;
        is_undefined(
            &normalisation(&acts(&data, sp.rows), &odd, &o).0,
            "1.5 is not an object id",
        );
        // A pair naming an object with no singleton at that position.
        let mut orphan = sp.clone();
        orphan.data[3 * 9] = 7.0;
        let (pairs, triplets) = normalisation(&acts(&data, sp.rows), &orphan, &o);
        is_undefined(&pairs, "object 7 at the top position");
        close(triplets.index, 1.0 / 3.0, 1e-12);
        // No triplets at all.
        let cut = table(12, 3, sp.data[..36].to_vec());
        let (pairs, triplets) = normalisation(&acts(&data[..12 * 13], 12), &cut, &o);
        close(pairs.index, 0.5, 1e-12);
        is_undefined(&triplets, "no triplet images");
        // Variance with ddof ≥ the singletons per position.
        let o = Options {
            van_ddof: 3,
            ..Options::default()
        };
        is_undefined(
            &normalisation(&acts(&data, sp.rows), &sp, &o).0,
            "3 singletons at the top position",
        );
    }

    #[test]
    fn sparseness_test_vectors() {
        close(sparseness(&[1., 0., 0., 0.]), 1.0, 1e-12);
        close(sparseness(&[1., 1., 1., 1.]), 0.0, 1e-12);
        close(sparseness(&[1., 0.5, 0., 0.]), 0.7333333333333333, 1e-12);
        close(sparseness(&[0.2, 0.4, 0.6, 0.8]), 0.2222222222222222, 1e-12);
        // Effective number of stimuli k = n − (n − 1)s.
        close(4.0 - 3.0 * sparseness(&[1., 0.5, 0., 0.]), 1.8, 1e-12);
        close(
            4.0 - 3.0 * sparseness(&[0.2, 0.4, 0.6, 0.8]),
            10.0 / 3.0,
            1e-12,
        );
        assert!(sparseness(&[0., 0., 0.]).is_nan());
        assert!(sparseness(&[1.]).is_nan());
        assert!(sparseness(&[]).is_nan());
    }

    #[test]
    fn min_max_normalisation() {
        let r = [1f32, 5., 2., 3., 5., 0., 2., 5., 4., 0., 5., 1.];
        let a = acts(&r, 4);
        let want = [
            [1. / 3., 1., 2. / 3., 0.],
            [0., 0., 0., 0.],
            [0.5, 0., 1., 0.25],
        ];
        let mut col = Vec::new();
        for (u, w) in want.iter().enumerate() {
            normalised_column(&a, u, &mut col);
            for (x, y) in col.iter().zip(w) {
                close(*x, *y, 1e-15);
            }
        }
    }

    #[test]
    fn sparseness_morphlines_hand_case() {
        // Units: a spike at image 0; spikes at 0 and 11; a ramp 0..10 over line 0; spikes off the
        // reference set (s_ref NaN, dropped); a constant unit (not active).
        let p = 5;
        let mut data = vec![0f32; 44 * p];
        data[0] = 1.0;
        data[1] = 1.0;
        data[11 * p + 1] = 1.0;
        for i in 0..11 {
            data[i * p + 2] = i as f32;
        }
        data[5 * p + 3] = 1.0;
        data[16 * p + 3] = 1.0;
        data[27 * p + 3] = 2.0;
        for i in 0..44 {
            data[i * p + 4] = 7.0;
        }
        let a = acts(&data, 44);
        let s = sparseness_morphlines(&a, &Options::default());
        close(s.index, -0.5, 1e-12);
        assert_eq!(s.n, 3);
        let o = Options {
            sparseness_round: false,
            ..Options::default()
        };
        close(sparseness_morphlines(&a, &o).index, -0.5, 1e-12);
        is_undefined(
            &sparseness_morphlines(&acts(&data[..43 * p], 43), &o),
            "expected 44 images, got 43",
        );
        is_undefined(
            &sparseness_morphlines(&acts(&[3.0; 44 * 4], 44), &o),
            "no visually active units",
        );
        // One usable unit: too few to correlate.
        let mut one = vec![0f32; 44];
        one[0] = 1.0;
        is_undefined(
            &sparseness_morphlines(&acts(&one, 44), &o),
            "1 units with defined sparseness",
        );
    }

    #[test]
    fn sparseness_textures_joint_normalisation() {
        #[rustfmt::skip]
        let t: [f32; 40] = [
            1., 1., 4., 0., 2.,
            0., 1., 1., 0., 3.,
            0., 0., 0., 0., 2.,
            0., 0., 0., 0., 2.,
            0., 1., 0., 1., 0.,
            2., 2., 0., 0., 1.,
            0., 3., 1., 0., 0.,
            0., 4., 1., 0., 0.,
        ];
        let a = acts(&t, 8);
        let s = sparseness_textures(&a, 4, &Options::default());
        close(s.index, -0.19326989152025098, 1e-12);
        assert_eq!(s.n, 4);
        let o = Options {
            sparseness_round: false,
            ..Options::default()
        };
        // Separate normalisation of the two sets would give 0.986.
        close(
            sparseness_textures(&a, 4, &o).index,
            -0.19326833409892302,
            1e-12,
        );
        is_undefined(
            &sparseness_textures(&a, 7, &o),
            "fewer than 2 shapes or 2 textures",
        );
        is_undefined(&sparseness_textures(&a, 0, &o), "fewer than 2 shapes");
        is_undefined(
            &sparseness_textures(&a, usize::MAX, &o),
            "fewer than 2 shapes",
        );
        is_undefined(
            &sparseness_textures(&acts(&[1.0; 40], 8), 4, &o),
            "no visually active units",
        );
    }

    const WEBER_REL: [f64; 10] = [
        0.3, 0.375, 0.46875, 0.58, 0.73, 0.3, 0.375, 0.46875, 0.58, 0.73,
    ];
    const WEBER_ABS: [f64; 10] = [19., 24., 30., 37., 47., 30., 38., 47., 58., 73.];

    #[test]
    fn weber_test_vector() {
        let d = [1.0, 1.2, 1.5, 1.7, 2.1, 1.1, 1.3, 1.6, 1.9, 2.4];
        let s = weber_from_distances(&d, &WEBER_REL, &WEBER_ABS).unwrap();
        close(s.index, 0.07209550872185733, 1e-12);
        close(
            correlation(&d, &WEBER_REL).unwrap(),
            0.9771959240921856,
            1e-12,
        );
        close(
            correlation(&d, &WEBER_ABS).unwrap(),
            0.9051004153703283,
            1e-12,
        );
        // Through activations: L1 images at 0, L2 images at 10·d (exact in f32; r is
        // scale-free).
        let mut data = vec![0f32; 20];
        for (c, v) in d.iter().enumerate() {
            data[c + 10] = (v * 10.0).round() as f32;
        }
        let a = acts(&data, 20);
        let s = weber(&a, &WEBER_REL, &WEBER_ABS);
        close(s.index, 0.07209550872185733, 1e-12);
        assert_eq!(s.n, 10);
        let mut rel = WEBER_REL;
        rel[2] = 0.4688;
        rel[7] = 0.4688;
        close(weber(&a, &rel, &WEBER_ABS).index, 0.0721002269, 1e-10);
        is_undefined(
            &weber(&acts(&data[..18], 18), &WEBER_REL, &WEBER_ABS),
            "expected 20 images",
        );
        is_undefined(
            &weber(&a, &WEBER_REL, &WEBER_ABS[..9]),
            "expected 20 images",
        );
        is_undefined(
            &weber(&acts(&[2.0; 20], 20), &WEBER_REL, &WEBER_ABS),
            "constant",
        );
    }

    #[test]
    fn tetrad_2x2_cells() {
        let (re, mi) = tetrad_cell([0.2, 0.6, 0.5, 0.3]);
        close(re, 0.6, 1e-12);
        close(mi, 0.0, 1e-12);
        let (re, mi) = tetrad_cell([0.9, 0.1, 0.4, 0.8]);
        close(re, 1.2, 1e-12);
        close(mi, 0.5, 1e-12);
        // d14 = d23 = 0: NaN modulation, no division by zero.
        assert!(tetrad_cell([1.0, 1.0, 1.0, 1.0]).1.is_nan());
    }

    /// SCIENCE.md §6.8's 8 images × 5 units; `scale4` multiplies unit 4 by 10, which leaves its
    /// normalised responses unchanged and makes them exact in binary.
    fn tetrad_set(scale4: f32) -> Vec<f32> {
        #[rustfmt::skip]
        let r: [[f32; 5]; 8] = [
            [0.0, 1.0, 2.0, 0.5, 0.], [1.0, 0.0, 2.0, 0.4, 0.], [0.5, 1.0, 0.0, 0.3, 0.],
            [2.0, 0.0, 1.0, 0.9, 0.], [1.5, 0.5, 1.0, 0.1, 0.], [0.5, 2.0, 1.5, 0.8, 0.],
            [1.0, 1.0, 0.5, 0.7, 0.], [0.0, 1.5, 2.0, 0.2, 0.],
        ];
        r.iter()
            .flat_map(|row| {
                let mut row = *row;
                row[3] = (row[3] * scale4 * 10.0).round() / 10.0;
                row
            })
            .collect()
    }

    #[test]
    fn tetrad_test_vector() {
        let tetrads = [[0, 1, 2, 3], [4, 5, 6, 7]];
        let exact = tetrad_set(10.0);
        let a = acts(&exact, 8);
        let s = tetrad(&a, &tetrads, 0.5);
        close(s.index, -1.0 / 15.0, 1e-12);
        close(s.index, -0.0666666667, 1e-10);
        assert_eq!(s.n, 4);
        let s = tetrad(&a, &tetrads, 0.25);
        close(s.index, -0.3, 1e-12);
        assert_eq!(s.n, 2);
        // The published values (0.1 steps are not exact in f32).
        let raw = tetrad_set(1.0);
        close(
            tetrad(&acts(&raw, 8), &tetrads, 0.5).index,
            -0.0666666667,
            1e-7,
        );
        close(tetrad(&acts(&raw, 8), &tetrads, 0.25).index, -0.3, 1e-7);
        // All 8 entries: mean of every MI.
        let all = tetrad(&a, &tetrads, 1.0);
        close(all.index, (-0.6 + 1.0 / 3.0 - 0.6 - 0.5) / 8.0, 1e-12);
        assert_eq!(all.n, 8);
    }

    #[test]
    fn tetrad_shapes_and_constants() {
        let exact = tetrad_set(10.0);
        let a = acts(&exact, 8);
        is_undefined(
            &tetrad(&a, &[[0, 1, 2, 8]], 0.5),
            "out of range for 8 images",
        );
        is_undefined(&tetrad(&a, &[], 0.5), "no tetrads");
        is_undefined(&tetrad(&a, &[[0, 1, 2, 3]], 0.0), "fraction 0");
        is_undefined(&tetrad(&a, &[[0, 1, 2, 3]], f64::NAN), "fraction NaN");
        is_undefined(&tetrad(&a, &[[0, 1, 2, 3]], 0.1), "selects none");
        is_undefined(
            &tetrad(&acts(&[2.0; 40], 8), &[[0, 1, 2, 3]], 0.5),
            "no visually active units",
        );
        // Units active only in the second tetrad's images: no active entry in the first.
        let mut late = vec![0f32; 8];
        late[5] = 1.0;
        is_undefined(
            &tetrad(&acts(&late, 8), &[[0, 1, 2, 3]], 0.5),
            "no active tetrads",
        );
        // NaN activations: no panic.
        let mut nan = exact.clone();
        nan[0] = f32::NAN;
        assert!(tetrad(&acts(&nan, 8), &[[0, 1, 2, 3], [4, 5, 6, 7]], 0.5)
            .index
            .is_finite());
        // Every selected entry has d14 = d23 = 0.
        let flat = [0f32, 0., 0., 0., 1., 1., 1., 1.];
        is_undefined(
            &tetrad(&acts(&flat, 8), &[[4, 5, 6, 7]], 1.0),
            "d14 = d23 = 0",
        );
        is_undefined(
            &relative_size(&acts(&[0.0; 95], 95)),
            "expected 96 images, got 95",
        );
        is_undefined(
            &surface_invariance(&acts(&[0.0; 77], 77)),
            "expected 78 images, got 77",
        );
        is_undefined(
            &relative_size(&acts(&[1.0; 96], 96)),
            "no visually active units",
        );
    }

    /// Deterministic pseudo-random activations.
    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) as f32) / (1u64 << 24) as f32
            })
            .collect()
    }

    #[test]
    fn relative_size_and_surface_tetrads() {
        let data = noise(96 * 30, 1);
        let a = acts(&data, 96);
        let explicit: Vec<[usize; 4]> = (0..24)
            .map(|t| [4 * t, 4 * t + 1, 4 * t + 2, 4 * t + 3])
            .collect();
        let s = relative_size(&a);
        assert_eq!(s, tetrad(&a, &explicit, 0.07));
        // 30 units × 24 tetrads, all active: floor(0.07 · 720) = 50.
        assert_eq!(s.n, 50);
        let data = noise(78 * 30, 2);
        let a = acts(&data, 78);
        let mut explicit = Vec::new();
        for set in 0..6 {
            let b = 13 * set;
            for g in 0..4 {
                explicit.push([b, b + 1 + 3 * g, b + 2 + 3 * g, b + 3 + 3 * g]);
            }
        }
        assert_eq!(explicit[23], [65, 75, 76, 77]);
        let s = surface_invariance(&a);
        assert_eq!(s, tetrad(&a, &explicit, 0.09));
        assert_eq!(s.n, 64); // floor(0.09 · 720)
    }

    #[test]
    fn three_d_both_signs() {
        // Set 1: d12 = 1, d34 = 3, d56 = 2; set 2: d12 = 2, d34 = 2, d56 = 1.
        let data = [0f32, 1., 0., 3., 0., 2., 0., 2., 0., 2., 0., 1.];
        let a = acts(&data, 12);
        let (c1, c2) = three_d(&a, &Options::default());
        close(c1.index, 0.25, 1e-12);
        close(c2.index, (0.2 + 1.0 / 3.0) / 2.0, 1e-12);
        assert_eq!((c1.n, c2.n), (2, 2));
        let o = Options {
            three_d_sign: ThreeDSign::Matlab,
            ..Options::default()
        };
        let (m1, m2) = three_d(&a, &o);
        assert_eq!(m1, c1);
        close(m2.index, -(0.2 + 1.0 / 3.0) / 2.0, 1e-12);
        let (u1, u2) = three_d(&acts(&data[..11], 11), &o);
        is_undefined(&u1, "expected 12 images, got 11");
        is_undefined(&u2, "expected 12 images, got 11");
        let (z1, _) = three_d(&acts(&[1.0; 12], 12), &o);
        is_undefined(&z1, "sets are undefined");
    }

    #[test]
    fn occlusion_hand_vector() {
        let x = [
            0f32, 1., 3., 10., 12., 13., 20., 24., 30., 31., 40., 41., 99., 98.,
        ];
        let (basic, depth) = occlusion(&acts(&x[..12], 12));
        close(basic.index, (0.5 + 0.2) / 2.0, 1e-12);
        let want = (-15.0 / 23.0 - 17.0 / 19.0 + 20.0 / 58.0 + 11.0 / 47.0) / 4.0;
        close(depth.index, want, 1e-12);
        assert_eq!((basic.n, depth.n), (2, 4));
        // The 14-image file: the last 2 are ignored.
        assert_eq!(occlusion(&acts(&x, 14)), (basic, depth));
        is_undefined(
            &occlusion(&acts(&x[..11], 11)).0,
            "at least 12 images, got 11",
        );
        is_undefined(&occlusion(&acts(&[0.0; 12], 12)).1, "indices are undefined");
    }

    #[test]
    fn part_matching_whole_reference() {
        // Set 1: whole (0,0), natural cut (1,1), unnatural cut (3,0); set 2: (0,0), (2,0), (0,2).
        let data = [0f32, 0., 1., 1., 3., 0., 0., 0., 2., 0., 0., 2.];
        let a = acts(&data, 6);
        let s = part_matching(&a, &Options::default());
        let r2 = 2f64.sqrt();
        close(s.index, (3.0 - r2) / (3.0 + r2) / 2.0, 1e-12);
        let o = Options {
            part_matching_distance: Distance::CityBlock,
            ..Options::default()
        };
        close(part_matching(&a, &o).index, 0.1, 1e-12);
        is_undefined(
            &part_matching(&acts(&data[..10], 5), &o),
            "expected 6 images, got 5",
        );
        is_undefined(
            &part_matching(&acts(&[1.0; 12], 6), &o),
            "sets are undefined",
        );
    }

    /// 98 images on a line at i²; 12 pairs per set.
    fn natural_parts_set() -> (Vec<f32>, Table, Vec<f64>, Vec<f64>) {
        let data: Vec<f32> = (0..98).map(|i| (i * i) as f32).collect();
        let mut pairs = Vec::new();
        let (mut du, mut dn) = (Vec::new(), Vec::new());
        for set in 0..2 {
            for k in 1..=12usize {
                let (i, j) = (k + 49 * set, k + 1 + k % 3 + 49 * set);
                pairs.extend([i as f64, j as f64]);
                let d = f64::from(data[j - 1]) - f64::from(data[i - 1]);
                [&mut du, &mut dn][set].push(d.abs());
            }
        }
        (data, table(24, 2, pairs), du, dn)
    }

    #[test]
    fn natural_parts_synthetic() {
        let (data, pairs, du, dn) = natural_parts_set();
        let a = acts(&data, 98);
        // Natural: d exactly linear in its (rank-deficient) design → r = 1.
        let xn = table(12, 3, dn.iter().flat_map(|&d| [d, 1.0, d]).collect());
        // Unnatural: d on w; predictions are the fit on w, r = |Pearson(d, w)|.
        let w: Vec<f64> = (0..12).map(|k| ((k * 7) % 5) as f64).collect();
        let xu = table(12, 3, w.iter().flat_map(|&v| [v, v, 1.0]).collect());
        let common: Vec<usize> = (1..=12).collect();
        let s = natural_parts(&a, &xn, &xu, &pairs, &common);
        let r_unnatural = crate::rsa::compare::pearson(&du, &w).abs();
        assert!(r_unnatural < 0.99, "{r_unnatural}");
        close(s.index, 1.0 - r_unnatural, 1e-12);
        assert_eq!(s.n, 12);
        // Each set's own matrix: swapping them changes the index.
        let swapped = natural_parts(&a, &xu, &xn, &pairs, &common);
        assert!((swapped.index - s.index).abs() > 1e-3);
        // A subset of common pairs.
        let sub = natural_parts(&a, &xn, &xu, &pairs, &[1, 3, 5, 8]);
        assert!(sub.index.is_finite());
        assert_eq!(sub.n, 4);
    }

    #[test]
    fn natural_parts_shapes_and_constants() {
        let (data, pairs, _, dn) = natural_parts_set();
        let a = acts(&data, 98);
        let xn = table(12, 2, dn.iter().flat_map(|&d| [d, 1.0]).collect());
        let common: Vec<usize> = (1..=12).collect();
        is_undefined(
            &natural_parts(&acts(&data[..97], 97), &xn, &xn, &pairs, &common),
            "expected 98 images, got 97",
        );
        let short = table(11, 2, xn.data[..22].to_vec());
        is_undefined(
            &natural_parts(&a, &xn, &short, &pairs, &common),
            "expected a 23 × 2 table, got 24 × 2",
        );
        is_undefined(
            &natural_parts(&a, &xn, &xn, &pairs, &[1, 13]),
            "common pair 13",
        );
        is_undefined(
            &natural_parts(&a, &xn, &xn, &pairs, &[0, 1]),
            "common pair 0",
        );
        is_undefined(&natural_parts(&a, &xn, &xn, &pairs, &[1]), "1 common pairs");
        let mut bad = pairs.clone();
        bad.data[3] = 99.0;
        is_undefined(
            &natural_parts(&a, &xn, &xn, &bad, &common),
            "99 is not an index in 1..=98",
        );
        let mut nan = xn.clone();
        nan.data[0] = f64::NAN;
        is_undefined(&natural_parts(&a, &nan, &xn, &pairs, &common), "non-finite");
        // Constant activations: every distance 0, constant over the common pairs.
        is_undefined(
            &natural_parts(&acts(&[1.0; 98], 98), &xn, &xn, &pairs, &common),
            "constant over the common pairs",
        );
        // A constant design: constant predictions.
        let ones = table(12, 1, vec![1.0; 12]);
        is_undefined(&natural_parts(&a, &ones, &xn, &pairs, &common), "constant");
        let empty = table(12, 0, Vec::new());
        is_undefined(
            &natural_parts(&a, &empty, &xn, &pairs, &common),
            "no columns",
        );
    }

    #[test]
    fn global_advantage_test_vector() {
        let data = [0f32, 0., 1., 0., 0., 3., 1., 3.];
        let a = acts(&data, 4);
        // (g, l) of the images G1L1, G1L2, G2L1, G2L2 in pdist order.
        let gl = [(1., 1.), (1., 2.), (2., 1.), (2., 2.)];
        let mut rows = Vec::new();
        for i in 0..4 {
            for j in i + 1..4 {
                rows.extend([gl[i].0, gl[i].1, gl[j].0, gl[j].1]);
            }
        }
        let pairs = table(6, 4, rows);
        let s = global_advantage(&a, &pairs);
        close(s.index, 0.5, 1e-12);
        assert_eq!(s.n, 4);
        is_undefined(
            &global_advantage(&acts(&data[..6], 3), &pairs),
            "expected a 3 × 4 table, got 6 × 4",
        );
        is_undefined(
            &global_advantage(&acts(&[0.0; 8], 4), &pairs),
            "zero or non-finite",
        );
        let mut none = pairs.clone();
        for r in 0..6 {
            none.data[4 * r] = r as f64;
            none.data[4 * r + 2] = 10.0 + r as f64;
        }
        is_undefined(&global_advantage(&a, &none), "0 local-only pairs");
    }

    #[test]
    fn options_by_name() {
        let o = Options::default();
        assert_eq!(o.van_ddof, 1);
        assert_eq!(o.min_van, 10);
        assert_eq!(o.normalisation_fit, NormalisationFit::Pooled);
        assert_eq!(o.three_d_sign, ThreeDSign::D34MinusD56);
        assert_eq!(o.part_matching_distance, Distance::Euclidean);
        assert!(o.sparseness_round);
        let s = o.settings();
        let get = |k: &str| s.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("normalisation_fit"), Some("pooled"));
        assert_eq!(get("three_d_sign"), Some("d34-d56"));
        assert_eq!(get("part_matching_distance"), Some("euclidean"));
        assert_eq!(get("van_ddof"), Some("1"));
        assert_eq!(get("min_van"), Some("10"));
        assert_eq!(get("sparseness_round"), Some("true"));
        assert_eq!(get("tetrad_residual"), Some("|r1−r2−r3+r4|"));
        assert_eq!(get("tetrad_modulation"), Some("(d23−d14)/(d23+d14)"));
        assert_eq!(get("weber_pairs"), Some("(c, c+10)"));
        assert_eq!(get("normalisation_groups"), Some("position-major (MATLAB)"));
        assert_eq!(get("natural_parts_design"), Some("each set's own matrix"));
        assert_eq!(
            get("part_matching_reference"),
            Some("whole object (MATLAB)")
        );
        assert_eq!(
            get("sparseness_textures_normalisation"),
            Some("joint (MATLAB)")
        );
        for f in [NormalisationFit::Pooled, NormalisationFit::PerImage] {
            assert_eq!(f.to_string().parse::<NormalisationFit>().unwrap(), f);
        }
        for t in [ThreeDSign::D34MinusD56, ThreeDSign::Matlab] {
            assert_eq!(t.to_string().parse::<ThreeDSign>().unwrap(), t);
        }
        assert_eq!(
            "per-image".parse::<NormalisationFit>().unwrap(),
            NormalisationFit::PerImage
        );
        assert!("perimage".parse::<NormalisationFit>().is_err());
        assert!("python".parse::<ThreeDSign>().is_err());
    }
}
