//! `ventral encode` end to end on simulated voxels with a known generating layer: the analysis
//! must pick that layer, score it well and the distractor near zero, give the same bytes twice,
//! report constant voxels without NaN-poisoning the means, and refuse bad input with nothing
//! written.

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N: usize = 60;
const VOXELS: usize = 24;

fn normals(rng: &mut ChaCha8Rng, len: usize) -> Vec<f64> {
    (0..len)
        .map(|_| {
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

/// Activations `gen` [N, 32] and `distractor` [N, 48], and responses = gen · W + noise; voxel 5
/// is constant when `constant_voxel`.
fn simulate(dir: &Path, constant_voxel: bool) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let gen = normals(&mut rng, N * 32);
    let distractor = normals(&mut rng, N * 48);
    let w = normals(&mut rng, 32 * VOXELS);
    let noise = normals(&mut rng, N * VOXELS);
    let mut y = vec![0f32; N * VOXELS];
    for i in 0..N {
        for v in 0..VOXELS {
            let s: f64 = (0..32).map(|f| gen[i * 32 + f] * w[f * VOXELS + v]).sum();
            y[i * VOXELS + v] = if constant_voxel && v == 5 {
                1.5
            } else {
                (s + 3.0 * noise[i * VOXELS + v]) as f32
            };
        }
    }
    let acts = dir.join("acts.safetensors");
    let names = vec!["gen".to_string(), "distractor".to_string()];
    let shapes = vec![vec![N, 32], vec![N, 48]];
    let meta = [("model".to_string(), "sim".to_string())].into();
    let mut wr = ventral::arrays::TensorWriter::create(&acts, &names, &shapes, meta).unwrap();
    let f32s = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    wr.write_tensor_rows(0, 0, &f32s(&gen)).unwrap();
    wr.write_tensor_rows(1, 0, &f32s(&distractor)).unwrap();
    wr.finish().unwrap();
    let resp = dir.join("OTC.npy");
    ventral::arrays::write_npy(&resp, &[N, VOXELS], &y).unwrap();
    (acts, resp)
}

fn encode(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ventral"))
        .arg("encode")
        .args(args)
        .args(["--device", "native"])
        .output()
        .unwrap()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ventral-encode-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// (layer, score) → (train, test, selected) of a results CSV.
fn rows(csv: &str) -> Vec<(String, String, f64, f64, bool)> {
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|c| *c == name).unwrap();
    let (layer, score, train, test, sel) = (
        col("layer"),
        col("score"),
        col("train"),
        col("test"),
        col("selected"),
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
            (
                f[layer].to_string(),
                f[score].to_string(),
                num(f[train]),
                num(f[test]),
                f[sel] == "true",
            )
        })
        .collect()
}

fn get(rows: &[(String, String, f64, f64, bool)], layer: &str, score: &str) -> (f64, f64, bool) {
    let r = rows
        .iter()
        .find(|r| r.0 == layer && r.1 == score)
        .unwrap_or_else(|| panic!("no row {layer} {score}"));
    (r.2, r.3, r.4)
}

#[test]
fn the_generating_layer_is_recovered_and_the_run_is_deterministic() {
    let d = dir("recover");
    let (acts, resp) = simulate(&d, false);
    let out = d.join("r.csv");
    let preds = d.join("p.safetensors");
    let args = [
        "--activations",
        acts.to_str().unwrap(),
        "--responses",
        resp.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
    ];
    let run = encode(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    let r = rows(&csv);
    for score in ["encoding_r", "versa", "crsa"] {
        let (_, gen_test, gen_sel) = get(&r, "gen", score);
        let (_, dis_test, dis_sel) = get(&r, "distractor", score);
        assert!(
            gen_sel && !dis_sel,
            "{score}: the generating layer is chosen on train"
        );
        assert!(
            gen_test > 0.4 && dis_test.abs() < 0.25,
            "{score}: gen {gen_test}, distractor {dis_test}"
        );
    }
    let (train, test, _) = get(&r, "gen", "encoding_above_chance");
    assert!(train > 0.9 && test > 0.9, "{train} {test}");
    // Projection to the JL size of 60 stimuli at eps 0.1.
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .contains(",3509,even-odd,srp,0,r"),
        "{csv}"
    );
    let ed = get(&r, "gen", "effective_dimensionality_raw").1;
    assert!(ed > 10.0 && ed < 32.0, "{ed}");
    // The same inputs and seed give the same bytes.
    let first = (csv.clone(), std::fs::read(&preds).unwrap());
    assert!(encode(&args).status.success());
    assert_eq!(first.0, std::fs::read_to_string(&out).unwrap());
    assert_eq!(first.1, std::fs::read(&preds).unwrap());
    // The predictions file holds [30 held-out, 24] predictions and a penalty per voxel.
    let pf = ventral::arrays::TensorFile::open(&preds).unwrap();
    let shapes: Vec<(String, Vec<usize>)> = pf
        .tensors()
        .map(|(n, s)| (n.to_string(), s.to_vec()))
        .collect();
    assert!(shapes.contains(&("sim/gen/subject01/OTC/predictions".into(), vec![30, VOXELS])));
    let alpha = pf.read_f32("sim/gen/subject01/OTC/alpha").unwrap();
    assert!(
        alpha.iter().all(|&a| (0.09..=1.0e5 + 1.0).contains(&a)),
        "{alpha:?}"
    );
    assert_eq!(pf.metadata["seed"], "0");

    // k-fold and no projection run too, and still pick the generating layer.
    let out2 = d.join("k.json");
    let run = encode(&[
        "--activations",
        acts.to_str().unwrap(),
        "--responses",
        resp.to_str().unwrap(),
        "--split",
        "kfold:4",
        "--projection",
        "none",
        "--select",
        "r2",
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out2).unwrap()).unwrap();
    let chosen: Vec<&serde_json::Value> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["score"] == "encoding_r" && r["selected"] == true)
        .collect();
    assert_eq!(chosen.len(), 1);
    assert_eq!(chosen[0]["layer"], "gen");
    assert_eq!(chosen[0]["split"], "kfold:4");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_constant_voxel_is_reported_not_nan() {
    let d = dir("constant");
    let (acts, resp) = simulate(&d, true);
    let out = d.join("r.csv");
    let run = encode(&[
        "--activations",
        acts.to_str().unwrap(),
        "--responses",
        resp.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    let line = csv
        .lines()
        .find(|l| l.starts_with("sim,gen,OTC,subject01,encoding_r,"))
        .unwrap();
    assert!(line.contains(",true,23,1,"), "{line}");
    assert!(get(&rows(&csv), "gen", "encoding_r").1.is_finite());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let d = dir("bad");
    let (acts, _) = simulate(&d, false);
    let a = acts.to_str().unwrap();
    let out = d.join("r.csv");
    let o = out.to_str().unwrap();
    let check = |args: &[&str], code: i32, says: &[&str]| {
        let run = encode(&[&["--activations", a, "--out", o], args].concat());
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(code), "{args:?}: {err}");
        for s in says {
            assert!(err.contains(s), "{args:?}: {err}");
        }
        assert!(!out.exists());
    };
    // A stimulus count that differs from the activations'.
    let short = d.join("short.npy");
    ventral::arrays::write_npy(&short, &[N - 1, 3], &vec![0.5; (N - 1) * 3]).unwrap();
    check(
        &["--responses", short.to_str().unwrap()],
        1,
        &["short.npy", "59 stimuli"],
    );
    // A NaN response names the subject, voxel and stimulus.
    let mut y: Vec<f32> = (0..N * 3).map(|i| (i % 7) as f32).collect();
    y[10 * 3 + 2] = f32::NAN;
    let nan = d.join("nan.npy");
    ventral::arrays::write_npy(&nan, &[N, 3], &y).unwrap();
    check(
        &["--responses", nan.to_str().unwrap()],
        1,
        &["subject01", "voxel 2", "stimulus 10"],
    );
    let good = d.join("good.npy");
    ventral::arrays::write_npy(
        &good,
        &[N, 3],
        &(0..N * 3).map(|i| (i % 7) as f32).collect::<Vec<_>>(),
    )
    .unwrap();
    let g = good.to_str().unwrap();
    // α ≤ 0, a split with 2 train stimuli, a bad extension: usage errors.
    check(
        &["--responses", g, "--alphas", "1,0"],
        2,
        &["alphas", "> 0"],
    );
    let marks = d.join("split.txt");
    let text: String = (0..N)
        .map(|i| if i < 2 { "train\n" } else { "test\n" })
        .collect();
    std::fs::write(&marks, text).unwrap();
    check(
        &["--responses", g, "--split", marks.to_str().unwrap()],
        2,
        &["2 train"],
    );
    check(
        &["--responses", g, "--split", "kfold:1"],
        2,
        &["at least 2"],
    );
    // One subject and region given twice (their results would overwrite each other).
    check(
        &["--responses", g, "--responses", g],
        2,
        &["'subject01'", "given twice"],
    );
    let run = encode(&[
        "--activations",
        a,
        "--responses",
        g,
        "--out",
        d.join("r.txt").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    std::fs::remove_dir_all(&d).unwrap();
}

/// `ventral run` with `[[measure]]` tables and no `[[brain]]`: encoding of simulated voxels and
/// effective dimensionality from one extraction, written as encoding.csv/.json,
/// encoding_voxels.safetensors and dimensionality.csv, recorded in the manifest.
#[test]
fn an_analysis_runs_encoding_and_dimensionality_measures() {
    let d = dir("analysis");
    std::fs::create_dir_all(&d).unwrap();
    let toml = r#"
[stimuli]
procedural = "shapes"
size = 64
[[model]]
name = "alexnet"
seed = 0
layers = ["features.2", "features.5", "classifier.6"]
batch = 8
[[measure]]
kind = "encoding"
split = "kfold:3"
seed = 5
[measure.simulated]
subjects = 2
voxels = 20
noise = 0.5
seed = 1
[[measure]]
kind = "dimensionality"
[output]
folder = "out"
figures = false
"#;
    std::fs::write(d.join("a.toml"), toml).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_ventral"))
        .args(["run", "--quiet", "--device", "native"])
        .arg(d.join("a.toml"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = d.join("out");
    let csv = std::fs::read_to_string(out.join("encoding.csv")).unwrap();
    let r = rows(&csv);
    // 3 layers × 2 subjects × 7 scores + 3 × 2 dimensionality rows.
    assert_eq!(r.len(), 3 * 2 * 7 + 3 * 2, "{csv}");
    assert!(csv.contains(",kfold:3,srp,5,r"), "{csv}");
    let (_, test, _) = get(&r, "features.5", "encoding_r");
    assert!(test.is_finite(), "{csv}");
    let dims = std::fs::read_to_string(out.join("dimensionality.csv")).unwrap();
    assert_eq!(dims.lines().count(), 4, "{dims}");
    assert!(dims.starts_with("model,layer,effective_dimensionality\nalexnet-seed0,features.2,"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "encoding.csv",
        "encoding.json",
        "encoding_voxels.safetensors",
        "dimensionality.csv",
    ] {
        assert!(files.contains(&f), "{files:?}");
    }
    assert_eq!(manifest["analysis"]["measure"][0]["kind"], "encoding");
    assert_eq!(manifest["analysis"]["measure"][0]["seed"], 5);
    // A wrong measure setting is a usage error before any work.
    std::fs::write(d.join("b.toml"), toml.replace("kfold:3", "kfold:1")).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_ventral"))
        .args(["run", "--quiet", "--device", "native"])
        .arg(d.join("b.toml"))
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::remove_dir_all(&d).unwrap();
}
