//! A network as a list of nodes in execution order, each an op on earlier nodes' outputs, plus the
//! capture points (torchvision module paths) that name node outputs.

use crate::error::{Error, Result};
use crate::ops::conv::Conv2d;
use crate::ops::pool::Pool2d;
use crate::weights::{Init, TensorSpec};

/// Index of a node; node 0 is the input image batch.
pub type NodeId = usize;

/// What a node computes (eval-mode PyTorch semantics).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The input batch `[N, C, H, W]`.
    Input,
    /// `nn.Conv2d`; weight `[OC, C/groups, KH, KW]`, optional bias `[OC]`.
    Conv {
        weight: String,
        bias: Option<String>,
        conv: Conv2d,
    },
    /// `nn.BatchNorm2d` in eval mode with running statistics, tensors under `prefix`.
    BatchNorm {
        prefix: String,
        eps: f32,
    },
    Relu,
    MaxPool(Pool2d),
    AdaptiveAvgPool([usize; 2]),
    /// `torch.flatten(x, 1)`.
    Flatten,
    /// `nn.Linear`; weight `[out, in]`, optional bias `[out]`.
    Linear {
        weight: String,
        bias: Option<String>,
    },
    /// Elementwise sum of two inputs (the residual connection).
    Add,
    /// `nn.LayerNorm` over the last dimension; tensors `{prefix}.weight`, `{prefix}.bias`.
    LayerNorm {
        prefix: String,
        eps: f32,
    },
    /// `nn.GELU()`, exact erf form.
    Gelu,
    /// Patch grid `[N, D, gh, gw]` to tokens `[N, 1 + gh·gw, D]`: the class token first, then
    /// the patches in row-major order, plus the position embedding, which is stored for a
    /// `grid` of patches and resampled bicubically for any other (as timm does).
    Tokens {
        class_token: String,
        pos_embed: String,
        grid: [usize; 2],
    },
    /// Patch grid `[N, D, gh, gw]` to the patch sequence `[N, gh·gw, D]`, without class token or
    /// position embedding (timm's `patch_embed` output).
    PatchSequence,
    /// `[N, T, H·d]` → `[N, H, T, d]` (timm's per-head `attn.q_norm`, `attn.k_norm`).
    SplitHeads {
        heads: usize,
    },
    /// Multi-head self-attention on `qkv: [N, T, 3D]` (the in-projection's output): `[N, T, D]`.
    Attention {
        heads: usize,
    },
    /// The attention probabilities of the same: `[N, H, T, T]`.
    AttentionWeights {
        heads: usize,
    },
    /// Columns `offset..offset + width` of the last dimension (q, k or v of a packed `qkv`).
    Slice {
        offset: usize,
        width: usize,
    },
    /// The class token `x[:, 0]` of `[N, T, D]`: `[N, D]`.
    ClassToken,
}

/// How a node's output is laid out, which decides what a reduction does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Feature maps `[N, C, H, W]`.
    Image,
    /// Token sequences `[N, T, D]`.
    Tokens,
    /// Attention probabilities `[N, H, T, T]`.
    Heads,
    /// Vectors `[N, F]`.
    Flat,
}

/// One step of the forward pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<NodeId>,
}

/// A named capture point: a torchvision module path (with `:k` call-order suffixes for modules
/// called more than once) and the node whose output it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub name: String,
    pub node: NodeId,
    /// Left out of `all` (big, or recomputed only when asked: attention probabilities, q/k/v).
    pub on_request: bool,
}

/// A model's architecture: nodes, capture points in PyTorch forward-hook order, and weight specs.
#[derive(Debug, Clone)]
pub struct Graph {
    pub model: String,
    pub nodes: Vec<Node>,
    pub points: Vec<Point>,
    pub specs: Vec<TensorSpec>,
    pub in_channels: usize,
    /// The input size the model was trained at (square).
    pub default_size: usize,
}

/// Receptive field of a node's output unit in input pixels; `None` spans the whole image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReceptiveField {
    pub size: Option<usize>,
    pub jump: Option<usize>,
}

impl Graph {
    /// The point called `name`.
    pub fn point(&self, name: &str) -> Option<&Point> {
        self.points.iter().find(|p| p.name == name)
    }

    /// The layout of node `id`'s output, whose shape has `rank` dimensions.
    pub fn layout(&self, id: NodeId, rank: usize) -> Layout {
        match (&self.nodes[id].op, rank) {
            (Op::AttentionWeights { .. } | Op::SplitHeads { .. }, _) => Layout::Heads,
            (_, 4) => Layout::Image,
            (_, 3) => Layout::Tokens,
            _ => Layout::Flat,
        }
    }

    /// True for transformers (models with a token sequence).
    pub fn has_tokens(&self) -> bool {
        self.nodes.iter().any(|n| matches!(n.op, Op::Tokens { .. }))
    }

    /// Output shape of every node for an input `[n, in_channels, h, w]`, or an error naming the
    /// first capture point (or op) whose shape does not work.
    pub fn shapes(&self, n: usize, h: usize, w: usize) -> Result<Vec<Vec<usize>>> {
        let mut shapes: Vec<Vec<usize>> = Vec::with_capacity(self.nodes.len());
        for (id, node) in self.nodes.iter().enumerate() {
            let input = node.inputs.first().map(|&i| shapes[i].clone());
            let s = self
                .node_shape(node, input.as_deref(), &shapes, n, h, w)
                .map_err(|e| {
                    Error::Invalid(format!(
                        "{} at {} for input {}×{}: {e}",
                        self.model,
                        self.node_label(id),
                        h,
                        w
                    ))
                })?;
            shapes.push(s);
        }
        Ok(shapes)
    }

    fn node_shape(
        &self,
        node: &Node,
        x: Option<&[usize]>,
        all: &[Vec<usize>],
        n: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<usize>> {
        let spec = |name: &str| -> Result<&[usize]> {
            self.specs
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.shape.as_slice())
                .ok_or_else(|| Error::Invalid(format!("no weight spec '{name}'")))
        };
        let x = || x.ok_or_else(|| Error::Invalid("node has no input".into()));
        Ok(match &node.op {
            Op::Input => vec![n, self.in_channels, h, w],
            Op::Conv { weight, bias, conv } => {
                let b = bias.as_deref().map(spec).transpose()?;
                let s = conv.shape(x()?, spec(weight)?, b)?;
                vec![s.n, s.c_out, s.oh, s.ow]
            }
            Op::BatchNorm { prefix, .. } => {
                let x = x()?;
                let c = spec(&format!("{prefix}.weight"))?[0];
                if x.len() != 4 || x[1] != c {
                    return Err(Error::shape(
                        "batch_norm",
                        format!("input {x:?} does not have {c} channels"),
                    ));
                }
                x.to_vec()
            }
            Op::Relu => x()?.to_vec(),
            Op::MaxPool(p) => {
                let x = x()?;
                let [oh, ow] = p.output_size("max_pool2d", x[2], x[3])?;
                vec![x[0], x[1], oh, ow]
            }
            Op::AdaptiveAvgPool([oh, ow]) => {
                let x = x()?;
                vec![x[0], x[1], *oh, *ow]
            }
            Op::Flatten => {
                let x = x()?;
                vec![x[0], x[1..].iter().product()]
            }
            Op::Linear { weight, .. } => {
                let x = x()?;
                let ws = spec(weight)?;
                if x.len() < 2 || x[x.len() - 1] != ws[1] {
                    return Err(Error::shape(
                        "linear",
                        format!(
                            "input {x:?} does not match weight {ws:?} (needs {} features; the input size changes this for models without adaptive pooling)",
                            ws[1]
                        ),
                    ));
                }
                let mut s = x.to_vec();
                *s.last_mut().expect("rank ≥ 2") = ws[0];
                s
            }
            Op::Add => {
                let (a, b) = (&all[node.inputs[0]], &all[node.inputs[1]]);
                if a != b {
                    return Err(Error::shape(
                        "add",
                        format!("residual shapes differ: {a:?} vs {b:?}"),
                    ));
                }
                a.clone()
            }
            Op::LayerNorm { prefix, .. } => {
                let x = x()?;
                let c = spec(&format!("{prefix}.weight"))?[0];
                if x.last() != Some(&c) {
                    return Err(Error::shape(
                        "layer_norm",
                        format!("input {x:?} does not end in {c} features"),
                    ));
                }
                x.to_vec()
            }
            Op::Gelu => x()?.to_vec(),
            Op::Tokens { class_token, .. } => {
                let x = x()?;
                let d = *spec(class_token)?.last().unwrap_or(&0);
                if x.len() != 4 || x[1] != d {
                    return Err(Error::shape(
                        "tokens",
                        format!("patch grid {x:?} does not have {d} channels"),
                    ));
                }
                vec![x[0], 1 + x[2] * x[3], d]
            }
            Op::PatchSequence => {
                let x = x()?;
                if x.len() != 4 {
                    return Err(Error::shape(
                        "patch_sequence",
                        format!("input {x:?} is not a patch grid"),
                    ));
                }
                vec![x[0], x[2] * x[3], x[1]]
            }
            Op::SplitHeads { heads } => {
                let [n, t, h, d] = crate::exec::shapes::split_heads(x()?, *heads)?;
                vec![n, h, t, d]
            }
            Op::Attention { heads } | Op::AttentionWeights { heads } => {
                let x = x()?;
                if x.len() != 3 || !x[2].is_multiple_of(3 * heads) {
                    return Err(Error::shape(
                        "attention",
                        format!("qkv {x:?} does not split into q, k, v of {heads} heads"),
                    ));
                }
                if matches!(node.op, Op::Attention { .. }) {
                    vec![x[0], x[1], x[2] / 3]
                } else {
                    vec![x[0], *heads, x[1], x[1]]
                }
            }
            Op::Slice { offset, width } => {
                let mut x = x()?.to_vec();
                if x.last().is_none_or(|&l| offset + width > l) {
                    return Err(Error::shape(
                        "slice",
                        format!("columns {offset}..{} of {x:?}", offset + width),
                    ));
                }
                *x.last_mut().expect("checked") = *width;
                x
            }
            Op::ClassToken => {
                let x = x()?;
                if x.len() != 3 {
                    return Err(Error::shape(
                        "class_token",
                        format!("input {x:?} is not a token sequence"),
                    ));
                }
                vec![x[0], x[2]]
            }
        })
    }

    /// The capture point names of a node, or its op when it has none.
    pub(crate) fn node_label(&self, id: NodeId) -> String {
        self.points
            .iter()
            .find(|p| p.node == id)
            .map(|p| format!("'{}'", p.name))
            .unwrap_or_else(|| format!("node {id} ({:?})", self.nodes[id].op))
    }

    /// Multiply-adds ×2 of the convolutions and linear layers, for `shapes` from [`Graph::shapes`].
    pub fn flops(&self, shapes: &[Vec<usize>]) -> f64 {
        let spec_len = |name: &str| {
            self.specs
                .iter()
                .find(|s| s.name == name)
                .map_or(0, |s| s.len())
        };
        self.nodes
            .iter()
            .enumerate()
            .map(|(id, node)| match &node.op {
                // Each output element takes one multiply-add per weight of its filter.
                Op::Conv { weight, .. } => {
                    let s = &shapes[id];
                    2.0 * (s[0] * s[2] * s[3]) as f64 * spec_len(weight) as f64
                }
                Op::Linear { weight, .. } => {
                    let s = &shapes[id];
                    let rows = s.iter().product::<usize>() / s.last().copied().unwrap_or(1).max(1);
                    2.0 * rows as f64 * spec_len(weight) as f64
                }
                // Q·Kᵀ and P·V: two multiply-adds per query, key and feature.
                Op::Attention { .. } => {
                    let s = &shapes[id];
                    4.0 * (s[0] * s[1] * s[1] * s[2]) as f64
                }
                _ => 0.0,
            })
            .sum()
    }

    /// Receptive field size and jump of every node (SCIENCE.md §7): `r = r_in + (k_eff − 1)·j_in`,
    /// `j = j_in·s`; the maximum over the inputs of a sum; the whole image after global pooling,
    /// flattening or a linear layer. Adaptive pooling that divides its input evenly counts as a
    /// pool with kernel = stride = in/out.
    pub fn receptive_fields(&self, shapes: &[Vec<usize>]) -> Vec<ReceptiveField> {
        let mut rf: Vec<ReceptiveField> = Vec::with_capacity(self.nodes.len());
        let whole = ReceptiveField {
            size: None,
            jump: None,
        };
        let step = |prev: ReceptiveField, k: usize, s: usize| match (prev.size, prev.jump) {
            (Some(r), Some(j)) => ReceptiveField {
                size: Some(r + (k - 1) * j),
                jump: Some(j * s),
            },
            _ => whole,
        };
        for node in &self.nodes {
            let prev = node.inputs.first().map(|&i| rf[i]);
            let r = match &node.op {
                Op::Input => ReceptiveField {
                    size: Some(1),
                    jump: Some(1),
                },
                Op::Conv { weight, conv, .. } => {
                    let kh = self
                        .specs
                        .iter()
                        .find(|s| &s.name == weight)
                        .map_or(1, |s| s.shape[2]);
                    step(
                        prev.unwrap_or(whole),
                        conv.dilation[0] * (kh - 1) + 1,
                        conv.stride[0],
                    )
                }
                Op::MaxPool(p) => step(
                    prev.unwrap_or(whole),
                    p.dilation[0] * (p.kernel[0] - 1) + 1,
                    p.stride[0],
                ),
                Op::AdaptiveAvgPool([oh, _]) => {
                    let ih = shapes[node.inputs[0]][2];
                    if *oh > 1 && ih.is_multiple_of(*oh) {
                        step(prev.unwrap_or(whole), ih / oh, ih / oh)
                    } else if *oh == ih {
                        prev.unwrap_or(whole)
                    } else {
                        whole
                    }
                }
                // A linear layer on tokens acts per token; on a vector it sees everything.
                Op::Linear { .. } if shapes[node.inputs[0]].len() == 3 => prev.unwrap_or(whole),
                Op::Flatten
                | Op::Linear { .. }
                | Op::Attention { .. }
                | Op::AttentionWeights { .. }
                | Op::ClassToken => whole,
                Op::BatchNorm { .. }
                | Op::Relu
                | Op::LayerNorm { .. }
                | Op::Gelu
                | Op::Slice { .. }
                | Op::SplitHeads { .. }
                | Op::PatchSequence
                | Op::Tokens { .. } => prev.unwrap_or(whole),
                Op::Add => node
                    .inputs
                    .iter()
                    .map(|&i| rf[i])
                    .max_by_key(|r| r.size.unwrap_or(usize::MAX))
                    .unwrap_or(whole),
            };
            rf.push(r);
        }
        rf
    }
}

/// Builds a [`Graph`] layer by layer, tracking the current node and channel count.
pub(crate) struct Builder {
    g: Graph,
    pub cur: NodeId,
    pub channels: usize,
}

impl Builder {
    pub fn new(model: &str, in_channels: usize, default_size: usize) -> Builder {
        Builder {
            g: Graph {
                model: model.into(),
                nodes: vec![Node {
                    op: Op::Input,
                    inputs: vec![],
                }],
                points: vec![],
                specs: vec![],
                in_channels,
                default_size,
            },
            cur: 0,
            channels: in_channels,
        }
    }

    /// Appends a node fed by `inputs`, named `name` when it is a capture point.
    pub fn push(&mut self, name: Option<&str>, op: Op, inputs: Vec<NodeId>) -> NodeId {
        let id = self.g.nodes.len();
        self.g.nodes.push(Node { op, inputs });
        if let Some(n) = name {
            self.alias(n, id);
        }
        self.cur = id;
        id
    }

    /// Names an existing node's output (a container module, an identity module).
    pub fn alias(&mut self, name: &str, node: NodeId) {
        debug_assert!(self.g.point(name).is_none(), "duplicate point {name}");
        self.g.points.push(Point {
            name: name.into(),
            node,
            on_request: false,
        });
    }

    /// Appends a node captured only when asked for by name (not by `all`).
    pub fn push_on_request(&mut self, name: &str, op: Op, input: NodeId) -> NodeId {
        let id = self.g.nodes.len();
        self.g.nodes.push(Node {
            op,
            inputs: vec![input],
        });
        self.g.points.push(Point {
            name: name.into(),
            node: id,
            on_request: true,
        });
        id
    }

    pub fn spec(&mut self, name: String, shape: Vec<usize>, init: Init) {
        self.g.specs.push(TensorSpec { name, shape, init });
    }

    /// `nn.Conv2d(channels, out, k, stride, padding, bias)` at module path `name`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        name: &str,
        out: usize,
        k: usize,
        stride: usize,
        padding: usize,
        weight_init: Init,
        bias_init: Option<Init>,
    ) -> NodeId {
        let weight = format!("{name}.weight");
        self.spec(weight.clone(), vec![out, self.channels, k, k], weight_init);
        let bias = bias_init.map(|init| {
            let b = format!("{name}.bias");
            self.spec(b.clone(), vec![out], init);
            b
        });
        let conv = Conv2d {
            stride: [stride; 2],
            padding: [padding; 2],
            ..Conv2d::default()
        };
        self.channels = out;
        self.push(Some(name), Op::Conv { weight, bias, conv }, vec![self.cur])
    }

    /// `nn.BatchNorm2d(channels)` (eps 1e-5), initialised weight 1, bias 0, mean 0, var 1.
    pub fn batch_norm(&mut self, name: &str) -> NodeId {
        let c = self.channels;
        for (t, v) in [
            ("weight", 1.0),
            ("bias", 0.0),
            ("running_mean", 0.0),
            ("running_var", 1.0),
        ] {
            self.spec(format!("{name}.{t}"), vec![c], Init::Constant(v));
        }
        let op = Op::BatchNorm {
            prefix: name.into(),
            eps: 1e-5,
        };
        self.push(Some(name), op, vec![self.cur])
    }

    pub fn relu(&mut self, name: &str) -> NodeId {
        self.push(Some(name), Op::Relu, vec![self.cur])
    }

    pub fn max_pool(&mut self, name: &str, kernel: usize, stride: usize, padding: usize) -> NodeId {
        self.push(
            Some(name),
            Op::MaxPool(Pool2d::square(kernel, stride, padding)),
            vec![self.cur],
        )
    }

    pub fn adaptive_avg_pool(&mut self, name: &str, out: usize) -> NodeId {
        self.push(Some(name), Op::AdaptiveAvgPool([out, out]), vec![self.cur])
    }

    /// `torch.flatten(x, 1)`, named only when the model has a `Flatten` module.
    pub fn flatten(&mut self, name: Option<&str>, features: usize) -> NodeId {
        self.channels = features;
        self.push(name, Op::Flatten, vec![self.cur])
    }

    /// `nn.Linear(channels, out)` with bias.
    pub fn linear(&mut self, name: &str, out: usize, weight_init: Init, bias_init: Init) -> NodeId {
        let (weight, bias) = (format!("{name}.weight"), format!("{name}.bias"));
        self.linear_tensors(Some(name), (weight, bias), out, weight_init, bias_init)
    }

    /// A linear layer over the last dimension whose tensors have their own names (PyTorch's
    /// `in_proj_weight`), named `point` when it is a capture point.
    pub fn linear_tensors(
        &mut self,
        point: Option<&str>,
        (weight, bias): (String, String),
        out: usize,
        weight_init: Init,
        bias_init: Init,
    ) -> NodeId {
        self.spec(weight.clone(), vec![out, self.channels], weight_init);
        self.spec(bias.clone(), vec![out], bias_init);
        self.channels = out;
        let op = Op::Linear {
            weight,
            bias: Some(bias),
        };
        self.push(point, op, vec![self.cur])
    }

    /// An identity module (`Dropout` in eval mode, `Identity`): a name for the current output.
    pub fn identity(&mut self, name: &str) -> NodeId {
        self.alias(name, self.cur);
        self.cur
    }

    pub fn finish(self) -> Graph {
        self.g
    }
}
