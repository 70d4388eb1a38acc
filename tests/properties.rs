//! `ventral properties` end to end on the published stimulus files of ../shared (a small random
//! network on the native executor), and its error paths.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{stderr, ventral};

fn dir(name: &str) -> PathBuf {
    common::cli::scratch("props", name)
}

/// ../shared/data/brain-properties, or None outside CI when it is absent.
fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/brain-properties");
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing on CI",
        p.display()
    );
    eprintln!("skipped: {} is absent", p.display());
    None
}

/// Three small object images (different patterns) for mirror confusion.
fn objects(d: &Path) -> PathBuf {
    let objects = d.join("objects");
    std::fs::create_dir_all(&objects).unwrap();
    for k in 0..3u32 {
        let img = image::RgbImage::from_fn(40, 30, |x, y| {
            let v = if (x * (k + 1) + 2 * y) % 11 < 4 + k {
                230
            } else {
                20
            };
            image::Rgb([v, (x * 6) as u8, (y * 8) as u8])
        });
        img.save(objects.join(format!("obj{k}.png"))).unwrap();
    }
    objects
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn battery_runs_on_the_published_stimuli_and_is_deterministic() {
    let Some(root) = shared() else { return };
    let d = dir("run");
    let objects = objects(&d);
    let props = "mirror-confusion,thatcher,3d-1,3d-2,occlusion-basic,occlusion-depth,part-matching,global-advantage";
    let run = |out: &Path, seed: &str| {
        ventral(&[
            "properties",
            "--model",
            "alexnet",
            "--random-init",
            "--seed",
            seed,
            "--stimuli",
            root.to_str().unwrap(),
            "--mirror-objects",
            objects.to_str().unwrap(),
            "--properties",
            props,
            "--device",
            "native",
            "--no-figures",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = run(&d.join("a"), "0");
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("brain similarity"), "{stdout}");
    assert!(stdout.contains("not scored: thatcher"), "{stdout}");
    let rows = csv_rows(&d.join("a/properties.csv"));
    assert_eq!(
        rows[0],
        [
            "model",
            "layer",
            "layer_index",
            "property",
            "index",
            "sem",
            "n",
            "brain",
            "feature_layer",
            "note"
        ]
    );
    let body = &rows[1..];
    // 7 scored properties × every capture point of AlexNet.
    let points = body.iter().filter(|r| r[3] == "global-advantage").count();
    assert!(points > 15, "{points} points");
    assert_eq!(body.len(), 7 * points);
    for p in props.split(',').filter(|p| *p != "thatcher") {
        let of: Vec<&Vec<String>> = body.iter().filter(|r| r[3] == p).collect();
        assert_eq!(of.len(), points, "{p}");
        let flagged: Vec<&&Vec<String>> = of.iter().filter(|r| r[8] == "true").collect();
        assert_eq!(flagged.len(), 1, "{p}: one feature-layer row");
        for r in &of {
            if let Ok(v) = r[4].parse::<f64>() {
                assert!((-1.0..=1.0).contains(&v), "{p} {}: {v}", r[1]);
            }
        }
    }
    // Mirror confusion averages 3 objects; global advantage is one statistic over 49 images.
    let mirror = body.iter().find(|r| r[3] == "mirror-confusion").unwrap();
    assert_eq!(mirror[6], "3");
    // The feature layer of AlexNet is classifier.5 (unless its value is NaN).
    let ga = body
        .iter()
        .find(|r| r[3] == "global-advantage" && r[8] == "true")
        .unwrap();
    assert_eq!(ga[1], "classifier.5");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("a/manifest.json")).unwrap()).unwrap();
    let p = &manifest["properties"];
    assert!(p["not_scored"]["thatcher"]
        .as_str()
        .unwrap()
        .contains("80 faces"));
    assert_eq!(p["settings"]["three_d_sign"], "d34-d56");
    assert_eq!(p["settings"]["preprocess"], "rajesh");
    assert!(!d.join("a/results.csv").exists(), "no RSA outputs");

    // Same seed, same bytes; another seed, other values.
    let o = run(&d.join("b"), "0");
    assert!(o.status.success(), "{}", stderr(&o));
    let a = std::fs::read(d.join("a/properties.csv")).unwrap();
    assert_eq!(a, std::fs::read(d.join("b/properties.csv")).unwrap());
    let o = run(&d.join("c"), "1");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(a, std::fs::read(d.join("c/properties.csv")).unwrap());
}

#[test]
fn usage_and_missing_stimuli_errors() {
    let d = dir("errors");
    let base = |extra: &[&str]| {
        let mut args = vec![
            "properties",
            "--model",
            "alexnet",
            "--random-init",
            "--device",
            "native",
            "--out",
        ];
        let out = d.join("out");
        let out = out.to_str().unwrap().to_string();
        let mut v: Vec<String> = args.drain(..).map(String::from).collect();
        v.push(out);
        v.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        ventral(&refs)
    };
    let o = base(&["--properties", "thatcher,nonsense"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nonsense"), "{}", stderr(&o));
    let o = base(&["--normalisation-fit", "sideways"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Nothing can be scored: an empty folder names what each property missed.
    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = base(&[
        "--stimuli",
        empty.to_str().unwrap(),
        "--properties",
        "weber,3d-1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("weber") && e.contains("exp09_3d"), "{e}");
    assert!(!d.join("out/properties.csv").exists());
}

/// `kind = "properties"` beside RSA in one analysis file: both measures' outputs, two models
/// overlaid in one battery table, through `ventral run`.
#[test]
fn battery_beside_rsa_in_an_analysis_file() {
    let Some(root) = shared() else { return };
    let d = dir("analysis");
    let toml = format!(
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

[[model]]
name = "alexnet"
seed = 1
layers = ["features.2", "features.12", "classifier.5"]

[[brain]]
simulated = {{ subjects = 2, noise = 0.3, seed = 1 }}

[compare]
permutations = 10

[[measure]]
kind = "rsa"

[[measure]]
kind = "properties"
stimuli = "{}"
properties = "global-advantage,3d-1"

[output]
folder = "{}"
figures = false
"#,
        root.display(),
        d.join("out").display()
    );
    let file = d.join("analysis.toml");
    std::fs::write(&file, toml).unwrap();
    let o = ventral(&[
        "run",
        file.to_str().unwrap(),
        "--quiet",
        "--device",
        "native",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("out/results.csv").exists());
    let rows = csv_rows(&d.join("out/properties.csv"));
    // 2 models × 2 properties × 3 points.
    assert_eq!(rows.len() - 1, 12);
    for model in ["alexnet-seed0", "alexnet-seed1"] {
        let flagged: Vec<&Vec<String>> = rows
            .iter()
            .filter(|r| r[0] == model && r[8] == "true")
            .collect();
        assert_eq!(flagged.len(), 2, "{model}");
        assert!(
            flagged.iter().all(|r| r[1] == "classifier.5"),
            "{flagged:?}"
        );
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("alexnet-seed1: brain similarity"),
        "{stdout}"
    );
}
