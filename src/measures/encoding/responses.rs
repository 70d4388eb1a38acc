//! Brain responses for encoding: per subject and region a matrix `[N stimuli, V voxels]` (or
//! units), read from `.npy`, `.npz`, `.mat`, `.safetensors` or `.csv`, with optional per-voxel
//! noise ceilings, checked against the stimulus set.
//!
//! Naming: an array called `subject/region` is that subject's region; any other name in a file
//! of several arrays is a subject of the region named by the file stem; the one array of a
//! `.npy` or `.csv` is `subject01` of the file stem. An array named like one of those with the
//! suffix `.ceiling`, `_ceiling` or `/ceiling` and shape `[V]` is its noise ceiling. A CSV has
//! one row per stimulus, an optional header row, and optionally the stimulus names in its first
//! column; a safetensors file may carry the names as JSON in its `stimuli` metadata.

use std::path::Path;

use faer::Mat;

use super::evaluate::Target;
use crate::arrays::{read_arrays, Array};
use crate::error::{Error, Result};

/// The targets of `path` with `n` stimuli (named `names`, when known), keeping only the
/// `subjects` given (all when empty).
pub fn read_targets(
    path: &Path,
    n: usize,
    names: Option<&[String]>,
    subjects: &[String],
) -> Result<Vec<Target>> {
    let stem = path
        .file_stem()
        .map_or("responses".into(), |s| s.to_string_lossy().into_owned());
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (arrays, file_names) = match ext {
        "csv" => {
            let (a, names) = read_csv(path)?;
            (vec![(stem.clone(), a)], names)
        }
        "safetensors" => {
            let meta = crate::arrays::TensorFile::open(path)?.metadata;
            let names = meta
                .get("stimuli")
                .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok());
            (read_arrays(path)?, names)
        }
        _ => (read_arrays(path)?, None),
    };
    if let (Some(want), Some(got)) = (names, &file_names) {
        if let Some(i) = (0..want.len().min(got.len())).find(|&i| want[i] != got[i]) {
            return Err(Error::file(
                path,
                format!(
                    "stimulus {i} is '{}' here but '{}' in the stimulus set; the rows must follow the stimulus order",
                    got[i], want[i]
                ),
            ));
        }
    }
    let single = arrays.len() == 1 && matches!(ext, "npy" | "csv");
    let is_ceiling = |name: &str| {
        [".ceiling", "_ceiling", "/ceiling"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .map(str::to_string)
    };
    let mut targets = Vec::new();
    for (name, a) in &arrays {
        if is_ceiling(name).is_some() {
            continue;
        }
        let (subject, region) = match name.split_once('/') {
            Some((s, r)) => (s.to_string(), r.to_string()),
            None if single => ("subject01".to_string(), stem.clone()),
            None => (name.clone(), stem.clone()),
        };
        if !subjects.is_empty() && !subjects.contains(&subject) {
            continue;
        }
        let y = matrix(a, path, name, n)?;
        let ceiling = arrays
            .iter()
            .find(|(c, _)| is_ceiling(c).as_deref() == Some(name.as_str()))
            .map(|(c, a)| {
                if a.data.len() != y.ncols() {
                    return Err(Error::file(
                        path,
                        format!(
                            "ceiling '{c}' has {} values for {} voxels",
                            a.data.len(),
                            y.ncols()
                        ),
                    ));
                }
                Ok(a.data.clone())
            })
            .transpose()?;
        targets.push(
            Target::new(&subject, &region, y, ceiling)
                .map_err(|e| Error::file(path, e.to_string()))?,
        );
    }
    if targets.is_empty() {
        let what = if subjects.is_empty() {
            String::new()
        } else {
            format!(" for subjects {}", subjects.join(", "))
        };
        return Err(Error::file(path, format!("no response arrays{what}")));
    }
    Ok(targets)
}

/// An error when two targets share a subject and region (their results would overwrite each
/// other).
pub fn check_unique(targets: &[Target]) -> Result<()> {
    for (i, t) in targets.iter().enumerate() {
        if targets[..i]
            .iter()
            .any(|u| u.subject == t.subject && u.region == t.region)
        {
            return Err(Error::Invalid(format!(
                "responses: subject '{}' of region '{}' is given twice",
                t.subject, t.region
            )));
        }
    }
    Ok(())
}

/// `[N, V]` (or `[N]`, one voxel) as a matrix; the stimulus count must be `n`.
fn matrix(a: &Array, path: &Path, name: &str, n: usize) -> Result<Mat<f64>> {
    let (rows, cols) = match a.shape.as_slice() {
        [r] => (*r, 1),
        [r, c] => (*r, *c),
        s => {
            return Err(Error::file(
                path,
                format!("'{name}' has shape {s:?}; responses are [stimuli, voxels]"),
            ))
        }
    };
    if rows != n {
        return Err(Error::file(
            path,
            format!("'{name}' has {rows} stimuli; the activations have {n}"),
        ));
    }
    Ok(Mat::from_fn(rows, cols, |i, j| a.data[i * cols + j]))
}

/// A CSV of responses: numbers, an optional header row, optional stimulus names in column 1.
fn read_csv(path: &Path) -> Result<(Array, Option<Vec<String>>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    let numeric = |f: &str| f.trim().parse::<f64>().is_ok() || f.trim().eq_ignore_ascii_case("nan");
    // A header row: any field after the first is not a number.
    if lines
        .peek()
        .is_some_and(|l| l.split(',').skip(1).any(|f| !numeric(f)))
    {
        lines.next();
    }
    let mut names = Vec::new();
    let mut data = Vec::new();
    let mut cols = None;
    for (i, line) in lines.enumerate() {
        let mut fields: Vec<&str> = line.split(',').collect();
        if !numeric(fields[0]) {
            names.push(fields.remove(0).trim().to_string());
        }
        let row: Vec<f64> = fields
            .iter()
            .map(|f| {
                let f = f.trim();
                if f.eq_ignore_ascii_case("nan") {
                    Ok(f64::NAN)
                } else {
                    f.parse::<f64>()
                }
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::file(path, format!("data row {}: {e}", i + 1)))?;
        if *cols.get_or_insert(row.len()) != row.len() {
            return Err(Error::file(
                path,
                format!(
                    "data row {} has {} values, the first has {}",
                    i + 1,
                    row.len(),
                    cols.unwrap_or(0)
                ),
            ));
        }
        data.extend(row);
    }
    let cols = cols.ok_or_else(|| Error::file(path, "no data rows"))?;
    let rows = data.len() / cols.max(1);
    let names = (names.len() == rows && rows > 0).then_some(names);
    Ok((
        Array {
            shape: vec![rows, cols],
            data,
        },
        names,
    ))
}
