//! Vision Transformers as torchvision (`vit_b_16`, …) and timm (`timm/vit_base_patch16_224`,
//! `timm/deit_small_patch16_224`, …) define them, each with its own module paths and tensor
//! names. Both are pre-norm encoders: patch embedding, class token + position embedding, blocks of
//! LayerNorm → multi-head self-attention → residual → LayerNorm → MLP (exact GELU) → residual,
//! a final LayerNorm, the class token, the classification head.

use super::graph::{Builder, Graph, Op};
use crate::ops::conv::Conv2d;
use crate::stimuli::preprocess::{filter_weights, Filter};
use crate::weights::Init;

/// Whose definition, module paths and tensor names a ViT follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `torchvision.models.VisionTransformer`.
    Torchvision,
    /// `timm.models.vision_transformer.VisionTransformer` (also DeiT, not distilled).
    Timm,
}

/// A ViT's size. The layer norms use eps 1e-6 in both families.
#[derive(Debug, Clone, PartialEq)]
pub struct VitConfig {
    pub family: Family,
    /// Training resolution (square); other sizes resample the position embedding.
    pub image_size: usize,
    pub patch: usize,
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub mlp: usize,
    pub classes: usize,
}

/// The config of a model id: torchvision `vit_{b,l}_{16,32}` and `vit_h_14`, or timm
/// `timm/{vit,deit}_{tiny,small,base,large}_patch{P}_{S}`.
pub fn config(name: &str) -> Option<VitConfig> {
    let sized = |family, image_size, patch, (dim, depth, heads)| VitConfig {
        family,
        image_size,
        patch,
        dim,
        depth,
        heads,
        mlp: 4 * dim,
        classes: 1000,
    };
    if let Some(timm) = name.strip_prefix("timm/") {
        let rest = timm
            .strip_prefix("vit_")
            .or_else(|| timm.strip_prefix("deit_"))?;
        let mut parts = rest.split('_');
        let size = match parts.next()? {
            "tiny" => (192, 12, 3),
            "small" => (384, 12, 6),
            "base" => (768, 12, 12),
            "large" => (1024, 24, 16),
            _ => return None,
        };
        let patch: usize = parts.next()?.strip_prefix("patch")?.parse().ok()?;
        let image: usize = parts.next()?.parse().ok()?;
        if parts.next().is_some() || patch == 0 || image == 0 || !image.is_multiple_of(patch) {
            return None;
        }
        return Some(sized(Family::Timm, image, patch, size));
    }
    let size = match name {
        "vit_b_16" | "vit_b_32" => (768, 12, 12),
        "vit_l_16" | "vit_l_32" => (1024, 24, 16),
        "vit_h_14" => (1280, 32, 16),
        _ => return None,
    };
    let patch = name.rsplit('_').next()?.parse().ok()?;
    Some(sized(Family::Torchvision, 224, patch, size))
}

/// The graph of a ViT called `model`.
pub fn vit(model: &str, c: &VitConfig) -> Graph {
    let mut b = Builder::new(model, 3, c.image_size);
    let tv = c.family == Family::Torchvision;
    let grid = c.image_size / c.patch;
    let fan_in = 3 * c.patch * c.patch;
    let (proj, cls, pos) = if tv {
        ("conv_proj", "class_token", "encoder.pos_embedding")
    } else {
        ("patch_embed.proj", "cls_token", "pos_embed")
    };
    // torchvision: conv_proj trunc-normal std sqrt(1/fan_in), bias 0, class token 0, position
    // embedding N(0, 0.02). timm: the patch conv keeps PyTorch's default, class token N(0, 1e-6),
    // position embedding trunc-normal 0.02.
    let (proj_w, proj_b) = if tv {
        let std = (1.0 / fan_in as f64).sqrt();
        (Init::TruncNormal { std, bound: 2.0 }, Init::Constant(0.0))
    } else {
        (Init::torch_default(fan_in), Init::torch_default(fan_in))
    };
    let (cls_init, pos_init) = if tv {
        (Init::Constant(0.0), Init::Normal { std: 0.02 })
    } else {
        (Init::Normal { std: 1e-6 }, TRUNC_02)
    };
    let weight = format!("{proj}.weight");
    let bias = format!("{proj}.bias");
    b.spec(weight.clone(), vec![c.dim, 3, c.patch, c.patch], proj_w);
    b.spec(bias.clone(), vec![c.dim], proj_b);
    let conv = Conv2d {
        stride: [c.patch; 2],
        ..Conv2d::default()
    };
    b.push(
        Some(proj),
        Op::Conv {
            weight,
            bias: Some(bias),
            conv,
        },
        vec![0],
    );
    b.channels = c.dim;
    let grid_node = b.cur;
    if !tv {
        // timm's PatchEmbed: proj, flatten to tokens `[G, D]`, norm (an Identity); the class
        // token and position embedding come after, in `_pos_embed`. (With `dynamic_img_size`
        // timm keeps `[gh, gw, D]`: the same values in the same order.)
        b.push(Some("patch_embed.norm"), Op::PatchSequence, vec![grid_node]);
        b.identity("patch_embed");
        b.cur = grid_node;
    }
    b.spec(cls.into(), vec![1, 1, c.dim], cls_init);
    b.spec(pos.into(), vec![1, 1 + grid * grid, c.dim], pos_init);
    let tokens = Op::Tokens {
        class_token: cls.into(),
        pos_embed: pos.into(),
        grid: [grid, grid],
    };
    b.push(
        Some(if tv { "encoder.dropout" } else { "pos_drop" }),
        tokens,
        vec![b.cur],
    );
    if !tv {
        // Identity modules in eval mode are named for the tensor they pass through.
        b.identity("patch_drop");
        b.identity("norm_pre");
    }
    for i in 0..c.depth {
        if tv {
            torchvision_block(&mut b, c, &format!("encoder.layers.encoder_layer_{i}"));
        } else {
            timm_block(&mut b, c, &format!("blocks.{i}"));
        }
    }
    let out = b.cur;
    b.alias(if tv { "encoder.layers" } else { "blocks" }, out);
    let norm = if tv { "encoder.ln" } else { "norm" };
    layer_norm(&mut b, norm);
    if tv {
        let out = b.cur;
        b.alias("encoder", out);
    }
    b.push(
        Some(if tv { "pre_logits" } else { "fc_norm" }),
        Op::ClassToken,
        vec![b.cur],
    );
    if !tv {
        b.identity("head_drop");
    }
    // torchvision zeroes the head; timm draws it like every other linear layer.
    let (head_w, head_b) = if tv {
        (Init::Constant(0.0), Init::Constant(0.0))
    } else {
        (TRUNC_02, Init::Constant(0.0))
    };
    let head = if tv { "heads.head" } else { "head" };
    b.linear(head, c.classes, head_w, head_b);
    if tv {
        let out = b.cur;
        b.alias("heads", out);
    }
    b.finish()
}

/// timm's `trunc_normal_(std=.02)` (bounds ±2, absolute).
const TRUNC_02: Init = Init::TruncNormal {
    std: 0.02,
    bound: 2.0,
};

fn layer_norm(b: &mut Builder, name: &str) {
    let d = b.channels;
    b.spec(format!("{name}.weight"), vec![d], Init::Constant(1.0));
    b.spec(format!("{name}.bias"), vec![d], Init::Constant(0.0));
    let op = Op::LayerNorm {
        prefix: name.into(),
        eps: 1e-6,
    };
    b.push(Some(name), op, vec![b.cur]);
}

/// The fused attention core on the packed `qkv` node, plus the on-request points: q, k, v and
/// the attention probabilities, named `{attn}:q` … `{attn}:weights`. timm (`timm = true`) also
/// has the per-head q and k `[H, T, d]` as `{attn}.q_norm`, `{attn}.k_norm` (Identity modules)
/// and names the concatenated head outputs `{attn}.norm` (an Identity before `attn.proj`).
fn attention_core(b: &mut Builder, c: &VitConfig, attn: &str, timm: bool) {
    let qkv = b.cur;
    let slice = |k: usize| Op::Slice {
        offset: k * c.dim,
        width: c.dim,
    };
    for (k, part) in ["q", "k", "v"].iter().enumerate() {
        b.push_on_request(&format!("{attn}:{part}"), slice(k), qkv);
    }
    let op = Op::AttentionWeights { heads: c.heads };
    b.push_on_request(&format!("{attn}:weights"), op, qkv);
    if timm {
        for (k, part) in ["q_norm", "k_norm"].iter().enumerate() {
            let sliced = b.push(None, slice(k), vec![qkv]);
            let heads = Op::SplitHeads { heads: c.heads };
            b.push(Some(&format!("{attn}.{part}")), heads, vec![sliced]);
        }
    }
    let core = timm.then(|| format!("{attn}.norm"));
    let core = core.as_deref();
    b.push(core, Op::Attention { heads: c.heads }, vec![qkv]);
    b.channels = c.dim;
}

/// torchvision `EncoderBlock`: `x = x + dropout(self_attention(ln_1(x)))`,
/// `x + mlp(ln_2(x))`. Init: `in_proj_weight` Xavier-uniform, `in_proj_bias` and `out_proj.bias`
/// 0, `out_proj.weight` PyTorch's default; MLP weights Xavier-uniform, biases N(0, 1e-6).
fn torchvision_block(b: &mut Builder, c: &VitConfig, p: &str) {
    let (d, input) = (c.dim, b.cur);
    layer_norm(b, &format!("{p}.ln_1"));
    let sa = format!("{p}.self_attention");
    b.linear_tensors(
        None,
        (format!("{sa}.in_proj_weight"), format!("{sa}.in_proj_bias")),
        3 * d,
        Init::xavier_uniform(d, 3 * d),
        Init::Constant(0.0),
    );
    attention_core(b, c, &sa, false);
    let out = b.linear_tensors(
        Some(&sa),
        (
            format!("{sa}.out_proj.weight"),
            format!("{sa}.out_proj.bias"),
        ),
        d,
        Init::torch_default(d),
        Init::Constant(0.0),
    );
    b.alias(&format!("{p}.dropout"), out);
    let x = b.push(None, Op::Add, vec![out, input]);
    layer_norm(b, &format!("{p}.ln_2"));
    let tiny = Init::Normal { std: 1e-6 };
    b.linear(
        &format!("{p}.mlp.0"),
        c.mlp,
        Init::xavier_uniform(d, c.mlp),
        tiny.clone(),
    );
    b.push(Some(&format!("{p}.mlp.1")), Op::Gelu, vec![b.cur]);
    b.identity(&format!("{p}.mlp.2"));
    b.linear(
        &format!("{p}.mlp.3"),
        d,
        Init::xavier_uniform(c.mlp, d),
        tiny,
    );
    b.identity(&format!("{p}.mlp.4"));
    b.identity(&format!("{p}.mlp"));
    let y = b.cur;
    b.push(Some(p), Op::Add, vec![x, y]);
}

/// timm `Block`: `x = x + attn(norm1(x))`, `x + mlp(norm2(x))`; every linear layer trunc-normal
/// 0.02 with zero bias. Its Identity and Dropout modules (`ls1`, `drop_path1`, `mlp.drop1`, …)
/// are points named for the tensor they pass through, in forward-hook order; `attn.attn_drop`
/// is never called by timm's fused attention and is no point.
fn timm_block(b: &mut Builder, c: &VitConfig, p: &str) {
    let (d, input) = (c.dim, b.cur);
    let zero = Init::Constant(0.0);
    layer_norm(b, &format!("{p}.norm1"));
    let attn = format!("{p}.attn");
    b.linear(&format!("{attn}.qkv"), 3 * d, TRUNC_02, zero.clone());
    attention_core(b, c, &attn, true);
    let out = b.linear(&format!("{attn}.proj"), d, TRUNC_02, zero.clone());
    for m in ["attn.proj_drop", "attn", "ls1", "drop_path1"] {
        b.identity(&format!("{p}.{m}"));
    }
    let x = b.push(None, Op::Add, vec![out, input]);
    layer_norm(b, &format!("{p}.norm2"));
    b.linear(&format!("{p}.mlp.fc1"), c.mlp, TRUNC_02, zero.clone());
    b.push(Some(&format!("{p}.mlp.act")), Op::Gelu, vec![b.cur]);
    b.identity(&format!("{p}.mlp.drop1"));
    b.identity(&format!("{p}.mlp.norm"));
    let y = b.linear(&format!("{p}.mlp.fc2"), d, TRUNC_02, zero);
    for m in ["mlp.drop2", "mlp", "ls2", "drop_path2"] {
        b.identity(&format!("{p}.{m}"));
    }
    b.push(Some(p), Op::Add, vec![x, y]);
}

/// The position embedding `pos: [1 + gh·gw, d]` (class-token row first) stored for a `from`
/// grid, resampled to a `to` grid as timm's `resample_abs_pos_embed` does: the class-token row
/// kept, the grid resized with `F.interpolate(mode="bicubic", antialias=True,
/// align_corners=False)` (separable, Keys a = −0.5, filter widened when shrinking), in f64.
pub fn resample_pos_embed(pos: &[f32], d: usize, from: [usize; 2], to: [usize; 2]) -> Vec<f32> {
    if from == to {
        return pos.to_vec();
    }
    let [fh, fw] = from;
    let [th, tw] = to;
    let grid = |y: usize, x: usize, e: usize| f64::from(pos[(1 + y * fw + x) * d + e]);
    // Along x first, then y.
    let wx = filter_weights(fw, tw, Filter::Bicubic);
    let wy = filter_weights(fh, th, Filter::Bicubic);
    let mut rows = vec![0f64; fh * tw * d];
    for y in 0..fh {
        for (x, (x0, w)) in wx.iter().enumerate() {
            for e in 0..d {
                rows[(y * tw + x) * d + e] = w
                    .iter()
                    .enumerate()
                    .map(|(k, wk)| wk * grid(y, x0 + k, e))
                    .sum();
            }
        }
    }
    let mut out = pos[..d].to_vec();
    for (y0, w) in &wy {
        for x in 0..tw {
            for e in 0..d {
                let v: f64 = w
                    .iter()
                    .enumerate()
                    .map(|(k, wk)| wk * rows[((y0 + k) * tw + x) * d + e])
                    .sum();
                out.push(v as f32);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_grid_is_unchanged_and_constant_embeddings_stay_constant() {
        let d = 3;
        let pos: Vec<f32> = (0..(1 + 16) * d).map(|i| i as f32 * 0.1).collect();
        assert_eq!(resample_pos_embed(&pos, d, [4, 4], [4, 4]), pos);
        // Interpolation weights sum to one: a constant grid stays constant, the class row stays.
        let mut flat = vec![7.0, 8.0, 9.0];
        flat.extend(std::iter::repeat_n([1.5f32, -2.0, 0.25], 16).flatten());
        for to in [[6, 5], [2, 3], [1, 1]] {
            let r = resample_pos_embed(&flat, d, [4, 4], to);
            assert_eq!(r.len(), (1 + to[0] * to[1]) * d);
            assert_eq!(&r[..3], &[7.0, 8.0, 9.0]);
            for (i, v) in r[3..].iter().enumerate() {
                assert!((v - flat[3 + i % 3]).abs() < 1e-6, "{to:?} {i} {v}");
            }
        }
    }

    #[test]
    fn configs_follow_the_published_sizes() {
        let b16 = config("vit_b_16").unwrap();
        assert_eq!(
            (b16.dim, b16.depth, b16.heads, b16.mlp),
            (768, 12, 12, 3072)
        );
        assert_eq!(config("vit_l_16").unwrap().depth, 24);
        assert_eq!(config("vit_h_14").unwrap().patch, 14);
        let s = config("timm/deit_small_patch16_224").unwrap();
        assert_eq!((s.family, s.dim, s.heads), (Family::Timm, 384, 6));
        assert_eq!(config("timm/vit_base_patch16_384").unwrap().image_size, 384);
        for bad in [
            "vit_b_17",
            "timm/vit_huge_patch16_224",
            "timm/vit_base_patch16",
            "timm/vit_base_patch16_225",
            "timm/vit_base_patch16_224_extra",
        ] {
            assert!(config(bad).is_none(), "{bad}");
        }
    }
}
