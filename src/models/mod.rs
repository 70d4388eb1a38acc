//! The model zoo: each architecture is a [`Graph`] built by one function per family, with the
//! reference framework's module paths as capture points; [`Network`] runs it on the GPU and hands
//! back the captured activations, reduced on the GPU when asked.

mod alexnet;
mod cornet;
mod graph;
mod network;
pub mod plan;
pub mod pretrained;
mod resnet;
mod vgg;
pub mod vit;

pub use alexnet::DEEPCLUSTER_CLUSTERS;
pub use graph::{Graph, Layout, Node, NodeId, Op, Point, ReceptiveField};
pub use network::{Capture, Network, Reduce};
pub use plan::Plan;

use crate::error::{Error, Result};

/// Every model name `build` accepts.
pub const MODELS: &[&str] = &[
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "cornet_z",
    "deepcluster_alexnet",
    "vit_b_16",
    "vit_b_32",
    "vit_l_16",
    "vit_l_32",
    "vit_h_14",
    "timm/vit_tiny_patch16_224",
    "timm/vit_small_patch16_224",
    "timm/vit_base_patch16_224",
    "timm/vit_base_patch32_224",
    "timm/vit_large_patch16_224",
    "timm/deit_tiny_patch16_224",
    "timm/deit_small_patch16_224",
    "timm/deit_base_patch16_224",
];

/// The architecture called `name`: one of [`MODELS`], or any timm ViT/DeiT id of the form
/// `timm/{vit,deit}_{tiny,small,base,large}_patch{P}_{S}`.
pub fn build(name: &str) -> Result<Graph> {
    let unknown = || {
        Error::Invalid(format!(
            "unknown model '{name}'; known models: {}",
            MODELS.join(", ")
        ))
    };
    let graph = match name {
        "alexnet" => Some(alexnet::alexnet()),
        "deepcluster_alexnet" => Some(alexnet::deepcluster_alexnet()),
        "cornet_z" => Some(cornet::cornet_z()),
        _ if name.starts_with("vgg") => {
            let (depth, bn) = match name.strip_suffix("_bn") {
                Some(d) => (d, true),
                None => (name, false),
            };
            depth["vgg".len()..]
                .parse()
                .ok()
                .and_then(|d| vgg::vgg(d, bn))
        }
        _ if name.starts_with("resnet") => {
            name["resnet".len()..].parse().ok().and_then(resnet::resnet)
        }
        _ if name.starts_with("vit_") || name.starts_with("timm/") => {
            vit::config(name).map(|c| vit::vit(name, &c))
        }
        _ => None,
    };
    graph.ok_or_else(unknown)
}

/// One row of `ventral layers`: a capture point with its output shape and receptive field.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerInfo {
    pub name: String,
    /// Output shape for one image (`[C, H, W]` or `[F]`).
    pub shape: Vec<usize>,
    pub features: usize,
    pub receptive_field: ReceptiveField,
    /// Captured only when named (not by `all`).
    pub on_request: bool,
}

/// Every capture point of `graph` for an input of `h × w` pixels.
pub fn layer_table(graph: &Graph, h: usize, w: usize) -> Result<Vec<LayerInfo>> {
    let shapes = graph.shapes(1, h, w)?;
    let rf = graph.receptive_fields(&shapes);
    Ok(graph
        .points
        .iter()
        .map(|p| {
            let shape = shapes[p.node][1..].to_vec();
            LayerInfo {
                name: p.name.clone(),
                features: shape.iter().product(),
                shape,
                receptive_field: rf[p.node],
                on_request: p.on_request,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rf(graph: &Graph, point: &str) -> (Option<usize>, Option<usize>) {
        let t = layer_table(graph, 224, 224).unwrap();
        let row = t
            .iter()
            .find(|r| r.name == point)
            .unwrap_or_else(|| panic!("{point}"));
        (row.receptive_field.size, row.receptive_field.jump)
    }

    #[test]
    fn receptive_fields_match_science_md() {
        let r50 = build("resnet50").unwrap();
        assert_eq!(rf(&r50, "conv1"), (Some(7), Some(2)));
        assert_eq!(rf(&r50, "maxpool"), (Some(11), Some(4)));
        let blocks = [
            ("layer1.0", 19),
            ("layer1.2", 35),
            ("layer2.0", 43),
            ("layer2.3", 91),
            ("layer3.0", 107),
            ("layer3.5", 267),
            ("layer4.0", 299),
            ("layer4.1", 363),
            ("layer4", 427),
        ];
        for (p, want) in blocks {
            assert_eq!(rf(&r50, p).0, Some(want), "{p}");
        }
        assert_eq!(rf(&r50, "layer4").1, Some(32));
        assert_eq!(rf(&r50, "avgpool").0, None);

        let vgg = build("vgg16").unwrap();
        for (p, want) in [
            ("features.3", 5),
            ("features.4", 6),
            ("features.16", 44),
            ("features.30", 212),
        ] {
            assert_eq!(rf(&vgg, p).0, Some(want), "{p}");
        }
        // avgpool to 7×7 on a 7×7 map is the identity.
        assert_eq!(rf(&vgg, "avgpool").0, Some(212));

        let alex = build("alexnet").unwrap();
        let want = [
            ("features.0", 11),
            ("features.2", 19),
            ("features.3", 51),
            ("features.5", 67),
            ("features.6", 99),
            ("features.8", 131),
            ("features.10", 163),
            ("features.12", 195),
        ];
        for (p, w) in want {
            assert_eq!(rf(&alex, p).0, Some(w), "{p}");
        }
        let r18 = build("resnet18").unwrap();
        for (p, w) in [
            ("layer1.0", 27),
            ("layer1.1", 43),
            ("layer2.1", 99),
            ("layer3.0", 147),
            ("layer4.1", 435),
        ] {
            assert_eq!(rf(&r18, p).0, Some(w), "{p}");
        }
    }

    #[test]
    fn capture_points_follow_module_paths_and_call_order() {
        let r50 = build("resnet50").unwrap();
        let names: Vec<&str> = r50.points.iter().map(|p| p.name.as_str()).collect();
        let block: Vec<&str> = names
            .iter()
            .skip_while(|n| **n != "layer3.0.conv1")
            .take(14)
            .copied()
            .collect();
        assert_eq!(
            block,
            [
                "layer3.0.conv1",
                "layer3.0.bn1",
                "layer3.0.relu:1",
                "layer3.0.conv2",
                "layer3.0.bn2",
                "layer3.0.relu:2",
                "layer3.0.conv3",
                "layer3.0.bn3",
                "layer3.0.downsample.0",
                "layer3.0.downsample.1",
                "layer3.0.downsample",
                "layer3.0.relu:3",
                "layer3.0",
                "layer3.1.conv1"
            ]
        );
        assert_eq!(names.first(), Some(&"conv1"));
        assert_eq!(names.last(), Some(&"fc"));
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "point names are unique");

        let t = layer_table(&build("alexnet").unwrap(), 224, 224).unwrap();
        let shape = |n: &str| t.iter().find(|r| r.name == n).unwrap().shape.clone();
        assert_eq!(shape("features.0"), [64, 55, 55]);
        assert_eq!(shape("features"), [256, 6, 6]);
        assert_eq!(shape("classifier.0"), [9216]);
        assert_eq!(shape("classifier"), [1000]);
        assert_eq!(t.len(), 13 + 1 + 1 + 7 + 1);
    }

    #[test]
    fn flops_match_published_counts() {
        // torchvision's documented GFLOPS (multiply-adds) at 224: AlexNet 0.71, ResNet-50 4.09,
        // VGG-16 15.47, ViT-B/16 17.56, ViT-L/16 61.55.
        for (m, gmacs) in [
            ("alexnet", 0.71),
            ("resnet50", 4.09),
            ("vgg16", 15.47),
            ("vit_b_16", 17.56),
            ("vit_l_16", 61.55),
        ] {
            let g = build(m).unwrap();
            let macs = g.flops(&g.shapes(1, 224, 224).unwrap()) / 2e9;
            assert!((macs - gmacs).abs() < 0.01, "{m}: {macs}");
        }
    }

    #[test]
    fn specs_match_torchvision_parameter_counts() {
        let count = |m: &str| -> usize {
            build(m)
                .unwrap()
                .specs
                .iter()
                .filter(|s| !s.name.contains("running_"))
                .map(|s| s.len())
                .sum()
        };
        // torchvision's sum(p.numel() for p in model.parameters()).
        assert_eq!(count("alexnet"), 61_100_840);
        assert_eq!(count("vgg16"), 138_357_544);
        assert_eq!(count("vgg11_bn"), 132_868_840);
        assert_eq!(count("resnet18"), 11_689_512);
        assert_eq!(count("resnet50"), 25_557_032);
        assert_eq!(count("resnet152"), 60_192_808);
        assert_eq!(count("vit_b_16"), 86_567_656);
        assert_eq!(count("vit_b_32"), 88_224_232);
        assert_eq!(count("vit_l_16"), 304_326_632);
        assert_eq!(count("vit_h_14"), 632_045_800);
        // timm's sum(p.numel() for p in model.parameters()).
        assert_eq!(count("timm/vit_small_patch16_224"), 22_050_664);
        assert_eq!(count("timm/vit_base_patch16_224"), 86_567_656);
        assert_eq!(count("timm/deit_tiny_patch16_224"), 5_717_416);
        assert_eq!(count("timm/vit_large_patch16_224"), 304_326_632);
    }

    #[test]
    fn input_sizes_the_architecture_cannot_take_are_errors() {
        let e = build("deepcluster_alexnet")
            .unwrap()
            .shapes(1, 160, 160)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'classifier.1'") && e.contains("9216"), "{e}");
        assert!(build("alexnet").unwrap().shapes(1, 32, 32).is_err());
        assert!(build("alexnet").unwrap().shapes(1, 64, 80).is_ok());
        assert!(build("vgg12").is_err() && build("resnet20").is_err() && build("nope").is_err());
        for m in MODELS {
            let g = build(m).unwrap();
            assert_eq!(&g.model, m);
            g.shapes(2, 224, 224).unwrap();
        }
    }
}
