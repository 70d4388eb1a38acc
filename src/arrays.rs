//! Array files: `.npy` input read a batch at a time, and activation output (`.safetensors` or
//! `.npz`) written a batch at a time, so memory is bounded by the batch, not by the stimulus count.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::output::AtomicFile;

/// Element types an `.npy` input may hold; all are read as f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NpyType {
    F16,
    F32,
    F64,
}

impl NpyType {
    fn size(self) -> usize {
        match self {
            NpyType::F16 => 2,
            NpyType::F32 => 4,
            NpyType::F64 => 8,
        }
    }
}

/// A C-order `.npy` file of floats, read row (first-axis slice) ranges on demand.
pub struct NpyReader {
    path: PathBuf,
    file: File,
    dtype: NpyType,
    shape: Vec<usize>,
    data_start: u64,
}

impl NpyReader {
    /// Opens `path` and parses its header; the data must be all there.
    pub fn open(path: &Path) -> Result<NpyReader> {
        let bad = |m: String| Error::file(path, m);
        let mut file = File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
        let (dtype, shape) = parse_header(&mut file, path)?;
        let data_start = file.stream_position().map_err(|e| bad(e.to_string()))?;
        let want = data_bytes(&shape, dtype, path)? as u64;
        let len = file.metadata().map_err(|e| bad(e.to_string()))?.len();
        if len.saturating_sub(data_start) < want {
            return Err(bad(format!(
                "truncated: shape {shape:?} needs {want} data bytes, the file has {}",
                len.saturating_sub(data_start)
            )));
        }
        Ok(NpyReader {
            path: path.to_path_buf(),
            file,
            dtype,
            shape,
            data_start,
        })
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows `lo..hi` of the first axis as f32.
    pub fn read_rows(&mut self, lo: usize, hi: usize) -> Result<Vec<f32>> {
        let row: usize = self.shape[1..].iter().product();
        let size = self.dtype.size();
        let mut bytes = vec![0u8; (hi - lo) * row * size];
        let at = self.data_start + (lo * row * size) as u64;
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.read_exact(&mut bytes))
            .map_err(|e| Error::file(&self.path, format!("read failed: {e}")))?;
        Ok(decode(self.dtype, &bytes)
            .into_iter()
            .map(|v| v as f32)
            .collect())
    }
}

/// Bytes of data an array of `shape` and `dtype` holds; an error naming the file and the shape
/// when the product of its dimensions (a size read from a file) overflows.
fn data_bytes(shape: &[usize], dtype: NpyType, path: &Path) -> Result<usize> {
    shape
        .iter()
        .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            Error::file(
                path,
                format!("shape {shape:?} is too large: the product of its dimensions overflows"),
            )
        })
}

/// Reads an `.npy` header from `r` (left at the first data byte): element type and shape.
fn parse_header(r: &mut impl Read, path: &Path) -> Result<(NpyType, Vec<usize>)> {
    let bad = |m: String| Error::file(path, m);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| bad("too short to be a .npy file".into()))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (bad magic)".into()));
    }
    let header_len = if magic[6] == 1 {
        let mut b = [0u8; 2];
        r.read_exact(&mut b)
            .map_err(|_| bad("truncated header".into()))?;
        u16::from_le_bytes(b) as usize
    } else {
        let mut b = [0u8; 4];
        r.read_exact(&mut b)
            .map_err(|_| bad("truncated header".into()))?;
        u32::from_le_bytes(b) as usize
    };
    let mut header = vec![0u8; header_len];
    r.read_exact(&mut header)
        .map_err(|_| bad("truncated header".into()))?;
    let header = String::from_utf8_lossy(&header).to_string();
    let field = |key: &str| -> Option<String> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        let end = if rest.starts_with('(') {
            rest.find(')')? + 1
        } else {
            rest.find([',', '}'])?
        };
        Some(rest[..end].trim().trim_matches('\'').to_string())
    };
    let descr = field("descr").ok_or_else(|| bad(format!("header has no descr: {header}")))?;
    let dtype = match descr.as_str() {
        "<f2" => NpyType::F16,
        "<f4" => NpyType::F32,
        "<f8" => NpyType::F64,
        other => {
            return Err(bad(format!(
                "dtype {other} is not supported; save float32 (np.float32), little-endian"
            )))
        }
    };
    if field("fortran_order").as_deref() != Some("False") {
        return Err(bad(
            "Fortran-order arrays are not supported; save with np.ascontiguousarray".into(),
        ));
    }
    let shape_text = field("shape").ok_or_else(|| bad("header has no shape".into()))?;
    let shape = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("bad shape {shape_text}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((dtype, shape))
}

fn decode(dtype: NpyType, bytes: &[u8]) -> Vec<f64> {
    match dtype {
        NpyType::F32 => bytes
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        NpyType::F16 => bytes
            .chunks_exact(2)
            .map(|c| f64::from(half::f16::from_le_bytes([c[0], c[1]]).to_f32()))
            .collect(),
        NpyType::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    }
}

/// Values of a safetensors tensor (f32, f16, bf16 or f64 stored), each read as f64 and passed
/// through `convert` (no intermediate copy); the one decoder for activation files and weights.
pub(crate) fn safetensors_values<T>(
    dtype: safetensors::Dtype,
    bytes: &[u8],
    convert: fn(f64) -> T,
) -> std::result::Result<Vec<T>, String> {
    use safetensors::Dtype;
    let half = |c: &[u8], bf: bool| -> f64 {
        let b = [c[0], c[1]];
        f64::from(if bf {
            half::bf16::from_le_bytes(b).to_f32()
        } else {
            half::f16::from_le_bytes(b).to_f32()
        })
    };
    Ok(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| convert(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| convert(half(c, false)))
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| convert(half(c, true)))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| convert(f64::from_le_bytes(c.try_into().expect("8 bytes"))))
            .collect(),
        other => {
            return Err(format!(
                "dtype {other:?} is not supported (use f32, f16, bf16 or f64)"
            ))
        }
    })
}

/// One tensor of a [`TensorFile`]: name, dtype, shape, byte range within the data section.
type TensorEntry = (String, safetensors::Dtype, Vec<usize>, (usize, usize));

/// A safetensors file opened by its header alone: names, dtypes, shapes and metadata; one
/// tensor at a time is read (as f32), so a file larger than memory can be worked through.
pub struct TensorFile {
    path: std::path::PathBuf,
    /// In data order.
    entries: Vec<TensorEntry>,
    pub metadata: std::collections::HashMap<String, String>,
    data_start: u64,
}

impl TensorFile {
    pub fn open(path: &Path) -> Result<TensorFile> {
        let bad = |m: String| Error::file(path, format!("not a valid safetensors file: {m}"));
        let mut f = std::fs::File::open(path)
            .map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
        let size = f.metadata().map_err(|e| bad(e.to_string()))?.len();
        let mut len = [0u8; 8];
        f.read_exact(&mut len).map_err(|e| bad(e.to_string()))?;
        let n = u64::from_le_bytes(len);
        if n > (100 << 20) || n + 8 > size {
            return Err(bad(format!("header of {n} bytes in a file of {size}")));
        }
        let mut head = vec![0u8; n as usize];
        f.read_exact(&mut head).map_err(|e| bad(e.to_string()))?;
        let value: serde_json::Value =
            serde_json::from_slice(&head).map_err(|e| bad(e.to_string()))?;
        let obj = value
            .as_object()
            .ok_or_else(|| bad("header is not an object".into()))?;
        let mut metadata = std::collections::HashMap::new();
        let mut entries = Vec::new();
        for (name, v) in obj {
            if name == "__metadata__" {
                if let Some(m) = v.as_object() {
                    for (k, v) in m {
                        if let Some(s) = v.as_str() {
                            metadata.insert(k.clone(), s.to_string());
                        }
                    }
                }
                continue;
            }
            let info: safetensors::tensor::TensorInfo = serde_json::from_value(v.clone())
                .map_err(|e| bad(format!("tensor '{name}': {e}")))?;
            let (lo, hi) = info.data_offsets;
            let elems = info.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            let width = info.dtype.bitsize() / 8;
            if hi < lo
                || n + 8 + hi as u64 > size
                || elems.and_then(|e| e.checked_mul(width)) != Some(hi - lo)
            {
                return Err(bad(format!(
                    "tensor '{name}': byte range {lo}..{hi} does not hold shape {:?} of {:?}",
                    info.shape, info.dtype
                )));
            }
            entries.push((name.clone(), info.dtype, info.shape, (lo, hi)));
        }
        entries.sort_by_key(|e| e.3 .0);
        Ok(TensorFile {
            path: path.to_path_buf(),
            entries,
            metadata,
            data_start: 8 + n,
        })
    }

    /// Tensor names in data order, with their shapes.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &[usize])> {
        self.entries
            .iter()
            .map(|(n, _, s, _)| (n.as_str(), s.as_slice()))
    }

    /// Tensor `name`, widened or narrowed to f32 (floating-point dtypes only).
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>> {
        use std::io::{Seek, SeekFrom};
        let path = &self.path;
        let (_, dtype, _, (lo, hi)) = self
            .entries
            .iter()
            .find(|e| e.0 == name)
            .ok_or_else(|| Error::file(path, format!("no tensor '{name}'")))?;
        let mut f = std::fs::File::open(path)
            .map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
        f.seek(SeekFrom::Start(self.data_start + *lo as u64))
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        let mut bytes = vec![0u8; hi - lo];
        f.read_exact(&mut bytes)
            .map_err(|e| Error::file(path, format!("tensor '{name}': {e}")))?;
        if *dtype == safetensors::Dtype::F32 {
            return Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect());
        }
        safetensors_values(*dtype, &bytes, |v| v as f32)
            .map_err(|m| Error::file(path, format!("tensor '{name}': {m}")))
    }
}

/// A whole array in memory, values widened to f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Parses a whole `.npy` from memory (`origin` names it in errors).
pub fn parse_npy(bytes: &[u8], origin: &Path) -> Result<Array> {
    let mut r = std::io::Cursor::new(bytes);
    let (dtype, shape) = parse_header(&mut r, origin)?;
    let start = r.position() as usize;
    let want = data_bytes(&shape, dtype, origin)?;
    if bytes.len().saturating_sub(start) < want {
        return Err(Error::file(
            origin,
            format!("truncated: shape {shape:?} needs {want} data bytes"),
        ));
    }
    Ok(Array {
        shape,
        data: decode(dtype, &bytes[start..start + want]),
    })
}

/// Every named float array in a `.npy` (one, named by the file stem), `.npz`, `.safetensors` or
/// MATLAB `.mat` file (see [`crate::mat`] for its dimension order), in file order.
pub fn read_arrays(path: &Path) -> Result<Vec<(String, Array)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "npy" => {
            let stem = path
                .file_stem()
                .map_or("array".into(), |s| s.to_string_lossy().into_owned());
            Ok(vec![(stem, parse_npy(&bytes, path)?)])
        }
        "npz" => {
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..]))
                .map_err(|e| Error::file(path, format!("not a valid .npz (zip) file: {e}")))?;
            let mut out = Vec::new();
            for i in 0..z.len() {
                let mut f = z
                    .by_index(i)
                    .map_err(|e| Error::file(path, format!("zip entry {i}: {e}")))?;
                let Some(name) = f.name().strip_suffix(".npy").map(str::to_string) else {
                    continue;
                };
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)
                    .map_err(|e| Error::file(path, format!("entry {name}: {e}")))?;
                out.push((name.clone(), parse_npy(&buf, &path.join(&name))?));
            }
            Ok(out)
        }
        "safetensors" => {
            let st = safetensors::SafeTensors::deserialize(&bytes)
                .map_err(|e| Error::file(path, format!("not a valid safetensors file: {e}")))?;
            let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
                .map_err(|e| Error::file(path, format!("not a valid safetensors file: {e}")))?;
            // File order is data order.
            let mut names: Vec<(usize, String)> = meta
                .tensors()
                .iter()
                .map(|(n, i)| (i.data_offsets.0, n.clone()))
                .collect();
            names.sort();
            names
                .into_iter()
                .map(|(_, name)| {
                    let t = st
                        .tensor(&name)
                        .map_err(|e| Error::file(path, format!("tensor '{name}': {e}")))?;
                    let data = safetensors_values(t.dtype(), t.data(), |v| v)
                        .map_err(|m| Error::file(path, format!("tensor '{name}': {m}")))?;
                    Ok((
                        name,
                        Array {
                            shape: t.shape().to_vec(),
                            data,
                        },
                    ))
                })
                .collect()
        }
        "mat" => crate::mat::parse_mat(&bytes, path),
        _ => Err(Error::file(
            path,
            "unsupported array file; use .npy, .npz, .safetensors or .mat",
        )),
    }
}

/// The tensors of an activation file ([`read_arrays`]); a file that holds none is an error
/// naming it (every command that reads activations needs at least one tensor).
pub fn read_activations(path: &Path) -> Result<Vec<(String, Array)>> {
    let arrays = read_arrays(path)?;
    if arrays.is_empty() {
        return Err(Error::file(
            path,
            "holds no tensors; an activation file needs at least one [N, …] tensor",
        ));
    }
    Ok(arrays)
}

/// The header of a version-1 `.npy` file of little-endian f32 with `shape`.
pub fn npy_header(shape: &[usize]) -> Vec<u8> {
    let dims = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    let total = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes a whole f32 array as `.npy` (atomically).
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(&npy_header(shape))?;
    f.write_all(bytemuck::cast_slice(data))?;
    f.commit()
}

/// Output format of an activation file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationFormat {
    Safetensors,
    Npz,
}

impl ActivationFormat {
    pub fn from_path(path: &Path) -> Result<ActivationFormat> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => Ok(ActivationFormat::Safetensors),
            Some("npz") => Ok(ActivationFormat::Npz),
            _ => Err(Error::Invalid(format!(
                "--out {}: use a .safetensors or .npz file name",
                path.display()
            ))),
        }
    }
}

/// Streams `[N, …]` f32 tensors into a file a batch of rows at a time (also used whole, for
/// weights: its header is deterministic, tensors in the given order, metadata sorted). The safetensors layout is
/// fixed up front (every shape is known), so each batch lands at its final offset; `.npz` is
/// assembled from that layout at the end. Nothing appears under the target name until
/// [`TensorWriter::finish`].
pub struct TensorWriter {
    target: PathBuf,
    format: ActivationFormat,
    file: AtomicFile,
    data_start: u64,
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    offsets: Vec<u64>,
    metadata: BTreeMap<String, String>,
}

impl TensorWriter {
    /// `shapes[i]` is the whole tensor `[N, …]` of `names[i]`.
    pub fn create(
        target: &Path,
        names: &[String],
        shapes: &[Vec<usize>],
        metadata: BTreeMap<String, String>,
    ) -> Result<TensorWriter> {
        let format = ActivationFormat::from_path(target)?;
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(Error::file(
                target,
                format!("two tensors are named '{dup}'; every name must be unique"),
            ));
        }
        if let Some((name, _)) = names.iter().zip(shapes).find(|(_, s)| s.is_empty()) {
            return Err(Error::Invalid(format!(
                "tensor '{name}' is a scalar; only arrays are written"
            )));
        }
        let mut offsets = Vec::with_capacity(names.len() + 1);
        let mut at = 0u64;
        let mut header = serde_json::Map::new();
        header.insert(
            "__metadata__".into(),
            serde_json::to_value(&metadata).expect("strings"),
        );
        for (name, shape) in names.iter().zip(shapes) {
            offsets.push(at);
            let bytes = shape
                .iter()
                .try_fold(4u64, |a, &d| a.checked_mul(d as u64))
                .and_then(|b| b.checked_add(at).map(|_| b))
                .ok_or_else(|| {
                    Error::file(
                        target,
                        format!("tensor '{name}' of shape {shape:?} is too large to write"),
                    )
                })?;
            header.insert(
                name.clone(),
                serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [at, at + bytes]}),
            );
            at += bytes;
        }
        offsets.push(at);
        let mut text = serde_json::to_string(&header).expect("json");
        text.push_str(&" ".repeat(text.len().next_multiple_of(8) - text.len()));
        let scratch = match format {
            ActivationFormat::Safetensors => target.to_path_buf(),
            ActivationFormat::Npz => target.with_extension("npz.data"),
        };
        let mut file = AtomicFile::create(&scratch)?;
        let data_start = match format {
            ActivationFormat::Safetensors => {
                file.write_all(&(text.len() as u64).to_le_bytes())?;
                file.write_all(text.as_bytes())?;
                8 + text.len() as u64
            }
            ActivationFormat::Npz => 0,
        };
        file.set_len(data_start + at)?;
        Ok(TensorWriter {
            target: target.to_path_buf(),
            format,
            file,
            data_start,
            names: names.to_vec(),
            shapes: shapes.to_vec(),
            offsets,
            metadata,
        })
    }

    /// Writes rows `row0..row0 + rows` of every tensor; `batch[i]` holds them for `names[i]`.
    pub fn write_rows<T: AsRef<[f32]>>(&mut self, row0: usize, batch: &[T]) -> Result<()> {
        for (i, data) in batch.iter().enumerate() {
            self.write_tensor_rows(i, row0, data.as_ref())?;
        }
        Ok(())
    }

    /// Writes rows `row0..` of tensor `names[index]`.
    pub fn write_tensor_rows(&mut self, index: usize, row0: usize, data: &[f32]) -> Result<()> {
        let row: usize = self.shapes[index][1..].iter().product();
        if !data.len().is_multiple_of(row.max(1))
            || row0 + data.len() / row.max(1) > self.shapes[index][0]
        {
            return Err(Error::Invalid(format!(
                "activation rows for '{}' do not fit shape {:?}",
                self.names[index], self.shapes[index]
            )));
        }
        let at = self.data_start + self.offsets[index] + (row0 * row * 4) as u64;
        self.file.write_at(at, bytemuck::cast_slice(data))
    }

    /// Completes the file and moves it into place.
    pub fn finish(mut self) -> Result<()> {
        match self.format {
            ActivationFormat::Safetensors => self.file.commit(),
            ActivationFormat::Npz => {
                let out = AtomicFile::create(&self.target)?;
                let mut zip = zip::ZipWriter::new(out);
                let opts = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .large_file(true);
                let zerr =
                    |e: zip::result::ZipError| Error::file(&self.target, format!("zip: {e}"));
                let ioerr =
                    |e: std::io::Error| Error::file(&self.target, format!("write failed: {e}"));
                let mut buf = vec![0u8; 1 << 22];
                for i in 0..self.names.len() {
                    zip.start_file(format!("{}.npy", self.names[i]), opts)
                        .map_err(zerr)?;
                    zip.write_all(&npy_header(&self.shapes[i])).map_err(ioerr)?;
                    let (mut at, end) = (self.offsets[i], self.offsets[i + 1]);
                    while at < end {
                        let n = ((end - at) as usize).min(buf.len());
                        self.file.read_at(at, &mut buf[..n])?;
                        zip.write_all(&buf[..n]).map_err(ioerr)?;
                        at += n as u64;
                    }
                }
                zip.start_file("metadata.json", opts).map_err(zerr)?;
                let meta = serde_json::to_vec_pretty(&self.metadata).expect("json");
                zip.write_all(&meta).map_err(ioerr)?;
                zip.finish().map_err(zerr)?.commit()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ventral-arrays-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn duplicate_tensor_names_are_refused_and_nothing_is_written() {
        let dir = std::env::temp_dir().join(format!("ventral-dup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.safetensors");
        let names = vec!["brain/sim/A".to_string(), "brain/sim/A".to_string()];
        let e = TensorWriter::create(&path, &names, &[vec![3], vec![3]], BTreeMap::new())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("two tensors are named 'brain/sim/A'"), "{e}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shapes_whose_product_overflows_are_refused_by_name() {
        let d = tmp("overflow");
        // 2³² × 2³² elements: the product wraps to 0 in unchecked arithmetic.
        let shape = [1usize << 32, 1 << 32];
        let p = d.join("huge.npy");
        std::fs::write(&p, npy_header(&shape)).unwrap();
        let want = "huge.npy: shape [4294967296, 4294967296] is too large";
        let e = NpyReader::open(&p).err().unwrap().to_string();
        assert!(e.contains(want), "{e}");
        let e = read_arrays(&p).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
        // The same entry inside an .npz is named by the archive and the entry.
        let z = d.join("huge.npz");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&z).unwrap());
        w.start_file("x.npy", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&npy_header(&[3, 1 << 62])).unwrap();
        w.finish().unwrap();
        let e = read_arrays(&z).unwrap_err().to_string();
        assert!(
            e.contains("huge.npz/x: shape [3, 4611686018427387904] is too large"),
            "{e}"
        );
        let e = TensorWriter::create(
            &d.join("w.safetensors"),
            &["t".to_string()],
            &[vec![1 << 32, 1 << 31]],
            BTreeMap::new(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("tensor 't' of shape"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn an_activation_file_without_tensors_is_refused_by_name() {
        let d = tmp("empty-acts");
        for ext in ["safetensors", "npz"] {
            let p = d.join(format!("none.{ext}"));
            TensorWriter::create(&p, &[], &[], BTreeMap::new())
                .unwrap()
                .finish()
                .unwrap();
            assert!(read_arrays(&p).unwrap().is_empty());
            let e = read_activations(&p).unwrap_err().to_string();
            assert!(e.contains(&format!("none.{ext}: holds no tensors")), "{e}");
        }
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn npy_roundtrip_and_header_layout() {
        let d = tmp("npy");
        let p = d.join("x.npy");
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
        write_npy(&p, &[2, 3, 4], &data).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!((bytes.len() - 24 * 4) % 64, 0, "header padded to 64 bytes");
        let mut r = NpyReader::open(&p).unwrap();
        assert_eq!(r.shape(), [2, 3, 4]);
        assert_eq!(r.read_rows(1, 2).unwrap(), data[12..]);

        std::fs::write(d.join("short.npy"), &bytes[..bytes.len() - 4]).unwrap();
        let e = NpyReader::open(&d.join("short.npy"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("short.npy: truncated: shape [2, 3, 4] needs 96 data bytes"),
            "{e}"
        );
        let mut int = bytes.clone();
        let at = int.windows(3).position(|w| w == b"<f4").unwrap();
        int[at..at + 3].copy_from_slice(b"<i4");
        std::fs::write(d.join("int.npy"), &int).unwrap();
        let e = NpyReader::open(&d.join("int.npy"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("dtype <i4 is not supported"), "{e}");
        std::fs::write(d.join("junk.npy"), b"hello world").unwrap();
        assert!(NpyReader::open(&d.join("junk.npy")).is_err());
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn activation_writer_streams_batches_into_safetensors_and_npz() {
        let d = tmp("acts");
        let names = vec!["a.0".to_string(), "b:1".to_string()];
        let shapes = vec![vec![3, 2], vec![3, 1, 2, 2]];
        let a: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let b: Vec<f32> = (0..12).map(|v| -(v as f32)).collect();
        for ext in ["safetensors", "npz"] {
            let p = d.join(format!("acts.{ext}"));
            let meta = BTreeMap::from([("model".to_string(), "m".to_string())]);
            let mut w = TensorWriter::create(&p, &names, &shapes, meta).unwrap();
            w.write_rows(2, &[a[4..].to_vec(), b[8..].to_vec()])
                .unwrap();
            assert!(!p.exists(), "nothing under the final name before finish");
            w.write_rows(0, &[a[..4].to_vec(), b[..8].to_vec()])
                .unwrap();
            assert!(w.write_rows(2, &[a.clone(), b.clone()]).is_err());
            w.finish().unwrap();
            let bytes = std::fs::read(&p).unwrap();
            if ext == "safetensors" {
                let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
                let t = st.tensor("b:1").unwrap();
                assert_eq!(t.shape(), [3, 1, 2, 2]);
                assert_eq!(bytemuck::pod_collect_to_vec::<u8, f32>(t.data()), b);
                let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
                assert_eq!(meta.metadata().as_ref().unwrap()["model"], "m");
            } else {
                let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
                let mut npy = Vec::new();
                z.by_name("a.0.npy").unwrap().read_to_end(&mut npy).unwrap();
                assert_eq!(&npy[..npy.len() - 24], npy_header(&[3, 2]).as_slice());
                assert_eq!(
                    bytemuck::pod_collect_to_vec::<u8, f32>(&npy[npy.len() - 24..]),
                    a
                );
                assert!(z.by_name("metadata.json").is_ok());
            }
        }
        let leftovers: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "no scratch files left: {leftovers:?}");
        assert!(TensorWriter::create(&d.join("x.csv"), &names, &shapes, BTreeMap::new()).is_err());
        std::fs::remove_dir_all(&d).ok();
    }
}
