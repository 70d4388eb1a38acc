//! The `ventral` binary end to end on small inputs: outputs checked against the library, and the
//! error paths with their exit codes and messages.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture_rule::rule;
use safetensors::SafeTensors;
use ventral::arrays::write_npy;
use ventral::models::{build, Capture, Network, Reduce};
use ventral::Weights;

use common::cli::{stderr, ventral};

fn dir(name: &str) -> PathBuf {
    common::cli::scratch("cli", name)
}

/// The `device` entry of a safetensors file's metadata.
fn device_metadata(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().as_ref().unwrap()["device"].clone()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn tensor(bytes: &[u8], name: &str) -> (Vec<usize>, Vec<f32>) {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let t = st.tensor(name).unwrap();
    (t.shape().to_vec(), bytemuck::pod_collect_to_vec(t.data()))
}

#[test]
fn layers_lists_points_with_receptive_fields() {
    let o = ventral(&["layers", "--model", "resnet50"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let row = out
        .lines()
        .find(|l| l.starts_with("layer4 "))
        .expect("layer4 row");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols, ["layer4", "2048×7×7", "100352", "427", "32"]);
    let o = ventral(&[
        "layers",
        "--model",
        "alexnet",
        "--input-size",
        "64",
        "80",
        "--json",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["name"], "features.0");
    assert_eq!(rows[0]["shape"], serde_json::json!([64, 15, 19]));

    // ViTs: token shapes, on-request points marked, other input sizes resample the grid.
    let o = ventral(&["layers", "--model", "vit_b_16"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let cols = |name: &str| -> Vec<String> {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} row"));
        row.split_whitespace().map(String::from).collect()
    };
    assert_eq!(
        cols("encoder.layers.encoder_layer_3.self_attention:weights"),
        [
            "encoder.layers.encoder_layer_3.self_attention:weights",
            "*",
            "12×197×197",
            "465708",
            "all",
            "all"
        ]
    );
    assert_eq!(cols("encoder.dropout")[1..3], ["197×768", "151296"]);
    assert_eq!(cols("pre_logits")[1], "768");
    let o = ventral(&[
        "layers",
        "--model",
        "timm/deit_small_patch16_224",
        "--input-size",
        "160",
        "128",
        "--json",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let block = rows.iter().find(|r| r["name"] == "blocks.11").unwrap();
    assert_eq!(block["shape"], serde_json::json!([81, 384]));
    let q = rows
        .iter()
        .find(|r| r["name"] == "blocks.0.attn:q")
        .unwrap();
    assert_eq!(q["on_request"], true);

    let o = ventral(&["layers", "--model", "resnet20"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown model 'resnet20'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn extract_matches_the_library_and_records_provenance() {
    let d = dir("extract");
    let shape = [3, 3, 40, 40];
    let x = rule("input", &shape);
    let input = d.join("x.npy");
    write_npy(&input, &shape, &x).unwrap();
    let out = d.join("acts.safetensors");
    let saved = d.join("w.safetensors");
    // batch 2 over 3 images: one full and one partial batch.
    let o = ventral(&[
        "extract",
        "--model",
        "resnet18",
        "--random-init",
        "--seed",
        "5",
        "--input",
        s(&input),
        "--layers",
        "fc,layer1,conv1",
        "--reduce",
        "mean",
        "--batch",
        "2",
        "--out",
        s(&out),
        "--save-weights",
        s(&saved),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["weights"], "seed:5");
    assert_eq!(meta["model"], "resnet18");
    assert_eq!(meta["input_size"], "40x40");
    assert_eq!(meta["reduce"], "mean");
    assert!(meta["input"].contains("sha256:"));

    // The executor `--device auto` picks, as the CLI does.
    let engine = common::auto_engine();
    let graph = build("resnet18").unwrap();
    let weights = Weights::random(&graph.specs, 5);
    let capture = Capture::parse(&graph, "conv1,layer1,fc", Reduce::Mean).unwrap();
    let net = Network::new(&engine, graph, &weights).unwrap();
    let want = net.extract(&x, &shape, &capture).unwrap();
    for (name, want) in ["conv1", "layer1", "fc"].iter().zip(&want) {
        let (shape, got) = tensor(&bytes, name);
        assert_eq!(shape[0], 3, "{name}");
        assert_eq!(shape[1], want.len() / 3, "{name}");
        let worst = got
            .iter()
            .zip(want)
            .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-6,
            "{name}: batched CLI output differs by {worst}"
        );
    }

    // The saved seeded weights load back to the same activations, and `ventral weights` writes
    // the same file.
    let again = d.join("again.npz");
    let o = ventral(&[
        "extract",
        "--model",
        "resnet18",
        "--weights",
        s(&saved),
        "--input",
        s(&input),
        "--layers",
        "conv1,layer1,fc",
        "--reduce",
        "mean",
        "--out",
        s(&again),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut z = zip::ZipArchive::new(std::fs::File::open(&again).unwrap()).unwrap();
    let mut npy = Vec::new();
    std::io::Read::read_to_end(&mut z.by_name("fc.npy").unwrap(), &mut npy).unwrap();
    let fc: Vec<f32> = bytemuck::pod_collect_to_vec(&npy[npy.len() - 3 * 1000 * 4..]);
    assert!(
        fc == tensor(&bytes, "fc").1,
        "fc differs after reloading the saved weights"
    );
    let w2 = d.join("w2.safetensors");
    let o = ventral(&[
        "weights",
        "--model",
        "resnet18",
        "--random-init",
        "--seed",
        "5",
        "--out",
        s(&w2),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read(&w2).unwrap() == std::fs::read(&saved).unwrap(),
        "weights files differ"
    );
    std::fs::remove_dir_all(&d).ok();
}

/// Runs a failing command and checks its exit code, message, and that `out` was not written.
fn fails(args: &[&str], code: i32, message: &str, out: &Path) {
    let o = ventral(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {e}");
    assert!(
        e.contains(message),
        "{args:?}: expected '{message}' in: {e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    assert!(!out.exists(), "{args:?} left {}", out.display());
    let stray: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(stray.is_empty(), "temporary files left behind: {stray:?}");
}

#[test]
fn bad_input_gets_a_clear_error_and_no_output() {
    let d = dir("errors");
    let out = d.join("acts.safetensors");
    let o = s(&out);
    let shape = [3, 3, 40, 40];
    let mut x = rule("input", &shape);
    let good = d.join("x.npy");
    write_npy(&good, &shape, &x).unwrap();
    let base = [
        "extract",
        "--model",
        "resnet18",
        "--random-init",
        "--out",
        o,
    ];

    // Usage errors: exit 2.
    fails(
        &[&base[..], &["--input", s(&good), "--layers", "layer9"]].concat(),
        2,
        "no capture point 'layer9'",
        &out,
    );
    fails(
        &[
            "extract",
            "--model",
            "resnet18",
            "--input",
            s(&good),
            "--out",
            o,
        ],
        2,
        "--weights",
        &out,
    );
    fails(
        &[
            &base[..4],
            &["--input", s(&good), "--out", s(&d.join("a.csv"))],
        ]
        .concat(),
        2,
        ".safetensors or .npz",
        &d.join("a.csv"),
    );
    fails(
        &[&base[..], &["--input", s(&good), "--reduce", "median"]].concat(),
        2,
        "unknown reduction 'median'",
        &out,
    );
    fails(
        &[&base[..], &["--input", s(&good), "--reduce", "cls"]].concat(),
        2,
        "resnet18 has none",
        &out,
    );

    // Wrong input shape, NaN in the last batch (after earlier batches were written), too small.
    let gray = d.join("gray.npy");
    write_npy(&gray, &[3, 1, 40, 40], &x[..4800]).unwrap();
    fails(
        &[&base[..], &["--input", s(&gray)]].concat(),
        1,
        "expected a float32 array [N, 3, H, W], got shape [3, 1, 40, 40]",
        &out,
    );
    x[2 * 4800 + 7] = f32::NAN;
    let nan = d.join("nan.npy");
    write_npy(&nan, &shape, &x).unwrap();
    fails(
        &[&base[..], &["--input", s(&nan), "--batch", "1"]].concat(),
        1,
        "non-finite value (NaN) in image 2",
        &out,
    );
    let tiny = d.join("tiny.npy");
    write_npy(&tiny, &[1, 3, 8, 8], &x[..192]).unwrap();
    fails(
        &[
            "extract",
            "--model",
            "alexnet",
            "--random-init",
            "--input",
            s(&tiny),
            "--out",
            o,
        ],
        2,
        "alexnet at",
        &out,
    );

    // Weights: missing tensor, wrong shape, corrupt file.
    let graph = build("resnet18").unwrap();
    let w = Weights::random(&graph.specs, 1);
    let views = |skip: &str, reshape: &str| {
        let mut m = BTreeMap::new();
        for (name, t) in w.tensors() {
            if name == skip {
                continue;
            }
            let shape = if name == reshape {
                vec![t.data.len()]
            } else {
                t.shape.clone()
            };
            m.insert(
                name.clone(),
                (shape, bytemuck::cast_slice::<f32, u8>(&t.data).to_vec()),
            );
        }
        let v: Vec<_> = m
            .iter()
            .map(|(n, (s, b))| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                        .unwrap(),
                )
            })
            .collect();
        safetensors::serialize(v, None).unwrap()
    };
    let missing = d.join("missing.safetensors");
    std::fs::write(&missing, views("layer2.0.bn1.running_var", "")).unwrap();
    let wargs = |f: &Path| -> Vec<String> {
        [
            "extract",
            "--model",
            "resnet18",
            "--weights",
            s(f),
            "--input",
            s(&good),
            "--out",
            o,
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |f: &Path, msg: &str| {
        let a = wargs(f);
        fails(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            1,
            msg,
            &out,
        );
    };
    run(
        &missing,
        "missing.safetensors: missing tensors: layer2.0.bn1.running_var [128]",
    );
    let reshaped = d.join("reshaped.safetensors");
    std::fs::write(&reshaped, views("", "fc.weight")).unwrap();
    run(
        &reshaped,
        "tensor 'fc.weight' has shape [512000], the model expects [1000, 512]",
    );
    let corrupt = d.join("corrupt.safetensors");
    std::fs::write(&corrupt, b"\xff\xff\xff\xff\x00\x00\x00\x00garbage").unwrap();
    run(
        &corrupt,
        "corrupt.safetensors: not a valid safetensors file",
    );
    run(
        &d.join("absent.safetensors"),
        "absent.safetensors: cannot read",
    );

    // An image that will not decode is named.
    let imgs = d.join("imgs");
    std::fs::create_dir_all(&imgs).unwrap();
    image::RgbImage::from_pixel(50, 40, image::Rgb([10, 200, 30]))
        .save(imgs.join("a.png"))
        .unwrap();
    std::fs::write(imgs.join("b.png"), b"\x89PNG broken").unwrap();
    fails(
        &[
            "extract",
            "--model",
            "cornet_z",
            "--random-init",
            "--images",
            s(&imgs),
            "--resize",
            "48",
            "--crop",
            "40",
            "--batch",
            "1",
            "--out",
            o,
        ],
        1,
        "b.png: cannot decode image",
        &out,
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn rdm_and_compare_end_to_end_with_independent_values() {
    let d = dir("rsa");
    // 6 stimuli × 5 features; one activation tensor.
    let (n, p) = (6, 5);
    let x: Vec<f32> = (0..n * p)
        .map(|i| ((i * 37 + 11) % 17) as f32 / 4.0)
        .collect();
    let acts = d.join("acts.safetensors");
    let mut w = ventral::arrays::TensorWriter::create(
        &acts,
        &["layer".to_string()],
        &[vec![n, p]],
        BTreeMap::new(),
    )
    .unwrap();
    w.write_rows(0, std::slice::from_ref(&x)).unwrap();
    w.finish().unwrap();
    let rdms = d.join("rdms.safetensors");
    let o = ventral(&[
        "rdm",
        "--activations",
        s(&acts),
        "--metric",
        "correlation",
        "--out",
        s(&rdms),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (shape, got) = tensor(&std::fs::read(&rdms).unwrap(), "layer");
    assert_eq!(shape, [15]);
    // Independent value: 1 − Pearson of stimuli 0 and 1, computed here in f64.
    let r = |i: usize| -> Vec<f64> {
        x[i * p..(i + 1) * p]
            .iter()
            .map(|&v| f64::from(v))
            .collect()
    };
    let pearson = |a: &[f64], b: &[f64]| {
        let (ma, mb) = (a.iter().sum::<f64>() / 5.0, b.iter().sum::<f64>() / 5.0);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    };
    assert!((f64::from(got[0]) - (1.0 - pearson(&r(0), &r(1)))).abs() < 1e-6);
    // The square form holds the same values.
    let square = d.join("square.safetensors");
    let o = ventral(&[
        "rdm",
        "--activations",
        s(&acts),
        "--square",
        "--device",
        "native",
        "--out",
        s(&square),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (shape, sq) = tensor(&std::fs::read(&square).unwrap(), "layer");
    assert_eq!(shape, [6, 6]);
    assert!((sq[1] - got[0]).abs() < 1e-6 && (sq[6] - got[0]).abs() < 1e-6 && sq[0] == 0.0);

    // Three subjects as a [3, 6, 6] .npy of square RDMs; the first is the model itself.
    let model: Vec<f64> = got.iter().map(|&v| f64::from(v)).collect();
    let mut subjects = Vec::new();
    for sbj in 0..3 {
        let v: Vec<f64> = model
            .iter()
            .enumerate()
            .map(|(k, m)| m + 0.3 * sbj as f64 * ((k * 7 % 5) as f64))
            .collect();
        subjects.push(ventral::rsa::condensed_to_square(&v).unwrap());
    }
    let flat: Vec<f32> = subjects.concat().iter().map(|&v| v as f32).collect();
    let brain = d.join("brain.npy");
    write_npy(&brain, &[3, 6, 6], &flat).unwrap();
    let out = d.join("results.csv");
    let o = ventral(&[
        "compare",
        "--model-rdms",
        s(&rdms),
        "--brain-rdms",
        s(&brain),
        "--method",
        "spearman",
        "--permutations",
        "719",
        "--seed",
        "3",
        "--noise-ceiling",
        "--bootstrap",
        "50",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    // The columns `ventral run` writes in results.csv too.
    assert!(lines[0].starts_with(
        "kind,region,method,model,layer,layer_index,subject,score,sem,p_value,ci_low,ci_high,noise_ceiling_lower,noise_ceiling_upper,other,permutations,bootstrap,seed"
    ));
    let subject0: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        &subject0[..7],
        ["subject", "", "spearman", "layer", "", "0", "brain[0]"]
    );
    assert_eq!(&subject0[15..], ["719", "50", "3"]);
    let score: f64 = subject0[7].parse().unwrap();
    let want = ventral::rsa::compare(
        &model,
        &ventral::rsa::square_to_condensed(&subjects[0], 6, "s").unwrap(),
        ventral::rsa::Method::Spearman,
    );
    assert!(
        (score - want).abs() < 1e-6 && score > 0.99,
        "{score} vs {want}"
    );
    let group = lines.iter().find(|l| l.starts_with("layer,")).unwrap();
    let cols: Vec<&str> = group.split(',').collect();
    let (mean, p_value): (f64, f64) = (cols[7].parse().unwrap(), cols[9].parse().unwrap());
    assert!(mean > 0.5 && p_value < 0.05, "{group}");
    let (lower, upper): (f64, f64) = (cols[12].parse().unwrap(), cols[13].parse().unwrap());
    assert!(lower <= upper && upper <= 1.0, "{group}");

    // Counts past their limits are refused up front (no abort, no run of days); nothing written.
    for (flag, value) in [
        ("--bootstrap", "1000000000000"),
        ("--permutations", "1000000000000"),
    ] {
        fails(
            &[
                "compare",
                "--model-rdms",
                s(&rdms),
                "--brain-rdms",
                s(&brain),
                flag,
                value,
                "--out",
                s(&d.join("limit.csv")),
            ],
            2,
            "past the limit",
            &d.join("limit.csv"),
        );
    }
    // Errors: N mismatch (a data error naming the file and the tensors), unknown method,
    // corrupt RDM file; nothing written.
    let small = d.join("small.npy");
    write_npy(&small, &[2, 10], &[0.5; 20]).unwrap();
    let bad_out = d.join("bad.csv");
    fails(
        &[
            "compare",
            "--model-rdms",
            s(&rdms),
            "--brain-rdms",
            s(&small),
            "--out",
            s(&bad_out),
        ],
        1,
        "rdms.safetensors: model RDM 'layer' is for N = 6 stimuli, subject RDM 'small[0]'",
        &bad_out,
    );
    fails(
        &[
            "compare",
            "--model-rdms",
            s(&rdms),
            "--brain-rdms",
            s(&brain),
            "--method",
            "kendal",
            "--out",
            s(&bad_out),
        ],
        2,
        "unknown comparison method 'kendal'",
        &bad_out,
    );
    std::fs::write(d.join("junk.npy"), b"junk").unwrap();
    fails(
        &[
            "compare",
            "--model-rdms",
            s(&rdms),
            "--brain-rdms",
            s(&d.join("junk.npy")),
            "--out",
            s(&bad_out),
        ],
        1,
        "junk.npy: too short to be a .npy file",
        &bad_out,
    );
    let odd = d.join("odd.npy");
    write_npy(&odd, &[2, 7], &[0.5; 14]).unwrap();
    fails(
        &[
            "compare",
            "--model-rdms",
            s(&rdms),
            "--brain-rdms",
            s(&odd),
            "--out",
            s(&bad_out),
        ],
        1,
        "neither N×N nor a condensed length",
        &bad_out,
    );
    std::fs::remove_dir_all(&d).ok();
}

/// Condensed RDMs of 6 stimuli (15 pairs), one row per RDM, distinct per row.
fn condensed_rows(rows: usize) -> Vec<f32> {
    (0..rows * 15)
        .map(|k| ((k * 7 + k / 15 * 3) % 11) as f32 + 0.1 * (k % 15) as f32)
        .collect()
}

#[test]
fn rdm_files_that_cannot_be_compared_are_data_errors_naming_file_and_tensor() {
    let d = dir("rsa-data-errors");
    let out = d.join("r.csv");
    let model = d.join("model.npy");
    write_npy(&model, &[15], &condensed_rows(1)).unwrap();
    let brain = d.join("brain.npy");
    write_npy(&brain, &[3, 15], &condensed_rows(3)).unwrap();
    let compare = |m: &Path, b: &Path, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["compare", "--model-rdms", s(m), "--brain-rdms", s(b)]
            .map(String::from)
            .to_vec();
        a.extend(extra.iter().map(|x| x.to_string()));
        a.extend(["--out".to_string(), s(&out).to_string()]);
        a
    };
    let check = |args: Vec<String>, code: i32, message: &str| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(&a, code, message, &out);
    };
    // A NaN in a model RDM or a subject RDM: exit 1, the file, the tensor and the pair named
    // (before: exit 2, "model RDM 0 holds a non-finite entry").
    let mut holed = condensed_rows(1);
    holed[4] = f32::NAN;
    let model_nan = d.join("model_nan.npy");
    write_npy(&model_nan, &[15], &holed).unwrap();
    for extra in [["--permutations", "20"], ["--bootstrap", "20"]] {
        check(
            compare(&model_nan, &brain, &extra),
            1,
            "model_nan.npy: model RDM 'model_nan' holds a non-finite entry (NaN) at condensed index 4 (stimuli 0 and 5)",
        );
    }
    let mut holed = condensed_rows(3);
    holed[2 * 15 + 14] = f32::INFINITY;
    let brain_nan = d.join("brain_nan.npy");
    write_npy(&brain_nan, &[3, 15], &holed).unwrap();
    check(
        compare(&model, &brain_nan, &["--permutations", "20"]),
        1,
        "brain_nan.npy: subject RDM 'brain_nan[2]' holds a non-finite entry (inf) at condensed index 14 (stimuli 4 and 5)",
    );
    // Too few stimuli: exit 1 naming the file and the tensor.
    let two = d.join("two.npy");
    write_npy(&two, &[2, 1], &[0.5, 0.7]).unwrap();
    let one_pair = d.join("one_pair.npy");
    write_npy(&one_pair, &[1], &[0.5]).unwrap();
    check(
        compare(&one_pair, &two, &["--permutations", "20"]),
        1,
        "two.npy: subject RDM 'two[0]' is for N = 2 stimuli; a comparison needs at least 3",
    );
    // A shape whose size overflows is named, not "holds no RDMs".
    let huge = d.join("huge.npy");
    std::fs::write(&huge, ventral::arrays::npy_header(&[1 << 32, 1 << 32])).unwrap();
    check(
        compare(&model, &huge, &[]),
        1,
        "huge.npy: shape [4294967296, 4294967296] is too large",
    );
    // One subject resampled: a usage error naming the count (before: a zero-width interval).
    let brain1 = d.join("brain1.npy");
    write_npy(&brain1, &[15], &condensed_rows(1)).unwrap();
    for over in ["subjects", "both"] {
        check(
            compare(
                &model,
                &brain1,
                &["--bootstrap", "20", "--bootstrap-over", over],
            ),
            2,
            &format!(
                "--bootstrap-over {over}: {} holds 1 subject RDM(s)",
                s(&brain1)
            ),
        );
    }
    let o = ventral(
        &compare(
            &model,
            &brain1,
            &["--bootstrap", "20", "--bootstrap-over", "stimuli"],
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_file(&out).unwrap();
    // A constant model RDM: the comparison runs and says why its scores are NaN.
    let mut rows = condensed_rows(1);
    rows.extend([0.5; 15]);
    let two_models = d.join("models.npy");
    write_npy(&two_models, &[2, 15], &rows).unwrap();
    for method in ["spearman", "pearson", "kendall-tau-b"] {
        let a = compare(&two_models, &brain, &["--method", method]);
        let o = ventral(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let e = stderr(&o);
        assert!(o.status.success(), "{e}");
        assert!(
            e.contains(&format!(
                "model RDM 'models[1]' is constant (every entry 0.5): its {method} scores are NaN"
            )) && !e.contains("models[0]"),
            "{e}"
        );
        std::fs::remove_file(&out).unwrap();
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn activation_files_without_tensors_or_with_mixed_n_are_refused_by_name() {
    let d = dir("no-tensors");
    let brain = d.join("brain.npy");
    write_npy(&brain, &[3, 15], &condensed_rows(3)).unwrap();
    for ext in ["safetensors", "npz"] {
        let empty = d.join(format!("empty.{ext}"));
        ventral::arrays::TensorWriter::create(&empty, &[], &[], BTreeMap::new())
            .unwrap()
            .finish()
            .unwrap();
        let named = format!("empty.{ext}: holds no tensors");
        let rdm_out = d.join("rdms.safetensors");
        fails(
            &["rdm", "--activations", s(&empty), "--out", s(&rdm_out)],
            1,
            &named,
            &rdm_out,
        );
        let cka_out = d.join("cka.csv");
        fails(
            &["cka", "--activations", s(&empty), "--out", s(&cka_out)],
            1,
            &named,
            &cka_out,
        );
        fails(
            &[
                "compare",
                "--model-rdms",
                s(&empty),
                "--brain-rdms",
                s(&brain),
                "--out",
                s(&cka_out),
            ],
            1,
            &format!("empty.{ext}: holds no RDMs"),
            &cka_out,
        );
    }
    let enc_out = d.join("enc.csv");
    fails(
        &[
            "encode",
            "--activations",
            s(&d.join("empty.safetensors")),
            "--responses",
            s(&brain),
            "--out",
            s(&enc_out),
        ],
        1,
        "empty.safetensors: no activation tensors",
        &enc_out,
    );
    // Tensors over different stimulus counts: a data error naming the file and both tensors.
    let mixed = d.join("mixed.safetensors");
    let mut w = ventral::arrays::TensorWriter::create(
        &mixed,
        &["a".to_string(), "b".to_string()],
        &[vec![4, 3], vec![5, 3]],
        BTreeMap::new(),
    )
    .unwrap();
    w.write_rows(0, &[vec![0.5f32; 12], vec![0.25; 15]])
        .unwrap();
    w.finish().unwrap();
    let cka_out = d.join("cka.csv");
    fails(
        &["cka", "--activations", s(&mixed), "--out", s(&cka_out)],
        1,
        "mixed.safetensors: tensor 'b' has 5 stimuli, tensor 'a' of",
        &cka_out,
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn selftest_json_reports_every_kernel_with_its_adapter() {
    let o = ventral(&["selftest", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    // Every kernel on the adapter, then every executor op on the native executor.
    let kernels = ventral::selftest::cases().len();
    assert_eq!(
        results.len(),
        kernels + ventral::exec::cases::exec_cases().len()
    );
    assert!(results[kernels..].iter().all(|r| r["backend"] == "native"));
    // --device narrows it to one executor.
    let o = ventral(&["selftest", "--json", "--device", "native"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let native: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = native["results"].as_array().unwrap();
    assert_eq!(rows.len(), ventral::exec::cases::exec_cases().len());
    assert!(rows
        .iter()
        .all(|r| r["backend"] == "native" && r["pass"] == true));
    assert!(
        results
            .iter()
            .all(|r| r["pass"] == true && r["max_abs"].is_number()),
        "{results:?}"
    );
    assert_eq!(report["adapters"][0]["name"], results[0]["adapter"]);
    assert_eq!(report["seed"], 7);
}

#[test]
fn bench_json_records_samples_and_compare_reads_it_back() {
    let d = dir("bench");
    let o = ventral(&[
        "bench",
        "kernels",
        "--size",
        "smoke",
        "--samples",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = &report["results"][0];
    assert_eq!(first["sample_s"].as_array().unwrap().len(), 3);
    assert!(first["mad_s"].as_f64().unwrap() >= 0.0 && first["median_s"].as_f64().unwrap() > 0.0);
    let earlier = d.join("earlier.json");
    std::fs::write(&earlier, &o.stdout).unwrap();
    let o = ventral(&[
        "bench",
        "kernels",
        "--size",
        "smoke",
        "--samples",
        "1",
        "--compare",
        s(&earlier),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("matmul 128³ (register-tiled):") && e.contains("s before, ×"),
        "{e}"
    );
    std::fs::write(&earlier, b"{}").unwrap();
    let o = ventral(&[
        "bench",
        "kernels",
        "--size",
        "smoke",
        "--samples",
        "1",
        "--compare",
        s(&earlier),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no \"results\" list"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn bench_quick_writes_the_documented_report() {
    let d = dir("bench-all");
    let report = d.join("bench.json");
    let o = ventral(&[
        "bench",
        "--quick",
        "--device",
        "gpu",
        "--skip",
        "rsa,analysis,encoding",
        "--models",
        "cornet_z",
        "--capture",
        "none,all+rdm",
        "--json",
        s(&report),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(table.contains("attention ViT-B/16 block"), "{table}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["schema"], 1);
    assert!(r["wgpu_version"].is_string() && r["adapter"]["driver"].is_string());
    assert_eq!(r["executor"]["device"], "gpu");
    assert_eq!(r["quick"], true);
    let results = r["results"].as_array().unwrap();
    let groups: Vec<&str> = results
        .iter()
        .map(|t| t["group"].as_str().unwrap())
        .collect();
    assert!(groups.contains(&"kernel") && groups.contains(&"model"));
    assert!(!groups.contains(&"rsa") && !groups.contains(&"analysis"));
    assert!(!groups.contains(&"encoding"));
    for t in results {
        let samples = t["sample_s"].as_array().unwrap();
        assert_eq!(samples.len(), t["samples"].as_u64().unwrap() as usize);
        let (min, med, max) = (
            t["min_s"].as_f64().unwrap(),
            t["median_s"].as_f64().unwrap(),
            t["max_s"].as_f64().unwrap(),
        );
        assert!(min <= med && med <= max, "{t}");
        // lavapipe has timestamp queries: every sample has a GPU time.
        assert_eq!(t["timer"], "gpu-timestamps", "{t}");
        assert_eq!(t["gpu_sample_s"].as_array().unwrap().len(), samples.len());
    }
    let captures: Vec<&str> = results
        .iter()
        .filter(|t| t["group"] == "model")
        .map(|t| t["capture"].as_str().unwrap())
        .collect();
    assert_eq!(captures, ["none", "all+rdm"]);
    let port = r["portability"]["results"].as_array().unwrap();
    assert!(port.len() >= 30 && port.iter().all(|row| row["pass"] == true));

    // A baseline-style file (one implementation, matched by workload) reads back as ratios.
    let baseline = d.join("baseline.json");
    std::fs::write(
        &baseline,
        r#"{"implementation": "numpy", "results": [{"workload": "matmul 128³", "name": "matmul 128³", "median_s": 0.5}]}"#,
    )
    .unwrap();
    let o = ventral(&[
        "bench",
        "--quick",
        "--device",
        "gpu",
        "--skip",
        "models,rsa,analysis,selftest",
        "--samples",
        "1",
        "--compare",
        s(&baseline),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("(numpy)")
            && e.contains("matmul 128³ (register-tiled):")
            && e.contains("0.5000 s before"),
        "{e}"
    );
    let o = ventral(&["bench", "--quick", "--skip", "gpus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--skip 'gpus'"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).ok();
}

/// A small analysis: 5 images in a manifest, seeded CORnet-Z at 64 px (two capture points), two
/// subjects in one .npy, Spearman and Kendall τa with permutations and the noise ceiling.
fn small_analysis(d: &Path, brain_n: usize) -> PathBuf {
    std::fs::create_dir_all(d.join("img")).unwrap();
    let mut manifest = String::from("file,category\n");
    for i in 0..5u32 {
        let img = image::RgbImage::from_fn(40 + i * 7, 33, |x, y| {
            image::Rgb([
                ((x * (i + 3) + y * 5) % 256) as u8,
                ((x * y + i * 40) % 256) as u8,
                ((200 + 17 * i) % 256) as u8,
            ])
        });
        let name = format!("img/s{i}.png");
        img.save(d.join(&name)).unwrap();
        manifest += &format!("{name},{}\n", if i < 2 { "a" } else { "b" });
    }
    std::fs::write(d.join("stimuli.csv"), manifest).unwrap();
    // Two subjects' square RDMs with different orderings of the pairs.
    let n = brain_n;
    let mut rdms = vec![0f32; 2 * n * n];
    for s in 0..2 {
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let (a, b) = (i.min(j), i.max(j));
                    rdms[s * n * n + i * n + j] =
                        ((a * 3 + b * (2 + s)) % 7) as f32 + 0.5 * a as f32;
                }
            }
        }
    }
    write_npy(&d.join("brain.npy"), &[2, n, n], &rdms).unwrap();
    let toml = d.join("analysis.toml");
    std::fs::write(
        &toml,
        r#"
[stimuli]
manifest = "stimuli.csv"

[preprocess]
preset = "square"
size = 64

[[model]]
name = "cornet_z"
seed = 7
layers = ["V1", "IT"]

[rdm]
metric = "correlation"

[[brain]]
file = "brain.npy"
region = "it"
subjects = ["ann", "bob"]

[compare]
methods = ["spearman", "kendall-tau-a"]
permutations = 50
seed = 3

[output]
folder = "out"
"#,
    )
    .unwrap();
    toml
}

#[test]
fn run_writes_results_that_match_independent_values() {
    use ventral::rsa::ceiling::noise_ceiling;
    use ventral::rsa::load::read_rdms;
    use ventral::rsa::{compare, rdm_cpu, Method, Metric};
    use ventral::stimuli::{Preprocess, StimulusSet};

    let d = dir("run");
    let toml = small_analysis(&d, 5);
    let o = ventral(&["run", s(&toml), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("it (2 subjects), spearman, N = 5"),
        "{stdout}"
    );
    let out = d.join("out");
    for f in [
        "results.csv",
        "results.json",
        "rdms.safetensors",
        "manifest.json",
        "analysis.toml",
        "layers_cornet_z-seed7_it_spearman.png",
        "layers_cornet_z-seed7_it_spearman.svg",
        "models_it_kendall-tau-a.svg",
        "rdms_cornet_z-seed7.png",
        "rdm_brain_it.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }

    // Independent path: the library's forward pass, the f64 CPU RDM twin and compare().
    let engine = common::auto_engine();
    let graph = build("cornet_z").unwrap();
    let weights = Weights::random(&graph.specs, 7);
    let capture = Capture::parse(&graph, "V1,IT", Reduce::None).unwrap();
    let net = Network::new(&engine, graph, &weights).unwrap();
    let mut set = StimulusSet::manifest(&d.join("stimuli.csv")).unwrap();
    let x = set.batch(0, 5, &Preprocess::square(64)).unwrap();
    let acts = net.extract(&x, &[5, 3, 64, 64], &capture).unwrap();
    let model_rdms: Vec<Vec<f64>> = acts
        .iter()
        .map(|a| {
            rdm_cpu(a, 5, a.len() / 5, Metric::Correlation)
                .unwrap()
                .condensed
        })
        .collect();
    let subjects: Vec<Vec<f64>> = read_rdms(&d.join("brain.npy"))
        .unwrap()
        .into_iter()
        .map(|r| r.condensed)
        .collect();

    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    // 2 methods × 2 layers × (2 subject rows + 1 layer row).
    assert_eq!(rows.len(), 12);
    let mut checked = 0;
    for r in &rows {
        let method: Method = r[2].parse().unwrap();
        assert_eq!((r[1], r[3]), ("it", "cornet_z-seed7"));
        let li = ["V1", "IT"].iter().position(|l| *l == r[4]).unwrap();
        assert_eq!(r[5], li.to_string());
        let score: f64 = r[7].parse().unwrap();
        let want: Vec<f64> = subjects
            .iter()
            .map(|s| compare(&model_rdms[li], s, method))
            .collect();
        let p: f64 = r[9].parse().unwrap();
        assert!(p > 0.0 && p <= 1.0, "p = {p}");
        // Native threaded RDMs vs the f64 twin: equal to f32-accumulation rounding.
        match r[0] {
            "subject" => {
                let si = ["ann", "bob"].iter().position(|s| *s == r[6]).unwrap();
                assert!(
                    (score - want[si]).abs() < 1e-6,
                    "{r:?}: {score} vs {}",
                    want[si]
                );
            }
            "layer" => {
                let mean = (want[0] + want[1]) / 2.0;
                assert!((score - mean).abs() < 1e-6, "{r:?}: {score} vs {mean}");
                let sem = (want[0] - want[1]).abs() / 2.0;
                assert!((r[8].parse::<f64>().unwrap() - sem).abs() < 1e-6);
                let nc = noise_ceiling(&subjects, method).unwrap();
                assert!((r[12].parse::<f64>().unwrap() - nc.lower).abs() < 1e-12);
                assert!((r[13].parse::<f64>().unwrap() - nc.upper).abs() < 1e-12);
            }
            k => panic!("row kind {k}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 12);

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["stimuli"]["count"], 5);
    assert_eq!(manifest["stimuli"]["sha256"].as_array().unwrap().len(), 5);
    assert_eq!(manifest["stimuli"]["labels"][2][0], "b");
    assert_eq!(manifest["seeds"]["compare"], 3);
    assert_eq!(manifest["seeds"]["model cornet_z-seed7"], 7);
    assert_eq!(manifest["models"][0]["weights"], "seed:7");
    let executor = &manifest["executor"];
    assert_eq!(
        executor["device"],
        common::auto_engine().device().to_string()
    );
    assert!(executor["adapter"]["driver"].is_string() || executor["threads"].as_u64() >= Some(1));
    let rdms = std::fs::read(out.join("rdms.safetensors")).unwrap();
    let (shape, brain) = tensor(&rdms, "brain/it/bob");
    assert_eq!(shape, vec![10]);
    for (a, b) in brain.iter().zip(&subjects[1]) {
        assert_eq!(f64::from(*a), *b);
    }
    // The recorded analysis runs again as it is.
    let again = ventral(&[
        "run",
        s(&out.join("analysis.toml")),
        "--quiet",
        "--out",
        s(&d.join("again")),
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        std::fs::read_to_string(d.join("again/results.csv")).unwrap(),
        csv,
        "same seeds, same results"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn run_errors_name_the_problem_and_write_nothing() {
    let d = dir("run-errors");
    let toml = small_analysis(&d, 5);
    let text = std::fs::read_to_string(&toml).unwrap();
    let out = d.join("out");
    let case = |edit: &dyn Fn(&str) -> String, code: i32, message: &str| {
        std::fs::write(&toml, edit(&text)).unwrap();
        fails(&["run", s(&toml), "--quiet"], code, message, &out);
    };
    case(
        &|t| t.replace("[rdm]", "[rdm]\nmetrc = \"cosine\""),
        2,
        "unknown field `metrc`",
    );
    case(
        &|t| t.replace("seed = 7", "seed = 7\nweights = \"w.safetensors\""),
        2,
        "either weights",
    );
    case(&|t| t.replace("cornet_z", "cornet_q"), 2, "cornet_q");
    case(&|t| t.replace("\"IT\"", "\"IT.nope\""), 2, "IT.nope");
    case(
        &|t| t.replace("\"spearman\"", "\"spearmann\""),
        2,
        "spearmann",
    );
    // A manifest naming a missing image.
    std::fs::write(
        d.join("bad.csv"),
        "file\nimg/s0.png\nimg/gone.png\nimg/s1.png\n",
    )
    .unwrap();
    case(&|t| t.replace("stimuli.csv", "bad.csv"), 1, "gone.png");
    // An image that does not decode.
    std::fs::write(d.join("img/broken.png"), b"not a png").unwrap();
    std::fs::write(
        d.join("broken.csv"),
        "file\nimg/s0.png\nimg/broken.png\nimg/s1.png\nimg/s2.png\nimg/s3.png\n",
    )
    .unwrap();
    case(&|t| t.replace("stimuli.csv", "broken.csv"), 1, "broken.png");
    // Subject RDMs for another N.
    small_analysis(&d, 4);
    case(&|t| t.to_string(), 1, "N = 4 stimuli, the stimulus set");
    small_analysis(&d, 5);
    // Corrupt weights.
    std::fs::write(
        d.join("w.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json",
    )
    .unwrap();
    case(
        &|t| t.replace("seed = 7", "weights = \"w.safetensors\""),
        1,
        "w.safetensors",
    );
    // Two subjects with one name (their RDMs would overwrite each other in rdms.safetensors).
    case(
        &|t| t.replace("[\"ann\", \"bob\"]", "[\"ann\", \"ann\"]"),
        2,
        "two subjects are named 'ann'",
    );
    // A missing analysis file.
    fails(&["run", s(&d.join("none.toml"))], 1, "none.toml", &out);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn run_refuses_bad_values_before_any_work_and_data_faults_by_file() {
    let d = dir("run-values");
    let toml = small_analysis(&d, 5);
    let text = std::fs::read_to_string(&toml).unwrap();
    let out = d.join("out");
    let case = |edit: &dyn Fn(&str) -> String, code: i32, message: &str| {
        std::fs::write(&toml, edit(&text)).unwrap();
        fails(&["run", s(&toml), "--quiet"], code, message, &out);
    };
    let file_brain = "file = \"brain.npy\"\nregion = \"it\"\nsubjects = [\"ann\", \"bob\"]";
    assert!(text.contains(file_brain));
    let simulated = |sim: &str| {
        text.replace(
            file_brain,
            &format!("simulated = {{ {sim} }}\nregion = \"it\""),
        )
    };
    // Simulated noise that is infinite, NaN or negative, named with its table (before: inf
    // passed and failed after the whole extraction).
    for (noise, shown) in [("inf", "inf"), ("nan", "NaN"), ("-1.0", "-1")] {
        case(
            &|_| simulated(&format!("subjects = 2, noise = {noise}, seed = 1")),
            2,
            &format!(
                "[[brain]] region 'it' simulated: noise = {shown} must be a finite number ≥ 0"
            ),
        );
    }
    case(
        &|t| {
            t.replace(
                "[output]",
                "[[measure]]\nkind = \"rsa\"\n\n[[measure]]\nkind = \"encoding\"\nsimulated = { subjects = 1, voxels = 4, noise = inf, seed = 2 }\n\n[output]",
            )
        },
        2,
        "[[measure]] encoding simulated: noise = inf must be a finite number ≥ 0",
    );
    // memory_budget = 0 (before: accepted).
    case(
        &|t| t.replace("folder = \"out\"", "folder = \"out\"\nmemory_budget = 0"),
        2,
        "[output] memory_budget = 0",
    );
    // One subject with a bootstrap over subjects: simulated (in the check) or from a file (when
    // it is read), before any extraction.
    let boot = |t: &str, over: &str| {
        t.replace(
            "seed = 3",
            &format!("seed = 3\nbootstrap = 20\nbootstrap_over = \"{over}\""),
        )
    };
    case(
        &|_| boot(&simulated("subjects = 1, noise = 0.5, seed = 1"), "both"),
        2,
        "[compare] bootstrap_over = \"both\": region 'it' has 1 subject(s)",
    );
    case(
        &|t| {
            boot(
                &t.replace("subjects = [\"ann\", \"bob\"]", "sessions_per_subject = 2"),
                "subjects",
            )
        },
        2,
        "[compare] bootstrap_over = \"subjects\": region 'it' has 1 subject(s)",
    );
    // A NaN in a subject RDM file: exit 1 naming the file and the tensor (before: exit 2 after
    // the extraction, naming neither).
    let n = 5;
    let mut rdms = vec![0f32; 2 * n * n];
    for sbj in 0..2 {
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    rdms[sbj * n * n + i * n + j] = (i + j + sbj) as f32;
                }
            }
        }
    }
    rdms[n * n + 3] = f32::NAN;
    rdms[n * n + 3 * n] = f32::NAN;
    write_npy(&d.join("brain_nan.npy"), &[2, n, n], &rdms).unwrap();
    case(
        &|t| t.replace("brain.npy", "brain_nan.npy"),
        1,
        "brain_nan.npy: subject RDM 'brain_nan[1]' holds a non-finite entry (NaN) at condensed index 2 (stimuli 0 and 3)",
    );
    // Too few stimuli in a manifest: a data error naming the manifest.
    std::fs::write(
        d.join("two.csv"),
        "file,category\nimg/s0.png,a\nimg/s1.png,b\n",
    )
    .unwrap();
    case(
        &|t| t.replace("stimuli.csv", "two.csv"),
        1,
        "two.csv: 2 stimuli; RSA needs at least 3",
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn device_word_errors_are_clear() {
    let d = dir("device-words");
    let out = d.join("w.safetensors");
    // An unknown word is a usage error that lists the choices.
    fails(
        &[
            "extract",
            "--model",
            "cornet_z",
            "--random-init",
            "--seed",
            "1",
            "--input",
            "x.npy",
            "--device",
            "cpu",
            "--out",
            s(&out),
        ],
        2,
        "unknown device 'cpu'; use auto, gpu, native, reference",
        &out,
    );
    // --device gpu with no matching adapter is a runtime error naming what it saw, never a
    // silent fallback to the CPU; nothing is written.
    let acts = d.join("acts.npy");
    let values: Vec<f32> = (0..12).map(|v| ((v * 7) % 5) as f32).collect();
    write_npy(&acts, &[3, 4], &values).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ventral"))
        .args([
            "rdm",
            "--activations",
            s(&acts),
            "--device",
            "gpu",
            "--out",
            s(&out),
        ])
        .env("VENTRAL_ADAPTER", "no-such-adapter-anywhere")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no GPU adapter matches"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // The same with native works, and the file records the executor.
    let o = ventral(&[
        "rdm",
        "--activations",
        s(&acts),
        "--device",
        "native",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(device_metadata(&out).starts_with("native: "));
    // An analysis file's [compute] device is checked like the flag.
    let toml = d.join("a.toml");
    std::fs::write(
        &toml,
        "[stimuli]\nprocedural = \"shapes\"\n[compute]\ndevice = \"cpu\"\n",
    )
    .unwrap();
    fails(
        &["run", s(&toml), "--quiet"],
        2,
        "cpu",
        &d.join("ventral-results"),
    );
    std::fs::remove_dir_all(&d).ok();
}

/// With no GPU driver visible at all, `--device auto` runs on the native executor.
#[test]
fn auto_works_without_any_gpu_driver() {
    let no_driver = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ventral"))
            .args(args)
            .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
            .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
            .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
            .output()
            .unwrap()
    };
    let o = no_driver(&["devices", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["adapters"].as_array().map(Vec::len), Some(0), "{doc}");
    assert_eq!(doc["auto"]["device"], "native");
    let d = dir("no-driver");
    let (input, out) = (d.join("x.npy"), d.join("acts.safetensors"));
    let x: Vec<f32> = (0..2 * 3 * 32 * 32)
        .map(|i| (i % 17) as f32 / 17.0)
        .collect();
    write_npy(&input, &[2, 3, 32, 32], &x).unwrap();
    let o = no_driver(&[
        "extract",
        "--model",
        "cornet_z",
        "--random-init",
        "--seed",
        "1",
        "--input",
        s(&input),
        "--layers",
        "IT",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(device_metadata(&out).starts_with("native: "));
    let o = no_driver(&[
        "rdm",
        "--activations",
        s(&out),
        "--device",
        "gpu",
        "--out",
        s(&d.join("r.safetensors")),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "--device gpu never falls back: {}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&d).ok();
}
