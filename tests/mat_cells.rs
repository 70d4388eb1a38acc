//! The general MAT-file reader (`ventral::mat::read_mat`) on cell arrays, structs, char arrays
//! and images written by scipy.io.savemat (tests/fixtures/mat/make_mat_fixtures.py), compressed
//! and not; and a sweep over every truncation and single-byte corruption of those files.

use std::path::{Path, PathBuf};

use ventral::mat::{parse_mat, read_mat, read_mat_file, MatData, MatValue};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mat")
        .join(name)
}

/// The generator's pixel rule: image k, pixel (y, x), channel c.
fn px(k: usize, y: usize, x: usize, c: usize) -> u8 {
    ((37 * y + 11 * x + 101 * c + 53 * k) % 256) as u8
}

fn numeric(v: &MatValue) -> &ventral::mat::MatArray {
    match v {
        MatValue::Numeric(a) => a,
        other => panic!("expected a numeric array, found {other}"),
    }
}

fn check_cells_file(path: &Path) {
    let vars = read_mat_file(path).unwrap();
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["imgs", "s", "row", "sa", "plain"],
        "{}",
        path.display()
    );
    let get = |n: &str| &vars.iter().find(|(k, _)| k == n).unwrap().1;

    // imgs: 3×1 cell of images.
    let MatValue::Cell { dims, items } = get("imgs") else {
        panic!("imgs is not a cell")
    };
    assert_eq!(dims, &[3, 1]);
    assert_eq!(items.len(), 3);
    // Gray 3×5 uint8, column-major as stored.
    let g = numeric(&items[0]);
    assert_eq!((g.class, g.dims.as_slice()), ("uint8", &[3usize, 5][..]));
    let MatData::U8(gd) = &g.data else {
        panic!("uint8 is not bytes")
    };
    for y in 0..3 {
        for x in 0..5 {
            assert_eq!(gd[y + 3 * x], px(0, y, x, 0));
        }
    }
    let gi = items[0].to_rgb8(path, "imgs{1}").unwrap();
    assert_eq!((gi.width, gi.height), (5, 3));
    for y in 0..3 {
        for x in 0..5 {
            let o = (y * 5 + x) * 3;
            assert_eq!(gi.data[o..o + 3], [px(0, y, x, 0); 3], "gray ({y},{x})");
        }
    }
    assert_eq!(gi.data[(2 * 5 + 4) * 3], 118); // 37·2 + 11·4
                                               // RGB 4×2×3 uint8: MATLAB (y, x, c) at y + H·(x + W·c).
    let r = numeric(&items[1]);
    assert_eq!(r.dims, [4, 2, 3]);
    assert_eq!(
        r.data.get(3 + 4 * (1 + 2 * 2)),
        Some(f64::from(px(1, 3, 1, 2)))
    );
    let ri = items[1].to_rgb8(path, "imgs{2}").unwrap();
    assert_eq!((ri.width, ri.height), (2, 4));
    for y in 0..4 {
        for x in 0..2 {
            for c in 0..3 {
                assert_eq!(
                    ri.data[(y * 2 + x) * 3 + c],
                    px(1, y, x, c),
                    "rgb ({y},{x},{c})"
                );
            }
        }
    }
    // float32 2×3×3: px + 0.25, rounded; three pixels clamp / round half away from zero.
    let f = numeric(&items[2]);
    assert_eq!(
        (f.class, f.dims.as_slice()),
        ("single", &[2usize, 3, 3][..])
    );
    let MatData::F64(fd) = &f.data else {
        panic!("single is not f64")
    };
    assert_eq!(fd[1 + 2 * (2 + 3 * 2)], 300.0);
    assert_eq!(fd[1 + 2 * (1 + 3 * 2)], f64::from(px(2, 1, 1, 2)) + 0.25);
    let fi = items[2].to_rgb8(path, "imgs{3}").unwrap();
    assert_eq!((fi.width, fi.height), (3, 2));
    for y in 0..2 {
        for x in 0..3 {
            for c in 0..3 {
                let want = match (y, x, c) {
                    (0, 0, 0) => 0,
                    (1, 2, 2) => 255,
                    (0, 1, 1) => 13,
                    _ => px(2, y, x, c),
                };
                assert_eq!(fi.data[(y * 3 + x) * 3 + c], want, "float ({y},{x},{c})");
            }
        }
    }
    // Not an image: a struct, a 4-D array.
    let e = get("s").to_rgb8(path, "s").unwrap_err().to_string();
    assert!(
        e.contains("cells") && e.contains("s: expected an image"),
        "{e}"
    );

    // s: 1×1 struct, fields in order.
    let MatValue::Struct { dims, fields } = get("s") else {
        panic!("s is not a struct")
    };
    assert_eq!(dims, &[1, 1]);
    let fnames: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(fnames, ["col", "m"]);
    let s = get("s");
    assert_eq!(
        s.field("col").unwrap().matrix(path, "s.col").unwrap(),
        (4, 1, vec![1.5, -2.0, 3.25, 1e10])
    );
    let m = s.field("m").unwrap();
    assert_eq!(numeric(m).class, "uint8");
    assert_eq!(
        m.matrix(path, "s.m").unwrap(),
        (2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 250.0])
    );
    assert!(s.field("nope").is_none());

    // row: 1×4 cell of mixed values, one nested cell.
    let MatValue::Cell { dims, items } = get("row") else {
        panic!("row is not a cell")
    };
    assert_eq!(dims, &[1, 4]);
    assert_eq!(items[0], MatValue::Char("hello".into()));
    assert_eq!(items[1].matrix(path, "row{2}").unwrap(), (1, 1, vec![7.0]));
    assert_eq!(numeric(&items[2]).class, "int16");
    assert_eq!(
        items[2].matrix(path, "row{3}").unwrap(),
        (2, 2, vec![-1.0, 2.0, 3.0, -4.0])
    );
    let MatValue::Cell { dims, items: inner } = &items[3] else {
        panic!("row{{4}} is not a cell")
    };
    assert_eq!(dims, &[1, 2]);
    assert_eq!(inner[0], MatValue::Char("ab".into()));
    assert_eq!(numeric(&inner[1]).data, MatData::U8(vec![9]));
    let e = items[0].matrix(path, "row{1}").unwrap_err().to_string();
    assert!(e.contains("row{1}") && e.contains("char"), "{e}");

    // sa: 1×2 struct array.
    let MatValue::Struct { dims, fields } = get("sa") else {
        panic!("sa is not a struct")
    };
    assert_eq!(dims, &[1, 2]);
    assert_eq!(fields[0].0, "p");
    let p: Vec<f64> = fields[0]
        .1
        .iter()
        .map(|v| v.matrix(path, "sa.p").unwrap().2[0])
        .collect();
    assert_eq!(p, [1.0, 2.0]);
    assert_eq!(fields[1].0, "q");
    assert_eq!(
        fields[1].1,
        [MatValue::Char("x".into()), MatValue::Char("yz".into())]
    );

    // plain: a double matrix; parse_mat sees only it, dimensions reversed.
    assert_eq!(
        get("plain").matrix(path, "plain").unwrap(),
        (2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    );
    let bytes = std::fs::read(path).unwrap();
    let arrays = parse_mat(&bytes, path).unwrap();
    assert_eq!(arrays.len(), 1);
    assert_eq!(arrays[0].0, "plain");
    assert_eq!(arrays[0].1.shape, [3, 2]);
    assert_eq!(arrays[0].1.data, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
}

#[test]
fn uncompressed_cells_structs_and_images() {
    check_cells_file(&fixture("cells.mat"));
}

#[test]
fn compressed_cells_structs_and_images() {
    check_cells_file(&fixture("cells_z.mat"));
    assert_eq!(
        read_mat_file(&fixture("cells.mat")).unwrap(),
        read_mat_file(&fixture("cells_z.mat")).unwrap()
    );
}

#[test]
fn wrong_count_fixture_has_five_cells() {
    let v = read_mat_file(&fixture("stim5.mat")).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].0, "stim");
    let items = v[0].1.cells().unwrap();
    assert_eq!(items.len(), 5);
    let img = items[4].to_rgb8(Path::new("stim5.mat"), "stim{5}").unwrap();
    assert_eq!((img.width, img.height), (2, 2));
    assert_eq!(img.data[(2 + 1) * 3 + 2], px(4, 1, 1, 2));
}

#[test]
fn errors_name_the_file_and_the_byte() {
    let missing = fixture("no-such-file.mat");
    let e = read_mat_file(&missing).unwrap_err().to_string();
    assert!(e.contains("no-such-file.mat"), "{e}");
    let path = fixture("cells.mat");
    let bytes = std::fs::read(&path).unwrap();
    let e = read_mat(&bytes[..bytes.len() - 16], &path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cells.mat") && e.contains("byte ") && e.contains("truncated"),
        "{e}"
    );
    let zpath = fixture("cells_z.mat");
    let z = std::fs::read(&zpath).unwrap();
    let e = read_mat(&z[..z.len() - 3], &zpath).unwrap_err().to_string();
    assert!(e.contains("cells_z.mat") && e.contains("byte"), "{e}");
}

/// Touches everything a caller might ask of a value.
fn exercise(v: &MatValue) {
    let p = Path::new("sweep.mat");
    let _ = v.to_rgb8(p, "v");
    let _ = v.matrix(p, "v");
    let _ = v.to_string();
    match v {
        MatValue::Cell { items, .. } => items.iter().for_each(exercise),
        MatValue::Struct { fields, .. } => {
            for (name, values) in fields {
                let _ = v.field(name);
                values.iter().for_each(exercise);
            }
        }
        _ => {}
    }
}

fn parse_everything(bytes: &[u8], what: &str) {
    let p = Path::new("sweep.mat");
    let r = std::panic::catch_unwind(|| {
        if let Ok(vars) = read_mat(bytes, p) {
            vars.iter().for_each(|(_, v)| exercise(v));
        }
        let _ = parse_mat(bytes, p);
    });
    assert!(r.is_ok(), "panic on {what}");
}

#[test]
fn no_panic_on_any_truncation_or_byte_flip() {
    for name in ["cells.mat", "cells_z.mat", "stim5.mat"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let full = read_mat(&bytes, Path::new(name)).unwrap();
        for len in 0..bytes.len() {
            parse_everything(&bytes[..len], &format!("{name} truncated to {len} bytes"));
            // A truncated file reads as an error or, cut between variables, as the first ones.
            if let Ok(vars) = read_mat(&bytes[..len], Path::new(name)) {
                assert_eq!(
                    vars[..],
                    full[..vars.len()],
                    "{name} truncated to {len} bytes"
                );
            }
        }
        let mut b = bytes.clone();
        for i in 0..b.len() {
            b[i] ^= 0xFF;
            parse_everything(&b, &format!("{name} with byte {i} flipped"));
            b[i] ^= 0xFF;
        }
    }
}
