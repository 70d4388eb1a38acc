//! Preprocessing against Pillow and torchvision (tests/fixtures/pillow/, made by the script there).

use serde::Deserialize;
use sha2::{Digest, Sha256};
use ventral::stimuli::{resize, Filter, Preprocess, PreprocessConfig, Rgb8};

#[derive(Deserialize)]
struct Fixture {
    resize: Vec<Resize>,
    transform: Vec<Transform>,
}

#[derive(Deserialize)]
struct Resize {
    filter: String,
    #[serde(rename = "in")]
    input: [usize; 2],
    out: [usize; 2],
    rgb: Vec<u8>,
}

#[derive(Deserialize)]
struct Transform {
    preset: String,
    #[serde(rename = "in")]
    input: [usize; 2],
    sha256: String,
    first: Vec<f32>,
    sum: f64,
}

fn image(w: usize, h: usize) -> Rgb8 {
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&[
                ((7 * x + 13 * y) % 256) as u8,
                ((x * y) % 256) as u8,
                ((255 + 16 * 256 - 3 * x - 5 * y) % 256) as u8,
            ]);
        }
    }
    Rgb8 {
        width: w,
        height: h,
        data,
    }
}

fn fixture() -> Fixture {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pillow/pillow.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn bilinear_and_bicubic_resizes_are_bit_exact_to_pillow() {
    let f = fixture();
    assert_eq!(f.resize.iter().filter(|r| r.filter == "bicubic").count(), 5);
    for r in f.resize {
        let filter: Filter = r.filter.parse().unwrap();
        let got = resize(&image(r.input[0], r.input[1]), r.out[0], r.out[1], filter);
        assert_eq!((got.width, got.height), (r.out[0], r.out[1]));
        let diff = got.data.iter().zip(&r.rgb).filter(|(a, b)| a != b).count();
        assert_eq!(
            diff, 0,
            "{} {:?} -> {:?}: {diff} values differ from Pillow",
            r.filter, r.input, r.out
        );
    }
}

#[test]
fn every_preset_is_bit_exact_to_torchvision_and_timm() {
    let f = fixture();
    let presets: std::collections::BTreeSet<&str> =
        f.transform.iter().map(|t| t.preset.as_str()).collect();
    assert_eq!(
        presets.into_iter().collect::<Vec<_>>(),
        ["pad-square", "square", "timm", "torchvision"]
    );
    for t in &f.transform {
        let pre: Preprocess = PreprocessConfig {
            preset: Some(t.preset.clone()),
            ..PreprocessConfig::default()
        }
        .build()
        .unwrap()
        .unwrap();
        let out = pre.apply(&image(t.input[0], t.input[1])).unwrap();
        assert_eq!(out.len(), 3 * 224 * 224);
        assert_eq!(&out[..8], t.first.as_slice(), "{} {:?}", t.preset, t.input);
        let sum: f64 = out.iter().map(|&v| f64::from(v)).sum();
        assert!(
            (sum - t.sum).abs() < 1e-6 * t.sum.abs().max(1.0),
            "{} {:?}: {sum} vs {}",
            t.preset,
            t.input,
            t.sum
        );
        let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            sha, t.sha256,
            "{} {:?}: not bit-identical to the reference",
            t.preset, t.input
        );
    }
}
