//! `ventral extract`: activations of chosen capture points for a stimulus set, a batch at a time,
//! into one `.safetensors` or `.npz` file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use super::model_args::{weights_metadata, ModelArgs};
use super::{Failure, GpuArgs};
use crate::arrays::{ActivationFormat, NpyReader, TensorWriter};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::models::{Capture, Network, Reduce};
use crate::stimuli::{list_images, load_rgb, Torchvision};
use crate::weights::sha256_file;

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
    /// Shorter-side resize for --images
    #[arg(long, default_value_t = 256)]
    pub resize: usize,
    /// Centre crop for --images
    #[arg(long, default_value_t = 224)]
    pub crop: usize,
    /// Capture points: all, or a comma-separated list (see `ventral layers`)
    #[arg(long, default_value = "all")]
    pub layers: String,
    /// Reduction over space before readback: none, mean or max
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
    pub gpu: GpuArgs,
}

/// Where the input batches come from.
enum Stimuli {
    Array(NpyReader),
    Images(Vec<PathBuf>, Torchvision),
}

impl Stimuli {
    fn open(args: &ExtractArgs, in_channels: usize) -> Result<(Stimuli, [usize; 3], String)> {
        if let Some(path) = &args.input {
            let r = NpyReader::open(path)?;
            let s = r.shape().to_vec();
            if s.len() != 4 || s[1] != in_channels || s.contains(&0) {
                return Err(Error::file(
                    path,
                    format!("expected a float32 array [N, {in_channels}, H, W], got shape {s:?}"),
                ));
            }
            let desc = format!("{} sha256:{}", path.display(), sha256_file(path)?);
            return Ok((Stimuli::Array(r), [s[0], s[2], s[3]], desc));
        }
        let dir = args
            .images
            .as_deref()
            .expect("clap requires --input or --images");
        let files = list_images(dir)?;
        let t = Torchvision {
            resize: args.resize,
            crop: args.crop,
            ..Torchvision::default()
        };
        if t.crop > t.resize || t.crop == 0 {
            return Err(Error::Invalid(format!(
                "--crop {} must be between 1 and --resize {}",
                t.crop, t.resize
            )));
        }
        let desc = format!(
            "{} ({} images, torchvision resize {} crop {})",
            dir.display(),
            files.len(),
            t.resize,
            t.crop
        );
        let n = files.len();
        let c = t.crop;
        Ok((Stimuli::Images(files, t), [n, c, c], desc))
    }

    fn batch(&mut self, lo: usize, hi: usize) -> Result<Vec<f32>> {
        match self {
            Stimuli::Array(r) => {
                let x = r.read_rows(lo, hi)?;
                if let Some(i) = x.iter().position(|v| !v.is_finite()) {
                    let per: usize = r.shape()[1..].iter().product();
                    return Err(Error::file(
                        r.path(),
                        format!(
                            "non-finite value ({}) in image {} at flat index {}",
                            x[i],
                            lo + i / per,
                            lo * per + i
                        ),
                    ));
                }
                Ok(x)
            }
            Stimuli::Images(files, t) => {
                let mut out = Vec::new();
                for f in &files[lo..hi] {
                    let img = load_rgb(f)?;
                    out.extend(t.apply(&img).map_err(|e| Error::file(f, e))?);
                }
                Ok(out)
            }
        }
    }

    fn names(&self) -> Option<Vec<String>> {
        match self {
            Stimuli::Array(_) => None,
            Stimuli::Images(files, _) => Some(files.iter().map(|f| file_name(f)).collect()),
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

pub fn run(args: &ExtractArgs) -> Result<(), Failure> {
    ActivationFormat::from_path(&args.out)?;
    if args.batch == 0 {
        return Err(Error::Invalid("--batch must be at least 1".into()).into());
    }
    let reduce: Reduce = args.reduce.parse()?;
    let (graph, weights) = args.model.load()?;
    let capture = Capture::parse(&graph, &args.layers, reduce)?;
    let (mut stimuli, [n, h, w], input_desc) = Stimuli::open(args, graph.in_channels)?;
    let per_image = capture.shapes(&graph, h, w)?;
    if let Some(path) = &args.save_weights {
        weights.save(path, &weights_metadata(&graph, &weights))?;
    }

    let ctx = Context::new(&args.gpu.options()?)?;
    let mut meta = BTreeMap::from([
        ("model".to_string(), graph.model.clone()),
        ("weights".into(), weights.source.tag()),
        ("input".into(), input_desc),
        ("input_size".into(), format!("{h}x{w}")),
        ("images".into(), n.to_string()),
        ("reduce".into(), reduce.to_string()),
        ("batch".into(), args.batch.to_string()),
        ("adapter".into(), ctx.adapter().summary()),
        ("ventral_version".into(), env!("CARGO_PKG_VERSION").into()),
    ]);
    if let Some(names) = stimuli.names() {
        meta.insert("stimuli".into(), serde_json::to_string(&names)?);
    }
    let shapes: Vec<Vec<usize>> = per_image
        .iter()
        .map(|s| std::iter::once(n).chain(s.iter().copied()).collect())
        .collect();
    let mut writer = TensorWriter::create(&args.out, &capture.points, &shapes, meta)?;
    let net = Network::new(&ctx, graph, &weights)?;

    let start = Instant::now();
    let batches = n.div_ceil(args.batch);
    for (b, lo) in (0..n).step_by(args.batch).enumerate() {
        let hi = (lo + args.batch).min(n);
        let x = stimuli.batch(lo, hi)?;
        let acts = net.extract(&x, &[hi - lo, net.graph().in_channels, h, w], &capture)?;
        writer.write_rows(lo, &acts)?;
        log::info!("batch {}/{batches}: images {lo}..{hi}", b + 1);
    }
    writer.finish()?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{}: {n} images in {secs:.2} s ({:.1} img/s) on {}",
        net.graph().model,
        n as f64 / secs,
        ctx.adapter().summary()
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
