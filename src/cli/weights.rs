//! `ventral weights`: write a model's seeded random weights (or a checked copy of a weights file)
//! as f32 safetensors with torchvision names, loadable by PyTorch's `load_state_dict`.

use std::path::PathBuf;

use clap::Args;

use super::model_args::{weights_metadata, ModelArgs};
use super::Failure;

#[derive(Args, Debug)]
pub struct WeightsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output .safetensors file (optional with --pretrained: the cache path is printed)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &WeightsArgs) -> Result<(), Failure> {
    if let (true, None) = (args.model.pretrained, &args.out) {
        let got = crate::models::pretrained::fetch(
            &args.model.model,
            args.model.variant.as_deref(),
            false,
        )?;
        println!("{}", got.path.display());
        return Ok(());
    }
    let out = args.out.as_ref().ok_or_else(|| {
        crate::Error::Invalid("--out FILE is required (unless --pretrained)".into())
    })?;
    let (graph, weights) = args.model.load()?;
    weights.save(out, &weights_metadata(&graph, &weights))?;
    println!(
        "{}: {} tensors, {} parameters ({}) -> {}",
        graph.model,
        weights.tensors().len(),
        weights.parameter_count(),
        weights.source.tag(),
        out.display()
    );
    Ok(())
}
