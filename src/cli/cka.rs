//! `ventral cka`: linear CKA between every pair of activation tensors (of one file, or of two
//! files over the same stimuli), as a CSV matrix.

use std::path::PathBuf;

use clap::Args;

use super::Failure;
use crate::arrays::{read_activations, Array};
use crate::error::Error;
use crate::output::write_file;
use crate::rsa::cka::linear_cka_on;

#[derive(Args, Debug)]
pub struct CkaArgs {
    /// Activations [N, …] per tensor (.safetensors, .npz or .npy)
    #[arg(long)]
    pub activations: PathBuf,
    /// Second activation file (default: the first against itself)
    #[arg(long)]
    pub other: Option<PathBuf>,
    /// Output .csv: one row per tensor of --activations, one column per tensor of --other
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

/// One tensor as patterns: name, stimuli, features, values.
struct Patterns {
    name: String,
    n: usize,
    p: usize,
    data: Vec<f32>,
}

fn flat(arrays: Vec<(String, Array)>, origin: &PathBuf) -> Result<Vec<Patterns>, Error> {
    arrays
        .into_iter()
        .map(|(name, a)| {
            let n = *a
                .shape
                .first()
                .ok_or_else(|| Error::file(origin, format!("'{name}' is a scalar")))?;
            let p = a.data.len() / n.max(1);
            let data = a.data.iter().map(|&v| v as f32).collect();
            Ok(Patterns { name, n, p, data })
        })
        .collect()
}

pub fn run(args: &CkaArgs) -> Result<(), Failure> {
    if args.out.extension().and_then(|e| e.to_str()) != Some("csv") {
        return Err(Error::Invalid(format!(
            "--out {}: use a .csv file name",
            args.out.display()
        ))
        .into());
    }
    let rows = flat(read_activations(&args.activations)?, &args.activations)?;
    let other = args.other.as_ref().unwrap_or(&args.activations);
    let cols = flat(read_activations(other)?, other)?;
    let (first, n) = (&rows[0].name, rows[0].n);
    let files = [(&rows, &args.activations), (&cols, other)];
    for (tensors, path) in files {
        if let Some(bad) = tensors.iter().find(|t| t.n != n) {
            return Err(Error::file(
                path,
                format!(
                    "tensor '{}' has {} stimuli, tensor '{first}' of {} has {n}",
                    bad.name,
                    bad.n,
                    args.activations.display()
                ),
            )
            .into());
        }
    }
    let engine = args.device.open()?;
    let mut csv = String::from("layer");
    for c in &cols {
        csv += &format!(",{}", c.name);
    }
    csv.push('\n');
    for r in &rows {
        csv += &r.name;
        for c in &cols {
            csv += &format!(
                ",{}",
                linear_cka_on(&engine, &r.data, r.p, &c.data, c.p, n)?
            );
        }
        csv.push('\n');
    }
    write_file(&args.out, csv.as_bytes())?;
    super::print_out(&csv)
}
