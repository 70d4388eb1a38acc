//! PyTorch checkpoints load without Python and without running code. Fixtures:
//! weights/fixtures/make_checkpoint_fixtures.py (torch 2.15.0), one small state dict saved in
//! every way people meet, next to its safetensors export.

use std::path::{Path, PathBuf};
use std::process::Command;

use ventral::weights::{Init, TensorSpec, Weights};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("weights/fixtures/checkpoints")
        .join(name)
}

/// The specs of the tiny state dict: every float tensor of its safetensors export.
fn specs() -> Vec<TensorSpec> {
    let bytes = std::fs::read(fixture("tiny.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut specs: Vec<TensorSpec> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.ends_with("num_batches_tracked"))
        .map(|(name, v)| TensorSpec {
            name,
            shape: v.shape().to_vec(),
            init: Init::Constant(0.0),
        })
        .collect();
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    specs
}

fn load(name: &str) -> Weights {
    Weights::load(&fixture(name), &specs()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_way_of_saving_loads_to_the_safetensors_export_bit_for_bit() {
    // The export itself carries an I64 num_batches_tracked (safetensors.torch.save_file of a BN
    // model): it is skipped, not an error.
    let want = load("tiny.safetensors");
    assert_eq!(want.tensors().len(), 10);
    for name in [
        "tiny_zip.pt",
        "tiny_nested.pth",
        "tiny_model_key.pt",
        "tiny_module.pth",
        "tiny_legacy.pt",
        "tiny_py2_submodule.pth",
    ] {
        let got = load(name);
        assert_eq!(got.tensors(), want.tensors(), "{name}");
    }
    // The transposed view and the offset view are gathered, not read flat.
    let proj = want.get("proj.weight").unwrap();
    assert_eq!(proj.shape, [5, 3]);
    for (half, export) in [
        ("tiny_f16.pt", "tiny_f16.safetensors"),
        ("tiny_bf16.pt", "tiny_bf16.safetensors"),
    ] {
        let got = load(half);
        let exp = load(export);
        assert_eq!(got.tensors(), exp.tensors(), "{half}");
        // Rounded to half precision: close to, not equal to, the f32 values.
        let a = &got.get("fc.weight").unwrap().data;
        let b = &want.get("fc.weight").unwrap().data;
        assert!(a
            .iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-2 * y.abs().max(1e-3)));
        assert_ne!(a, b);
    }
}

#[test]
fn hostile_and_broken_files_are_refused_by_name() {
    let err = |name: &str| match Weights::load(&fixture(name), &specs()) {
        Ok(_) => panic!("{name} loaded"),
        Err(e) => e.to_string(),
    };
    let e = err("hostile_os_system.pt");
    assert!(e.contains("refused") && e.contains("os.system"), "{e}");
    assert!(e.contains("hostile_os_system.pt"), "{e}");
    let e = err("hostile_eval.pt");
    assert!(
        e.contains("refused") && e.contains("builtin__.eval'"),
        "{e}"
    );
    let e = err("truncated.pt");
    assert!(e.contains("truncated.pt") && e.contains("zip"), "{e}");
    let e = err("corrupt_pickle.pt");
    assert!(e.contains("corrupt") || e.contains("truncated"), "{e}");
    let e = err("tiny_extra.pt");
    assert!(e.contains("not tensors") && e.contains("'note'"), "{e}");
}

#[test]
fn a_checkpoint_for_another_architecture_lists_what_differs() {
    let dir = std::env::temp_dir().join(format!("ventral-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("alexnet.safetensors");
    let run = Command::new(env!("CARGO_BIN_EXE_ventral"))
        .args(["weights", "--model", "alexnet", "--convert"])
        .arg(fixture("tiny_zip.pt"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("missing tensors: features.3.weight [192, 64, 5, 5]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unexpected tensors: fc.bias [5]"),
        "{stderr}"
    );
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
