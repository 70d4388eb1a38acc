//! RDM files: any float array `[..., N, N]` (square) or `[..., N(N−1)/2]` (condensed) in `.npy`,
//! `.npz`, `.safetensors` or `.csv`; leading dimensions are flattened (C order) into separate
//! RDMs named `name[i]`.

use std::path::Path;

use super::condensed::{square_to_condensed, stimuli_from_pairs};
use crate::arrays::{read_arrays, Array};
use crate::error::{Error, Result};

/// One RDM read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedRdm {
    pub name: String,
    pub n: usize,
    pub condensed: Vec<f64>,
}

/// Splits one array into RDMs.
pub fn rdms_from_array(name: &str, a: &Array, origin: &Path) -> Result<Vec<NamedRdm>> {
    let s = &a.shape;
    let bad = |m: String| Error::file(origin, format!("'{name}' with shape {s:?}: {m}"));
    if s.is_empty() {
        return Err(bad("a scalar is not an RDM".into()));
    }
    let square = s.len() >= 2 && s[s.len() - 1] == s[s.len() - 2] && s[s.len() - 1] >= 2;
    let (inner, n): (usize, usize) = if square {
        let n = s[s.len() - 1];
        let inner = n
            .checked_mul(n)
            .ok_or_else(|| bad(format!("{n} × {n} overflows")))?;
        (inner, n)
    } else {
        let m = s[s.len() - 1];
        let n = stimuli_from_pairs(m).map_err(|_| {
            bad(format!(
                "the last dimension ({m}) is neither N×N nor a condensed length N(N−1)/2"
            ))
        })?;
        (m, n)
    };
    let count = a.data.len() / inner;
    let lead = if square {
        &s[..s.len() - 2]
    } else {
        &s[..s.len() - 1]
    };
    (0..count)
        .map(|i| {
            let chunk = &a.data[i * inner..(i + 1) * inner];
            let label = if lead.is_empty() {
                name.to_string()
            } else {
                format!("{name}[{}]", unravel(i, lead))
            };
            let condensed = if square {
                square_to_condensed(chunk, n, &label).map_err(|e| Error::file(origin, e))?
            } else {
                chunk.to_vec()
            };
            Ok(NamedRdm {
                name: label,
                n,
                condensed,
            })
        })
        .collect()
}

fn unravel(mut i: usize, dims: &[usize]) -> String {
    let mut idx = vec![0; dims.len()];
    for (k, &d) in dims.iter().enumerate().rev() {
        idx[k] = i % d;
        i /= d;
    }
    idx.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Every RDM in a file, all with the same N.
pub fn read_rdms(path: &Path) -> Result<Vec<NamedRdm>> {
    let arrays = if path.extension().and_then(|e| e.to_str()) == Some("csv") {
        let stem = path
            .file_stem()
            .map_or("rdm".into(), |s| s.to_string_lossy().into_owned());
        vec![(stem, read_csv(path)?)]
    } else {
        read_arrays(path)?
    };
    let mut out = Vec::new();
    for (name, a) in &arrays {
        out.extend(rdms_from_array(name, a, path)?);
    }
    if out.is_empty() {
        return Err(Error::file(path, "holds no RDMs"));
    }
    if let Some(r) = out.iter().find(|r| r.n != out[0].n) {
        return Err(Error::file(
            path,
            format!(
                "RDMs of different sizes: '{}' has N = {}, '{}' has N = {}",
                out[0].name, out[0].n, r.name, r.n
            ),
        ));
    }
    Ok(out)
}

/// Where `rdm` is incomplete: the first non-finite entry, said as "{role} RDM 'name' holds a
/// non-finite entry (NaN) at condensed index k (stimuli i and j)"; `None` when every entry is
/// finite.
pub fn non_finite(rdm: &NamedRdm, role: &str) -> Option<String> {
    let k = rdm.condensed.iter().position(|v| !v.is_finite())?;
    let n = rdm.n;
    let (mut i, mut first) = (0, 0);
    while i + 1 < n && first + (n - i - 1) <= k {
        first += n - i - 1;
        i += 1;
    }
    let j = i + 1 + (k - first);
    Some(format!(
        "{role} RDM '{}' holds a non-finite entry ({}) at condensed index {k} (stimuli {i} and {j})",
        rdm.name, rdm.condensed[k]
    ))
}

/// A data error naming `path` and the tensor when any of `rdms` (read from `path`) holds a
/// non-finite entry; Mantel permutations and the bootstrap need complete RDMs.
pub fn check_complete(rdms: &[NamedRdm], role: &str, path: &Path) -> Result<()> {
    match rdms.iter().find_map(|r| non_finite(r, role)) {
        Some(m) => Err(Error::file(
            path,
            format!("{m}; Mantel permutations and the bootstrap need complete RDMs"),
        )),
        None => Ok(()),
    }
}

/// A CSV of numbers (no header, or a header row that is skipped when it is not numeric): a
/// square N×N matrix, or one condensed RDM per row.
fn read_csv(path: &Path) -> Result<Array> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: std::result::Result<Vec<f64>, _> =
            line.split(',').map(|v| v.trim().parse::<f64>()).collect();
        match row {
            Ok(r) => rows.push(r),
            Err(_) if rows.is_empty() && ln == 0 => continue,
            Err(e) => return Err(Error::file(path, format!("line {}: {e}", ln + 1))),
        }
    }
    let cols = rows.first().map_or(0, Vec::len);
    if rows.is_empty() || rows.iter().any(|r| r.len() != cols) {
        return Err(Error::file(
            path,
            "rows must all have the same number of values",
        ));
    }
    let shape = if rows.len() == cols {
        vec![cols, cols]
    } else {
        vec![rows.len(), cols]
    };
    Ok(Array {
        shape,
        data: rows.concat(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_entry_names_the_file_the_tensor_and_the_pair() {
        let r = NamedRdm {
            name: "layer[1]".into(),
            n: 4,
            condensed: vec![1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0],
        };
        let e = check_complete(std::slice::from_ref(&r), "model", Path::new("m.npy")).unwrap_err();
        assert!(!e.is_usage());
        assert_eq!(
            e.to_string(),
            "m.npy: model RDM 'layer[1]' holds a non-finite entry (NaN) at condensed index 4 \
             (stimuli 1 and 3); Mantel permutations and the bootstrap need complete RDMs"
        );
        assert_eq!(crate::rsa::pair_index(4, 1, 3), 4);
        let last = NamedRdm {
            condensed: vec![0.0, 0.0, 0.0, 0.0, 0.0, f64::INFINITY],
            ..r.clone()
        };
        assert!(non_finite(&last, "subject")
            .unwrap()
            .contains("(inf) at condensed index 5 (stimuli 2 and 3)"));
        assert!(check_complete(
            &[NamedRdm {
                condensed: vec![0.5; 6],
                ..r
            }],
            "model",
            Path::new("m.npy")
        )
        .is_ok());
    }

    #[test]
    fn sizes_that_overflow_are_named_not_an_empty_file() {
        let d = std::env::temp_dir().join(format!("ventral-load-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("huge.npy");
        std::fs::write(&p, crate::arrays::npy_header(&[1 << 32, 1 << 32])).unwrap();
        let e = read_rdms(&p).unwrap_err().to_string();
        assert!(
            e.contains("huge.npy: shape [4294967296, 4294967296] is too large")
                && !e.contains("holds no RDMs"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).ok();
        // No data, but N × N itself overflows.
        let a = Array {
            shape: vec![0, 1 << 33, 1 << 33],
            data: Vec::new(),
        };
        let e = rdms_from_array("m", &a, Path::new("x.npy"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.npy: 'm' with shape [0, 8589934592, 8589934592]"),
            "{e}"
        );
    }

    #[test]
    fn square_and_condensed_arrays_with_leading_dims() {
        let sq = [0.0, 1.0, 2.0, 1.0, 0.0, 3.0, 2.0, 3.0, 0.0];
        let a = Array {
            shape: vec![2, 1, 3, 3],
            data: [sq, sq.map(|v| v * 2.0)].concat(),
        };
        let r = rdms_from_array("hit", &a, Path::new("x.npy")).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].name, "hit[1,0]");
        assert_eq!(r[1].condensed, [2.0, 4.0, 6.0]);
        let c = Array {
            shape: vec![6],
            data: vec![1.0; 6],
        };
        assert_eq!(
            rdms_from_array("m", &c, Path::new("x.npy")).unwrap()[0].n,
            4
        );
        let bad = Array {
            shape: vec![2, 5],
            data: vec![0.0; 10],
        };
        let e = rdms_from_array("m", &bad, Path::new("x.npy"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'m' with shape [2, 5]") && e.contains("neither N×N"),
            "{e}"
        );
    }
}
