//! MATLAB Level 5 MAT-files (what `save` writes up to v7, compressed or not; scipy's `savemat`).
//! v7.3 files (HDF5) are not read.
//!
//! Two readers share one parser:
//! * [`parse_mat`]: the numeric arrays only, as [`Array`]s. MATLAB stores arrays column-major, so
//!   an array of MATLAB size `[d0, d1, …, dk]` is returned with shape `[dk, …, d1, d0]` over the
//!   same data: `[N, N, S]` becomes `S` matrices of `N × N` (transposed, which leaves an RDM
//!   unchanged) and `[m, S]` becomes `S` rows of length m. Other variables are skipped.
//! * [`read_mat`] / [`read_mat_file`]: every variable as a [`MatValue`]: numeric arrays (uint8 kept
//!   as bytes, every other class as f64), char arrays, cell arrays and structs, nested to
//!   [`MAX_DEPTH`] levels. Complex, sparse, object and function-handle arrays are
//!   [`MatValue::Unsupported`] (their data is not read).
//!
//! The format: after a 128-byte header, a sequence of data elements, each an 8-byte tag (type,
//! byte count; or, for payloads of at most 4 bytes, both packed in the first 4 bytes with the
//! payload in the next 4) and a payload padded to 8 bytes. A variable is a miMATRIX (14) element,
//! possibly inside a zlib miCOMPRESSED (15) element; its payload holds array flags (class in the
//! low byte, complex/global/logical bits in the next), dimensions, name and then, by class: the
//! real (and imaginary) data, stored in any integer or float type whatever the class; for cells one
//! nested miMATRIX per item (column-major); for structs the field-name length, the NUL-padded
//! field names and one nested miMATRIX per (element, field).
//!
//! Malformed input is an error naming the file and the byte offset (inside the inflated stream of
//! a compressed element, that element's offset too), never a panic; allocations are bounded by the
//! bytes actually present (at most 8 × for numbers widened to f64) and inflated streams by
//! [`MAX_INFLATED`].

use std::fmt;
use std::io::Read;
use std::path::Path;

use crate::arrays::Array;
use crate::error::{Error, Result};
use crate::stimuli::Rgb8;

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

const MX_CELL: u8 = 1;
const MX_STRUCT: u8 = 2;
const MX_OBJECT: u8 = 3;
const MX_CHAR: u8 = 4;
const MX_SPARSE: u8 = 5;
const MX_UINT8: u8 = 9;

const FLAG_COMPLEX: u8 = 0x08;
const FLAG_LOGICAL: u8 = 0x02;

/// Deepest nesting of cells and structs that [`read_mat`] reads (a top-level variable is depth 0).
pub const MAX_DEPTH: usize = 16;
/// Most bytes one compressed element may inflate to (4 GiB).
pub const MAX_INFLATED: u64 = 1 << 32;
/// Most dimensions of one array.
const MAX_DIMS: usize = 64;

/// The values of a numeric array, column-major as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum MatData {
    /// `uint8` (and `logical`) arrays: images stay bytes.
    U8(Vec<u8>),
    /// Every other numeric class, converted to f64 (int64/uint64 beyond 2^53 lose precision).
    F64(Vec<f64>),
}

impl MatData {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            MatData::U8(v) => v.len(),
            MatData::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` (column-major) as f64.
    pub fn get(&self, i: usize) -> Option<f64> {
        match self {
            MatData::U8(v) => v.get(i).map(|&x| f64::from(x)),
            MatData::F64(v) => v.get(i).copied(),
        }
    }

    /// Every value as f64.
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            MatData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            MatData::F64(v) => v.clone(),
        }
    }

    fn into_f64(self) -> Vec<f64> {
        match self {
            MatData::U8(v) => v.into_iter().map(f64::from).collect(),
            MatData::F64(v) => v,
        }
    }
}

/// A real numeric array. `data.len()` is the product of `dims` for arrays the readers return.
#[derive(Debug, Clone, PartialEq)]
pub struct MatArray {
    /// MATLAB order (`[rows, cols, …]`).
    pub dims: Vec<usize>,
    /// The MATLAB class: "double", "single", "int8", "uint8", "int16", "uint16", "int32",
    /// "uint32", "int64", "uint64", or "logical" (a uint8 array with the logical flag).
    pub class: &'static str,
    /// Column-major, as stored.
    pub data: MatData,
}

/// One MATLAB value.
#[derive(Debug, Clone, PartialEq)]
pub enum MatValue {
    Numeric(MatArray),
    /// A char array; the rows of a multi-row array are joined with '\n'.
    Char(String),
    /// Items in column-major order.
    Cell {
        dims: Vec<usize>,
        items: Vec<MatValue>,
    },
    /// Each field with its value for every struct element (column-major).
    Struct {
        dims: Vec<usize>,
        fields: Vec<(String, Vec<MatValue>)>,
    },
    /// Complex ("complex double", …), "sparse", "object" and other classes ("class 16", …),
    /// recognised but not read.
    Unsupported {
        class: String,
    },
}

/// `224×224×3`.
pub fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

impl fmt::Display for MatValue {
    /// What the value is, for messages: "a uint8 224×224 array", "a 267×1 cell array", …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatValue::Numeric(a) => write!(f, "a {} {} array", a.class, dims_text(&a.dims)),
            MatValue::Char(s) => write!(f, "a char array of {} characters", s.chars().count()),
            MatValue::Cell { dims, .. } => write!(f, "a {} cell array", dims_text(dims)),
            MatValue::Struct { dims, fields } => write!(
                f,
                "a {} struct with fields [{}]",
                dims_text(dims),
                fields
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            MatValue::Unsupported { class } => write!(f, "an unsupported {class} array"),
        }
    }
}

/// `round` half away from zero and clamp to 0–255 (MATLAB's `uint8(x)`; NaN → 0).
fn to_u8(v: f64) -> u8 {
    if v.is_nan() {
        0
    } else {
        v.round().clamp(0.0, 255.0) as u8
    }
}

impl MatValue {
    /// The items of a cell array.
    pub fn cells(&self) -> Option<&[MatValue]> {
        match self {
            MatValue::Cell { items, .. } => Some(items),
            _ => None,
        }
    }

    /// Field `name` of the first element of a struct (the whole struct when it is 1×1).
    pub fn field(&self, name: &str) -> Option<&MatValue> {
        match self {
            MatValue::Struct { fields, .. } => fields
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.first()),
            _ => None,
        }
    }

    /// An image: H×W (gray, replicated to 3 channels), H×W×1 or H×W×3, uint8 or any other numeric
    /// class with values on the 0–255 scale (rounded half away from zero and clamped, NaN → 0, as
    /// MATLAB's `uint8`). MATLAB element (y, x, c) is at `y + H·(x + W·c)`; the result is
    /// row-major interleaved RGB. `what` names the item in errors, e.g. "stim{3}".
    pub fn to_rgb8(&self, origin: &Path, what: &str) -> Result<Rgb8> {
        let bad = |m: String| Error::file(origin, format!("{what}: {m}"));
        let MatValue::Numeric(a) = self else {
            return Err(bad(format!("expected an image, found {self}")));
        };
        let (h, w, ch) = match a.dims.as_slice() {
            &[h, w] | &[h, w, 1] => (h, w, 1),
            &[h, w, 3] => (h, w, 3),
            _ => return Err(bad(format!("expected an H×W or H×W×3 image, found {self}"))),
        };
        let plane = h
            .checked_mul(w)
            .filter(|&n| n > 0)
            .ok_or_else(|| bad(format!("expected a non-empty image, found {self}")))?;
        let out_len = plane
            .checked_mul(3)
            .ok_or_else(|| bad(format!("image {} is too large", dims_text(&a.dims))))?;
        if plane.checked_mul(ch) != Some(a.data.len()) {
            return Err(bad(format!(
                "{} values for dimensions {}",
                a.data.len(),
                dims_text(&a.dims)
            )));
        }
        let mut data = vec![0u8; out_len];
        // Column x of channel c is contiguous in the source (h values); scatter it into the
        // row-major destination.
        fn scatter<T: Copy>(
            src: &[T],
            h: usize,
            w: usize,
            ch: usize,
            out: &mut [u8],
            f: impl Fn(T) -> u8,
        ) {
            for c in 0..3 {
                let sc = if ch == 1 { 0 } else { c };
                let Some(plane) = src.get(sc * h * w..(sc + 1) * h * w) else {
                    return;
                };
                for (x, col) in plane.chunks_exact(h).enumerate() {
                    for (y, &v) in col.iter().enumerate() {
                        if let Some(p) = out.get_mut((y * w + x) * 3 + c) {
                            *p = f(v);
                        }
                    }
                }
            }
        }
        match &a.data {
            MatData::U8(v) => scatter(v, h, w, ch, &mut data, |x| x),
            MatData::F64(v) => scatter(v, h, w, ch, &mut data, to_u8),
        }
        Ok(Rgb8 {
            width: w,
            height: h,
            data,
        })
    }

    /// A 2-D numeric array (trailing singleton dimensions allowed) as (rows, cols, row-major
    /// f64). `what` names the item in errors.
    pub fn matrix(&self, origin: &Path, what: &str) -> Result<(usize, usize, Vec<f64>)> {
        let bad = |m: String| Error::file(origin, format!("{what}: {m}"));
        let MatValue::Numeric(a) = self else {
            return Err(bad(format!("expected a numeric matrix, found {self}")));
        };
        let (rows, cols) = match a.dims.as_slice() {
            [] => (1, 1),
            [r] => (*r, 1),
            [r, c, rest @ ..] if rest.iter().all(|&d| d == 1) => (*r, *c),
            _ => return Err(bad(format!("expected a 2-D matrix, found {self}"))),
        };
        if rows.checked_mul(cols) != Some(a.data.len()) {
            return Err(bad(format!(
                "{} values for dimensions {}",
                a.data.len(),
                dims_text(&a.dims)
            )));
        }
        let mut out = Vec::with_capacity(a.data.len());
        for r in 0..rows {
            for c in 0..cols {
                out.push(a.data.get(r + rows * c).unwrap_or(f64::NAN));
            }
        }
        Ok((rows, cols, out))
    }
}

/// Every variable of the MAT-file `path`, by name, in file order; errors name the file.
pub fn read_mat_file(path: &Path) -> Result<Vec<(String, MatValue)>> {
    if path.exists() && !path.is_file() {
        return Err(Error::file(path, "not a regular file"));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    read_mat(&bytes, path)
}

/// Every variable of a MAT-file held in `bytes`, by name, in file order; `origin` names the file
/// in errors.
pub fn read_mat(bytes: &[u8], origin: &Path) -> Result<Vec<(String, MatValue)>> {
    let mut out = Vec::new();
    for_each_variable(bytes, origin, |buf, e| {
        let (name, value) = buf.value(&e, 0)?;
        out.push((name, value));
        Ok(())
    })?;
    Ok(out)
}

/// Every numeric array of a MAT-file held in `bytes`, by variable name, in file order; `origin`
/// names the file in errors. Non-numeric variables (cell, struct, char, sparse, …) are skipped
/// with a warning; a complex one is an error.
pub fn parse_mat(bytes: &[u8], origin: &Path) -> Result<Vec<(String, Array)>> {
    let mut out = Vec::new();
    for_each_variable(bytes, origin, |buf, e| {
        let h = buf.header(&e)?;
        // Numeric classes: double 6, single 7, int8..uint64 8..15.
        if !(6..=15).contains(&h.class) {
            log::warn!(
                "{}: variable '{}' is not a numeric array (class {}); skipped",
                origin.display(),
                h.name,
                h.class
            );
            return Ok(());
        }
        if h.flags & FLAG_COMPLEX != 0 {
            return Err(Error::file(
                origin,
                format!("variable '{}' is complex; RDMs must be real", h.name),
            ));
        }
        let a = buf.numeric(&h)?;
        let shape: Vec<usize> = a.dims.iter().rev().copied().collect();
        out.push((
            h.name,
            Array {
                shape,
                data: a.data.into_f64(),
            },
        ));
        Ok(())
    })?;
    Ok(out)
}

/// Checks the header and calls `f` with every top-level miMATRIX element (inflating compressed
/// ones).
fn for_each_variable(
    bytes: &[u8],
    origin: &Path,
    mut f: impl FnMut(Buf<'_>, Elem) -> Result<()>,
) -> Result<()> {
    let bad = |m: &str| Error::file(origin, m);
    if bytes.len() < 128 {
        return Err(bad("too short to be a MAT-file"));
    }
    if bytes.starts_with(b"MATLAB 7.3")
        || bytes.get(512..).is_some_and(|b| b.starts_with(b"\x89HDF"))
    {
        return Err(bad(
            "MATLAB v7.3 (HDF5) files are not supported; save with `save -v7` or scipy.io.savemat",
        ));
    }
    if bytes.get(126..128) != Some(b"IM".as_slice()) {
        return Err(bad(
            "not a little-endian Level 5 MAT-file (save with `save -v7` or scipy.io.savemat)",
        ));
    }
    let file = Buf {
        origin,
        bytes,
        zip: None,
    };
    let mut at: usize = 128;
    while at.checked_add(8).is_some_and(|e| e <= bytes.len()) {
        let e = file.elem(at, bytes.len())?;
        match e.ty {
            MI_COMPRESSED => {
                let inflated = inflate(file.slice(&e)).map_err(|m| file.err(at, m))?;
                let inner = Buf {
                    origin,
                    bytes: &inflated,
                    zip: Some(at),
                };
                // MATLAB and scipy compress one variable per element.
                let ie = inner.elem(0, inflated.len())?;
                if ie.ty == MI_MATRIX {
                    f(inner, ie)?;
                }
            }
            MI_MATRIX => f(file, e)?,
            _ => {}
        }
        at = e.next;
    }
    Ok(())
}

/// The zlib stream `data`, inflated (at most [`MAX_INFLATED`] bytes).
fn inflate(data: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(1 << 28));
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("corrupt compressed element: {e}"))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(format!(
            "compressed element inflates to more than {MAX_INFLATED} bytes"
        ));
    }
    Ok(out)
}

/// A data element: type, payload `start..start + len` of its buffer, and where the next one
/// starts (at most the end of the enclosing element).
#[derive(Debug, Clone, Copy)]
struct Elem {
    at: usize,
    ty: u32,
    start: usize,
    len: usize,
    next: usize,
}

/// The array flags, dimensions and name of a miMATRIX element, and where its body starts.
struct Header {
    class: u8,
    flags: u8,
    dims: Vec<usize>,
    name: String,
    at: usize,
    body: usize,
    end: usize,
}

/// A buffer being parsed: the file or the inflated stream of one of its compressed elements.
#[derive(Clone, Copy)]
struct Buf<'a> {
    origin: &'a Path,
    bytes: &'a [u8],
    /// Offset in the file of the compressed element `bytes` was inflated from.
    zip: Option<usize>,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let w = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

impl<'a> Buf<'a> {
    fn err(&self, at: usize, m: impl fmt::Display) -> Error {
        match self.zip {
            None => Error::file(self.origin, format!("byte {at}: {m}")),
            Some(z) => Error::file(
                self.origin,
                format!("byte {at} of the compressed element at byte {z}: {m}"),
            ),
        }
    }

    fn slice(&self, e: &Elem) -> &'a [u8] {
        self.bytes
            .get(e.start..e.start.saturating_add(e.len))
            .unwrap_or(&[])
    }

    /// The element whose tag is at `at`, which must end by `end`.
    fn elem(&self, at: usize, end: usize) -> Result<Elem> {
        let end = end.min(self.bytes.len());
        let left = end.saturating_sub(at);
        let truncated = |what: &str| self.err(at, format!("truncated {what} ({left} bytes left)"));
        if left < 8 {
            return Err(truncated("data element tag"));
        }
        let word = u32_at(self.bytes, at).ok_or_else(|| truncated("data element tag"))?;
        if word >> 16 != 0 {
            // Small element: type and size share the first word, payload in the next 4 bytes.
            let (ty, len) = (word & 0xffff, (word >> 16) as usize);
            if len > 4 {
                return Err(self.err(
                    at,
                    format!("small data element of type {ty} declares {len} bytes (at most 4)"),
                ));
            }
            return Ok(Elem {
                at,
                ty: word & 0xffff,
                start: at + 4,
                len,
                next: at + 8,
            });
        }
        let len = u32_at(self.bytes, at + 4).ok_or_else(|| truncated("data element tag"))? as usize;
        let start = at + 8;
        if len > end - start {
            return Err(self.err(
                at,
                format!(
                    "truncated data element of type {word}: {len} bytes declared, {} left",
                    end - start
                ),
            ));
        }
        // Elements are padded to 8 bytes, except compressed ones; a missing final pad is fine.
        let padded = if word == MI_COMPRESSED {
            len
        } else {
            len.checked_next_multiple_of(8).unwrap_or(usize::MAX)
        };
        Ok(Elem {
            at,
            ty: word,
            start,
            len,
            next: start.saturating_add(padded).min(end),
        })
    }

    fn header(&self, e: &Elem) -> Result<Header> {
        let end = e.start + e.len;
        let flags = self.elem(e.start, end)?;
        let f = self.slice(&flags);
        let class = f.first().copied().unwrap_or(0);
        let bits = f.get(1).copied().unwrap_or(0);
        let de = self.elem(flags.next, end)?;
        let raw = numbers(de.ty, self.slice(&de))
            .ok_or_else(|| self.err(de.at, format!("dimensions of element type {}", de.ty)))?;
        if raw.is_empty() || raw.len() > MAX_DIMS {
            return Err(self.err(de.at, format!("{} dimensions", raw.len())));
        }
        let dims = raw
            .iter()
            .map(|&v| {
                (v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(53))
                    .then_some(v as usize)
                    .ok_or_else(|| self.err(de.at, format!("bad dimension {v}")))
            })
            .collect::<Result<Vec<usize>>>()?;
        let ne = self.elem(de.next, end)?;
        let name = if ne.ty == MI_INT8 || ne.ty == MI_UINT8 {
            String::from_utf8_lossy(self.slice(&ne)).into_owned()
        } else {
            String::new()
        };
        Ok(Header {
            class,
            flags: bits,
            dims,
            name,
            at: e.at,
            body: ne.next,
            end,
        })
    }

    /// Product of `h.dims`, or an error.
    fn count(&self, h: &Header) -> Result<usize> {
        h.dims
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| {
                self.err(
                    h.at,
                    format!("'{}': dimensions {:?} overflow", h.name, h.dims),
                )
            })
    }

    /// The real part of a numeric array.
    fn numeric(&self, h: &Header) -> Result<MatArray> {
        let count = self.count(h)?;
        let class = match h.class {
            6 => "double",
            7 => "single",
            8 => "int8",
            MX_UINT8 if h.flags & FLAG_LOGICAL != 0 => "logical",
            MX_UINT8 => "uint8",
            10 => "int16",
            11 => "uint16",
            12 => "int32",
            13 => "uint32",
            14 => "int64",
            15 => "uint64",
            c => return Err(self.err(h.at, format!("'{}': class {c} is not numeric", h.name))),
        };
        let re = self.elem(h.body, h.end).map_err(|_| {
            self.err(
                h.body,
                format!("variable '{}': truncated or missing data", h.name),
            )
        })?;
        let raw = self.slice(&re);
        let data = if h.class == MX_UINT8 {
            if re.ty == MI_UINT8 || (re.ty == MI_INT8 && raw.iter().all(|&b| b < 128)) {
                MatData::U8(raw.to_vec())
            } else {
                let v = numbers(re.ty, raw).ok_or_else(|| {
                    self.err(
                        re.at,
                        format!("'{}': unsupported element type {}", h.name, re.ty),
                    )
                })?;
                MatData::U8(
                    v.iter()
                        .map(|&x| {
                            ((0.0..=255.0).contains(&x) && x.fract() == 0.0)
                                .then_some(x as u8)
                                .ok_or_else(|| {
                                    self.err(re.at, format!("'{}': uint8 value {x}", h.name))
                                })
                        })
                        .collect::<Result<_>>()?,
                )
            }
        } else {
            MatData::F64(numbers(re.ty, raw).ok_or_else(|| {
                self.err(
                    re.at,
                    format!("'{}': unsupported element type {}", h.name, re.ty),
                )
            })?)
        };
        if data.len() != count {
            return Err(self.err(
                re.at,
                format!(
                    "variable '{}': {} values for dimensions {:?}",
                    h.name,
                    data.len(),
                    h.dims
                ),
            ));
        }
        Ok(MatArray {
            dims: h.dims.clone(),
            class,
            data,
        })
    }

    /// The miMATRIX element `e` (depth levels below a top-level variable) as (name, value).
    fn value(&self, e: &Elem, depth: usize) -> Result<(String, MatValue)> {
        if depth > MAX_DEPTH {
            return Err(self.err(
                e.at,
                format!("cells or structs nested deeper than {MAX_DEPTH}"),
            ));
        }
        if e.len == 0 {
            // An empty miMATRIX: MATLAB's empty (0×0 double) item.
            return Ok((
                String::new(),
                MatValue::Numeric(MatArray {
                    dims: vec![0, 0],
                    class: "double",
                    data: MatData::F64(Vec::new()),
                }),
            ));
        }
        let h = self.header(e)?;
        let complex = h.flags & FLAG_COMPLEX != 0;
        let value = match h.class {
            6..=15 if complex => {
                let class = self.numeric_class_name(h.class);
                MatValue::Unsupported {
                    class: format!("complex {class}"),
                }
            }
            6..=15 => MatValue::Numeric(self.numeric(&h)?),
            MX_CHAR => MatValue::Char(self.chars(&h)?),
            MX_CELL => {
                let count = self.count(&h)?;
                self.room(&h, count)?;
                let mut items = Vec::with_capacity(count);
                let mut at = h.body;
                for _ in 0..count {
                    let ie = self.nested(at, &h)?;
                    items.push(self.value(&ie, depth + 1)?.1);
                    at = ie.next;
                }
                MatValue::Cell {
                    dims: h.dims.clone(),
                    items,
                }
            }
            MX_STRUCT => self.structure(&h, depth)?,
            MX_OBJECT => MatValue::Unsupported {
                class: "object".into(),
            },
            MX_SPARSE => MatValue::Unsupported {
                class: "sparse".into(),
            },
            c => MatValue::Unsupported {
                class: format!("class {c}"),
            },
        };
        Ok((h.name, value))
    }

    fn numeric_class_name(&self, class: u8) -> &'static str {
        [
            "double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
            "uint64",
        ]
        .get(usize::from(class).wrapping_sub(6))
        .copied()
        .unwrap_or("numeric")
    }

    /// An error unless `count` nested elements (8 bytes each at least) can fit in the body.
    fn room(&self, h: &Header, count: usize) -> Result<()> {
        let left = h.end.saturating_sub(h.body);
        if count > left / 8 {
            return Err(self.err(
                h.at,
                format!(
                    "'{}' declares {count} items but only {left} bytes follow",
                    h.name
                ),
            ));
        }
        Ok(())
    }

    /// The nested miMATRIX element at `at` inside `h`.
    fn nested(&self, at: usize, h: &Header) -> Result<Elem> {
        let ie = self.elem(at, h.end)?;
        if ie.ty != MI_MATRIX {
            return Err(self.err(
                at,
                format!(
                    "'{}': expected a nested array (type 14), found element type {}",
                    h.name, ie.ty
                ),
            ));
        }
        Ok(ie)
    }

    fn structure(&self, h: &Header, depth: usize) -> Result<MatValue> {
        let le = self.elem(h.body, h.end)?;
        let width = numbers(le.ty, self.slice(&le))
            .and_then(|v| v.first().copied())
            .filter(|&w| (1.0..=65536.0).contains(&w) && w.fract() == 0.0)
            .ok_or_else(|| self.err(le.at, format!("'{}': bad field-name length", h.name)))?
            as usize;
        let ne = self.elem(le.next, h.end)?;
        let raw = self.slice(&ne);
        if !raw.len().is_multiple_of(width) {
            return Err(self.err(
                ne.at,
                format!(
                    "'{}': {} bytes of field names are not a multiple of {width}",
                    h.name,
                    raw.len()
                ),
            ));
        }
        let names: Vec<String> = raw
            .chunks_exact(width)
            .map(|c| {
                let n = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                String::from_utf8_lossy(&c[..n]).into_owned()
            })
            .collect();
        let count = self.count(h)?;
        let total = count.saturating_mul(names.len());
        let body = Header {
            class: h.class,
            flags: h.flags,
            dims: Vec::new(),
            name: h.name.clone(),
            at: h.at,
            body: ne.next,
            end: h.end,
        };
        self.room(&body, total)?;
        let mut fields: Vec<(String, Vec<MatValue>)> = names
            .into_iter()
            .map(|n| (n, Vec::with_capacity(count)))
            .collect();
        let mut at = ne.next;
        for _ in 0..count {
            for (_, values) in fields.iter_mut() {
                let ie = self.nested(at, &body)?;
                values.push(self.value(&ie, depth + 1)?.1);
                at = ie.next;
            }
        }
        Ok(MatValue::Struct {
            dims: h.dims.clone(),
            fields,
        })
    }

    fn chars(&self, h: &Header) -> Result<String> {
        let de = self.elem(h.body, h.end)?;
        let raw = self.slice(&de);
        let rows = h.dims.first().copied().unwrap_or(1);
        let units: Vec<u32> = match de.ty {
            MI_UTF8 | MI_UINT8 | MI_INT8 if rows <= 1 => {
                return Ok(String::from_utf8_lossy(raw).into_owned())
            }
            MI_UTF8 | MI_UINT8 | MI_INT8 => raw.iter().map(|&b| u32::from(b)).collect(),
            MI_UTF16 | MI_UINT16 | MI_INT16 => raw
                .chunks_exact(2)
                .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            MI_UTF32 | MI_UINT32 | MI_INT32 => raw
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            t => {
                return Err(self.err(
                    de.at,
                    format!("'{}': char data of element type {t}", h.name),
                ))
            }
        };
        let utf16 = matches!(de.ty, MI_UTF16 | MI_UINT16 | MI_INT16);
        let text = |u: &[u32]| -> String {
            if utf16 {
                let v: Vec<u16> = u.iter().map(|&x| x as u16).collect();
                String::from_utf16_lossy(&v)
            } else {
                u.iter()
                    .map(|&x| char::from_u32(x).unwrap_or('\u{fffd}'))
                    .collect()
            }
        };
        if rows <= 1 || !units.len().is_multiple_of(rows) {
            return Ok(text(&units));
        }
        let cols = units.len() / rows;
        let lines: Vec<String> = (0..rows)
            .map(|r| {
                let row: Vec<u32> = (0..cols)
                    .filter_map(|c| units.get(r + rows * c).copied())
                    .collect();
                text(&row)
            })
            .collect();
        Ok(lines.join("\n"))
    }
}

/// Values of a numeric element of any MATLAB element type, as f64; None for other types or a
/// byte count that is not a multiple of the type's width.
fn numbers(ty: u32, d: &[u8]) -> Option<Vec<f64>> {
    macro_rules! conv {
        ($t:ty, $w:expr) => {{
            if d.len() % $w != 0 {
                return None;
            }
            d.chunks_exact($w)
                .map(|c| {
                    let mut b = [0u8; $w];
                    b.copy_from_slice(c);
                    <$t>::from_le_bytes(b) as f64
                })
                .collect()
        }};
    }
    Some(match ty {
        MI_INT8 => d.iter().map(|&v| f64::from(v as i8)).collect(),
        MI_UINT8 => d.iter().map(|&v| f64::from(v)).collect(),
        MI_INT16 => conv!(i16, 2),
        MI_UINT16 => conv!(u16, 2),
        MI_INT32 => conv!(i32, 4),
        MI_UINT32 => conv!(u32, 4),
        MI_SINGLE => conv!(f32, 4),
        MI_DOUBLE => conv!(f64, 8),
        MI_INT64 => conv!(i64, 8),
        MI_UINT64 => conv!(u64, 8),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut header = vec![b' '; 116];
        header[..10].copy_from_slice(b"MATLAB 5.0");
        header.extend_from_slice(&[0; 8]);
        header.extend_from_slice(&0x0100u16.to_le_bytes());
        header.extend_from_slice(b"IM");
        header
    }

    fn pad(v: &mut Vec<u8>) {
        v.resize(v.len().next_multiple_of(8), 0);
    }

    /// A tagged element (padded).
    fn el(ty: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v.extend_from_slice(payload);
        pad(&mut v);
        v
    }

    /// A small (packed) element.
    fn small(ty: u32, payload: &[u8]) -> Vec<u8> {
        assert!(payload.len() <= 4);
        let mut v = Vec::new();
        v.extend_from_slice(&(ty | (payload.len() as u32) << 16).to_le_bytes());
        v.extend_from_slice(payload);
        v.resize(8, 0);
        v
    }

    /// A miMATRIX element: flags (class), dims, name, then `body` (already tagged elements).
    fn matrix_el(class: u8, dims: &[i32], name: &str, body: &[u8]) -> Vec<u8> {
        let mut m = el(MI_UINT32, &[class, 0, 0, 0, 0, 0, 0, 0]);
        let d: Vec<u8> = dims.iter().flat_map(|d| d.to_le_bytes()).collect();
        m.extend(el(MI_INT32, &d));
        m.extend(el(MI_INT8, name.as_bytes()));
        m.extend_from_slice(body);
        el(MI_MATRIX, &m)
    }

    /// A MAT-file with one uncompressed double matrix, built by hand.
    fn mat_file(name: &str, dims: [i32; 2], values: &[f64]) -> Vec<u8> {
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut out = header();
        out.extend(matrix_el(6, &dims, name, &el(MI_DOUBLE, &data)));
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
        // The general reader sees the same array, MATLAB order.
        let v = read_mat(&bytes, Path::new("x.mat")).unwrap();
        let (rows, cols, m) = v[0].1.matrix(Path::new("x.mat"), "rdm").unwrap();
        assert_eq!((rows, cols), (2, 3));
        assert_eq!(m, [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        let e = read_mat(&bytes[..bytes.len() - 8], Path::new("x.mat"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.mat") && e.contains("byte"), "{e}");
    }

    /// A double array stored as miUINT8, a small-element uint8 array, a cell, a struct, a char
    /// array, a complex array and a sparse one, all by hand.
    #[test]
    fn narrow_storage_small_elements_cells_structs_and_unsupported_classes() {
        let dbl_as_u8 = matrix_el(6, &[1, 3], "d", &el(MI_UINT8, &[7, 8, 250]));
        let tiny = matrix_el(MX_UINT8, &[2, 1], "", &small(MI_UINT8, &[1, 2]));
        let text = matrix_el(
            MX_CHAR,
            &[2, 2],
            "",
            &el(MI_UINT16, &[b'a', 0, b'c', 0, b'b', 0, b'd', 0]),
        );
        let mut cell_body = tiny.clone();
        cell_body.extend(text);
        cell_body.extend(el(MI_MATRIX, &[])); // an empty item
        let cell = matrix_el(MX_CELL, &[1, 3], "c", &cell_body);
        let mut sbody = small(MI_INT32, &8i32.to_le_bytes());
        sbody.extend(el(MI_INT8, b"x\0\0\0\0\0\0\0yy\0\0\0\0\0\0"));
        for v in [1u8, 2, 3, 4] {
            sbody.extend(matrix_el(MX_UINT8, &[1, 1], "", &small(MI_UINT8, &[v])));
        }
        let st = matrix_el(MX_STRUCT, &[1, 2], "s", &sbody);
        let mut cplx = matrix_el(6, &[1, 1], "z", &el(MI_DOUBLE, &1f64.to_le_bytes()));
        cplx[8 + 8] = 6; // class double
        cplx[8 + 9] = FLAG_COMPLEX;
        let sparse = matrix_el(MX_SPARSE, &[2, 2], "sp", &[]);
        let mut bytes = header();
        for e in [&dbl_as_u8, &cell, &st, &cplx, &sparse] {
            bytes.extend_from_slice(e);
        }
        let p = Path::new("h.mat");
        let v = read_mat(&bytes, p).unwrap();
        let names: Vec<&str> = v.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["d", "c", "s", "z", "sp"]);
        let MatValue::Numeric(d) = &v[0].1 else {
            panic!()
        };
        assert_eq!((d.class, &d.dims), ("double", &vec![1, 3]));
        assert_eq!(d.data, MatData::F64(vec![7.0, 8.0, 250.0]));
        let items = v[1].1.cells().unwrap();
        assert_eq!(items.len(), 3);
        let MatValue::Numeric(t) = &items[0] else {
            panic!()
        };
        assert_eq!(t.data, MatData::U8(vec![1, 2]));
        assert_eq!(items[1], MatValue::Char("ab\ncd".into()));
        assert_eq!(items[2].matrix(p, "c{3}").unwrap(), (0, 0, vec![]));
        let MatValue::Struct { dims, fields } = &v[2].1 else {
            panic!()
        };
        assert_eq!(dims, &[1, 2]);
        assert_eq!(fields[0].0, "x");
        assert_eq!(fields[1].0, "yy");
        let val = |m: &MatValue| m.matrix(p, "").unwrap().2[0];
        assert_eq!(fields[0].1.iter().map(val).collect::<Vec<_>>(), [1.0, 3.0]);
        assert_eq!(fields[1].1.iter().map(val).collect::<Vec<_>>(), [2.0, 4.0]);
        assert_eq!(val(v[2].1.field("yy").unwrap()), 2.0);
        assert_eq!(
            v[3].1,
            MatValue::Unsupported {
                class: "complex double".into()
            }
        );
        assert_eq!(
            v[4].1,
            MatValue::Unsupported {
                class: "sparse".into()
            }
        );
        // parse_mat: numeric arrays only; the complex one is an error as before.
        let e = parse_mat(&bytes, p).unwrap_err().to_string();
        assert!(e.contains("complex"), "{e}");
        let mut first = header();
        first.extend_from_slice(&dbl_as_u8);
        first.extend_from_slice(&cell);
        let a = parse_mat(&first, p).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].1.shape, [3, 1]);
    }

    #[test]
    fn deep_nesting_and_oversized_counts_are_errors() {
        let mut v = matrix_el(6, &[1, 1], "", &el(MI_DOUBLE, &1f64.to_le_bytes()));
        for _ in 0..(MAX_DEPTH + 2) {
            v = matrix_el(MX_CELL, &[1, 1], "", &v);
        }
        let mut bytes = header();
        bytes.extend(v);
        let e = read_mat(&bytes, Path::new("n.mat"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nested deeper"), "{e}");
        let huge = matrix_el(MX_CELL, &[i32::MAX, i32::MAX], "c", &[]);
        let mut bytes = header();
        bytes.extend(huge);
        let e = read_mat(&bytes, Path::new("n.mat"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("items"), "{e}");
    }

    #[test]
    fn images_from_gray_rgb_and_float_arrays() {
        let p = Path::new("i.mat");
        // 2×3 gray, column-major: (y, x) = y + 2x.
        let g = MatValue::Numeric(MatArray {
            dims: vec![2, 3],
            class: "uint8",
            data: MatData::U8(vec![0, 1, 2, 3, 4, 5]),
        });
        let img = g.to_rgb8(p, "g").unwrap();
        assert_eq!((img.width, img.height), (3, 2));
        // Row 0: pixels (0,0)=0, (0,1)=2, (0,2)=4.
        assert_eq!(&img.data[..9], &[0, 0, 0, 2, 2, 2, 4, 4, 4]);
        let f = MatValue::Numeric(MatArray {
            dims: vec![1, 1, 3],
            class: "single",
            data: MatData::F64(vec![-3.0, 12.5, 300.0]),
        });
        assert_eq!(f.to_rgb8(p, "f").unwrap().data, [0, 13, 255]);
        let bad = MatValue::Numeric(MatArray {
            dims: vec![2, 2, 2],
            class: "uint8",
            data: MatData::U8(vec![0; 8]),
        });
        let e = bad.to_rgb8(p, "stim{3}").unwrap_err().to_string();
        assert!(e.contains("stim{3}") && e.contains("2×2×2"), "{e}");
        // Inconsistent public fields are an error, not a panic.
        let lying = MatValue::Numeric(MatArray {
            dims: vec![4, 4],
            class: "uint8",
            data: MatData::U8(vec![0; 3]),
        });
        assert!(lying.to_rgb8(p, "x").is_err());
        assert!(lying.matrix(p, "x").is_err());
    }
}
