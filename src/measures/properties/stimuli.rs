//! The battery's stimulus sets (SCIENCE.md §6; the files are described in
//! `shared/data/brain-properties/README.md`): the published `.mat` files of nine experiments under
//! one root folder (`<root>/<Experiment::folder()>/<file>.mat`), and user-given sets for the
//! other three (Thatcher faces and scene pairs as CSV manifests, mirror-confusion objects as an
//! image folder) and for the textures of 5b.
//!
//! [`load`] returns the images after the experiment's own crops and pads (§6.2, §6.12, §6.14),
//! before any network preprocessing, with named parts and the numeric tables as stored in the
//! files (1-based indices stay 1-based). Checked in the published files (scipy.io.loadmat and
//! this reader agree):
//! * `div_norm_stim_pos.mat` `stim_pos` (267×3 uint16): object ids are **1-based** (1–49), 999 =
//!   empty; rows 0–48 are `[k, 999, 999]`, 49–97 `[999, k, 999]`, 98–146 `[999, 999, k]`
//!   (position-major), 147–206 hold two ids, 207–266 three.
//! * `data_matrices.mat` `img_pairs` (984×2) and `common_stim_pair_inds` (21×1) are 1-based;
//!   `Xn`/`Xu` are 0/1 design matrices whose column 43 is the constant.
//! * `img_pair_inds.mat` `imagepairDetails` (1176×4): g1, l1, g2, l2, each 1–7.
//! * `weber_distances.mat` `distances.rel` = ratios, `distances.abs` = Δ in pixels (10×1 each).
//! * Every image set is a column cell array (N×1) except `3d.mat`'s `stim` (1×12); the order is
//!   the cells' linear order either way.
//! * `occlusion_set.mat` image 2 is 251×252, the others 251×251; `shapes.mat` holds 80 RGB then
//!   48 gray 233×233 images.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{Experiment, Table};
use crate::error::{Error, Result};
use crate::mat::{dims_text, read_mat_file, MatValue};
use crate::stimuli::{list_images, load_rgb, Rgb8, StimulusSet};

/// Where each experiment's stimuli are (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StimulusPaths {
    /// The folder holding `exp04_divisive_normalization/`, … (the published `.mat` files).
    pub root: Option<PathBuf>,
    /// CSV manifest of the 80 Thatcher images (`file` column, §6.2 order).
    pub thatcher: Option<PathBuf>,
    /// Folder of mirror-confusion object images (flipped here).
    pub mirror: Option<PathBuf>,
    /// CSV manifest of the scene-incongruence images (`file`, `condition`, `label`).
    pub scenes: Option<PathBuf>,
    /// Folder of the 50 textures of 5b.
    pub textures: Option<PathBuf>,
}

/// One experiment's images, in the order its indices expect.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentStimuli {
    pub experiment: Experiment,
    /// One per image: "div_norm_stim.mat:stim{1}" (1-based cell index) or a file name
    /// ("cat.png", "cat.png:lr" for a flip).
    pub names: Vec<String>,
    /// After the experiment's own crops and pads (§6), before network preprocessing.
    pub images: Vec<Rgb8>,
    /// Named row ranges of `images`.
    pub parts: Vec<(String, Range<usize>)>,
    /// Numeric tables as in the files (1-based indices stay 1-based).
    pub tables: BTreeMap<String, Table>,
    /// The `.mat` files, manifests and image folders read.
    pub sources: Vec<PathBuf>,
}

impl ExperimentStimuli {
    fn new(experiment: Experiment) -> ExperimentStimuli {
        ExperimentStimuli {
            experiment,
            names: Vec::new(),
            images: Vec::new(),
            parts: Vec::new(),
            tables: BTreeMap::new(),
            sources: Vec::new(),
        }
    }

    /// The row range of part `name`.
    pub fn part(&self, name: &str) -> Option<Range<usize>> {
        self.parts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.clone())
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// Appends images as part `name`.
    fn push_part(&mut self, name: &str, images: Vec<(String, Rgb8)>) {
        let start = self.images.len();
        for (n, img) in images {
            self.names.push(n);
            self.images.push(img);
        }
        self.parts
            .push((name.to_string(), start..self.images.len()));
    }

    fn push(&mut self, images: Vec<(String, Rgb8)>) {
        for (n, img) in images {
            self.names.push(n);
            self.images.push(img);
        }
    }
}

/// An experiment's stimuli, or why they are not available.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Ready(ExperimentStimuli),
    /// Why (naming the path looked for or the setting that is not given).
    Missing(String),
}

/// `img` without `top`, `bottom` rows and `left`, `right` columns; None when nothing would be
/// left.
pub fn crop(img: &Rgb8, top: usize, bottom: usize, left: usize, right: usize) -> Option<Rgb8> {
    let h = img.height.checked_sub(top)?.checked_sub(bottom)?;
    let w = img.width.checked_sub(left)?.checked_sub(right)?;
    if h == 0 || w == 0 || img.data.len() != img.width.checked_mul(img.height)?.checked_mul(3)? {
        return None;
    }
    let mut data = Vec::with_capacity(h * w * 3);
    for y in top..top + h {
        let row = (y * img.width + left) * 3;
        data.extend_from_slice(img.data.get(row..row + w * 3)?);
    }
    Some(Rgb8 {
        width: w,
        height: h,
        data,
    })
}

/// `img` mirrored about the vertical axis (left–right).
pub fn flip_lr(img: &Rgb8) -> Rgb8 {
    let mut data = Vec::with_capacity(img.data.len());
    for row in img.data.chunks_exact(img.width.max(1) * 3) {
        for px in row.chunks_exact(3).rev() {
            data.extend_from_slice(px);
        }
    }
    Rgb8 {
        width: img.width,
        height: img.height,
        data,
    }
}

/// `img` mirrored about the horizontal axis (up–down).
pub fn flip_ud(img: &Rgb8) -> Rgb8 {
    let mut data = Vec::with_capacity(img.data.len());
    for row in img.data.chunks_exact(img.width.max(1) * 3).rev() {
        data.extend_from_slice(row);
    }
    Rgb8 {
        width: img.width,
        height: img.height,
        data,
    }
}

/// `img` with `n` black columns added on both sides (MATLAB `padarray(img, [0 n], 0, 'both')`).
pub fn pad_columns(img: &Rgb8, n: usize) -> Rgb8 {
    let width = img.width + 2 * n;
    let mut data = Vec::with_capacity(width * img.height * 3);
    for row in img.data.chunks_exact(img.width.max(1) * 3) {
        data.extend(std::iter::repeat_n(0u8, n * 3));
        data.extend_from_slice(row);
        data.extend(std::iter::repeat_n(0u8, n * 3));
    }
    Rgb8 {
        width,
        height: img.height,
        data,
    }
}

/// What the images of a cell array must look like.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// (rows, cols), or any size.
    size: Option<(usize, usize)>,
    /// Channel counts accepted (1 = gray, 3 = RGB).
    channels: &'static [usize],
}

const GRAY: &[usize] = &[1];
const RGB: &[usize] = &[3];
const ANY: &[usize] = &[1, 3];

fn shape(rows: usize, cols: usize, channels: &'static [usize]) -> Shape {
    Shape {
        size: Some((rows, cols)),
        channels,
    }
}

fn shape_text(s: &Shape) -> String {
    let size = match s.size {
        Some((r, c)) => format!("{r}×{c}"),
        None => "H×W".into(),
    };
    match s.channels {
        [1] => format!("{size} gray"),
        [3] => format!("{size}×3"),
        _ => format!("{size} gray or {size}×3"),
    }
}

/// One `.mat` file's variables.
struct MatFile {
    path: PathBuf,
    file: String,
    vars: Vec<(String, MatValue)>,
}

impl MatFile {
    fn err(&self, m: impl std::fmt::Display) -> Error {
        Error::file(&self.path, m)
    }

    fn var(&self, name: &str) -> Result<&MatValue> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                self.err(format!(
                    "no variable `{name}` (the file has: {})",
                    self.vars
                        .iter()
                        .map(|(n, v)| format!("`{n}` ({v})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// The first `keep` of the `count` images of cell array `var`, checked against `shape`.
    fn images(
        &self,
        var: &str,
        count: usize,
        keep: usize,
        shape: Shape,
    ) -> Result<Vec<(String, Rgb8)>> {
        let v = self.var(var)?;
        let Some(items) = v.cells() else {
            return Err(self.err(format!(
                "variable `{var}`: expected a cell array of {count} images, found {v}"
            )));
        };
        if items.len() != count {
            return Err(self.err(format!(
                "variable `{var}`: {} cells, expected {count}",
                items.len()
            )));
        }
        let mut out = Vec::with_capacity(keep);
        for (i, item) in items.iter().take(keep).enumerate() {
            let what = format!("{var}{{{}}}", i + 1);
            let ok = match item {
                MatValue::Numeric(a) => {
                    let (size, ch) = match *a.dims.as_slice() {
                        [h, w] => ((h, w), 1),
                        [h, w, c] => ((h, w), c),
                        _ => ((0, 0), 0),
                    };
                    shape.channels.contains(&ch) && shape.size.is_none_or(|s| s == size)
                }
                _ => false,
            };
            if !ok {
                return Err(self.err(format!(
                    "{what}: expected a {} image, found {item}",
                    shape_text(&shape)
                )));
            }
            out.push((
                format!("{}:{what}", self.file),
                item.to_rgb8(&self.path, &what)?,
            ));
        }
        Ok(out)
    }

    /// A `rows × cols` numeric table from `v` (named `what`).
    fn table(&self, v: &MatValue, what: &str, rows: usize, cols: usize) -> Result<Table> {
        let (r, c, data) = v.matrix(&self.path, what)?;
        if (r, c) != (rows, cols) {
            return Err(self.err(format!(
                "{what}: expected a {rows}×{cols} matrix, found {v}"
            )));
        }
        Ok(Table {
            rows: r,
            cols: c,
            data,
        })
    }

    /// Field `field` of the 1×1 struct `var`.
    fn field(&self, var: &str, field: &str) -> Result<&MatValue> {
        let v = self.var(var)?;
        let MatValue::Struct { dims, .. } = v else {
            return Err(self.err(format!(
                "variable `{var}`: expected a 1×1 struct, found {v}"
            )));
        };
        if dims.iter().product::<usize>() != 1 {
            return Err(self.err(format!(
                "variable `{var}`: expected a 1×1 struct, found {}",
                dims_text(dims)
            )));
        }
        v.field(field)
            .ok_or_else(|| self.err(format!("variable `{var}` ({v}) has no field `{field}`")))
    }
}

/// Opens `<root>/<folder of exp>/<file>`, or says why it is missing.
fn open(
    root: Option<&Path>,
    exp: Experiment,
    file: &str,
) -> Result<std::result::Result<MatFile, String>> {
    let Some(root) = root else {
        return Ok(Err(format!(
            "no stimulus folder given (the `stimuli` setting: the folder holding {}/{file})",
            exp.folder()
        )));
    };
    let path = root.join(exp.folder()).join(file);
    if !path.exists() {
        return Ok(Err(format!("{} not found", path.display())));
    }
    let vars = read_mat_file(&path)?;
    Ok(Ok(MatFile {
        path,
        file: file.to_string(),
        vars,
    }))
}

/// The stimuli of `exp`: `Missing` when a path is not given or a file is not there, an error
/// when a file is there but does not hold what the experiment needs (the message names the
/// file, the variable and the count or shape expected and found).
///
/// Per experiment (SCIENCE.md §6; parts in brackets):
/// * Thatcher: `paths.thatcher`, a CSV manifest with a `file` column (relative to its folder),
///   exactly 80 images in §6.2 order, each cropped to rows 49..=h−51 (MATLAB `50:end-50`).
/// * MirrorConfusion: the N ≥ 2 images of the folder `paths.mirror` (sorted by name), then their
///   left–right flips, then their up–down flips ["original", "lr", "ud"].
/// * SceneIncongruence: `paths.scenes`, a CSV manifest with `file`, `condition` (congruent |
///   incongruent) and `label` (1-based ImageNet class 1–1000) columns, at least one image of each
///   condition; tables "labels" (n×1, 0-based class) and "congruent" (n×1, 1/0).
/// * Normalisation: `div_norm_stim.mat` `stim` (267 × 224×224 gray) ["singletons" 0..147,
///   "pairs" 147..207, "triplets" 207..267]; table "stim_pos" (267×3, 1-based object ids,
///   999 = empty) from `div_norm_stim_pos.mat`.
/// * Sparseness: `seltol.mat` `stim` (116 × 500×500 gray), the first 44 ["morphlines"]; with
///   `paths.textures` (a folder of exactly 50 images, an error when given but absent) also the
///   first 50 of `shapes.mat` `stim` (128 × 233×233) ["shapes"] and the textures ["textures"].
/// * Weber: `weber_stim.mat` `stim` (20 × 224×224×3, float 0/255); tables "rel" and "abs"
///   (10×1) from `weber_distances.mat` struct `distances`.
/// * RelativeSize `relSize.mat` (96 × 348×348×3), SurfaceInvariance `surf_stim.mat`
///   (78 × 400×400×3), ThreeD `3d.mat` (12 × 224×224×3), all `stim`.
/// * Occlusion: `occlusion_set.mat` `stim` (14 RGB of about 251×251), the first 12, each cropped
///   to rows 9..=h−11 and columns 9..=w−11 (MATLAB `10:end-10`).
/// * PartMatching: `obj_parts_a_stim.mat` `img` (6 × 224×224×3).
/// * NaturalParts: `obj_parts_b_stim.mat` `images` (98 × 500×400 gray), each padded with 50
///   black columns on both sides (500×500); tables "Xn", "Xu" (492×43), "img_pairs" (984×2) and
///   "common_stim_pair_inds" (21×1) from `data_matrices.mat` struct `data_matrices`.
/// * GlobalAdvantage: `GL.mat` `stim` (49 × 500×500×3); table "pairs" (1176×4) from
///   `img_pair_inds.mat` `imagepairDetails`.
pub fn load(exp: Experiment, paths: &StimulusPaths) -> Result<Loaded> {
    let root = paths.root.as_deref();
    let mut set = ExperimentStimuli::new(exp);
    macro_rules! open {
        ($file:expr) => {
            match open(root, exp, $file)? {
                Ok(f) => {
                    set.sources.push(f.path.clone());
                    f
                }
                Err(why) => return Ok(Loaded::Missing(why)),
            }
        };
    }
    match exp {
        Experiment::Thatcher => {
            let Some(csv) = paths.thatcher.as_deref() else {
                return Ok(Loaded::Missing(
                    "no Thatcher images given (the `thatcher` setting: a CSV manifest with a \
                     `file` column listing the 80 faces in SCIENCE.md §6.2 order)"
                        .into(),
                ));
            };
            if !csv.exists() {
                // Given by name but absent: a mistake to report, not an experiment to skip.
                return Err(Error::file(csv, "not found"));
            }
            let rows = manifest(csv, &[])?;
            if rows.len() != 80 {
                return Err(Error::file(
                    csv,
                    format!(
                        "{} images, expected 80 (20 faces × upright, upright Thatcherised, \
                         inverted, inverted Thatcherised)",
                        rows.len()
                    ),
                ));
            }
            set.sources.push(csv.to_path_buf());
            let mut images = Vec::with_capacity(rows.len());
            for (name, path, _) in rows {
                let img = load_rgb(&path)?;
                // MATLAB rows 50:end-50 (1-based) = 0-based 49..=h-51.
                let cropped = crop(&img, 49, 50, 0, 0).ok_or_else(|| {
                    Error::file(
                        &path,
                        format!(
                            "{}×{} image: too short for the Thatcher crop (rows 50:end-50 need \
                             at least 100 rows)",
                            img.height, img.width
                        ),
                    )
                })?;
                images.push((name, cropped));
            }
            set.push(images);
        }
        Experiment::MirrorConfusion => {
            let Some(dir) = paths.mirror.as_deref() else {
                return Ok(Loaded::Missing(
                    "no mirror-confusion objects given (the `mirror_objects` setting: a folder \
                     of object images, flipped here)"
                        .into(),
                ));
            };
            if !dir.is_dir() {
                // Given by name but absent: a mistake to report, not an experiment to skip.
                return Err(Error::file(dir, "not found"));
            }
            let files = list_images(dir)?;
            if files.len() < 2 {
                return Err(Error::file(
                    dir,
                    format!("{} image, expected at least 2 objects", files.len()),
                ));
            }
            set.sources.push(dir.to_path_buf());
            let mut originals = Vec::with_capacity(files.len());
            for f in &files {
                originals.push((file_name(f), load_rgb(f)?));
            }
            let lr = originals
                .iter()
                .map(|(n, i)| (format!("{n}:lr"), flip_lr(i)))
                .collect();
            let ud = originals
                .iter()
                .map(|(n, i)| (format!("{n}:ud"), flip_ud(i)))
                .collect();
            set.push_part("original", originals);
            set.push_part("lr", lr);
            set.push_part("ud", ud);
        }
        Experiment::SceneIncongruence => {
            let Some(csv) = paths.scenes.as_deref() else {
                return Ok(Loaded::Missing(
                    "no scene-incongruence images given (the `scenes` setting: a CSV manifest \
                     with file, condition (congruent|incongruent) and label (1-based ImageNet \
                     class) columns)"
                        .into(),
                ));
            };
            if !csv.exists() {
                // Given by name but absent: a mistake to report, not an experiment to skip.
                return Err(Error::file(csv, "not found"));
            }
            let rows = manifest(csv, &["condition", "label"])?;
            set.sources.push(csv.to_path_buf());
            let n = rows.len();
            let mut labels = Vec::with_capacity(n);
            let mut congruent = Vec::with_capacity(n);
            let mut images = Vec::with_capacity(n);
            for (i, (name, path, cols)) in rows.into_iter().enumerate() {
                let line = i + 2;
                let c = match cols[0].trim().to_ascii_lowercase().as_str() {
                    "congruent" => 1.0,
                    "incongruent" => 0.0,
                    other => {
                        return Err(Error::file(
                            csv,
                            format!(
                                "line {line}: condition '{other}', expected congruent or \
                                 incongruent"
                            ),
                        ))
                    }
                };
                let label = cols[1]
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=1000).contains(l))
                    .ok_or_else(|| {
                        Error::file(
                            csv,
                            format!(
                                "line {line}: label '{}', expected a 1-based ImageNet class \
                                 1–1000",
                                cols[1].trim()
                            ),
                        )
                    })?;
                congruent.push(c);
                labels.push((label - 1) as f64);
                images.push((name, load_rgb(&path)?));
            }
            let nc = congruent.iter().filter(|&&c| c == 1.0).count();
            if nc == 0 || nc == n {
                return Err(Error::file(
                    csv,
                    format!(
                        "{nc} congruent and {} incongruent images, expected at least one of each",
                        n - nc
                    ),
                ));
            }
            set.push(images);
            set.tables.insert("labels".into(), column(labels));
            set.tables.insert("congruent".into(), column(congruent));
        }
        Experiment::Normalisation => {
            let f = open!("div_norm_stim.mat");
            let images = f.images("stim", 267, 267, shape(224, 224, GRAY))?;
            let p = open!("div_norm_stim_pos.mat");
            let pos = p.table(p.var("stim_pos")?, "stim_pos", 267, 3)?;
            let mut images = images.into_iter();
            set.push_part("singletons", images.by_ref().take(147).collect());
            set.push_part("pairs", images.by_ref().take(60).collect());
            set.push_part("triplets", images.collect());
            set.tables.insert("stim_pos".into(), pos);
        }
        Experiment::Sparseness => {
            let f = open!("seltol.mat");
            set.push_part(
                "morphlines",
                f.images("stim", 116, 44, shape(500, 500, GRAY))?,
            );
            drop(f);
            if let Some(dir) = paths.textures.as_deref() {
                if !dir.is_dir() {
                    return Err(Error::file(
                        dir,
                        "texture folder not found (remove the `textures` setting to score only \
                         the morph-lines)",
                    ));
                }
                let files = list_images(dir)?;
                if files.len() != 50 {
                    return Err(Error::file(
                        dir,
                        format!("{} texture images, expected 50", files.len()),
                    ));
                }
                let path = root
                    .map(|r| r.join(exp.folder()).join("shapes.mat"))
                    .filter(|p| p.exists())
                    .ok_or_else(|| {
                        Error::file(
                            root.unwrap_or(Path::new("."))
                                .join(exp.folder())
                                .join("shapes.mat"),
                            "not found (the shapes of 5b, needed with `textures`)",
                        )
                    })?;
                let s = MatFile {
                    vars: read_mat_file(&path)?,
                    path,
                    file: "shapes.mat".into(),
                };
                set.sources.push(s.path.clone());
                set.push_part("shapes", s.images("stim", 128, 50, shape(233, 233, ANY))?);
                set.sources.push(dir.to_path_buf());
                let mut textures = Vec::with_capacity(files.len());
                for t in &files {
                    textures.push((file_name(t), load_rgb(t)?));
                }
                set.push_part("textures", textures);
            }
        }
        Experiment::Weber => {
            let f = open!("weber_stim.mat");
            set.push(f.images("stim", 20, 20, shape(224, 224, RGB))?);
            let d = open!("weber_distances.mat");
            for name in ["rel", "abs"] {
                let t = d.table(
                    d.field("distances", name)?,
                    &format!("distances.{name}"),
                    10,
                    1,
                )?;
                set.tables.insert(name.into(), t);
            }
        }
        Experiment::RelativeSize => {
            let f = open!("relSize.mat");
            set.push(f.images("stim", 96, 96, shape(348, 348, RGB))?);
        }
        Experiment::SurfaceInvariance => {
            let f = open!("surf_stim.mat");
            set.push(f.images("stim", 78, 78, shape(400, 400, RGB))?);
        }
        Experiment::ThreeD => {
            let f = open!("3d.mat");
            set.push(f.images("stim", 12, 12, shape(224, 224, RGB))?);
        }
        Experiment::Occlusion => {
            let f = open!("occlusion_set.mat");
            let any = Shape {
                size: None,
                channels: RGB,
            };
            let mut images = Vec::with_capacity(12);
            for (name, img) in f.images("stim", 14, 12, any)? {
                // MATLAB 10:end-10 (1-based) = 0-based 9..=h-11.
                let c = crop(&img, 9, 10, 9, 10).ok_or_else(|| {
                    f.err(format!(
                        "{name}: {}×{} image, too small for the 10:end-10 crop",
                        img.height, img.width
                    ))
                })?;
                images.push((name, c));
            }
            set.push(images);
        }
        Experiment::PartMatching => {
            let f = open!("obj_parts_a_stim.mat");
            set.push(f.images("img", 6, 6, shape(224, 224, RGB))?);
        }
        Experiment::NaturalParts => {
            let f = open!("obj_parts_b_stim.mat");
            let images = f.images("images", 98, 98, shape(500, 400, GRAY))?;
            set.push(
                images
                    .into_iter()
                    .map(|(n, i)| (n, pad_columns(&i, 50)))
                    .collect(),
            );
            let d = open!("data_matrices.mat");
            for (name, rows, cols) in [
                ("Xn", 492, 43),
                ("Xu", 492, 43),
                ("img_pairs", 984, 2),
                ("common_stim_pair_inds", 21, 1),
            ] {
                let what = format!("data_matrices.{name}");
                let t = d.table(d.field("data_matrices", name)?, &what, rows, cols)?;
                set.tables.insert(name.into(), t);
            }
        }
        Experiment::GlobalAdvantage => {
            let f = open!("GL.mat");
            set.push(f.images("stim", 49, 49, shape(500, 500, RGB))?);
            let p = open!("img_pair_inds.mat");
            let t = p.table(p.var("imagepairDetails")?, "imagepairDetails", 1176, 4)?;
            set.tables.insert("pairs".into(), t);
        }
    }
    Ok(Loaded::Ready(set))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn column(values: Vec<f64>) -> Table {
    Table {
        rows: values.len(),
        cols: 1,
        data: values,
    }
}

/// The rows of a CSV manifest ([`StimulusSet::manifest`]: a `file` column of paths relative to
/// the manifest's folder, each an existing file) with the label columns `cols`: (name as written,
/// path, the values of `cols` in order).
fn manifest(csv: &Path, cols: &[&str]) -> Result<Vec<(String, PathBuf, Vec<String>)>> {
    let set = StimulusSet::manifest(csv)?;
    let idx = cols
        .iter()
        .map(|c| {
            set.label_columns
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| {
                    Error::file(
                        csv,
                        format!(
                            "no '{c}' column (the header has file and {:?})",
                            set.label_columns
                        ),
                    )
                })
        })
        .collect::<Result<Vec<usize>>>()?;
    let files = set.files().unwrap_or_default();
    Ok(set
        .names
        .iter()
        .zip(files)
        .zip(&set.labels)
        .map(|((name, path), labels)| {
            (
                name.clone(),
                path.clone(),
                idx.iter().map(|&c| labels[c].trim().to_string()).collect(),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A w×h image whose pixel (y, x) is [10y + x, 100 + 10y + x, 200 + x].
    fn img(w: usize, h: usize) -> Rgb8 {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[
                    (10 * y + x) as u8,
                    (100 + 10 * y + x) as u8,
                    (200 + x) as u8,
                ]);
            }
        }
        Rgb8 {
            width: w,
            height: h,
            data,
        }
    }

    fn px(i: &Rgb8, y: usize, x: usize) -> [u8; 3] {
        let o = (y * i.width + x) * 3;
        [i.data[o], i.data[o + 1], i.data[o + 2]]
    }

    #[test]
    fn crops_keep_the_inner_rectangle() {
        let i = img(5, 6);
        let c = crop(&i, 1, 2, 2, 1).unwrap();
        assert_eq!((c.width, c.height), (2, 3));
        assert_eq!(px(&c, 0, 0), px(&i, 1, 2));
        assert_eq!(px(&c, 2, 1), px(&i, 3, 3));
        assert!(crop(&i, 3, 3, 0, 0).is_none());
        assert!(crop(&i, 0, 0, 5, 0).is_none());
        assert!(crop(&i, 7, 0, 0, 0).is_none());
        // The Thatcher crop (MATLAB 50:end-50) on a 102-row image keeps rows 49..=51; on 99
        // rows nothing is left.
        let t = crop(&img(2, 102), 49, 50, 0, 0).unwrap();
        assert_eq!(t.height, 3);
        assert_eq!(px(&t, 0, 1)[0], (10 * 49 + 1) as u8);
        assert_eq!(px(&t, 2, 1)[0], (10 * 51 + 1) as u8);
        assert_eq!(crop(&img(2, 100), 49, 50, 0, 0).unwrap().height, 1);
        assert!(crop(&img(2, 99), 49, 50, 0, 0).is_none());
        // The occlusion crop (10:end-10) on 251×252 leaves 232×233.
        let o = crop(&img(252, 251), 9, 10, 9, 10).unwrap();
        assert_eq!((o.height, o.width), (232, 233));
        assert_eq!(px(&o, 0, 0), px(&img(252, 251), 9, 9));
        // Inconsistent data is None, not a panic.
        let bad = Rgb8 {
            width: 4,
            height: 4,
            data: vec![0; 5],
        };
        assert!(crop(&bad, 1, 1, 1, 1).is_none());
    }

    #[test]
    fn flips_mirror_rows_and_columns() {
        let i = img(3, 2);
        let lr = flip_lr(&i);
        let ud = flip_ud(&i);
        for y in 0..2 {
            for x in 0..3 {
                assert_eq!(px(&lr, y, x), px(&i, y, 2 - x));
                assert_eq!(px(&ud, y, x), px(&i, 1 - y, x));
            }
        }
        assert_eq!(flip_lr(&lr), i);
        assert_eq!(flip_ud(&ud), i);
    }

    #[test]
    fn padding_adds_black_columns_on_both_sides() {
        let i = img(2, 3);
        let p = pad_columns(&i, 2);
        assert_eq!((p.width, p.height), (6, 3));
        for y in 0..3 {
            for x in [0, 1, 4, 5] {
                assert_eq!(px(&p, y, x), [0, 0, 0]);
            }
            assert_eq!(px(&p, y, 2), px(&i, y, 0));
            assert_eq!(px(&p, y, 3), px(&i, y, 1));
        }
    }

    #[test]
    fn missing_paths_are_missing_not_errors() {
        let none = StimulusPaths::default();
        for e in Experiment::ALL {
            match load(e, &none).unwrap() {
                Loaded::Missing(why) => assert!(!why.is_empty()),
                Loaded::Ready(_) => panic!("{e:?} loaded from nothing"),
            }
        }
        let gone = StimulusPaths {
            root: Some(PathBuf::from("/nonexistent/ventral-stimuli")),
            ..StimulusPaths::default()
        };
        let Loaded::Missing(why) = load(Experiment::ThreeD, &gone).unwrap() else {
            panic!()
        };
        assert!(why.contains("exp09_3d") && why.contains("3d.mat"), "{why}");
    }
}
