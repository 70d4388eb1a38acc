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
    /// Output .safetensors file
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &WeightsArgs) -> Result<(), Failure> {
    let (graph, weights) = args.model.load()?;
    weights.save(&args.out, &weights_metadata(&graph, &weights))?;
    println!(
        "{}: {} tensors, {} parameters ({}) -> {}",
        graph.model,
        weights.tensors().len(),
        weights.parameter_count(),
        weights.source.tag(),
        args.out.display()
    );
    Ok(())
}
