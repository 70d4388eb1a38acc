//! Faults as tests (issue 19): a run interrupted by Ctrl-C or killed outright, two runs into one
//! output folder, and an output path that is not ventral's. Each asserts that the previous results
//! are intact and nothing partial is left behind.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn dir(name: &str) -> PathBuf {
    common::cli::scratch("faults", name)
}

/// A small analysis (36 procedural stimuli at 64 px, AlexNet, 2 simulated subjects) whose
/// length is set by its permutation count.
fn analysis(d: &Path, permutations: u64) -> PathBuf {
    let file = d.join(format!("analysis-{permutations}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"
[stimuli]
procedural = "demo"
size = 64

[preprocess]
preset = "square"
size = 64

[[model]]
name = "alexnet"
seed = 0
layers = ["features.2", "features.12", "classifier.5"]

[[brain]]
simulated = {{ subjects = 2, noise = 0.3, seed = 1 }}

[compare]
methods = ["kendall-tau-a"]
permutations = {permutations}
noise_ceiling = false

[output]
figures = false
"#
        ),
    )
    .unwrap();
    file
}

fn start(analysis: &Path, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ventral"))
        .args([
            "run",
            analysis.to_str().unwrap(),
            "--quiet",
            "--device",
            "native",
        ])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (Option<i32>, String) {
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Entries of `parent` that belong to the output `name` but are not it: staging folders, locks.
fn leftovers(parent: &Path, name: &str) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with(&format!(".{name}.")))
        .collect()
}

/// Waits until the child's staging folder exists (it is writing), then a little more.
fn wait_for_staging(parent: &Path, name: &str, child: &Child) {
    let staging = parent.join(format!(".{name}.partial-{}", child.id()));
    let t = Instant::now();
    while !staging.exists() {
        assert!(t.elapsed() < Duration::from_secs(60), "no staging folder");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(700));
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn interrupted_and_killed_runs_leave_the_previous_results_and_no_debris() {
    let d = dir("interrupt");
    let out = d.join("results");
    let (quick, long) = (analysis(&d, 10), analysis(&d, 5_000_000));
    let (code, err) = finish(start(&quick, &out));
    assert_eq!(code, Some(0), "{err}");
    let manifest = std::fs::read(out.join("manifest.json")).unwrap();
    let results = std::fs::read(out.join("results.csv")).unwrap();

    // Ctrl-C: exit 130, the staging folder and lock removed, the results as they were.
    let child = start(&long, &out);
    wait_for_staging(&d, "results", &child);
    signal(&child, "-INT");
    let (code, err) = finish(child);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(leftovers(&d, "results"), Vec::<String>::new());
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), manifest);
    assert_eq!(std::fs::read(out.join("results.csv")).unwrap(), results);

    // kill -9 leaves its staging folder and lock; the results are still the old ones, and the
    // next run removes the debris and replaces them as a whole.
    let child = start(&long, &out);
    wait_for_staging(&d, "results", &child);
    signal(&child, "-KILL");
    let (code, _) = finish(child);
    assert_eq!(code, None, "killed by a signal");
    assert!(!leftovers(&d, "results").is_empty());
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), manifest);
    let again = analysis(&d, 20);
    let (code, err) = finish(start(&again, &out));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(leftovers(&d, "results"), Vec::<String>::new());
    let text = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(text.contains("\"permutations\": 20"), "the new results");
}

#[test]
fn a_second_run_into_a_busy_folder_is_refused() {
    let d = dir("busy");
    let out = d.join("results");
    let long = analysis(&d, 5_000_000);
    let first = start(&long, &out);
    wait_for_staging(&d, "results", &first);
    let (code, err) = finish(start(&analysis(&d, 10), &out));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("another ventral process") && err.contains(&first.id().to_string()),
        "{err}"
    );
    signal(&first, "-INT");
    let (code, err) = finish(first);
    assert_eq!(code, Some(130), "{err}");
    assert!(!out.exists(), "nothing was ever completed there");
    assert_eq!(leftovers(&d, "results"), Vec::<String>::new());
}

#[test]
fn a_folder_that_is_not_ventrals_is_never_replaced() {
    let d = dir("foreign");
    let out = d.join("study");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "keep me").unwrap();
    let (code, err) = finish(start(&analysis(&d, 10), &out));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not a ventral output folder"), "{err}");
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "keep me"
    );
    assert_eq!(leftovers(&d, "study"), Vec::<String>::new());
}

#[test]
fn a_full_disk_fails_the_run_and_keeps_the_previous_results() {
    let d = dir("full");
    let out = d.join("results");
    let (code, err) = finish(start(&analysis(&d, 10), &out));
    assert_eq!(code, Some(0), "{err}");
    let manifest = std::fs::read(out.join("manifest.json")).unwrap();
    // The disk fills after 20 kB: the results files are written, the RDMs are not.
    let o = Command::new(env!("CARGO_BIN_EXE_ventral"))
        .args(["run", analysis(&d, 20).to_str().unwrap(), "--quiet"])
        .args(["--device", "native", "--out", out.to_str().unwrap()])
        .env("VENTRAL_FAULT_DISK_BYTES", "20000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no space left"), "{err}");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), manifest);
    assert_eq!(leftovers(&d, "results"), Vec::<String>::new());
}
