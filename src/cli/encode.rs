//! `ventral encode`: voxel-wise encoding, veRSA and cRSA of every activation tensor against brain
//! responses (Conwell et al. 2024; SCIENCE.md §5), from activation files.

use std::path::PathBuf;

use clap::Args;

use super::Failure;
use crate::arrays::TensorFile;
use crate::error::Error;
use crate::measures::encoding::measure::{EncodingReport, EncodingSettings, LayerFeatures};
use crate::measures::encoding::responses::read_targets;
use crate::measures::report::format_of;
use crate::rsa::rdm::{rdms_on, Metric, Patterns};

#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// Activations [N, …] per layer (.safetensors, as `ventral extract` writes)
    #[arg(long)]
    pub activations: PathBuf,
    /// Brain responses [N, voxels] per subject and region (.npy, .npz, .mat, .safetensors, .csv);
    /// repeat for several files
    #[arg(long, required = true)]
    pub responses: Vec<PathBuf>,
    /// Only these subjects (comma-separated names)
    #[arg(long, value_delimiter = ',')]
    pub subjects: Vec<String>,
    /// Only these layers (comma-separated tensor names; default every tensor)
    #[arg(long, value_delimiter = ',')]
    pub layers: Vec<String>,
    /// Train/test split: even-odd (train = even indices), kfold:K, or a file of train/test marks
    #[arg(long, default_value = "even-odd")]
    pub split: String,
    /// Ridge penalties (comma-separated; default 0.1,1,…,1e5)
    #[arg(long, value_delimiter = ',')]
    pub alphas: Vec<f64>,
    /// Per-voxel penalty choice: r (LOO Pearson, Conwell) or r2 (LOO squared error, scikit-learn)
    #[arg(long, default_value = "r")]
    pub select: String,
    /// Features: srp (sparse random projection to the Johnson–Lindenstrauss size) or none
    #[arg(long, default_value = "srp")]
    pub projection: String,
    /// Johnson–Lindenstrauss eps of the projection size
    #[arg(long, default_value_t = 0.1)]
    pub eps: f64,
    /// Feature scaling fitted on train rows: standard or none
    #[arg(long, default_value = "standard")]
    pub scale: String,
    /// Seed of the projection
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Results: .csv or .json rows per layer × region × subject × score
    #[arg(long)]
    pub out: PathBuf,
    /// Per layer and target: held-out predictions, chosen α and voxel scores (.safetensors)
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    #[command(flatten)]
    pub device: super::DeviceArgs,
}

impl EncodeArgs {
    /// The settings these flags ask for (usage errors for bad values).
    pub fn settings(&self) -> Result<EncodingSettings, Error> {
        EncodingSettings::from_words(
            &self.split,
            &self.projection,
            self.eps,
            self.seed,
            &self.scale,
            &self.select,
            &self.alphas,
        )
    }
}

pub fn run(args: &EncodeArgs) -> Result<(), Failure> {
    // --threads bounds the encoding math (projection, ridge) as it bounds the native executor.
    match args.device.threads {
        0 => encode(args),
        t => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| Error::Invalid(format!("--threads {t}: {e}")))?
            .install(|| encode(args)),
    }
}

fn encode(args: &EncodeArgs) -> Result<(), Failure> {
    // Everything that can be checked is checked before the work.
    format_of(&args.out)?;
    if let Some(p) = &args.predictions {
        if p.extension().and_then(|e| e.to_str()) != Some("safetensors") {
            return Err(Error::Invalid(format!(
                "--predictions {}: use a .safetensors file name",
                p.display()
            ))
            .into());
        }
    }
    let settings = args.settings()?;
    let acts = TensorFile::open(&args.activations)?;
    let names: Option<Vec<String>> = acts
        .metadata
        .get("stimuli")
        .and_then(|s| serde_json::from_str(s).ok());
    let model = acts.metadata.get("model").cloned().unwrap_or_else(|| {
        args.activations
            .file_stem()
            .map_or("model".into(), |s| s.to_string_lossy().into_owned())
    });
    let tensors: Vec<(String, Vec<usize>)> = acts
        .tensors()
        .filter(|(n, _)| args.layers.is_empty() || args.layers.iter().any(|l| l == n))
        .map(|(n, s)| (n.to_string(), s.to_vec()))
        .collect();
    if let Some(missing) = args
        .layers
        .iter()
        .find(|l| !tensors.iter().any(|(n, _)| n == *l))
    {
        return Err(Error::Invalid(format!(
            "--layers: {} has no tensor '{missing}'",
            args.activations.display()
        ))
        .into());
    }
    let n = match tensors.first() {
        Some((_, s)) if !s.is_empty() => s[0],
        _ => {
            return Err(Error::file(&args.activations, "no activation tensors").into());
        }
    };
    if let Some((name, s)) = tensors.iter().find(|(_, s)| s.first() != Some(&n)) {
        return Err(Error::file(
            &args.activations,
            format!("tensor '{name}' has shape {s:?}; the first has {n} stimuli"),
        )
        .into());
    }
    let mut targets = Vec::new();
    for path in &args.responses {
        targets.extend(read_targets(path, n, names.as_deref(), &args.subjects)?);
    }
    crate::measures::encoding::responses::check_unique(&targets)?;
    settings.split.folds(n)?;
    let engine = args.device.open()?;
    let mut report = EncodingReport::new(&settings, &targets, args.predictions.is_some());
    for (name, _) in &tensors {
        log::info!("encoding {model}/{name}");
        let data = acts.read_f32(name)?;
        let p = data.len() / n;
        let label = format!("{model}/{name}");
        let (rdm, _) = rdms_on(
            &engine,
            &[Patterns { data: &data, n, p }],
            std::slice::from_ref(&label),
            Metric::Correlation,
        )?;
        let rdm = rdm.into_iter().next().expect("one layer").condensed;
        let layer = LayerFeatures::from_raw(&model, name, &data, n, rdm, settings.projection)?;
        drop(data);
        report.add(layer, &targets)?;
    }
    if let Some(p) = &args.predictions {
        report.write_voxels(p)?;
    }
    report.table().write(&args.out)?;
    Ok(())
}
