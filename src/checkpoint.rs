//! PyTorch checkpoints (`torch.save` of a state_dict: `.pth`, `.pt`, `.bin`) read without Python
//! and without running code.
//!
//! Both formats are read: the zip archive of torch ≥ 1.6 (`<prefix>/data.pkl` plus one entry per
//! storage, `<prefix>/data/<key>`) and the legacy stream (magic-number, protocol and system-info
//! pickles, the object pickle, the list of storage keys, then each storage as a little-endian u64
//! element count and its bytes).
//!
//! The unpickler is restricted: it knows the opcodes `torch.save` emits for tensors in (ordered)
//! dicts, lists and tuples of numbers, strings, booleans and None, and only these globals:
//! `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` (and v1 `_rebuild_tensor` of torch
//! ≤ 0.3), `torch._utils._rebuild_parameter`
//! and the `torch.*Storage` types. Any other global (`os.system`, `builtins.eval`, …) is refused by
//! name before anything is built; a call (`REDUCE`) only ever builds a dict or a tensor view.
//! Every length is checked against the bytes that are really there.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// A tensor read from a checkpoint, widened to f32 (integer tensors too, with `float = false`).
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    /// The stored dtype, as torch names its storage (`FloatStorage`, `LongStorage`, …).
    pub storage: String,
    /// Whether the stored dtype is a floating-point one.
    pub float: bool,
}

/// Whether `bytes` look like a PyTorch checkpoint (a zip archive or a pickle stream).
pub fn is_checkpoint(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.first() == Some(&0x80)
}

/// Reads the state_dict of a checkpoint: a dict of tensors, or a dict holding one under
/// `state_dict` or `model`; a `module.` prefix on every name (DataParallel) is removed.
pub fn read_state_dict(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, RawTensor>> {
    let fail = |m: String| Error::file(path, m);
    let (root, storages) = if bytes.starts_with(b"PK\x03\x04") {
        read_zip(bytes).map_err(fail)?
    } else if bytes.first() == Some(&0x80) {
        read_legacy(bytes).map_err(fail)?
    } else {
        return Err(fail(
            "not a PyTorch checkpoint (neither a zip archive nor a pickle stream)".into(),
        ));
    };
    let mut dict = match root {
        Value::Dict(d) => d,
        other => {
            return Err(fail(format!(
                "the checkpoint holds {}, not a dict of tensors",
                other.kind()
            )))
        }
    };
    for key in ["state_dict", "model"] {
        let pos = dict.iter().position(|(k, v)| {
            matches!(k, Value::Str(s) if s == key) && matches!(v, Value::Dict(_))
        });
        if let Some(i) = pos {
            log::info!(
                "{}: using the '{key}' entry of the checkpoint",
                path.display()
            );
            let Value::Dict(inner) = dict.swap_remove(i).1 else {
                unreachable!("matched a dict above")
            };
            dict = inner;
            break;
        }
    }
    let mut out = BTreeMap::new();
    let mut odd = Vec::new();
    for (k, v) in dict {
        match (k, v) {
            (Value::Str(name), Value::Tensor(t)) => {
                let t = t
                    .materialize(&storages)
                    .map_err(|m| fail(format!("tensor '{name}': {m}")))?;
                out.insert(name, t);
            }
            (k, v) => odd.push(format!("{} ({})", k.display(), v.kind())),
        }
    }
    if !odd.is_empty() {
        return Err(fail(format!(
            "entries that are not tensors: {}",
            odd.into_iter().take(8).collect::<Vec<_>>().join(", ")
        )));
    }
    // DataParallel inserts a `module` path segment where it wraps: before every name (the whole
    // model) or after a submodule (`features.module.0.weight`, DeepCluster's release).
    let mut named = BTreeMap::new();
    for (k, v) in out {
        let short = strip_data_parallel(&k);
        if named.contains_key(&short) {
            return Err(fail(format!(
                "two tensors are named '{short}' once DataParallel's 'module.' is removed"
            )));
        }
        named.insert(short, v);
    }
    Ok(named)
}

/// `name` without its DataParallel `module` segments.
fn strip_data_parallel(name: &str) -> String {
    name.split('.')
        .filter(|s| *s != "module")
        .collect::<Vec<_>>()
        .join(".")
}

type Storages = HashMap<String, (String, Vec<u8>)>;

fn read_zip(bytes: &[u8]) -> std::result::Result<(Value, Storages), String> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let names: Vec<String> = z.file_names().map(str::to_string).collect();
    let pkl = names
        .iter()
        .find(|n| n.ends_with("/data.pkl") || n.as_str() == "data.pkl")
        .ok_or("the zip archive has no data.pkl (not a torch.save checkpoint)")?
        .clone();
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    let read = |z: &mut zip::ZipArchive<_>, name: &str| -> std::result::Result<Vec<u8>, String> {
        let mut f = z
            .by_name(name)
            .map_err(|e| format!("entry '{name}': {e}"))?;
        // Entries are stored; a claimed size past the archive itself is corrupt.
        if f.size() > bytes.len() as u64 {
            return Err(format!("entry '{name}' claims {} bytes", f.size()));
        }
        let mut v = Vec::with_capacity(f.size() as usize);
        f.read_to_end(&mut v)
            .map_err(|e| format!("entry '{name}' cannot be read: {e}"))?;
        Ok(v)
    };
    let pickle = read(&mut z, &pkl)?;
    let mut u = Unpickler::new(&pickle);
    let root = u.load()?;
    let mut storages = Storages::new();
    for (key, dtype) in u.storages {
        let data = read(&mut z, &format!("{prefix}data/{key}"))?;
        storages.insert(key, (dtype, data));
    }
    Ok((root, storages))
}

fn read_legacy(bytes: &[u8]) -> std::result::Result<(Value, Storages), String> {
    let mut pos = 0;
    let mut next = |what: &str| -> std::result::Result<(Value, Unpickler<'_>), String> {
        let mut u = Unpickler::new(&bytes[pos..]);
        let v = u.load().map_err(|m| format!("{what}: {m}"))?;
        pos += u.pos;
        Ok((v, u))
    };
    let (magic, _) = next("magic number")?;
    if !matches!(magic, Value::Int(0x1950_a86a_20f9_469c_fc6c)) {
        return Err("not a torch.save file (wrong magic number)".into());
    }
    next("protocol version")?;
    next("system info")?;
    let (root, u) = next("the saved object")?;
    let wanted = u.storages;
    let (keys, _) = next("storage keys")?;
    let Value::List(keys) = keys else {
        return Err("storage keys are not a list".into());
    };
    let mut storages = Storages::new();
    for k in keys {
        let Value::Str(key) = k else {
            return Err("a storage key is not a string".into());
        };
        let dtype = wanted
            .get(&key)
            .ok_or_else(|| format!("storage '{key}' is not used by any tensor"))?
            .clone();
        let size = element_size(&dtype).ok_or_else(|| format!("unknown storage type {dtype}"))?;
        let count = bytes
            .get(pos..pos + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .ok_or("the file ends inside a storage header (truncated)")?;
        pos += 8;
        let len = count
            .checked_mul(size as u64)
            .filter(|&n| n <= (bytes.len() - pos) as u64)
            .ok_or_else(|| {
                format!(
                    "storage '{key}' claims {count} elements past the end of the file (truncated)"
                )
            })? as usize;
        storages.insert(key, (dtype, bytes[pos..pos + len].to_vec()));
        pos += len;
    }
    Ok((root, storages))
}

/// The torch storage types a weights file can hold, with their bytes per element.
const STORAGE_TYPES: [(&str, usize); 10] = [
    ("DoubleStorage", 8),
    ("LongStorage", 8),
    ("FloatStorage", 4),
    ("IntStorage", 4),
    ("HalfStorage", 2),
    ("BFloat16Storage", 2),
    ("ShortStorage", 2),
    ("CharStorage", 1),
    ("ByteStorage", 1),
    ("BoolStorage", 1),
];

/// The entry of [`STORAGE_TYPES`] called `storage`.
fn storage_type(storage: &str) -> Option<(&'static str, usize)> {
    STORAGE_TYPES.into_iter().find(|(name, _)| *name == storage)
}

/// Bytes per element of a torch storage type.
fn element_size(storage: &str) -> Option<usize> {
    storage_type(storage).map(|(_, size)| size)
}

/// A tensor as the pickle describes it: a view into a storage.
#[derive(Debug, Clone)]
struct TensorRef {
    key: String,
    storage: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

impl TensorRef {
    fn materialize(&self, storages: &Storages) -> std::result::Result<RawTensor, String> {
        let (_, bytes) = storages
            .get(&self.key)
            .ok_or_else(|| format!("storage '{}' is missing from the file", self.key))?;
        let size = element_size(&self.storage).expect("checked when the storage was named");
        let numel_storage = bytes.len() / size;
        let len = self.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let len = len.ok_or("shape overflows")?;
        if len > 0 {
            let last = self
                .shape
                .iter()
                .zip(&self.stride)
                .try_fold(self.offset, |a, (&d, &s)| {
                    a.checked_add((d - 1).checked_mul(s)?)
                });
            match last {
                Some(l) if l < numel_storage => {}
                _ => {
                    return Err(format!(
                        "shape {:?} with strides {:?} at offset {} reaches past its storage of {numel_storage} elements",
                        self.shape, self.stride, self.offset
                    ))
                }
            }
        }
        let value = |i: usize| -> f32 {
            let b = &bytes[i * size..(i + 1) * size];
            match self.storage.as_str() {
                "FloatStorage" => f32::from_le_bytes(b.try_into().expect("4")),
                "DoubleStorage" => f64::from_le_bytes(b.try_into().expect("8")) as f32,
                "HalfStorage" => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
                "BFloat16Storage" => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
                "LongStorage" => i64::from_le_bytes(b.try_into().expect("8")) as f32,
                "IntStorage" => i32::from_le_bytes(b.try_into().expect("4")) as f32,
                "ShortStorage" => f32::from(i16::from_le_bytes([b[0], b[1]])),
                "CharStorage" => f32::from(b[0] as i8),
                _ => f32::from(b[0]),
            }
        };
        let mut data = Vec::with_capacity(len);
        let mut index = vec![0usize; self.shape.len()];
        for _ in 0..len {
            let at = self.offset
                + index
                    .iter()
                    .zip(&self.stride)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            data.push(value(at));
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < self.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        let float = matches!(
            self.storage.as_str(),
            "FloatStorage" | "DoubleStorage" | "HalfStorage" | "BFloat16Storage"
        );
        Ok(RawTensor {
            shape: self.shape.clone(),
            data,
            storage: self.storage.clone(),
            float,
        })
    }
}

/// What the restricted unpickler can build.
#[derive(Debug, Clone)]
enum Value {
    None,
    Bool,
    Int(i128),
    Float,
    Str(String),
    Bytes,
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// An allow-listed callable or type.
    Global(Global),
    /// A persistent id resolved to a storage: (key, storage type).
    Storage(String, String),
    Tensor(TensorRef),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    OrderedDict,
    RebuildTensor,
    RebuildParameter,
    StorageType(&'static str),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool => "a bool",
            Value::Int(_) => "an int",
            Value::Float => "a float",
            Value::Str(_) => "a string",
            Value::Bytes => "bytes",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
            Value::Global(_) => "a type",
            Value::Storage(..) => "a storage",
            Value::Tensor(_) => "a tensor",
        }
    }

    fn display(&self) -> String {
        match self {
            Value::Str(s) => format!("'{s}'"),
            Value::Int(i) => i.to_string(),
            other => other.kind().to_string(),
        }
    }

    fn usize(&self, what: &str) -> std::result::Result<usize, String> {
        match self {
            Value::Int(i) => usize::try_from(*i).map_err(|_| format!("{what} {i} is out of range")),
            other => Err(format!("{what} is {}, not an int", other.kind())),
        }
    }

    fn usizes(&self, what: &str) -> std::result::Result<Vec<usize>, String> {
        match self {
            Value::Tuple(v) | Value::List(v) => v.iter().map(|x| x.usize(what)).collect(),
            other => Err(format!("{what} is {}, not a tuple", other.kind())),
        }
    }
}

/// Nesting and memo limits: far beyond what a state_dict needs.
const MAX_STACK: usize = 1 << 20;

struct Unpickler<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    /// Storages named by persistent ids: key → storage type.
    storages: HashMap<String, String>,
}

impl<'a> Unpickler<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Unpickler {
            bytes,
            pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            storages: HashMap::new(),
        }
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or("the pickle ends early (truncated or corrupt)")?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    fn line(&mut self) -> std::result::Result<String, String> {
        let rest = &self.bytes[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("the pickle ends inside a global name")?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    fn pop(&mut self) -> std::result::Result<Value, String> {
        self.stack
            .pop()
            .ok_or_else(|| "pickle stack underflow (corrupt)".into())
    }

    fn pop_mark(&mut self) -> std::result::Result<Vec<Value>, String> {
        let m = self.marks.pop().ok_or("pickle MARK missing (corrupt)")?;
        if m > self.stack.len() {
            return Err("pickle MARK past the stack (corrupt)".into());
        }
        Ok(self.stack.split_off(m))
    }

    fn push(&mut self, v: Value) -> std::result::Result<(), String> {
        if self.stack.len() >= MAX_STACK {
            return Err("pickle stack too deep".into());
        }
        self.stack.push(v);
        Ok(())
    }

    fn top_mut(&mut self) -> std::result::Result<&mut Value, String> {
        self.stack
            .last_mut()
            .ok_or_else(|| "pickle stack underflow (corrupt)".into())
    }

    fn memo_put(&mut self, key: u32) -> std::result::Result<(), String> {
        let v = self
            .stack
            .last()
            .ok_or("pickle PUT on an empty stack")?
            .clone();
        if self.memo.len() >= MAX_STACK {
            return Err("pickle memo too large".into());
        }
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> std::result::Result<(), String> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .ok_or_else(|| format!("pickle GET of unknown memo {key} (corrupt)"))?;
        self.push(v)
    }

    fn load(&mut self) -> std::result::Result<Value, String> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.take(8)?; // FRAME
                }
                b'.' => return self.pop(),
                b'}' => self.push(Value::Dict(Vec::new()))?,
                b']' => self.push(Value::List(Vec::new()))?,
                b')' => self.push(Value::Tuple(Vec::new()))?,
                b'(' => self.marks.push(self.stack.len()),
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool)?,
                0x89 => self.push(Value::Bool)?,
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v.into()))?
                }
                b'M' => {
                    let b = self.take(2)?;
                    self.push(Value::Int(u16::from_le_bytes([b[0], b[1]]).into()))?
                }
                b'J' => {
                    let b = self.take(4)?;
                    self.push(Value::Int(i32::from_le_bytes(b.try_into().expect("4")).into()))?
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    if n > 16 {
                        return Err(format!("integer of {n} bytes is too large"));
                    }
                    let b = self.take(n)?;
                    let mut v: i128 = 0;
                    for (i, &x) in b.iter().enumerate() {
                        v |= i128::from(x) << (8 * i);
                    }
                    if n > 0 && n < 16 && b[n - 1] & 0x80 != 0 {
                        v -= 1i128 << (8 * n);
                    }
                    self.push(Value::Int(v))?
                }
                b'G' => {
                    self.take(8)?;
                    self.push(Value::Float)?
                }
                b'X' | 0x8c => {
                    let n = if op == b'X' { self.u32()? as usize } else { self.u8()? as usize };
                    let b = self.take(n)?;
                    let s = std::str::from_utf8(b).map_err(|_| "a pickled string is not UTF-8")?;
                    self.push(Value::Str(s.to_string()))?
                }
                // Python 2 `str` (what old checkpoints hold their names in): UTF-8, else Latin-1
                // (torch.load's `encoding="latin1"`).
                b'T' | b'U' => {
                    let n = if op == b'T' { self.u32()? as usize } else { self.u8()? as usize };
                    let b = self.take(n)?;
                    let s = match std::str::from_utf8(b) {
                        Ok(s) => s.to_string(),
                        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
                    };
                    self.push(Value::Str(s))?
                }
                b'B' | b'C' => {
                    let n = if op == b'B' { self.u32()? as usize } else { self.u8()? as usize };
                    self.take(n)?;
                    self.push(Value::Bytes)?
                }
                b'q' => {
                    let k = self.u8()?;
                    self.memo_put(k.into())?
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo_put(k)?
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memo_put(k)?
                }
                b'h' => {
                    let k = self.u8()?;
                    self.memo_get(k.into())?
                }
                b'j' => {
                    let k = self.u32()?;
                    self.memo_get(k)?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items))?
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err("pickle stack underflow (corrupt)".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Value::Tuple(items))?
                }
                b'a' => {
                    let v = self.pop()?;
                    match self.top_mut()? {
                        Value::List(l) => l.push(v),
                        other => return Err(format!("APPEND to {}", other.kind())),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top_mut()? {
                        Value::List(l) => l.extend(items),
                        other => return Err(format!("APPENDS to {}", other.kind())),
                    }
                }
                b's' | b'u' => {
                    let items = if op == b's' {
                        let v = self.pop()?;
                        let k = self.pop()?;
                        vec![k, v]
                    } else {
                        self.pop_mark()?
                    };
                    if items.len() % 2 != 0 {
                        return Err("SETITEMS with an odd number of items (corrupt)".into());
                    }
                    match self.top_mut()? {
                        Value::Dict(d) => {
                            let mut it = items.into_iter();
                            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                                d.push((k, v));
                            }
                        }
                        other => return Err(format!("SETITEM on {}", other.kind())),
                    }
                }
                b'b' => {
                    // BUILD: only the `_metadata` attribute torch sets on a state_dict's dict.
                    let _state = self.pop()?;
                    match self.stack.last() {
                        Some(Value::Dict(_)) => {}
                        Some(other) => return Err(format!("BUILD on {} is not allowed", other.kind())),
                        None => return Err("pickle stack underflow (corrupt)".into()),
                    }
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = allowed_global(&module, &name).ok_or_else(|| {
                        format!(
                            "refused: the pickle asks for the global '{module}.{name}', which a checkpoint of tensors never needs (loading never runs code)"
                        )
                    })?;
                    self.push(Value::Global(g))?
                }
                0x93 => {
                    return Err("refused: STACK_GLOBAL (a pickle protocol torch.save does not write for weights)".into())
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent(pid)?;
                    self.push(v)?
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let v = reduce(f, args)?;
                    self.push(v)?
                }
                other => {
                    return Err(format!(
                        "refused: pickle opcode 0x{other:02x} at byte {} is not one torch.save writes for tensors",
                        self.pos - 1
                    ))
                }
            }
        }
    }

    /// `('storage', StorageType, key, location, numel[, view])`.
    fn persistent(&mut self, pid: Value) -> std::result::Result<Value, String> {
        let Value::Tuple(t) = pid else {
            return Err("persistent id is not a tuple".into());
        };
        match t.as_slice() {
            [Value::Str(tag), Value::Global(Global::StorageType(ty)), key, _loc, _numel, rest @ ..]
                if tag == "storage" && rest.len() <= 1 =>
            {
                if let Some(v) = rest.first() {
                    if !matches!(v, Value::None) {
                        return Err("storage views are not supported".into());
                    }
                }
                let key = match key {
                    Value::Str(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    other => return Err(format!("storage key is {}", other.kind())),
                };
                self.storages.insert(key.clone(), ty.to_string());
                Ok(Value::Storage(key, ty.to_string()))
            }
            _ => Err("persistent id is not a torch storage".into()),
        }
    }
}

fn allowed_global(module: &str, name: &str) -> Option<Global> {
    Some(match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch", s) => Global::StorageType(storage_type(s)?.0),
        _ => return None,
    })
}

fn reduce(f: Value, args: Value) -> std::result::Result<Value, String> {
    let Value::Tuple(a) = args else {
        return Err("call arguments are not a tuple".into());
    };
    match f {
        Value::Global(Global::OrderedDict) if a.is_empty() => Ok(Value::Dict(Vec::new())),
        // v2: (storage, offset, size, stride, requires_grad, hooks[, metadata]); v1 (torch ≤ 0.3):
        // the first four.
        Value::Global(Global::RebuildTensor) if a.len() == 4 || (6..=7).contains(&a.len()) => {
            let Value::Storage(key, storage) = &a[0] else {
                return Err(format!("tensor storage is {}", a[0].kind()));
            };
            let offset = a[1].usize("storage offset")?;
            let shape = a[2].usizes("size")?;
            let stride = a[3].usizes("stride")?;
            if shape.len() != stride.len() {
                return Err("size and stride differ in length".into());
            }
            Ok(Value::Tensor(TensorRef {
                key: key.clone(),
                storage: storage.clone(),
                offset,
                shape,
                stride,
            }))
        }
        Value::Global(Global::RebuildParameter) if a.len() == 3 => match &a[0] {
            Value::Tensor(_) => Ok(a[0].clone()),
            other => Err(format!("parameter data is {}", other.kind())),
        },
        Value::Global(g) => Err(format!("refused: a call of {g:?} with these arguments")),
        other => Err(format!("refused: a call of {}", other.kind())),
    }
}
