//! AlexNet as torchvision defines it, and DeepCluster's AlexNet (batch norm after every conv, no
//! LRN, a fixed Sobel front end; Caron et al. 2018, facebookresearch/deepcluster `models/alexnet.py`).

use super::graph::{Builder, Graph};
use crate::weights::Init;

/// `torchvision.models.alexnet`. Init: PyTorch's default layer init (weights and biases
/// U(±1/sqrt(fan_in))); torchvision does not override it for AlexNet.
pub fn alexnet() -> Graph {
    let mut b = Builder::new("alexnet", 3, 224);
    let convs = [
        (64, 11, 4, 2),
        (192, 5, 1, 2),
        (384, 3, 1, 1),
        (256, 3, 1, 1),
        (256, 3, 1, 1),
    ];
    let mut i = 0;
    for (n, &(out, k, s, p)) in convs.iter().enumerate() {
        let fan_in = b.channels * k * k;
        let init = Init::torch_default(fan_in);
        b.conv(
            &format!("features.{i}"),
            out,
            k,
            s,
            p,
            init.clone(),
            Some(init),
        );
        b.relu(&format!("features.{}", i + 1));
        i += 2;
        if matches!(n, 0 | 1 | 4) {
            b.max_pool(&format!("features.{i}"), 3, 2, 0);
            i += 1;
        }
    }
    let features = b.cur;
    b.alias("features", features);
    b.adaptive_avg_pool("avgpool", 6);
    b.flatten(None, 256 * 6 * 6);
    b.identity("classifier.0");
    for (fc, out) in [(1, 4096), (4, 4096), (6, 1000)] {
        let init = Init::torch_default(b.channels);
        b.linear(&format!("classifier.{fc}"), out, init.clone(), init);
        if fc != 6 {
            b.relu(&format!("classifier.{}", fc + 1));
        }
        if fc == 1 {
            b.identity("classifier.3");
        }
    }
    let last = b.cur;
    b.alias("classifier", last);
    b.finish()
}

/// Number of clusters of DeepCluster's released AlexNet (`top_layer` outputs).
pub const DEEPCLUSTER_CLUSTERS: usize = 10_000;

/// DeepCluster AlexNet with Sobel input. State-dict names: `sobel.0` (grayscale 1×1 conv, weights
/// 1/3), `sobel.1` (two 3×3 Sobel filters), `features.*`, `classifier.*`, `top_layer`. The
/// released checkpoint (`--pretrained`) loads directly: its `features.module.*` names (only the
/// features were wrapped in DataParallel) lose their `module` segment. The features end in a fixed `view(N, 256·6·6)`, so only inputs that give a
/// 6×6 map (224 to 227) work. Init (DeepCluster's `_initialize_weights`): conv weights
/// N(0, sqrt(2/(k·k·out))), bias 0; BN weight 1, bias 0; linear N(0, 0.01), bias 0.
pub fn deepcluster_alexnet() -> Graph {
    let mut b = Builder::new("deepcluster_alexnet", 3, 224);
    b.conv(
        "sobel.0",
        1,
        1,
        1,
        0,
        Init::Fixed(vec![1.0 / 3.0; 3]),
        Some(Init::Fixed(vec![0.0])),
    );
    let sobel = vec![
        1.0, 0.0, -1.0, 2.0, 0.0, -2.0, 1.0, 0.0, -1.0, //
        1.0, 2.0, 1.0, 0.0, 0.0, 0.0, -1.0, -2.0, -1.0,
    ];
    b.conv(
        "sobel.1",
        2,
        3,
        1,
        1,
        Init::Fixed(sobel),
        Some(Init::Fixed(vec![0.0; 2])),
    );
    let s = b.cur;
    b.alias("sobel", s);
    let cfg = [
        (96, 11, 4, 2),
        (256, 5, 1, 2),
        (384, 3, 1, 1),
        (384, 3, 1, 1),
        (256, 3, 1, 1),
    ];
    let mut i = 0;
    for (n, &(out, k, st, p)) in cfg.iter().enumerate() {
        let w = Init::Normal {
            std: (2.0 / (k * k * out) as f64).sqrt(),
        };
        b.conv(
            &format!("features.{i}"),
            out,
            k,
            st,
            p,
            w,
            Some(Init::Constant(0.0)),
        );
        b.batch_norm(&format!("features.{}", i + 1));
        b.relu(&format!("features.{}", i + 2));
        i += 3;
        if matches!(n, 0 | 1 | 4) {
            b.max_pool(&format!("features.{i}"), 3, 2, 0);
            i += 1;
        }
    }
    let features = b.cur;
    b.alias("features", features);
    b.flatten(None, 256 * 6 * 6);
    b.identity("classifier.0");
    let linear = || Init::Normal { std: 0.01 };
    b.linear("classifier.1", 4096, linear(), Init::Constant(0.0));
    b.relu("classifier.2");
    b.identity("classifier.3");
    b.linear("classifier.4", 4096, linear(), Init::Constant(0.0));
    b.relu("classifier.5");
    let c = b.cur;
    b.alias("classifier", c);
    b.linear(
        "top_layer",
        DEEPCLUSTER_CLUSTERS,
        linear(),
        Init::Constant(0.0),
    );
    b.finish()
}
