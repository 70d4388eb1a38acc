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
                if x.len() != 2 || x[1] != ws[1] {
                    return Err(Error::shape(
                        "linear",
                        format!(
                            "input {x:?} does not match weight {ws:?} (needs {} features; the input size changes this for models without adaptive pooling)",
                            ws[1]
                        ),
                    ));
                }
                vec![x[0], ws[0]]
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
        })
    }

    /// The capture point names of a node, or its op when it has none.
    fn node_label(&self, id: NodeId) -> String {
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
                Op::Linear { weight, .. } => 2.0 * shapes[id][0] as f64 * spec_len(weight) as f64,
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
                Op::Flatten | Op::Linear { .. } => whole,
                Op::BatchNorm { .. } | Op::Relu => prev.unwrap_or(whole),
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
        });
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
        self.spec(weight.clone(), vec![out, self.channels], weight_init);
        self.spec(bias.clone(), vec![out], bias_init);
        self.channels = out;
        let op = Op::Linear {
            weight,
            bias: Some(bias),
        };
        self.push(Some(name), op, vec![self.cur])
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
