//! MATLAB Level 5 MAT-files (what `save` writes up to v7, compressed or not; scipy's `savemat`):
//! numeric arrays only. MATLAB stores arrays column-major, so an array of MATLAB size
//! `[d0, d1, …, dk]` is returned with shape `[dk, …, d1, d0]` over the same data: `[N, N, S]`
//! becomes `S` matrices of `N × N` (transposed, which leaves an RDM unchanged) and `[m, S]`
//! becomes `S` rows of length m. v7.3 files (HDF5) are not read.

use std::io::Read;
use std::path::Path;

use crate::arrays::Array;
use crate::error::{Error, Result};

const MI_INT8: u32 = 1;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

/// Every numeric array of a MAT-file held in `bytes`, by variable name, in file order; `origin`
/// names the file in errors.
pub fn parse_mat(bytes: &[u8], origin: &Path) -> Result<Vec<(String, Array)>> {
    let bad = |m: String| Error::file(origin, m);
    if bytes.len() < 128 {
        return Err(bad("too short to be a MAT-file".into()));
    }
    if bytes.starts_with(b"MATLAB 7.3")
        || bytes.get(512..).is_some_and(|b| b.starts_with(b"\x89HDF"))
    {
        return Err(bad(
            "MATLAB v7.3 (HDF5) files are not supported; save with `save -v7` or scipy.io.savemat"
                .into(),
        ));
    }
    if &bytes[126..128] != b"IM" {
        return Err(bad(
            "not a little-endian Level 5 MAT-file (save with `save -v7` or scipy.io.savemat)"
                .into(),
        ));
    }
    let mut out = Vec::new();
    let mut at = 128;
    while at + 8 <= bytes.len() {
        let (ty, data, next) = element(bytes, at)
            .ok_or_else(|| bad(format!("truncated data element at byte {at}")))?;
        at = next;
        match ty {
            MI_COMPRESSED => {
                let mut inflated = Vec::new();
                flate2::read::ZlibDecoder::new(data)
                    .read_to_end(&mut inflated)
                    .map_err(|e| bad(format!("corrupt compressed element: {e}")))?;
                let (ty, inner, _) = element(&inflated, 0)
                    .ok_or_else(|| bad("truncated compressed element".into()))?;
                if ty == MI_MATRIX {
                    out.extend(matrix(inner, origin)?);
                }
            }
            MI_MATRIX => out.extend(matrix(data, origin)?),
            _ => {}
        }
    }
    Ok(out)
}

/// The data element at `at`: (type, payload, offset of the next element).
fn element(b: &[u8], at: usize) -> Option<(u32, &[u8], usize)> {
    let word = u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?);
    if word >> 16 != 0 {
        // Small element: type and size share the first word, payload in the next 4 bytes.
        let (ty, n) = (word & 0xffff, (word >> 16) as usize);
        return Some((ty, b.get(at + 4..at + 4 + n)?, at + 8));
    }
    let n = u32::from_le_bytes(b.get(at + 4..at + 8)?.try_into().ok()?) as usize;
    let data = b.get(at + 8..at + 8 + n)?;
    // Elements are padded to 8 bytes, except compressed ones.
    let padded = if word == MI_COMPRESSED {
        n
    } else {
        n.next_multiple_of(8)
    };
    Some((word, data, at + 8 + padded))
}

/// Values of a numeric element of any MATLAB element type, as f64.
fn numbers(ty: u32, d: &[u8]) -> Option<Vec<f64>> {
    macro_rules! conv {
        ($t:ty, $w:expr) => {
            d.chunks_exact($w)
                .map(|c| <$t>::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect()
        };
    }
    Some(match ty {
        1 => d.iter().map(|&v| f64::from(v as i8)).collect(),
        2 => d.iter().map(|&v| f64::from(v)).collect(),
        3 => conv!(i16, 2),
        4 => conv!(u16, 2),
        5 => conv!(i32, 4),
        6 => conv!(u32, 4),
        7 => conv!(f32, 4),
        9 => conv!(f64, 8),
        12 => conv!(i64, 8),
        13 => conv!(u64, 8),
        _ => return None,
    })
}

/// A miMATRIX payload: array flags, dimensions, name, real part. Non-numeric classes (cell,
/// struct, char, sparse, …) are skipped with an error only if nothing numeric is found later.
fn matrix(d: &[u8], origin: &Path) -> Result<Option<(String, Array)>> {
    let bad = |m: String| Error::file(origin, m);
    let (_, flags, at) = element(d, 0).ok_or_else(|| bad("truncated array flags".into()))?;
    let class = flags.first().copied().unwrap_or(0);
    let complex = flags.get(1).is_some_and(|f| f & 0x08 != 0);
    let (dty, dims, at) = element(d, at).ok_or_else(|| bad("truncated dimensions".into()))?;
    let dims: Vec<usize> = numbers(dty, dims)
        .unwrap_or_default()
        .iter()
        .map(|&v| v as usize)
        .collect();
    let (nty, name, at) = element(d, at).ok_or_else(|| bad("truncated array name".into()))?;
    let name = if nty == MI_INT8 || nty == 2 {
        String::from_utf8_lossy(name).into_owned()
    } else {
        String::new()
    };
    // Numeric classes: double 6, single 7, int8..uint64 8..15.
    if !(6..=15).contains(&class) {
        log::warn!(
            "{}: variable '{name}' is not a numeric array (class {class}); skipped",
            origin.display()
        );
        return Ok(None);
    }
    if complex {
        return Err(bad(format!(
            "variable '{name}' is complex; RDMs must be real"
        )));
    }
    let (rty, real, _) =
        element(d, at).ok_or_else(|| bad(format!("variable '{name}': truncated data")))?;
    let data = numbers(rty, real)
        .ok_or_else(|| bad(format!("variable '{name}': unsupported element type {rty}")))?;
    if data.len() != dims.iter().product::<usize>() {
        return Err(bad(format!(
            "variable '{name}': {} values for dimensions {dims:?}",
            data.len()
        )));
    }
    let shape: Vec<usize> = dims.iter().rev().copied().collect();
    Ok(Some((name, Array { shape, data })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MAT-file with one uncompressed double matrix, built by hand.
    fn mat_file(name: &str, dims: [i32; 2], values: &[f64]) -> Vec<u8> {
        let mut header = vec![b' '; 116];
        header[..10].copy_from_slice(b"MATLAB 5.0");
        header.extend_from_slice(&[0; 8]);
        header.extend_from_slice(&0x0100u16.to_le_bytes());
        header.extend_from_slice(b"IM");
        let pad = |v: &mut Vec<u8>| v.resize(v.len().next_multiple_of(8), 0);
        let mut m = Vec::new();
        m.extend_from_slice(&6u32.to_le_bytes()); // miUINT32 array flags
        m.extend_from_slice(&8u32.to_le_bytes());
        m.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 0]); // mxDOUBLE_CLASS
        m.extend_from_slice(&5u32.to_le_bytes()); // miINT32 dims
        m.extend_from_slice(&8u32.to_le_bytes());
        m.extend_from_slice(&dims[0].to_le_bytes());
        m.extend_from_slice(&dims[1].to_le_bytes());
        m.extend_from_slice(&1u32.to_le_bytes()); // miINT8 name
        m.extend_from_slice(&(name.len() as u32).to_le_bytes());
        m.extend_from_slice(name.as_bytes());
        pad(&mut m);
        m.extend_from_slice(&9u32.to_le_bytes()); // miDOUBLE data
        m.extend_from_slice(&((values.len() * 8) as u32).to_le_bytes());
        values
            .iter()
            .for_each(|v| m.extend_from_slice(&v.to_le_bytes()));
        let mut out = header;
        out.extend_from_slice(&14u32.to_le_bytes());
        out.extend_from_slice(&(m.len() as u32).to_le_bytes());
        out.extend_from_slice(&m);
        out
    }

    #[test]
    fn reads_a_hand_built_double_matrix_with_reversed_dimensions() {
        // MATLAB [2, 3] column-major: A(1,1)=1, A(2,1)=2, A(1,2)=3, …
        let bytes = mat_file("rdm", [2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let arrays = parse_mat(&bytes, Path::new("x.mat")).unwrap();
        assert_eq!(arrays.len(), 1);
        assert_eq!(arrays[0].0, "rdm");
        assert_eq!(arrays[0].1.shape, [3, 2]);
        assert_eq!(arrays[0].1.data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!(parse_mat(&bytes[..100], Path::new("x.mat")).is_err());
        let e = parse_mat(&bytes[..bytes.len() - 8], Path::new("x.mat"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.mat"), "{e}");
    }
}
