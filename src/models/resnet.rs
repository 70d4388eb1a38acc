//! ResNet-18/34/50/101/152 as torchvision defines them (v1.5: the stride sits in the 3×3 conv).

use super::graph::{Builder, Graph, Op};
use crate::weights::Init;

/// `torchvision.models.resnet{depth}`. Init (torchvision `ResNet.__init__`): convs Kaiming-normal
/// fan-out (std sqrt(2/(out·k·k))), no bias; BN weight 1, bias 0 (`zero_init_residual=False`);
/// `fc` keeps PyTorch's default U(±1/sqrt(fan_in)) for weight and bias.
///
/// The block's `relu` module is called two (basic) or three (bottleneck) times; its capture
/// points are `layerL.B.relu:1` … in call order. The top-level `relu` is called once.
pub fn resnet(depth: usize) -> Option<Graph> {
    let (blocks, bottleneck): ([usize; 4], bool) = match depth {
        18 => ([2, 2, 2, 2], false),
        34 => ([3, 4, 6, 3], false),
        50 => ([3, 4, 6, 3], true),
        101 => ([3, 4, 23, 3], true),
        152 => ([3, 8, 36, 3], true),
        _ => return None,
    };
    let expansion = if bottleneck { 4 } else { 1 };
    let mut b = Builder::new(&format!("resnet{depth}"), 3, 224);
    let kaiming = |out: usize, k: usize| Init::kaiming_normal_fan_out(out * k * k);
    b.conv("conv1", 64, 7, 2, 3, kaiming(64, 7), None);
    b.batch_norm("bn1");
    b.relu("relu");
    b.max_pool("maxpool", 3, 2, 1);
    for (l, &n) in blocks.iter().enumerate() {
        let planes = 64 << l;
        for i in 0..n {
            let stride = if l > 0 && i == 0 { 2 } else { 1 };
            let p = format!("layer{}.{i}", l + 1);
            let (input, in_ch) = (b.cur, b.channels);
            let out_ch = planes * expansion;
            let convs: Vec<(usize, usize, usize)> = if bottleneck {
                vec![(planes, 1, 1), (planes, 3, stride), (out_ch, 1, 1)]
            } else {
                vec![(planes, 3, stride), (planes, 3, 1)]
            };
            let last = convs.len();
            for (c, &(out, k, s)) in convs.iter().enumerate() {
                b.conv(
                    &format!("{p}.conv{}", c + 1),
                    out,
                    k,
                    s,
                    k / 2,
                    kaiming(out, k),
                    None,
                );
                b.batch_norm(&format!("{p}.bn{}", c + 1));
                if c + 1 < last {
                    b.relu(&format!("{p}.relu:{}", c + 1));
                }
            }
            let main = b.cur;
            let shortcut = if stride != 1 || in_ch != out_ch {
                b.cur = input;
                b.channels = in_ch;
                b.conv(
                    &format!("{p}.downsample.0"),
                    out_ch,
                    1,
                    stride,
                    0,
                    kaiming(out_ch, 1),
                    None,
                );
                let d = b.batch_norm(&format!("{p}.downsample.1"));
                b.alias(&format!("{p}.downsample"), d);
                d
            } else {
                input
            };
            b.push(None, Op::Add, vec![main, shortcut]);
            b.channels = out_ch;
            let out = b.relu(&format!("{p}.relu:{last}"));
            b.alias(&p, out);
        }
        let out = b.cur;
        b.alias(&format!("layer{}", l + 1), out);
    }
    b.adaptive_avg_pool("avgpool", 1);
    b.flatten(None, 512 * expansion);
    let init = Init::torch_default(b.channels);
    b.linear("fc", 1000, init.clone(), init);
    Some(b.finish())
}
