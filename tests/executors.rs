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
