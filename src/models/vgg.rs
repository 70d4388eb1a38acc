//! VGG-11/13/16/19 with and without batch norm, as torchvision defines them.

use super::graph::{Builder, Graph};
use crate::weights::Init;

/// torchvision's configurations A, B, D, E: conv widths, 0 = max pool.
fn config(depth: usize) -> Option<&'static [usize]> {
    Some(match depth {
        11 => &[64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
        13 => &[
            64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0,
        ],
        16 => &[
            64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
        ],
        19 => &[
            64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512,
            512, 0,
        ],
        _ => return None,
    })
}

/// `torchvision.models.vgg{depth}[_bn]`. Init (torchvision `VGG.__init__`): conv weights
/// Kaiming-normal fan-out (std sqrt(2/(out·9))), bias 0; BN weight 1, bias 0; linear N(0, 0.01),
/// bias 0.
pub fn vgg(depth: usize, batch_norm: bool) -> Option<Graph> {
    let name = format!("vgg{depth}{}", if batch_norm { "_bn" } else { "" });
    let mut b = Builder::new(&name, 3, 224);
    let mut i = 0;
    for &v in config(depth)? {
        if v == 0 {
            b.max_pool(&format!("features.{i}"), 2, 2, 0);
            i += 1;
            continue;
        }
        let init = Init::kaiming_normal_fan_out(v * 9);
        b.conv(
            &format!("features.{i}"),
            v,
            3,
            1,
            1,
            init,
            Some(Init::Constant(0.0)),
        );
        i += 1;
        if batch_norm {
            b.batch_norm(&format!("features.{i}"));
            i += 1;
        }
        b.relu(&format!("features.{i}"));
        i += 1;
    }
    let features = b.cur;
    b.alias("features", features);
    b.adaptive_avg_pool("avgpool", 7);
    b.flatten(None, 512 * 7 * 7);
    let linear = || Init::Normal { std: 0.01 };
    b.linear("classifier.0", 4096, linear(), Init::Constant(0.0));
    b.relu("classifier.1");
    b.identity("classifier.2");
    b.linear("classifier.3", 4096, linear(), Init::Constant(0.0));
    b.relu("classifier.4");
    b.identity("classifier.5");
    b.linear("classifier.6", 1000, linear(), Init::Constant(0.0));
    let last = b.cur;
    b.alias("classifier", last);
    Some(b.finish())
}
