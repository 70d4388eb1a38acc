//! The CI slice of the mutation fuzzer in examples/fuzz.rs (one copy of the engine): 2,000
//! inputs per parser, seed 0, asserting no panic and no input over 2 s. The million-input
//! campaign is documented in RELIABILITY.md.

#[path = "../examples/fuzz.rs"]
#[allow(dead_code)]
mod fuzz;

#[test]
fn every_parser_survives_a_slice_of_mutated_inputs() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut failures = Vec::new();
    for p in fuzz::parsers() {
        let s = fuzz::campaign(&p, 2_000, 0, threads);
        println!("{}", fuzz::report_line(p.name, &s));
        assert_eq!(s.inputs, 2_000);
        if s.panics + s.hangs > 0 {
            failures.extend(s.findings);
        }
    }
    assert!(
        failures.is_empty(),
        "fuzz findings:\n{}",
        failures.join("\n")
    );
}
