//! `ventral extract`: activations of chosen capture points for a stimulus set, a batch at a time,
//! into one `.safetensors` or `.npz` file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::model_args::{weights_metadata, ModelArgs};
use super::{DeviceArgs, Failure};
use crate::analysis::extract::extract_batches;
use crate::arrays::{ActivationFormat, TensorWriter};
use crate::error::{Error, Result};
use crate::models::{Capture, Network, Reduce};
use crate::stimuli::{Preprocess, PreprocessConfig, StimulusSet};

#[derive(Args, Debug)]
pub struct ExtractArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Preprocessed float32 array [N, 3, H, W] (.npy)
    #[arg(long, conflicts_with = "images", required_unless_present = "images")]
    pub input: Option<PathBuf>,
    /// Folder of images (sorted by file name), preprocessed as torchvision does
    #[arg(long)]
    pub images: Option<PathBuf>,
    #[command(flatten)]
    pub preprocess: PreprocessArgs,
    /// Capture points: all, or a comma-separated list (see `ventral layers`)
    #[arg(long, default_value = "all")]
    pub layers: String,
    /// Reduction before readback: none, mean or max (over space for feature maps, over tokens for
    /// transformer tokens), or cls (a transformer's class token)
    #[arg(long, default_value = "none")]
    pub reduce: String,
    /// Images per forward pass
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Output file (.safetensors or .npz)
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the weights used (e.g. the seeded ones) to this .safetensors file
    #[arg(long)]
    pub save_weights: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// The stimulus set and the preprocessing of `--images`, or the `--input` tensor.
fn open_stimuli(args: &ExtractArgs, in_channels: usize) -> Result<(StimulusSet, Preprocess)> {
    if let Some(path) = &args.input {
        let set = StimulusSet::tensor(path, in_channels)?;
        return Ok((set, Preprocess::default()));
    }
    let dir = args
        .images
        .as_deref()
        .expect("clap requires --input or --images");
    let pre = args.preprocess.build()?;
    Ok((StimulusSet::folder(dir)?, pre))
}

pub fn run(args: &ExtractArgs) -> Result<(), Failure> {
    ActivationFormat::from_path(&args.out)?;
    if args.batch == 0 {
        return Err(Error::Invalid("--batch must be at least 1".into()).into());
    }
    let reduce: Reduce = args.reduce.parse()?;
    let (graph, weights) = args.model.load()?;
    let capture = Capture::parse(&graph, &args.layers, reduce)?;
    let (mut stimuli, pre) = open_stimuli(args, graph.in_channels)?;
    let n = stimuli.len();
    let (h, w) = stimuli
        .tensor_size()
        .unwrap_or((pre.output_size(), pre.output_size()));
    let input_desc = match stimuli.tensor_size() {
        Some(_) => stimuli.source.clone(),
        None => format!(
            "{} ({n} images, {})",
            stimuli.source,
            serde_json::to_string(&pre)?
        ),
    };
    let per_image = capture.shapes(&graph, h, w)?;
    if let Some(path) = &args.save_weights {
        weights.save(path, &weights_metadata(&graph, &weights))?;
    }

    let engine = args.device.open()?;
    let mut meta = BTreeMap::from([
        ("model".to_string(), graph.model.clone()),
        ("weights".into(), weights.source.tag()),
        ("input".into(), input_desc),
        ("input_size".into(), format!("{h}x{w}")),
        ("images".into(), n.to_string()),
        ("reduce".into(), reduce.to_string()),
        ("batch".into(), args.batch.to_string()),
        ("device".into(), engine.summary()),
        ("ventral_version".into(), env!("CARGO_PKG_VERSION").into()),
    ]);
    if stimuli.tensor_size().is_none() {
        meta.insert("stimuli".into(), serde_json::to_string(&stimuli.names)?);
    }
    let shapes: Vec<Vec<usize>> = per_image
        .iter()
        .map(|s| std::iter::once(n).chain(s.iter().copied()).collect())
        .collect();
    let mut writer = TensorWriter::create(&args.out, &capture.points, &shapes, meta)?;
    let net = Network::new(&engine, graph, &weights)?;

    let start = Instant::now();
    let batches = n.div_ceil(args.batch);
    let sink = |lo: usize, hi: usize, acts: Vec<Vec<f32>>| {
        writer.write_rows(lo, &acts)?;
        log::info!("batch {}/{batches}: images {lo}..{hi}", lo / args.batch + 1);
        Ok(())
    };
    extract_batches(&net, &mut stimuli, &pre, &capture, args.batch, (h, w), sink)?;
    writer.finish()?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{}: {n} images in {secs:.2} s ({:.1} img/s) on {}",
        net.graph().model,
        n as f64 / secs,
        engine.summary()
    );
    println!(
        "{} capture points -> {}",
        capture.points.len(),
        args.out.display()
    );
    for (name, s) in capture.points.iter().zip(&shapes) {
        println!("  {name}: {s:?}");
    }
    Ok(())
}

/// `--preprocess`, `--resize`, `--crop`: how images become model inputs (extract, classify).
#[derive(Args, Debug, Clone)]
pub struct PreprocessArgs {
    /// Preprocessing of --images: torchvision, square, pad-square or timm
    #[arg(long, default_value = "torchvision")]
    pub preprocess: String,
    /// Shorter-side resize for --preprocess torchvision
    #[arg(long, default_value_t = 256)]
    pub resize: usize,
    /// Model input size: the centre crop (torchvision, timm) or the square side
    #[arg(long, default_value_t = 224)]
    pub crop: usize,
}

impl PreprocessArgs {
    /// The pipeline for image folders (`none` is refused: images need preprocessing).
    pub fn build(&self) -> Result<Preprocess, Error> {
        PreprocessConfig {
            preset: Some(self.preprocess.clone()),
            size: Some(self.crop),
            resize: (self.preprocess == "torchvision").then_some(self.resize),
            ..PreprocessConfig::default()
        }
        .build()?
        .ok_or_else(|| Error::Invalid("--preprocess none takes no images (give --input)".into()))
    }
}
