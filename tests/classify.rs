//! `ventral classify` end to end: one CSV row per image and rank with ImageNet names, and a
//! top-k past the head is a usage error with nothing written.

use std::process::Command;

fn ventral(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ventral"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn classify_writes_top_k_rows_per_image() {
    let dir = std::env::temp_dir().join(format!("ventral-classify-{}", std::process::id()));
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for (i, name) in ["a.png", "b.png"].iter().enumerate() {
        let img = image::RgbImage::from_fn(48, 40, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 6) as u8, (i * 200) as u8])
        });
        img.save(images.join(name)).unwrap();
    }
    let out = dir.join("top.csv");
    let img = images.to_str().unwrap();
    let run = ventral(&[
        "classify",
        "--model",
        "alexnet",
        "--random-init",
        "--seed",
        "1",
        "--images",
        img,
        "--top",
        "3",
        "--device",
        "native",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "image,rank,class,name,probability,logit");
    assert_eq!(lines.len(), 1 + 2 * 3, "{csv}");
    let mut last = f64::INFINITY;
    for (k, row) in lines[1..4].iter().enumerate() {
        let cols: Vec<&str> = row.split(',').collect();
        assert_eq!(cols[0], "a.png");
        assert_eq!(cols[1], (k + 1).to_string());
        let class: usize = cols[2].parse().unwrap();
        assert!(class < 1000);
        let p: f64 = cols[cols.len() - 2].parse().unwrap();
        assert!(p > 0.0 && p <= last, "{row}");
        last = p;
    }
    // ImageNet class 0 is the tench; names come from the checked-in list.
    let names = include_str!("../src/models/imagenet_classes.txt");
    assert_eq!(names.lines().count(), 1000);
    assert!(names.lines().next().unwrap().contains("tench"));

    let bad = dir.join("bad.csv");
    let run = ventral(&[
        "classify",
        "--model",
        "alexnet",
        "--random-init",
        "--images",
        img,
        "--top",
        "0",
        "--device",
        "native",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!bad.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

mod common;

/// `classify` on PyTorch's AlexNet with the fixture weights rule: the same top 5 classes, in
/// order, with the same probabilities and logits (weights/fixtures/make_classify_fixture.py).
#[test]
fn classify_gives_pytorchs_top_5() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/fixtures/classify");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("alexnet_top5.json")).unwrap())
            .unwrap();
    let dir = std::env::temp_dir().join(format!("ventral-classify-pt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let graph = ventral::models::build("alexnet").unwrap();
    let weights = dir.join("alexnet.safetensors");
    common::fixture_rule::weights(&graph.specs)
        .save(&weights, &Default::default())
        .unwrap();
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for name in ["a.png", "b.png", "c.png"] {
        std::fs::copy(fixtures.join(name), images.join(name)).unwrap();
    }
    let out = dir.join("top.json");
    let run = ventral(&[
        "classify",
        "--model",
        "alexnet",
        "--weights",
        weights.to_str().unwrap(),
        "--images",
        images.to_str().unwrap(),
        "--device",
        "native",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let got: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let want = want["images"].as_array().unwrap();
    assert_eq!(got.len(), 5 * want.len());
    for (i, w) in want.iter().enumerate() {
        for k in 0..5 {
            let g = &got[i * 5 + k];
            assert_eq!(g["image"], w["image"]);
            assert_eq!(g["rank"], k + 1);
            assert_eq!(g["class"], w["classes"][k], "{} rank {}", w["image"], k + 1);
            let (gp, wp) = (
                g["probability"].as_f64().unwrap(),
                w["probabilities"][k].as_f64().unwrap(),
            );
            assert!((gp - wp).abs() < 1e-4, "{}: p {gp} vs {wp}", w["image"]);
            let (gl, wl) = (
                g["logit"].as_f64().unwrap(),
                w["logits"][k].as_f64().unwrap(),
            );
            assert!(
                (gl - wl).abs() < 1e-3 * wl.abs().max(1.0),
                "{}: logit {gl} vs {wl}",
                w["image"]
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
