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
