//! `--model` plus `--weights FILE | --random-init --seed N`, shared by `extract` and `weights`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::models::{build, Graph};
use crate::weights::Weights;

#[derive(Args, Debug, Clone)]
#[group(id = "model_weights")]
pub struct ModelArgs {
    /// Architecture: alexnet, vgg11…vgg19[_bn], resnet18…resnet152, cornet_z, deepcluster_alexnet,
    /// vit_b_16, vit_b_32, vit_l_16, vit_l_32, vit_h_14, timm/{vit,deit}_{tiny,small,base,large}_patch{P}_{S}
    /// (`ventral layers --list`)
    #[arg(long)]
    pub model: String,
    /// Trained weights with the model's state_dict names (torchvision, or timm for timm/ ids):
    /// safetensors, or a PyTorch checkpoint (.pth/.pt/.bin, zip or legacy; read without running
    /// code); f32, f16, bf16 or f64. `ventral weights --convert FILE` is the same flag
    #[arg(
        long,
        visible_alias = "convert",
        conflicts_with_all = ["random_init", "pretrained"],
        required_unless_present_any = ["random_init", "pretrained"]
    )]
    pub weights: Option<PathBuf>,
    /// The model's published weights, downloaded once into the cache ($VENTRAL_CACHE), checked
    /// and converted (`ventral::models::pretrained`)
    #[arg(long, conflicts_with = "random_init")]
    pub pretrained: bool,
    /// Published weights variant for --pretrained (e.g. IMAGENET1K_V2; default: the first listed)
    #[arg(long, requires = "pretrained")]
    pub variant: Option<String>,
    /// Seeded random weights following the model's own init scheme
    #[arg(long)]
    pub random_init: bool,
    /// Seed of --random-init (recorded in every output)
    #[arg(long, default_value_t = 0, requires = "random_init")]
    pub seed: u64,
}

impl ModelArgs {
    /// The architecture and its strictly checked (or seeded) weights.
    pub fn load(&self) -> Result<(Graph, Weights)> {
        let graph = build(&self.model)?;
        let weights = match &self.weights {
            _ if self.pretrained => {
                let variant = self.variant.as_deref();
                crate::models::pretrained::load(&self.model, variant, &graph.specs, false)?.0
            }
            Some(path) => Weights::load(path, &graph.specs)?,
            None => Weights::random(&graph.specs, self.seed),
        };
        log::info!(
            "{}: {} parameters from {}",
            graph.model,
            weights.parameter_count(),
            weights.source.tag()
        );
        Ok((graph, weights))
    }
}

/// Header metadata of a weights file written by ventral.
pub fn weights_metadata(graph: &Graph, weights: &Weights) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("format".into(), "pt".into()),
        ("model".into(), graph.model.clone()),
        ("weights".into(), weights.source.tag()),
        ("ventral_version".into(), env!("CARGO_PKG_VERSION").into()),
    ])
}
