//! RSA against scipy / rsatoolbox / scikit-bio fixtures (tests/fixtures/rsa/, made by the script
//! there), and the GPU RDM path against its f64 CPU twin.

mod common;

use rand::{Rng, SeedableRng};
use serde::Deserialize;
use ventral::rsa::bootstrap::{bootstrap, BootstrapOptions, Resample};
use ventral::rsa::ceiling::noise_ceiling;
use ventral::rsa::mantel::{mantel, Alternative, MantelOptions};
use ventral::rsa::rdm::{rdm_cpu, rdms_gpu, Metric, Patterns};
use ventral::rsa::{compare, pair_count, Method};

#[derive(Deserialize)]
struct Fixture {
    rdm: RdmFixture,
    compare: Vec<serde_json::Value>,
    ceiling: CeilingFixture,
    mantel: MantelFixture,
    mat: std::collections::BTreeMap<String, Vec<Vec<f64>>>,
    cka: CkaFixture,
}

#[derive(Deserialize)]
struct CkaFixture {
    x: Vec<f32>,
    y: Vec<f32>,
    n: usize,
    p: usize,
    q: usize,
    want: f64,
}

#[derive(Deserialize)]
struct RdmFixture {
    x: Vec<f32>,
    n: usize,
    p: usize,
    want: std::collections::BTreeMap<String, Vec<Option<f64>>>,
}

#[derive(Deserialize)]
struct CeilingFixture {
    subjects: Vec<Vec<f64>>,
    want: std::collections::BTreeMap<String, [f64; 2]>,
}

#[derive(Deserialize)]
struct MantelFixture {
    n: usize,
    a: Vec<f64>,
    b: Vec<f64>,
    permutations: usize,
    want: Vec<MantelRow>,
}

#[derive(Deserialize)]
struct MantelRow {
    method: String,
    alternative: String,
    statistic: f64,
    p: f64,
}

fn fixture() -> Fixture {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rsa/rsa.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn close(got: f64, want: Option<f64>, tol: f64) -> bool {
    match want {
        None => got.is_nan(),
        Some(w) => (got - w).abs() <= tol * (1.0 + w.abs()),
    }
}

#[test]
fn rdms_match_scipy_and_rsatoolbox_on_cpu_and_gpu() {
    let f = fixture().rdm;
    let ctx = common::context(None);
    for (name, want) in &f.want {
        let metric: Metric = name.parse().unwrap();
        let cpu = rdm_cpu(&f.x, f.n, f.p, metric).unwrap().condensed;
        assert!(
            cpu.iter().zip(want).all(|(g, w)| close(*g, *w, 1e-12)),
            "{name} cpu"
        );
        if let Some(ctx) = &ctx {
            // 64-byte chunks: 16 features per chunk over 13 stimuli, so the Gram is summed over 3 chunks.
            let gpu = rdms_gpu(
                ctx,
                &[Patterns {
                    data: &f.x,
                    n: f.n,
                    p: f.p,
                }],
                metric,
                13 * 16 * 4,
            )
            .unwrap();
            assert!(
                gpu[0]
                    .condensed
                    .iter()
                    .zip(want)
                    .all(|(g, w)| close(*g, *w, 1e-6)),
                "{name} gpu"
            );
            if metric == Metric::Correlation {
                assert_eq!(gpu[0].degenerate, [5], "the constant pattern is reported");
            }
        }
    }
}

#[test]
fn comparisons_match_scipy_and_rsatoolbox() {
    for case in fixture().compare {
        let v = |k: &str| -> Vec<f64> { serde_json::from_value(case[k].clone()).unwrap() };
        let (a, b) = (v("a"), v("b"));
        for method in Method::ALL {
            let want = case[method.to_string()].as_f64().unwrap();
            let got = compare(&a, &b, method);
            assert!(
                (got - want).abs() < 1e-12,
                "{method} m={}: {got} vs {want}",
                a.len()
            );
        }
    }
}

#[test]
fn noise_ceilings_match_rsatoolbox() {
    let f = fixture().ceiling;
    for (name, [lower, upper]) in &f.want {
        let c = noise_ceiling(&f.subjects, name.parse().unwrap()).unwrap();
        assert!(
            (c.lower - lower).abs() < 1e-12 && (c.upper - upper).abs() < 1e-12,
            "{name}: {c:?}"
        );
    }
}

#[test]
fn mantel_agrees_with_scikit_bio_in_distribution() {
    let f = fixture().mantel;
    for row in &f.want {
        let opts = MantelOptions {
            method: row.method.parse().unwrap(),
            permutations: f.permutations,
            seed: 11,
            alternative: row.alternative.parse().unwrap(),
            threads: 0,
        };
        let r = mantel(
            std::slice::from_ref(&f.a),
            std::slice::from_ref(&f.b),
            f.n,
            &opts,
        )
        .unwrap()
        .per_subject[0][0];
        assert!(
            (r.statistic - row.statistic).abs() < 1e-12,
            "{} statistic",
            row.method
        );
        // Both p-values estimate the same tail probability from 9,999 permutations each: allow
        // 4 standard errors of the difference.
        let se = (2.0 * row.p * (1.0 - row.p) / f.permutations as f64).sqrt();
        assert!(
            (r.p_value - row.p).abs() < 4.0 * se,
            "{} {}: p {} vs skbio {}",
            row.method,
            row.alternative,
            r.p_value,
            row.p
        );
    }
}

#[test]
fn mantel_kendall_p_values_are_uniform_under_the_null() {
    // Unrelated RDMs: across seeds the p-value is not stuck near 0 or 1.
    let n = 9;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut small = 0;
    for seed in 0..40 {
        let a: Vec<f64> = (0..pair_count(n))
            .map(|_| rng.random_range(0..6) as f64)
            .collect();
        let b: Vec<f64> = (0..pair_count(n)).map(|_| rng.random::<f64>()).collect();
        let opts = MantelOptions {
            method: Method::KendallTauA,
            permutations: 199,
            seed,
            alternative: Alternative::Greater,
            threads: 0,
        };
        let p = mantel(&[a], &[b], n, &opts).unwrap().per_subject[0][0].p_value;
        small += usize::from(p <= 0.1);
    }
    // Expected 4 of 40 below 0.1; the binomial tail above 12 is < 1e-4.
    assert!(small <= 12, "{small} of 40 null p-values ≤ 0.1");
}

#[test]
fn gpu_rdm_of_a_three_million_feature_layer_matches_f64() {
    let Some(ctx) = common::context(None) else {
        return;
    };
    // Large offset and many features: the f32 path must not lose the small correlations.
    let (n, p) = (5, 3_000_000);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let shared: Vec<f32> = (0..p).map(|_| rng.random::<f32>()).collect();
    let x: Vec<f32> = (0..n)
        .flat_map(|i| {
            let w = i as f32 / n as f32;
            shared
                .iter()
                .map(|&s| 10.0 + w * s + rng.random::<f32>())
                .collect::<Vec<_>>()
        })
        .collect();
    let second: Vec<f32> = x.iter().rev().copied().collect();
    let layers = [
        Patterns { data: &x, n, p },
        Patterns {
            data: &second,
            n,
            p,
        },
    ];
    for metric in [
        Metric::Correlation,
        Metric::Cosine,
        Metric::Euclidean,
        Metric::RsatoolboxEuclidean,
    ] {
        let gpu = rdms_gpu(&ctx, &layers, metric, 16 << 20).unwrap();
        for (l, layer) in layers.iter().enumerate() {
            let want = rdm_cpu(layer.data, n, p, metric).unwrap().condensed;
            let scale = want.iter().fold(0f64, |m, v| m.max(v.abs())).max(1.0);
            let worst = gpu[l]
                .condensed
                .iter()
                .zip(&want)
                .map(|(g, w)| (g - w).abs())
                .fold(0.0, f64::max);
            assert!(worst <= 1e-5 * scale, "{metric} layer {l}: {worst:e}");
        }
    }
}

#[test]
fn bootstrap_intervals_cover_the_subject_mean_for_kendall() {
    let f = fixture().ceiling;
    let n = 15;
    let opts = BootstrapOptions {
        method: Method::KendallTauA,
        resample: Resample::Stimuli,
        samples: 200,
        seed: 1,
        threads: 0,
    };
    let model = f.subjects[0]
        .iter()
        .zip(&f.subjects[1])
        .map(|(a, b)| a + b)
        .collect::<Vec<_>>();
    let samples = bootstrap(std::slice::from_ref(&model), &f.subjects, n, &opts).unwrap();
    let scores: Vec<f64> = samples.iter().map(|s| s[0]).collect();
    let iv = ventral::rsa::bootstrap::interval(&scores);
    let full = f
        .subjects
        .iter()
        .map(|s| compare(&model, s, Method::KendallTauA))
        .sum::<f64>()
        / 5.0;
    assert!(
        iv.low < full && full < iv.high && iv.se > 0.0,
        "{full} vs {iv:?}"
    );
}

#[test]
fn gpu_mantel_path_agrees_with_the_cpu_path() {
    let Some(ctx) = common::context(None) else {
        return;
    };
    // 37 stimuli (m = 666, not a multiple of the workgroup size), 3 models × 2 subjects.
    let n = 37;
    let m = pair_count(n);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let base: Vec<f64> = (0..m).map(|_| rng.random::<f64>()).collect();
    let models: Vec<Vec<f64>> = (0..3)
        .map(|l| {
            base.iter()
                .map(|b| b + l as f64 * rng.random::<f64>())
                .collect()
        })
        .collect();
    let subjects: Vec<Vec<f64>> = (0..2)
        .map(|_| base.iter().map(|b| b + 2.0 * rng.random::<f64>()).collect())
        .collect();
    for method in [
        Method::Pearson,
        Method::Spearman,
        Method::RhoA,
        Method::Cosine,
    ] {
        for alternative in [Alternative::Greater, Alternative::TwoSided] {
            let opts = MantelOptions {
                method,
                permutations: 499,
                seed: 9,
                alternative,
                threads: 0,
            };
            let cpu = mantel(&models, &subjects, n, &opts).unwrap();
            let gpu =
                ventral::rsa::mantel_gpu::mantel_gpu(&ctx, &models, &subjects, n, &opts).unwrap();
            for (c, g) in cpu
                .per_subject
                .iter()
                .flatten()
                .chain(&cpu.group)
                .zip(gpu.per_subject.iter().flatten().chain(&gpu.group))
            {
                assert_eq!(
                    c.statistic, g.statistic,
                    "{method}: reported statistics are the exact f64 ones"
                );
                assert!(
                    (c.extreme as i64 - g.extreme as i64).abs() <= 1,
                    "{method} {alternative}: {} vs {}",
                    c.extreme,
                    g.extreme
                );
            }
            assert!(
                cpu.group.iter().all(|r| r.p_value < 0.05),
                "{method}: related RDMs"
            );
        }
    }
    let kendall = MantelOptions {
        method: Method::KendallTauA,
        permutations: 9,
        seed: 0,
        alternative: Alternative::Greater,
        threads: 0,
    };
    assert!(ventral::rsa::mantel_gpu::mantel_gpu(&ctx, &models, &subjects, n, &kendall).is_err());
}

#[test]
fn gpu_rdm_with_symmetric_blocks_matches_the_cpu_twin() {
    let Some(ctx) = common::context(None) else {
        return;
    };
    // n ≥ 256 splits the Gram product into row blocks (n = 301: blocks of 76, 76, 76, 73).
    let (n, p) = (301, 97);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
    let x: Vec<f32> = (0..n * p).map(|_| rng.random::<f32>()).collect();
    for metric in [Metric::Correlation, Metric::SqEuclidean] {
        let gpu = rdms_gpu(&ctx, &[Patterns { data: &x, n, p }], metric, 1 << 20).unwrap();
        let cpu = rdm_cpu(&x, n, p, metric).unwrap().condensed;
        let worst = gpu[0]
            .condensed
            .iter()
            .zip(&cpu)
            .map(|(g, c)| (g - c).abs() / (1.0 + c.abs()))
            .fold(0.0, f64::max);
        assert!(worst < 1e-6, "{metric}: {worst:e}");
    }
}

#[test]
fn matlab_files_are_read_in_matlab_dimension_order() {
    // rdms.mat (scipy.io.savemat, compressed): `squares` of MATLAB size [6, 6, 3] and `vectors`
    // of size [15, 2]: 3 + 2 subjects of N = 6.
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rsa/rdms.mat"
    ));
    let rdms = ventral::rsa::load::read_rdms(path).unwrap();
    let want = fixture().mat;
    let names: Vec<&str> = rdms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "squares[0]",
            "squares[1]",
            "squares[2]",
            "vectors[0]",
            "vectors[1]"
        ]
    );
    let expected: Vec<&Vec<f64>> = want["squares"].iter().chain(&want["vectors"]).collect();
    for (r, w) in rdms.iter().zip(expected) {
        assert_eq!(r.n, 6);
        assert!(
            r.condensed
                .iter()
                .zip(w)
                .all(|(a, b)| (a - b).abs() < 1e-15),
            "{}",
            r.name
        );
    }
}

#[test]
fn linear_cka_matches_the_feature_space_formula() {
    let c = fixture().cka;
    let got = ventral::rsa::cka::linear_cka(&c.x, c.p, &c.y, c.q, c.n).unwrap();
    assert!((got - c.want).abs() < 1e-12, "{got} vs {}", c.want);
}
