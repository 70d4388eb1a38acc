//! Model weights: strict safetensors loading with torchvision `state_dict` names, seeded random
//! initialisation that follows each model's own init scheme, and safetensors export.
//!
//! A model declares every tensor it owns as a [`TensorSpec`] (name, shape, init rule). Loading a
//! file checks it against that list: a missing tensor, an unexpected tensor, a shape mismatch, an
//! unsupported dtype or a non-finite value is an error naming the file, the tensor and the shapes.
//! `*.num_batches_tracked` (a training counter with no effect in eval mode) is ignored. PyTorch
//! checkpoints (`.pth`/`.pt`/`.bin`) load through [`crate::checkpoint`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

use crate::arrays::{safetensors_values, TensorWriter};
use crate::error::{Error, Result};

/// How `--random-init` fills one tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Normal with mean 0 and this standard deviation.
    Normal { std: f64 },
    /// `torch.nn.init.trunc_normal_(std=std, a=-bound, b=bound)`: normal with mean 0, values
    /// outside `[-bound, bound]` (absolute, not in units of std) redrawn.
    TruncNormal { std: f64, bound: f64 },
    /// Uniform on `[-bound, bound)`.
    Uniform { bound: f64 },
    /// Every element the same value.
    Constant(f32),
    /// Fixed, not learnt (e.g. DeepCluster's Sobel filters); loaded files must carry them too.
    Fixed(Vec<f32>),
}

impl Init {
    /// `torch.nn.init.kaiming_normal_(mode="fan_out", nonlinearity="relu")`: std = sqrt(2 / fan_out).
    pub fn kaiming_normal_fan_out(fan_out: usize) -> Init {
        Init::Normal {
            std: (2.0 / fan_out as f64).sqrt(),
        }
    }

    /// PyTorch's default `Conv2d`/`Linear` init (`kaiming_uniform_(a=sqrt(5))` for weights, and
    /// the same bound for biases): U(±1/sqrt(fan_in)).
    pub fn torch_default(fan_in: usize) -> Init {
        Init::Uniform {
            bound: 1.0 / (fan_in as f64).sqrt(),
        }
    }

    /// `torch.nn.init.xavier_uniform_`: U(±sqrt(6 / (fan_in + fan_out))).
    pub fn xavier_uniform(fan_in: usize, fan_out: usize) -> Init {
        Init::Uniform {
            bound: (6.0 / (fan_in + fan_out) as f64).sqrt(),
        }
    }
}

/// One tensor a model owns: its `state_dict` name, shape and random-init rule.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl TensorSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A tensor in host memory, f32, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Where a set of weights came from; recorded in every output.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeightSource {
    File { path: String, sha256: String },
    Random { seed: u64 },
    Other { description: String },
}

impl WeightSource {
    /// `sha256:<hex>` or `seed:<n>`, for metadata.
    pub fn tag(&self) -> String {
        match self {
            WeightSource::File { sha256, .. } => format!("sha256:{sha256}"),
            WeightSource::Random { seed } => format!("seed:{seed}"),
            WeightSource::Other { description } => description.clone(),
        }
    }
}

/// A model's complete, checked set of weights.
#[derive(Debug, Clone)]
pub struct Weights {
    tensors: BTreeMap<String, HostTensor>,
    pub source: WeightSource,
}

impl Weights {
    /// Seeded initialisation: each tensor draws from its own ChaCha20 stream (seed, FNV-1a of the
    /// name), so values do not depend on tensor order, and normals come from Box–Muller with
    /// `libm`, so the same seed gives bitwise-identical weights on every machine.
    pub fn random(specs: &[TensorSpec], seed: u64) -> Weights {
        let tensors = specs
            .iter()
            .map(|s| {
                let mut rng = ChaCha20Rng::seed_from_u64(seed);
                rng.set_stream(fnv1a(&s.name));
                let data = match &s.init {
                    Init::Normal { std } => normals(&mut rng, s.len(), *std),
                    Init::TruncNormal { std, bound } => {
                        let mut v = Vec::with_capacity(s.len());
                        while v.len() < s.len() {
                            let pair = normals(&mut rng, 2, *std);
                            v.extend(pair.into_iter().filter(|x| f64::from(x.abs()) <= *bound));
                        }
                        v.truncate(s.len());
                        v
                    }
                    Init::Uniform { bound } => (0..s.len())
                        .map(|_| ((2.0 * unit(&mut rng) - 1.0) * bound) as f32)
                        .collect(),
                    Init::Constant(v) => vec![*v; s.len()],
                    Init::Fixed(v) => v.clone(),
                };
                let t = HostTensor {
                    shape: s.shape.clone(),
                    data,
                };
                (s.name.clone(), t)
            })
            .collect();
        Weights {
            tensors,
            source: WeightSource::Random { seed },
        }
    }

    /// Checks `tensors` strictly against `specs` (names, shapes, finiteness). `origin` names the
    /// source in errors.
    pub fn from_tensors(
        specs: &[TensorSpec],
        mut tensors: BTreeMap<String, HostTensor>,
        source: WeightSource,
        origin: &str,
    ) -> Result<Weights> {
        tensors.retain(|name, _| !name.ends_with("num_batches_tracked"));
        let want: HashMap<&str, &TensorSpec> = specs.iter().map(|s| (s.name.as_str(), s)).collect();
        let missing: Vec<String> = specs
            .iter()
            .filter(|s| !tensors.contains_key(&s.name))
            .map(|s| format!("{} {:?}", s.name, s.shape))
            .collect();
        let unexpected: Vec<String> = tensors
            .iter()
            .filter(|(n, _)| !want.contains_key(n.as_str()))
            .map(|(n, t)| format!("{n} {:?}", t.shape))
            .collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            let mut msg = String::new();
            if !missing.is_empty() {
                msg += &format!("missing tensors: {}", list(&missing));
            }
            if !unexpected.is_empty() {
                if !msg.is_empty() {
                    msg += "; ";
                }
                msg += &format!("unexpected tensors: {}", list(&unexpected));
            }
            return Err(Error::file(origin, msg));
        }
        for (name, t) in &tensors {
            let spec = want[name.as_str()];
            if t.shape != spec.shape {
                return Err(Error::file(
                    origin,
                    format!(
                        "tensor '{name}' has shape {:?}, the model expects {:?}",
                        t.shape, spec.shape
                    ),
                ));
            }
            if let Some(i) = t.data.iter().position(|v| !v.is_finite()) {
                return Err(Error::file(
                    origin,
                    format!(
                        "tensor '{name}' holds a non-finite value ({}) at flat index {i}",
                        t.data[i]
                    ),
                ));
            }
        }
        Ok(Weights { tensors, source })
    }

    /// Reads a safetensors file (f32, f16, bf16 or f64 stored) or a PyTorch checkpoint (zip or
    /// legacy `torch.save`, read by [`crate::checkpoint`] without running code), converts to f32
    /// and checks it strictly against `specs`. Integer `*.num_batches_tracked` counters (a
    /// training statistic with no effect in eval mode) are skipped with one info line; any other
    /// integer tensor is an error.
    pub fn load(path: &Path, specs: &[TensorSpec]) -> Result<Weights> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        let sha256 = hex(&Sha256::digest(&bytes));
        let mut tensors = BTreeMap::new();
        let mut skipped = 0;
        let counter = |name: &str| name.ends_with("num_batches_tracked");
        if crate::checkpoint::is_checkpoint(&bytes) {
            for (name, t) in crate::checkpoint::read_state_dict(path, &bytes)? {
                if !t.float {
                    if counter(&name) {
                        skipped += 1;
                        continue;
                    }
                    return Err(Error::file(
                        path,
                        format!(
                            "tensor '{name}': integer storage {} is not a weight",
                            t.storage
                        ),
                    ));
                }
                let (shape, data) = (t.shape, t.data);
                tensors.insert(name, HostTensor { shape, data });
            }
        } else {
            let st = SafeTensors::deserialize(&bytes)
                .map_err(|e| Error::file(path, format!("not a valid safetensors file: {e}")))?;
            for (name, view) in st.tensors() {
                use safetensors::Dtype;
                let integer = matches!(
                    view.dtype(),
                    Dtype::I64 | Dtype::I32 | Dtype::I16 | Dtype::I8 | Dtype::U8
                );
                if integer && counter(&name) {
                    skipped += 1;
                    continue;
                }
                let data = safetensors_values(view.dtype(), view.data(), |v| v as f32)
                    .map_err(|m| Error::file(path, format!("tensor '{name}': {m}")))?;
                let shape = view.shape().to_vec();
                tensors.insert(name, HostTensor { shape, data });
            }
        }
        if skipped > 0 {
            log::info!(
                "{}: skipped {skipped} num_batches_tracked counters (not weights)",
                path.display()
            );
        }
        let source = WeightSource::File {
            path: path.display().to_string(),
            sha256,
        };
        Weights::from_tensors(specs, tensors, source, &path.display().to_string())
    }

    /// Writes every tensor as f32 safetensors (atomically), sorted by name, with `metadata` in
    /// the header; the same weights and metadata always give the same bytes.
    pub fn save(&self, path: &Path, metadata: &BTreeMap<String, String>) -> Result<()> {
        let names: Vec<String> = self.tensors.keys().cloned().collect();
        let shapes: Vec<Vec<usize>> = self.tensors.values().map(|t| t.shape.clone()).collect();
        let mut w = TensorWriter::create(path, &names, &shapes, metadata.clone())?;
        let data: Vec<&[f32]> = self.tensors.values().map(|t| t.data.as_slice()).collect();
        w.write_rows(0, &data)?;
        w.finish()
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Result<&HostTensor> {
        self.tensors
            .get(name)
            .ok_or_else(|| Error::Invalid(format!("no weight tensor named '{name}'")))
    }

    /// All tensors by name.
    pub fn tensors(&self) -> &BTreeMap<String, HostTensor> {
        &self.tensors
    }

    /// Total number of parameters.
    pub fn parameter_count(&self) -> usize {
        self.tensors.values().map(|t| t.data.len()).sum()
    }
}

fn list(items: &[String]) -> String {
    const SHOW: usize = 8;
    let mut s = items[..items.len().min(SHOW)].join(", ");
    if items.len() > SHOW {
        s += &format!(" and {} more", items.len() - SHOW);
    }
    s
}

/// 64-bit FNV-1a of a string: the per-tensor stream id.
pub(crate) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Uniform on [0, 1) with 53 random bits.
fn unit(rng: &mut ChaCha20Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Box–Muller pairs; `libm` keeps log/cos/sin identical across platforms.
fn normals(rng: &mut ChaCha20Rng, n: usize, std: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1 = 1.0 - unit(rng); // (0, 1]
        let u2 = unit(rng);
        let r = (-2.0 * libm::log(u1)).sqrt();
        let t = 2.0 * std::f64::consts::PI * u2;
        out.push((r * libm::cos(t) * std) as f32);
        out.push((r * libm::sin(t) * std) as f32);
    }
    out.truncate(n);
    out
}

/// Lower-case hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `__metadata__` of a safetensors file, read from its header alone (the tensors are not
/// read).
pub fn file_metadata(path: &Path) -> Result<std::collections::HashMap<String, String>> {
    Ok(crate::arrays::TensorFile::open(path)?.metadata)
}

/// SHA-256 of bytes in memory, lower-case hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f =
        std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        if n == 0 {
            return Ok(hex(&h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::Dtype;

    fn specs() -> Vec<TensorSpec> {
        vec![
            TensorSpec {
                name: "conv.weight".into(),
                shape: vec![64, 3, 3, 3],
                init: Init::kaiming_normal_fan_out(64 * 9),
            },
            TensorSpec {
                name: "conv.bias".into(),
                shape: vec![64],
                init: Init::torch_default(27),
            },
            TensorSpec {
                name: "bn.weight".into(),
                shape: vec![64],
                init: Init::Constant(1.0),
            },
        ]
    }

    #[test]
    fn random_init_is_seeded_order_free_and_has_the_right_spread() {
        let s = specs();
        let a = Weights::random(&s, 7);
        let mut rev = s.clone();
        rev.reverse();
        let b = Weights::random(&rev, 7);
        assert_eq!(a.tensors, b.tensors);
        let c = Weights::random(&s, 8);
        assert_ne!(a.get("conv.weight").unwrap(), c.get("conv.weight").unwrap());

        let w = &a.get("conv.weight").unwrap().data;
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let sd = (w
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let want = (2.0f64 / 576.0).sqrt();
        assert!((sd / want - 1.0).abs() < 0.08, "sd {sd} vs {want}");
        assert!(mean.abs() < 4.0 * want / n.sqrt(), "mean {mean}");

        let bias = &a.get("conv.bias").unwrap().data;
        let bound = 1.0 / 27f32.sqrt();
        assert!(bias.iter().all(|v| v.abs() <= bound));
        assert!(bias.iter().any(|v| v.abs() > 0.5 * bound));
        assert!(a.get("bn.weight").unwrap().data.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn random_streams_are_pinned() {
        // Cross-machine reproducibility: these bits must never change (ChaCha20 stream per name,
        // Box–Muller with libm). A change here breaks every saved `--random-init` analysis.
        let specs = [
            TensorSpec {
                name: "conv.weight".into(),
                shape: vec![3],
                init: Init::Normal { std: 1.0 },
            },
            TensorSpec {
                name: "u".into(),
                shape: vec![2],
                init: Init::Uniform { bound: 1.0 },
            },
        ];
        let w = Weights::random(&specs, 0);
        let bits =
            |n: &str| -> Vec<u32> { w.get(n).unwrap().data.iter().map(|v| v.to_bits()).collect() };
        assert_eq!(bits("conv.weight"), [0x3f4c28f9, 0x3f2c90e0, 0xbf14127c]);
        assert_eq!(bits("u"), [0xbf6a99f4, 0xbe855346]);
    }

    #[test]
    fn strict_check_names_missing_unexpected_and_shapes() {
        let s = specs();
        let mut t = Weights::random(&s, 1).tensors;
        t.remove("conv.bias");
        t.insert(
            "extra.weight".into(),
            HostTensor {
                shape: vec![2],
                data: vec![0.0; 2],
            },
        );
        t.insert(
            "bn.num_batches_tracked".into(),
            HostTensor {
                shape: vec![],
                data: vec![0.0],
            },
        );
        let e = Weights::from_tensors(&s, t, WeightSource::Random { seed: 1 }, "w.safetensors")
            .unwrap_err()
            .to_string();
        assert!(e.contains("w.safetensors"), "{e}");
        assert!(e.contains("missing tensors: conv.bias [64]"), "{e}");
        assert!(e.contains("unexpected tensors: extra.weight [2]"), "{e}");
        assert!(!e.contains("num_batches_tracked"), "{e}");

        let mut t = Weights::random(&s, 1).tensors;
        t.get_mut("bn.weight").unwrap().shape = vec![32, 2];
        let e = Weights::from_tensors(&s, t, WeightSource::Random { seed: 1 }, "w")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'bn.weight' has shape [32, 2], the model expects [64]"),
            "{e}"
        );

        let mut t = Weights::random(&s, 1).tensors;
        t.get_mut("conv.bias").unwrap().data[5] = f32::NAN;
        let e = Weights::from_tensors(&s, t, WeightSource::Random { seed: 1 }, "w")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'conv.bias' holds a non-finite value (NaN) at flat index 5"),
            "{e}"
        );
    }

    #[test]
    fn save_load_roundtrip_and_half_precision() {
        let dir = std::env::temp_dir().join(format!("ventral-w-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = specs();
        let w = Weights::random(&s, 3);
        let p = dir.join("w.safetensors");
        w.save(&p, &BTreeMap::from([("seed".into(), "3".into())]))
            .unwrap();
        let back = Weights::load(&p, &s).unwrap();
        assert_eq!(back.tensors, w.tensors);
        assert!(matches!(back.source, WeightSource::File { ref sha256, .. } if sha256.len() == 64));

        // The same tensors stored as f16 / bf16 come back as their roundings.
        let write_as = |name: &str, dtype: Dtype, conv: fn(f32) -> [u8; 2]| {
            let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = w
                .tensors
                .iter()
                .map(|(n, t)| {
                    (
                        n.clone(),
                        t.data.iter().flat_map(|&v| conv(v)).collect(),
                        t.shape.clone(),
                    )
                })
                .collect();
            let views: Vec<_> = bytes
                .iter()
                .map(|(n, b, s)| {
                    (
                        n.clone(),
                        safetensors::tensor::TensorView::new(dtype, s.clone(), b).unwrap(),
                    )
                })
                .collect();
            let p = dir.join(name);
            std::fs::write(&p, safetensors::serialize(views, None).unwrap()).unwrap();
            Weights::load(&p, &s).unwrap()
        };
        let orig = &w.get("conv.weight").unwrap().data;
        let f16 = write_as("w16.safetensors", Dtype::F16, |v| {
            half::f16::from_f32(v).to_le_bytes()
        });
        let bf16 = write_as("wbf.safetensors", Dtype::BF16, |v| {
            half::bf16::from_f32(v).to_le_bytes()
        });
        let (h, bf) = (
            &f16.get("conv.weight").unwrap().data,
            &bf16.get("conv.weight").unwrap().data,
        );
        for ((&o, &a), &b) in orig.iter().zip(h).zip(bf).take(4) {
            assert_eq!(a.to_bits(), half::f16::from_f32(o).to_f32().to_bits());
            assert_eq!(b.to_bits(), half::bf16::from_f32(o).to_f32().to_bits());
            assert!((b - o).abs() <= o.abs() / 128.0 && (a - o).abs() <= o.abs() / 1024.0);
        }

        std::fs::write(
            dir.join("bad.safetensors"),
            b"\x10\x00\x00\x00\x00\x00\x00\x00{not json",
        )
        .unwrap();
        let e = Weights::load(&dir.join("bad.safetensors"), &s)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.safetensors: not a valid safetensors file"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
