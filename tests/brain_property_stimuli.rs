//! The brain-property battery's stimulus sets (`ventral::measures::properties::stimuli::load`):
//! the published `.mat` files in `../shared/data/brain-properties` (counts, sizes after the
//! experiments' crops and pads, tables and a few exact values read with scipy.io.loadmat), the
//! user-given sets (Thatcher, mirror, scenes, textures) on small generated images, and the
//! errors for files that are present but wrong.

use std::path::{Path, PathBuf};

use ventral::measures::properties::stimuli::{load, ExperimentStimuli, Loaded, StimulusPaths};
use ventral::measures::properties::Experiment;
use ventral::stimuli::Rgb8;

/// The shared data folder, or None (printed) when it is absent outside CI.
fn data_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/brain-properties");
    if root.is_dir() {
        return Some(root);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} is missing (required in CI)", root.display());
    }
    eprintln!("{} not found; skipping", root.display());
    None
}

/// A fresh, empty temporary folder for `tag`.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ventral-bps-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ready(exp: Experiment, paths: &StimulusPaths) -> ExperimentStimuli {
    match load(exp, paths).unwrap() {
        Loaded::Ready(s) => s,
        Loaded::Missing(why) => panic!("{exp:?}: missing: {why}"),
    }
}

fn sizes(s: &ExperimentStimuli) -> Vec<(usize, usize)> {
    s.images.iter().map(|i| (i.height, i.width)).collect()
}

fn px(i: &Rgb8, y: usize, x: usize) -> [u8; 3] {
    let o = (y * i.width + x) * 3;
    [i.data[o], i.data[o + 1], i.data[o + 2]]
}

fn sum(i: &Rgb8) -> u64 {
    i.data.iter().map(|&v| u64::from(v)).sum()
}

/// Counts, sizes (rows × cols after crops/pads), parts, tables and a few values of every
/// experiment in the shared folder.
#[test]
fn published_sets_load_with_their_counts_sizes_and_tables() {
    let Some(root) = data_root() else { return };
    let paths = StimulusPaths {
        root: Some(root.clone()),
        ..StimulusPaths::default()
    };
    let t0 = std::time::Instant::now();

    let s = ready(Experiment::Normalisation, &paths);
    assert_eq!(s.images.len(), 267);
    assert!(sizes(&s).iter().all(|&d| d == (224, 224)));
    assert_eq!(s.part("singletons"), Some(0..147));
    assert_eq!(s.part("pairs"), Some(147..207));
    assert_eq!(s.part("triplets"), Some(207..267));
    assert_eq!(s.names[0], "div_norm_stim.mat:stim{1}");
    assert_eq!(s.names[266], "div_norm_stim.mat:stim{267}");
    assert_eq!(sum(&s.images[0]), 485_682);
    assert_eq!(sum(&s.images[134]), 763_830);
    let pos = s.table("stim_pos").unwrap();
    assert_eq!((pos.rows, pos.cols), (267, 3));
    // 1-based object ids, 999 = empty, position-major singletons.
    assert_eq!(pos.row(0), [1.0, 999.0, 999.0]);
    assert_eq!(pos.row(48), [49.0, 999.0, 999.0]);
    assert_eq!(pos.row(49), [999.0, 1.0, 999.0]);
    assert_eq!(pos.row(98), [999.0, 999.0, 1.0]);
    assert_eq!(pos.row(147), [38.0, 999.0, 33.0]);
    assert_eq!(pos.row(266), [28.0, 38.0, 48.0]);
    assert_eq!(s.sources.len(), 2);

    let s = ready(Experiment::Sparseness, &paths);
    assert_eq!(s.images.len(), 44);
    assert!(sizes(&s).iter().all(|&d| d == (500, 500)));
    assert_eq!(s.part("morphlines"), Some(0..44));
    assert_eq!(s.part("shapes"), None);
    assert_eq!(s.part("textures"), None);
    assert_eq!(px(&s.images[0], 250, 187), [23, 23, 23]);
    assert_eq!(sum(&s.images[0]), 3_774_597);

    let s = ready(Experiment::Weber, &paths);
    assert_eq!(s.images.len(), 20);
    assert!(sizes(&s).iter().all(|&d| d == (224, 224)));
    // Image 0: the L1 = 55 bar of pair 0, columns 84..=138 of rows 101..=120 (SCIENCE.md §6.7).
    assert_eq!(px(&s.images[0], 112, 84), [255; 3]);
    assert_eq!(px(&s.images[0], 112, 83), [0; 3]);
    assert_eq!(px(&s.images[0], 100, 100), [0; 3]);
    assert_eq!(sum(&s.images[0]), 841_500); // 20 × 55 × 3 × 255
    assert_eq!(sum(&s.images[11]), 1_162_800); // L2 = 76
    let rel = s.table("rel").unwrap();
    let abs = s.table("abs").unwrap();
    assert_eq!((rel.rows, rel.cols, abs.rows, abs.cols), (10, 1, 10, 1));
    assert_eq!(rel.data[2], 0.46875);
    assert_eq!(rel.data[9], 0.73);
    assert_eq!(
        abs.data,
        [19.0, 24.0, 30.0, 37.0, 47.0, 30.0, 38.0, 47.0, 58.0, 73.0]
    );

    let s = ready(Experiment::RelativeSize, &paths);
    assert_eq!(s.images.len(), 96);
    assert!(sizes(&s).iter().all(|&d| d == (348, 348)));
    assert_eq!(sum(&s.images[49]), 6_688_908);

    let s = ready(Experiment::SurfaceInvariance, &paths);
    assert_eq!(s.images.len(), 78);
    assert!(sizes(&s).iter().all(|&d| d == (400, 400)));
    assert_eq!(px(&s.images[0], 200, 58), [4, 2, 4]);
    assert_eq!(sum(&s.images[40]), 18_626_032);

    let s = ready(Experiment::ThreeD, &paths);
    assert_eq!(s.images.len(), 12);
    assert!(sizes(&s).iter().all(|&d| d == (224, 224)));
    assert_eq!(px(&s.images[0], 0, 0), [255; 3]);
    assert_eq!(sum(&s.images[7]), 37_212_738);

    let s = ready(Experiment::Occlusion, &paths);
    assert_eq!(s.images.len(), 12);
    let mut want = vec![(232, 232); 12];
    want[2] = (232, 233); // stored 251×252
    assert_eq!(sizes(&s), want);
    assert_eq!(px(&s.images[0], 0, 0), [189, 190, 192]);
    assert_eq!(sum(&s.images[0]), 28_061_288);
    assert_eq!(sum(&s.images[8]), 27_874_451);

    let s = ready(Experiment::PartMatching, &paths);
    assert_eq!(s.images.len(), 6);
    assert!(sizes(&s).iter().all(|&d| d == (224, 224)));
    assert_eq!(s.names[0], "obj_parts_a_stim.mat:img{1}");
    assert_eq!(sum(&s.images[4]), 25_393_419);

    let s = ready(Experiment::NaturalParts, &paths);
    assert_eq!(s.images.len(), 98);
    assert!(sizes(&s).iter().all(|&d| d == (500, 500)));
    let i0 = &s.images[0];
    for y in [0, 250, 499] {
        for x in (0..50).chain(450..500) {
            assert_eq!(px(i0, y, x), [0; 3]);
        }
    }
    assert_eq!(px(i0, 250, 185), [208; 3]);
    assert_eq!(sum(i0), 108_397_275);
    assert_eq!(sum(&s.images[50]), 85_807_971);
    for (name, rows, cols) in [
        ("Xn", 492, 43),
        ("Xu", 492, 43),
        ("img_pairs", 984, 2),
        ("common_stim_pair_inds", 21, 1),
    ] {
        let t = s.table(name).unwrap();
        assert_eq!((t.rows, t.cols), (rows, cols), "{name}");
    }
    let xn = s.table("Xn").unwrap();
    let nz: Vec<usize> = (0..43).filter(|&c| xn.get(0, c) != 0.0).collect();
    assert_eq!(nz, [21, 42]);
    let xu = s.table("Xu").unwrap();
    let nz: Vec<usize> = (0..43).filter(|&c| xu.get(5, c) != 0.0).collect();
    assert_eq!(nz, [26, 42]);
    let pairs = s.table("img_pairs").unwrap();
    assert_eq!(pairs.row(0), [1.0, 2.0]);
    assert_eq!(pairs.row(2), [1.0, 4.0]);
    assert_eq!(pairs.row(983), [97.0, 98.0]);
    let common = s.table("common_stim_pair_inds").unwrap();
    assert_eq!(common.data[..3], [8.0, 13.0, 18.0]);
    assert_eq!(common.data[20], 470.0);

    let s = ready(Experiment::GlobalAdvantage, &paths);
    assert_eq!(s.images.len(), 49);
    assert!(sizes(&s).iter().all(|&d| d == (500, 500)));
    assert_eq!(px(&s.images[0], 0, 0), [12; 3]);
    assert_eq!(sum(&s.images[25]), 16_118_650);
    let p = s.table("pairs").unwrap();
    assert_eq!((p.rows, p.cols), (1176, 4));
    assert_eq!(p.row(0), [1.0, 1.0, 2.0, 1.0]);
    assert_eq!(p.row(100), [3.0, 1.0, 2.0, 2.0]);
    assert_eq!(p.row(1175), [6.0, 7.0, 7.0, 7.0]);

    eprintln!("9 experiments loaded in {:.2?}", t0.elapsed());

    // The user-given sets are missing without their paths (the root does not hold them).
    for e in [
        Experiment::Thatcher,
        Experiment::MirrorConfusion,
        Experiment::SceneIncongruence,
    ] {
        assert!(
            matches!(load(e, &paths).unwrap(), Loaded::Missing(_)),
            "{e:?}"
        );
    }
}

/// A w×h PNG whose pixel (y, x) is [y, x, k] (mod 256).
fn write_png(path: &Path, w: u32, h: u32, k: u8) {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([y as u8, x as u8, k]));
    img.save(path).unwrap();
}

#[test]
fn textures_add_the_shapes_and_the_texture_set() {
    let Some(root) = data_root() else { return };
    let dir = temp_dir("textures");
    for k in 0..50u8 {
        write_png(&dir.join(format!("t{k:02}.png")), 3, 2, k);
    }
    let paths = StimulusPaths {
        root: Some(root),
        textures: Some(dir.clone()),
        ..StimulusPaths::default()
    };
    let s = ready(Experiment::Sparseness, &paths);
    assert_eq!(s.part("morphlines"), Some(0..44));
    assert_eq!(s.part("shapes"), Some(44..94));
    assert_eq!(s.part("textures"), Some(94..144));
    assert!(s.images[44..94]
        .iter()
        .all(|i| (i.height, i.width) == (233, 233)));
    assert_eq!(px(&s.images[44], 116, 70), [1, 1, 1]);
    assert_eq!(sum(&s.images[44]), 2_414_748);
    assert_eq!(s.names[94], "t00.png");
    assert_eq!(px(&s.images[143], 1, 2), [1, 2, 49]);
    // 49 textures: an error naming the folder and the count.
    std::fs::remove_file(dir.join("t49.png")).unwrap();
    let e = load(Experiment::Sparseness, &paths)
        .unwrap_err()
        .to_string();
    assert!(e.contains("49") && e.contains("50"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    // A texture folder that is not there is an error, not a silent 5a-only set.
    assert!(load(Experiment::Sparseness, &paths).is_err());
}

#[test]
fn thatcher_mirror_and_scene_sets_from_user_files() {
    let dir = temp_dir("user");
    // Thatcher: 80 images of 102 rows → rows 49..=51 kept (MATLAB 50:end-50).
    let mut csv = String::from("file,face\n");
    for k in 0..80u8 {
        let name = format!("f{k:02}.png");
        write_png(&dir.join(&name), 4, 102, k);
        csv.push_str(&format!("{name},{}\n", k % 20));
    }
    std::fs::write(dir.join("thatcher.csv"), &csv).unwrap();
    let paths = StimulusPaths {
        thatcher: Some(dir.join("thatcher.csv")),
        mirror: Some(dir.join("objects")),
        scenes: Some(dir.join("scenes.csv")),
        ..StimulusPaths::default()
    };
    let s = ready(Experiment::Thatcher, &paths);
    assert_eq!(s.images.len(), 80);
    assert!(sizes(&s).iter().all(|&d| d == (3, 4)));
    assert_eq!(px(&s.images[7], 0, 3), [49, 3, 7]);
    assert_eq!(px(&s.images[7], 1, 0), [50, 0, 7]);
    assert_eq!(px(&s.images[7], 2, 1), [51, 1, 7]);
    assert_eq!(s.names[79], "f79.png");
    // 79 lines: an error naming the manifest and 80.
    let short: String = csv.lines().take(80).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("short.csv"), short).unwrap();
    let e = load(
        Experiment::Thatcher,
        &StimulusPaths {
            thatcher: Some(dir.join("short.csv")),
            ..StimulusPaths::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("short.csv") && e.contains("79") && e.contains("80"),
        "{e}"
    );

    // Mirror: a folder given but absent is an error naming it; 3 objects → 9 images.
    let e = load(Experiment::MirrorConfusion, &paths)
        .unwrap_err()
        .to_string();
    assert!(e.contains("objects") && e.contains("not found"), "{e}");
    std::fs::create_dir(dir.join("objects")).unwrap();
    for k in 0..3u8 {
        write_png(&dir.join(format!("objects/o{k}.png")), 3, 2, k);
    }
    let s = ready(Experiment::MirrorConfusion, &paths);
    assert_eq!(s.images.len(), 9);
    assert_eq!(s.part("original"), Some(0..3));
    assert_eq!(s.part("lr"), Some(3..6));
    assert_eq!(s.part("ud"), Some(6..9));
    assert_eq!(s.names[4], "o1.png:lr");
    assert_eq!(px(&s.images[4], 0, 0), [0, 2, 1]); // (y 0, x 2) of o1
    assert_eq!(px(&s.images[7], 0, 2), [1, 2, 1]); // (y 1, x 2) of o1

    // Scenes: a manifest given but absent is an error; labels 0-based, congruence 1/0.
    let e = load(Experiment::SceneIncongruence, &paths)
        .unwrap_err()
        .to_string();
    assert!(e.contains("scenes.csv") && e.contains("not found"), "{e}");
    std::fs::write(
        dir.join("scenes.csv"),
        "file,condition,label\nf00.png,congruent,597\nf01.png,incongruent,597\nf02.png,congruent,1\n",
    )
    .unwrap();
    let s = ready(Experiment::SceneIncongruence, &paths);
    assert_eq!(s.images.len(), 3);
    assert_eq!(s.table("labels").unwrap().data, [596.0, 596.0, 0.0]);
    assert_eq!(s.table("congruent").unwrap().data, [1.0, 0.0, 1.0]);
    assert_eq!((s.images[0].height, s.images[0].width), (102, 4));
    std::fs::write(
        dir.join("scenes.csv"),
        "file,condition,label\nf00.png,congruent,1001\nf01.png,incongruent,5\n",
    )
    .unwrap();
    let e = load(Experiment::SceneIncongruence, &paths)
        .unwrap_err()
        .to_string();
    assert!(e.contains("scenes.csv") && e.contains("1001"), "{e}");
    std::fs::write(
        dir.join("scenes.csv"),
        "file,condition,label\nf00.png,congruent,1\nf01.png,congruent,5\n",
    )
    .unwrap();
    let e = load(Experiment::SceneIncongruence, &paths)
        .unwrap_err()
        .to_string();
    assert!(e.contains("0 incongruent"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `stim` of 5 cells where 3d.mat needs 12: an error naming the file, the variable and both
/// counts. A missing file under a root that exists is `Missing`, naming the path.
#[test]
fn wrong_cell_count_is_an_error_naming_the_file() {
    let root = temp_dir("wrong");
    std::fs::create_dir(root.join("exp09_3d")).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mat/stim5.mat");
    std::fs::copy(&fixture, root.join("exp09_3d/3d.mat")).unwrap();
    let paths = StimulusPaths {
        root: Some(root.clone()),
        ..StimulusPaths::default()
    };
    let e = load(Experiment::ThreeD, &paths).unwrap_err().to_string();
    assert!(
        e.contains("3d.mat") && e.contains("`stim`") && e.contains("5 cells") && e.contains("12"),
        "{e}"
    );
    // Another experiment of the same root: its file is not there.
    let Loaded::Missing(why) = load(Experiment::Occlusion, &paths).unwrap() else {
        panic!("occlusion loaded from nothing")
    };
    assert!(why.contains("occlusion_set.mat"), "{why}");
    // A wrong variable name.
    std::fs::create_dir(root.join("exp07_relative_size")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mat/cells.mat"),
        root.join("exp07_relative_size/relSize.mat"),
    )
    .unwrap();
    let e = load(Experiment::RelativeSize, &paths)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("relSize.mat") && e.contains("no variable `stim`"),
        "{e}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
