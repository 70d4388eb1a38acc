//! `ventral rdm`: one RDM per activation tensor, on the GPU, native CPU threads or the f64 reference.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use super::{DeviceArgs, Failure};
use crate::arrays::{read_activations, TensorWriter};
use crate::error::Error;
use crate::rsa::condensed_to_square;
use crate::rsa::rdm::{rdms_on, Metric, Patterns};
use crate::weights::sha256_file;

#[derive(Args, Debug)]
pub struct RdmArgs {
    /// Activations: .safetensors or .npz (from `ventral extract`) or .npy; each tensor [N, …]
    #[arg(long)]
    pub activations: PathBuf,
    /// correlation, cosine, euclidean, sqeuclidean or rsatoolbox-euclidean
    #[arg(long, default_value = "correlation")]
    pub metric: String,
    /// Tensors to use (comma-separated; default all)
    #[arg(long)]
    pub layers: Option<String>,
    /// Output .safetensors: one condensed RDM [N(N−1)/2] per tensor (upper triangle, row-major)
    #[arg(long)]
    pub out: PathBuf,
    /// Write square [N, N] matrices instead of condensed vectors
    #[arg(long)]
    pub square: bool,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(args: &RdmArgs) -> Result<(), Failure> {
    let metric: Metric = args.metric.parse()?;
    if args.out.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        return Err(Error::Invalid(format!(
            "--out {}: use a .safetensors file name",
            args.out.display()
        ))
        .into());
    }
    let mut arrays = read_activations(&args.activations)?;
    if let Some(list) = &args.layers {
        let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
        if let Some(w) = wanted.iter().find(|w| !arrays.iter().any(|(n, _)| n == *w)) {
            return Err(Error::Invalid(format!(
                "{} has no tensor '{w}'",
                args.activations.display()
            ))
            .into());
        }
        arrays.retain(|(n, _)| wanted.contains(&n.as_str()));
    }
    let n = arrays
        .first()
        .map_or(0, |(_, a)| a.shape.first().copied().unwrap_or(0));
    let mut layers = Vec::new();
    for (name, a) in &arrays {
        if a.shape.first() != Some(&n) || n < 2 {
            return Err(Error::file(
                &args.activations,
                format!("tensor '{name}' has shape {:?}; every tensor must be [N ≥ 2, …] with the same N ({n})", a.shape),
            )
            .into());
        }
        let data: Vec<f32> = a.data.iter().map(|&v| v as f32).collect();
        layers.push((name.clone(), data, a.data.len() / n));
    }
    let engine = args.device.open()?;
    let start = std::time::Instant::now();
    let patterns: Vec<Patterns<'_>> = layers
        .iter()
        .map(|(_, x, p)| Patterns { data: x, n, p: *p })
        .collect();
    let names: Vec<String> = layers.iter().map(|(n, _, _)| n.clone()).collect();
    let (rdms, device) = rdms_on(&engine, &patterns, &names, metric)?;
    let secs = start.elapsed().as_secs_f64();
    let mut degenerate = BTreeMap::new();
    for ((name, _, _), r) in layers.iter().zip(&rdms) {
        if !r.degenerate.is_empty() {
            eprintln!(
                "warning: {name}: stimuli {:?} have constant (or zero) patterns; their {metric} distances are NaN",
                r.degenerate
            );
            degenerate.insert(name.clone(), r.degenerate.clone());
        }
    }
    let mut meta = BTreeMap::from([
        ("metric".to_string(), metric.to_string()),
        ("stimuli".into(), n.to_string()),
        (
            "activations".into(),
            format!(
                "{} sha256:{}",
                args.activations.display(),
                sha256_file(&args.activations)?
            ),
        ),
        (
            "degenerate_stimuli".into(),
            serde_json::to_string(&degenerate)?,
        ),
        ("device".into(), device),
        ("ventral_version".into(), env!("CARGO_PKG_VERSION").into()),
    ]);
    let (shape, layout) = if args.square {
        (vec![n, n], "square N × N, zero diagonal")
    } else {
        (
            vec![n * (n - 1) / 2],
            "condensed upper triangle, row-major, i < j",
        )
    };
    meta.insert("layout".into(), layout.into());
    let mut w = TensorWriter::create(&args.out, &names, &vec![shape; names.len()], meta)?;
    let data = rdms
        .iter()
        .map(|r| {
            let v = if args.square {
                condensed_to_square(&r.condensed)?
            } else {
                r.condensed.clone()
            };
            Ok(v.iter().map(|&x| x as f32).collect::<Vec<f32>>())
        })
        .collect::<Result<Vec<_>, Error>>()?;
    w.write_rows(0, &data)?;
    w.finish()?;
    eprintln!("{} RDMs ({metric}, N = {n}) in {secs:.2} s", names.len());
    println!("{} RDMs -> {}", names.len(), args.out.display());
    Ok(())
}
