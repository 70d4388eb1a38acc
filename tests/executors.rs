//! Every executor op against the reference executor (the same cases `ventral selftest` runs for
//! the native column), on every executor.

mod common;

use ventral::exec::cases::exec_cases;
use ventral::Engine;

fn every_op_matches_the_reference(engine: &Engine) {
    let mut failed = Vec::new();
    for case in exec_cases() {
        match case.check_on(engine, 7) {
            Ok(c) if c.pass => {}
            Ok(c) => failed.push(format!(
                "{}: max abs {:.2e}, max rel {:.2e}, worst at [{}]: got {} want {}",
                case.name, c.max_abs, c.max_rel, c.worst.0, c.worst.1, c.worst.2
            )),
            Err(e) => failed.push(format!("{}: {e}", case.name)),
        }
    }
    assert!(
        failed.is_empty(),
        "{}:\n{}",
        engine.summary(),
        failed.join("\n")
    );
}
on_every_executor!(
    every_op_matches_the_reference,
    super::every_op_matches_the_reference
);

#[test]
fn unknown_device_words_list_the_choices() {
    let e = "cpu".parse::<ventral::Device>().unwrap_err().to_string();
    assert!(e.contains("auto, gpu, native, reference"), "{e}");
}

/// The Gram product behind RDMs and CKA on every executor, against the f64 reference.
fn rdms_and_cka_match_the_reference(engine: &Engine) {
    use ventral::rsa::cka::{linear_cka, linear_cka_on};
    use ventral::rsa::rdm::{rdm_cpu, rdms_on, Metric, Patterns};
    // n not a multiple of 4 or 16, p spanning several 256-feature blocks.
    let (n, p, q) = (37, 600, 45);
    let x: Vec<f32> = (0..n * p)
        .map(|i| ((i * 7919 % 1009) as f32 / 97.0).sin() + 3.0)
        .collect();
    let y: Vec<f32> = (0..n * q)
        .map(|i| ((i * 104_729 % 997) as f32 / 31.0).cos())
        .collect();
    for metric in [Metric::Correlation, Metric::Cosine, Metric::Euclidean] {
        let layers = [Patterns { data: &x, n, p }];
        let (got, _) = rdms_on(engine, &layers, &["x".into()], metric).unwrap();
        let want = rdm_cpu(&x, n, p, metric).unwrap().condensed;
        let worst = got[0]
            .condensed
            .iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
            .fold(0.0, f64::max);
        assert!(worst < 1e-5, "{metric} on {}: {worst:e}", engine.summary());
    }
    let got = linear_cka_on(engine, &x, p, &y, q, n).unwrap();
    let want = linear_cka(&x, p, &y, q, n).unwrap();
    assert!(
        (got - want).abs() < 1e-6 && want > 0.0 && want < 1.0,
        "CKA {got} vs {want} on {}",
        engine.summary()
    );
}
on_every_executor!(
    rdms_and_cka_match_the_reference,
    super::rdms_and_cka_match_the_reference
);
