//! Published weights by name: a registry of every zoo model with released weights (URL, the
//! SHA-256 prefix torchvision's file names carry, default preprocessing), fetched into the cache
//! once (`io::download`; `VENTRAL_PRETRAINED_MIRROR=http://host:port` replaces the scheme and
//! host) and converted once to ventral's strict f32 safetensors.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::download::{cache_dir, download, with_base};
use crate::stimuli::preprocess::{
    Filter, Normalize, Preprocess, IMAGENET, INCEPTION_MEAN, INCEPTION_STD,
};

/// How a published checkpoint expects its images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prep {
    /// torchvision `ImageClassification(crop_size, resize_size, interpolation)`, ImageNet stats.
    Torchvision {
        resize: usize,
        crop: usize,
        filter: Filter,
    },
    /// timm's eval transform: crop `size`, crop_pct, interpolation, statistics.
    Timm {
        size: usize,
        crop_pct: f64,
        filter: Filter,
        normalize: Normalize,
    },
}

/// One published checkpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub model: &'static str,
    pub variant: &'static str,
    pub url: &'static str,
    /// Leading hex digits of the file's SHA-256 (torchvision's `name-<prefix>.pth`).
    pub sha256_prefix: Option<&'static str>,
    pub prep: Prep,
}

const BIL: Filter = Filter::Bilinear;
const BIC: Filter = Filter::Bicubic;
const INCEPTION: Normalize = Normalize {
    mean: INCEPTION_MEAN,
    std: INCEPTION_STD,
};

const fn tv(
    model: &'static str,
    variant: &'static str,
    url: &'static str,
    sha: &'static str,
    resize: usize,
    filter: Filter,
) -> Entry {
    Entry {
        model,
        variant,
        url,
        sha256_prefix: Some(sha),
        prep: Prep::Torchvision {
            resize,
            crop: 224,
            filter,
        },
    }
}

const fn timm(
    model: &'static str,
    url: &'static str,
    crop_pct: f64,
    normalize: Normalize,
) -> Entry {
    Entry {
        model,
        variant: "default",
        url,
        sha256_prefix: None,
        prep: Prep::Timm {
            size: 224,
            crop_pct,
            filter: BIC,
            normalize,
        },
    }
}

/// Every published checkpoint ventral's architectures take (224-pixel ones: ventral's torchvision
/// ViTs are built at 224, so the SWAG end-to-end weights at 384/512/518 are left out). The first
/// entry of a model is its default.
pub const REGISTRY: &[Entry] = &[
    tv("alexnet", "IMAGENET1K_V1", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", "7be5be79", 256, BIL),
    tv("vgg11", "IMAGENET1K_V1", "https://download.pytorch.org/models/vgg11-8a719046.pth", "8a719046", 256, BIL),
    tv("vgg11_bn", "IMAGENET1K_V1", "https://download.pytorch.org/models/vgg11_bn-6002323d.pth", "6002323d", 256, BIL),
    tv("vgg13", "IMAGENET1K_V1", "https://download.pytorch.org/models/vgg13-19584684.pth", "19584684", 256, BIL),
    tv("vgg13_bn", "IMAGENET1K_V1", "https://download.pytorch.org/models/vgg13_bn-abd245e5.pth", "abd245e5", 256, BIL),
    tv("vgg16", "IMAGENET1K_V1", "https://download.pytorch.org/models/vgg16-397923af.pth", "397923af", 256, BIL),
    tv("vgg16_bn", "IMAGENET1K_V1", "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth", "6c64b313", 256, BIL),
    tv("vgg19", "IMAGENET1K_V1", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", "dcbb9e9d", 256, BIL),
    tv("vgg19_bn", "IMAGENET1K_V1", "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth", "c79401a0", 256, BIL),
    tv("resnet18", "IMAGENET1K_V1", "https://download.pytorch.org/models/resnet18-f37072fd.pth", "f37072fd", 256, BIL),
    tv("resnet34", "IMAGENET1K_V1", "https://download.pytorch.org/models/resnet34-b627a593.pth", "b627a593", 256, BIL),
    tv("resnet50", "IMAGENET1K_V1", "https://download.pytorch.org/models/resnet50-0676ba61.pth", "0676ba61", 256, BIL),
    tv("resnet50", "IMAGENET1K_V2", "https://download.pytorch.org/models/resnet50-11ad3fa6.pth", "11ad3fa6", 232, BIL),
    tv("resnet101", "IMAGENET1K_V1", "https://download.pytorch.org/models/resnet101-63fe2227.pth", "63fe2227", 256, BIL),
    tv("resnet101", "IMAGENET1K_V2", "https://download.pytorch.org/models/resnet101-cd907fc2.pth", "cd907fc2", 232, BIL),
    tv("resnet152", "IMAGENET1K_V1", "https://download.pytorch.org/models/resnet152-394f9c45.pth", "394f9c45", 256, BIL),
    tv("resnet152", "IMAGENET1K_V2", "https://download.pytorch.org/models/resnet152-f82ba261.pth", "f82ba261", 232, BIL),
    tv("vit_b_16", "IMAGENET1K_V1", "https://download.pytorch.org/models/vit_b_16-c867db91.pth", "c867db91", 256, BIL),
    tv("vit_b_16", "IMAGENET1K_SWAG_LINEAR_V1", "https://download.pytorch.org/models/vit_b_16_lc_swag-4e70ced5.pth", "4e70ced5", 224, BIC),
    tv("vit_b_32", "IMAGENET1K_V1", "https://download.pytorch.org/models/vit_b_32-d86f8d99.pth", "d86f8d99", 256, BIL),
    tv("vit_l_16", "IMAGENET1K_V1", "https://download.pytorch.org/models/vit_l_16-852ce7e3.pth", "852ce7e3", 242, BIL),
    tv("vit_l_16", "IMAGENET1K_SWAG_LINEAR_V1", "https://download.pytorch.org/models/vit_l_16_lc_swag-4d563306.pth", "4d563306", 224, BIC),
    tv("vit_l_32", "IMAGENET1K_V1", "https://download.pytorch.org/models/vit_l_32-c7638314.pth", "c7638314", 256, BIL),
    tv("vit_h_14", "IMAGENET1K_SWAG_LINEAR_V1", "https://download.pytorch.org/models/vit_h_14_lc_swag-c1eb923e.pth", "c1eb923e", 224, BIC),
    // CORnet repo: cornet/__init__.py, HASH in cornet_z.py; saved as {'state_dict': …} with
    // DataParallel's `module.` prefixes.
    tv("cornet_z", "IMAGENET1K", "https://s3.amazonaws.com/cornet-models/cornet_z-5c427c9c.pth", "5c427c9c", 256, BIL),
    // facebookresearch/deepcluster README; {'state_dict': …}, no hash in the name.
    Entry {
        model: "deepcluster_alexnet",
        variant: "IMAGENET1K",
        url: "https://dl.fbaipublicfiles.com/deepcluster/alexnet/checkpoint.pth.tar",
        sha256_prefix: None,
        prep: Prep::Torchvision { resize: 256, crop: 224, filter: BIL },
    },
    timm("timm/vit_tiny_patch16_224", "https://huggingface.co/timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k/resolve/main/model.safetensors", 0.9, INCEPTION),
    timm("timm/vit_small_patch16_224", "https://huggingface.co/timm/vit_small_patch16_224.augreg_in21k_ft_in1k/resolve/main/model.safetensors", 0.9, INCEPTION),
    timm("timm/vit_base_patch16_224", "https://huggingface.co/timm/vit_base_patch16_224.augreg2_in21k_ft_in1k/resolve/main/model.safetensors", 0.9, INCEPTION),
    timm("timm/vit_base_patch32_224", "https://huggingface.co/timm/vit_base_patch32_224.augreg_in21k_ft_in1k/resolve/main/model.safetensors", 0.9, INCEPTION),
    timm("timm/vit_large_patch16_224", "https://huggingface.co/timm/vit_large_patch16_224.augreg_in21k_ft_in1k/resolve/main/model.safetensors", 0.9, INCEPTION),
    timm("timm/deit_tiny_patch16_224", "https://huggingface.co/timm/deit_tiny_patch16_224.fb_in1k/resolve/main/model.safetensors", 0.9, IMAGENET),
    timm("timm/deit_small_patch16_224", "https://huggingface.co/timm/deit_small_patch16_224.fb_in1k/resolve/main/model.safetensors", 0.9, IMAGENET),
    timm("timm/deit_base_patch16_224", "https://huggingface.co/timm/deit_base_patch16_224.fb_in1k/resolve/main/model.safetensors", 0.9, IMAGENET),
];

/// The entry of `model` (and `variant`, else the model's default); a usage error listing the
/// choices otherwise.
pub fn lookup(model: &str, variant: Option<&str>) -> Result<&'static Entry> {
    let of: Vec<&Entry> = REGISTRY.iter().filter(|e| e.model == model).collect();
    if of.is_empty() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|e| e.model).collect();
        names.dedup();
        return Err(Error::Invalid(format!(
            "no published weights for model '{model}'; models with weights: {}",
            names.join(", ")
        )));
    }
    match variant {
        None => Ok(of[0]),
        Some(v) => of.iter().copied().find(|e| e.variant == v).ok_or_else(|| {
            Error::Invalid(format!(
                "model '{model}' has no variant '{v}'; variants: {}",
                of.iter().map(|e| e.variant).collect::<Vec<_>>().join(", ")
            ))
        }),
    }
}

impl Entry {
    /// ventral's preprocessing of this checkpoint.
    pub fn preprocess(&self) -> Result<Preprocess> {
        match self.prep {
            Prep::Torchvision {
                resize,
                crop,
                filter,
            } => {
                let mut p = Preprocess::torchvision(resize, crop);
                p.filter = filter;
                Ok(p)
            }
            Prep::Timm {
                size,
                crop_pct,
                filter,
                normalize,
            } => Preprocess::timm(size, crop_pct, filter, normalize),
        }
    }

    /// The URL, with `scheme://host` replaced by `$VENTRAL_PRETRAINED_MIRROR` when set.
    pub fn resolved_url(&self) -> String {
        match std::env::var("VENTRAL_PRETRAINED_MIRROR") {
            Ok(m) if !m.is_empty() => with_base(self.url, &m),
            _ => self.url.to_string(),
        }
    }

    /// File name of the download in the cache.
    pub fn file_name(&self) -> String {
        let last = self.url.rsplit('/').next().unwrap_or("weights");
        if self.model.starts_with("timm/") {
            format!("{}.safetensors", self.url.split('/').nth(4).unwrap_or(last))
        } else {
            last.to_string()
        }
    }
}

/// What [`fetch`] made.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// ventral's f32 safetensors, `<cache>/<model>/<variant>.safetensors`.
    pub path: PathBuf,
    pub url: String,
    pub variant: String,
    /// SHA-256 of the downloaded file.
    pub sha256: String,
    pub preprocess: Preprocess,
}

/// Downloads (or finds in `cache`) the checkpoint of `entry` from `url` and converts it once. A
/// converted file already in the cache is a hit: its recorded source URL and SHA-256 are read
/// from its header, and neither the network nor the raw download is touched.
pub fn fetch_from(entry: &Entry, url: &str, cache: &Path, quiet: bool) -> Result<Fetched> {
    let model_dir = cache.join(entry.model.replace('/', "--"));
    let converted = model_dir.join(format!("{}.safetensors", entry.variant));
    let recorded = if converted.is_file() {
        crate::weights::file_metadata(&converted)?
    } else {
        Default::default()
    };
    let sha256 = match (recorded.get("source_sha256"), recorded.get("source_url")) {
        (Some(sha), Some(u)) if u == url => sha.clone(),
        _ => {
            let raw = model_dir.join(entry.file_name());
            let sha256 = download(url, &raw, entry.sha256_prefix, quiet)?;
            let graph = crate::models::build(entry.model)?;
            let w = crate::weights::Weights::load(&raw, &graph.specs)?;
            let mut meta = std::collections::BTreeMap::new();
            meta.insert("source_url".to_string(), url.to_string());
            meta.insert("source_sha256".to_string(), sha256.clone());
            w.save(&converted, &meta)?;
            sha256
        }
    };
    Ok(Fetched {
        path: converted,
        url: url.to_string(),
        variant: entry.variant.to_string(),
        sha256,
        preprocess: entry.preprocess()?,
    })
}

/// [`fetch_from`] with the registry URL (or its mirror) and the cache dir.
pub fn fetch(model: &str, variant: Option<&str>, quiet: bool) -> Result<Fetched> {
    let e = lookup(model, variant)?;
    fetch_from(e, &e.resolved_url(), &cache_dir()?, quiet)
}

/// [`fetch`], then the converted weights, checked strictly against `specs`.
pub fn load(
    model: &str,
    variant: Option<&str>,
    specs: &[crate::weights::TensorSpec],
    quiet: bool,
) -> Result<(crate::weights::Weights, Fetched)> {
    let got = fetch(model, variant, quiet)?;
    Ok((crate::weights::Weights::load(&got.path, specs)?, got))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_names_carry_their_prefix_and_models_build() {
        for e in REGISTRY {
            if let Some(p) = e.sha256_prefix {
                assert!(e.file_name().contains(&format!("-{p}.")), "{}", e.url);
            }
            crate::models::build(e.model).unwrap_or_else(|err| panic!("{}: {err}", e.model));
            e.preprocess().unwrap().validate().unwrap();
        }
    }

    #[test]
    fn unknown_names_list_the_choices() {
        let e = lookup("nope", None).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("resnet50"), "{e}");
        let e = lookup("resnet50", Some("V9")).unwrap_err();
        assert!(
            e.is_usage() && e.to_string().contains("IMAGENET1K_V2"),
            "{e}"
        );
        assert_eq!(lookup("resnet50", None).unwrap().variant, "IMAGENET1K_V1");
    }

    #[test]
    fn mirror_replaces_scheme_and_host() {
        assert_eq!(
            with_base(
                "https://download.pytorch.org/models/a-1.pth",
                "http://127.0.0.1:9/"
            ),
            "http://127.0.0.1:9/models/a-1.pth"
        );
    }
}
