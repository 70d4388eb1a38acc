//! CORnet-Z (Kubilius et al. 2018; dicarlolab/CORnet `cornet_z.py`): four conv–ReLU–max-pool
//! areas V1, V2, V4, IT and a decoder.

use super::graph::{Builder, Graph};
use crate::weights::Init;

/// `CORnet_Z()`. Init (its own loop): conv and linear weights Xavier-uniform, biases 0. Released
/// weights carry a `module.` prefix (DataParallel); `weights/export_torchvision.py` strips it.
pub fn cornet_z() -> Graph {
    let mut b = Builder::new("cornet_z", 3, 224);
    for (area, out, k, stride) in [
        ("V1", 64, 7, 2),
        ("V2", 128, 3, 1),
        ("V4", 256, 3, 1),
        ("IT", 512, 3, 1),
    ] {
        let init = Init::xavier_uniform(b.channels * k * k, out * k * k);
        b.conv(
            &format!("{area}.conv"),
            out,
            k,
            stride,
            k / 2,
            init,
            Some(Init::Constant(0.0)),
        );
        b.relu(&format!("{area}.nonlin"));
        b.max_pool(&format!("{area}.pool"), 3, 2, 1);
        b.identity(&format!("{area}.output"));
        let out = b.cur;
        b.alias(area, out);
    }
    b.adaptive_avg_pool("decoder.avgpool", 1);
    b.flatten(Some("decoder.flatten"), 512);
    b.linear(
        "decoder.linear",
        1000,
        Init::xavier_uniform(512, 1000),
        Init::Constant(0.0),
    );
    b.identity("decoder.output");
    let out = b.cur;
    b.alias("decoder", out);
    b.finish()
}
