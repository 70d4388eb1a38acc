//! A [`Graph`] with its weights on the GPU: one recorded submission per batch, captured points
//! reduced on the GPU and read back once.

use std::collections::HashMap;
use std::sync::Mutex;

use super::graph::{Graph, Layout, NodeId, Op};
use super::vit::resample_pos_embed;
use crate::error::{Error, Result};
use crate::gpu::{Context, Recorder, Tensor};
use crate::ops::attention::{attention, AttentionOutputs};
use crate::ops::conv::conv2d;
use crate::ops::elementwise::{add, gelu, relu};
use crate::ops::matmul::{matmul, Matmul};
use crate::ops::norm::{batch_norm, layer_norm, BatchNormParams};
use crate::ops::pool::{adaptive_avg_pool2d, max_pool2d, Pool2d};
use crate::ops::tokens::{patch_tokens, reduce_tokens, slice_cols};
use crate::weights::{WeightSource, Weights};

/// What happens to a captured activation before readback, by layout. Vectors `[N, F]` are
/// returned as they are under every reduction.
///
/// | reduction | feature maps `[N, C, H, W]` | tokens `[N, T, D]` | attention `[N, H, T, T]` |
/// |---|---|---|---|
/// | `none` | `[N, C·H·W]` | `[N, T·D]` | `[N, H·T·T]` |
/// | `mean` | mean over space `[N, C]` | mean over tokens `[N, D]` | mean over queries `[N, H·T]` |
/// | `max` | max over space `[N, C]` | max over tokens `[N, D]` | max over queries `[N, H·T]` |
/// | `cls` | mean over space `[N, C]` | class token `[N, D]` | class-token query row `[N, H·T]` |
///
/// `cls` is for transformers only; on a ViT's patch-embedding map it averages over space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduce {
    None,
    Mean,
    Max,
    Cls,
}

named_enum!(Reduce, "reduction", { None => "none", Mean => "mean", Max => "max", Cls => "cls" });

/// Which capture points to return, in the model's order, and how to reduce them.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub points: Vec<String>,
    pub reduce: Reduce,
}

impl Capture {
    /// `layers` is `all` or a comma-separated list of capture point names.
    /// `all` leaves out the on-request points (attention probabilities, q/k/v).
    pub fn parse(graph: &Graph, layers: &str, reduce: Reduce) -> Result<Capture> {
        if reduce == Reduce::Cls && !graph.has_tokens() {
            return Err(Error::Invalid(format!(
                "reduction 'cls' takes a transformer's class token; {} has none (use mean, max or none)",
                graph.model
            )));
        }
        if layers.trim() == "all" {
            let points = graph
                .points
                .iter()
                .filter(|p| !p.on_request)
                .map(|p| p.name.clone())
                .collect();
            return Ok(Capture { points, reduce });
        }
        let mut wanted: Vec<&str> = layers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if wanted.is_empty() {
            return Err(Error::Invalid(
                "--layers is empty; give 'all' or point names".into(),
            ));
        }
        if let Some(bad) = wanted.iter().find(|w| graph.point(w).is_none()) {
            let near: Vec<&str> = graph
                .points
                .iter()
                .map(|p| p.name.as_str())
                .filter(|n| n.starts_with(bad.split('.').next().unwrap_or("")))
                .take(6)
                .collect();
            return Err(Error::Invalid(format!(
                "{} has no capture point '{bad}'{}; `ventral layers --model {}` lists them",
                graph.model,
                if near.is_empty() {
                    String::new()
                } else {
                    format!(" (similar: {})", near.join(", "))
                },
                graph.model
            )));
        }
        // Model order, no duplicates.
        wanted.dedup();
        let points = graph
            .points
            .iter()
            .filter(|p| wanted.contains(&p.name.as_str()))
            .map(|p| p.name.clone())
            .collect();
        Ok(Capture { points, reduce })
    }

    /// Per-image output shape of each captured point for an `h × w` input.
    pub fn shapes(&self, graph: &Graph, h: usize, w: usize) -> Result<Vec<Vec<usize>>> {
        let shapes = graph.shapes(1, h, w)?;
        Ok(self
            .points
            .iter()
            .map(|name| {
                let node = graph.point(name).expect("validated").node;
                let s = &shapes[node][1..];
                match (graph.layout(node, s.len() + 1), self.reduce) {
                    (Layout::Image, Reduce::Mean | Reduce::Max | Reduce::Cls) => vec![s[0]],
                    (Layout::Tokens, Reduce::Mean | Reduce::Max | Reduce::Cls) => vec![s[1]],
                    (Layout::Heads, Reduce::Mean | Reduce::Max | Reduce::Cls) => vec![s[0] * s[2]],
                    _ => vec![s.iter().product()],
                }
            })
            .collect())
    }
}

/// A model ready to run: architecture plus weights resident on the GPU.
pub struct Network<'c> {
    ctx: &'c Context,
    graph: Graph,
    weights: HashMap<String, Tensor>,
    source: WeightSource,
    /// Host copies of each token node's class token and position embedding.
    token_weights: HashMap<NodeId, (Vec<f32>, Vec<f32>)>,
    /// Class token + position embedding per token node and patch grid, made on first use.
    prefixes: Mutex<HashMap<(NodeId, [usize; 2]), Tensor>>,
}

impl<'c> Network<'c> {
    /// Uploads `weights` (already checked against `graph.specs`).
    pub fn new(ctx: &'c Context, graph: Graph, weights: &Weights) -> Result<Network<'c>> {
        let mut map = HashMap::new();
        for spec in &graph.specs {
            let t = weights.get(&spec.name)?;
            map.insert(spec.name.clone(), ctx.upload(&t.data, &t.shape)?);
        }
        let mut token_weights = HashMap::new();
        for (id, node) in graph.nodes.iter().enumerate() {
            if let Op::Tokens {
                class_token,
                pos_embed,
                ..
            } = &node.op
            {
                let cls = weights.get(class_token)?.data.clone();
                token_weights.insert(id, (cls, weights.get(pos_embed)?.data.clone()));
            }
        }
        Ok(Network {
            ctx,
            graph,
            weights: map,
            source: weights.source.clone(),
            token_weights,
            prefixes: Mutex::new(HashMap::new()),
        })
    }

    /// The class token followed by the position embedding for a `grid` of patches.
    fn token_prefix(&self, id: NodeId, stored: [usize; 2], grid: [usize; 2]) -> Result<Tensor> {
        let mut cache = self.prefixes.lock().expect("prefix cache lock");
        if let Some(t) = cache.get(&(id, grid)) {
            return Ok(t.clone());
        }
        let (cls, pos) = &self.token_weights[&id];
        let d = cls.len();
        let mut prefix = cls.clone();
        prefix.extend(resample_pos_embed(pos, d, stored, grid));
        let t = self.ctx.upload(&prefix, &[prefix.len()])?;
        cache.insert((id, grid), t.clone());
        Ok(t)
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn source(&self) -> &WeightSource {
        &self.source
    }

    fn w(&self, name: &str) -> &Tensor {
        &self.weights[name]
    }

    /// Runs `x: [N, C, H, W]` through the network in one submission and returns the captured
    /// points (reduced) in `capture` order. Conv/linear + ReLU are fused only when the conv output
    /// itself is not captured; fusion is exact, so capturing never changes another point's values.
    pub fn forward(&self, x: &Tensor, capture: &Capture) -> Result<Vec<Tensor>> {
        let s = x.shape();
        if s.len() != 4 || s[1] != self.graph.in_channels {
            return Err(Error::Invalid(format!(
                "{} takes input [N, {}, H, W], got {s:?}",
                self.graph.model, self.graph.in_channels
            )));
        }
        self.graph.shapes(s[0], s[2], s[3])?;
        let nodes = &self.graph.nodes;
        let mut wanted: Vec<Vec<usize>> = vec![vec![]; nodes.len()];
        for (i, name) in capture.points.iter().enumerate() {
            let p = self.graph.point(name).ok_or_else(|| {
                Error::Invalid(format!(
                    "{} has no capture point '{name}'",
                    self.graph.model
                ))
            })?;
            wanted[p.node].push(i);
        }
        let mut consumers: Vec<Vec<NodeId>> = vec![vec![]; nodes.len()];
        for (id, n) in nodes.iter().enumerate() {
            for &i in &n.inputs {
                consumers[i].push(id);
            }
        }
        // Only nodes that lead to a captured point run.
        let mut live: Vec<bool> = vec![false; nodes.len()];
        for id in (0..nodes.len()).rev() {
            live[id] = !wanted[id].is_empty() || consumers[id].iter().any(|&c| live[c]);
        }
        let fused = |id: NodeId| -> bool {
            id > 0
                && nodes[id].op == Op::Relu
                && matches!(nodes[id - 1].op, Op::Conv { .. } | Op::Linear { .. })
                && consumers[id - 1] == [id]
                && wanted[id - 1].is_empty()
        };

        let mut rec = self.ctx.recorder();
        let mut out: Vec<Option<Tensor>> = vec![None; nodes.len()];
        let mut captured: Vec<Option<Tensor>> = vec![None; capture.points.len()];
        out[0] = Some(x.clone());
        for id in 1..nodes.len() {
            if !live[id] {
                continue;
            }
            let node = &nodes[id];
            let input =
                |k: usize| -> &Tensor { out[node.inputs[k]].as_ref().expect("input is live") };
            let fuse_relu = id + 1 < nodes.len() && fused(id + 1);
            let y = match &node.op {
                Op::Input => x.clone(),
                Op::Conv { weight, bias, conv } => {
                    let p = crate::ops::conv::Conv2d {
                        relu: fuse_relu,
                        ..*conv
                    };
                    conv2d(
                        &mut rec,
                        input(0),
                        self.w(weight),
                        bias.as_deref().map(|b| self.w(b)),
                        &p,
                    )?
                }
                Op::Linear { weight, bias } => {
                    let opts = Matmul {
                        trans_b: true,
                        relu: fuse_relu,
                        ..Matmul::default()
                    };
                    // Over the last dimension: tokens [N, T, D] go through as [N·T, D].
                    let x = input(0);
                    let d = *x.shape().last().expect("checked shape");
                    let rows = x.reshape(&[x.len() / d, d])?;
                    let y = matmul(
                        &mut rec,
                        &rows,
                        self.w(weight),
                        bias.as_deref().map(|b| self.w(b)),
                        opts,
                    )?;
                    let mut shape = x.shape().to_vec();
                    *shape.last_mut().expect("rank ≥ 2") = y.shape()[1];
                    y.reshape(&shape)?
                }
                Op::BatchNorm { prefix, eps } => {
                    let t = |s: &str| self.w(&format!("{prefix}.{s}"));
                    let p = BatchNormParams {
                        mean: t("running_mean"),
                        var: t("running_var"),
                        gamma: t("weight"),
                        beta: t("bias"),
                        eps: *eps,
                    };
                    batch_norm(&mut rec, input(0), &p)?
                }
                Op::Relu if fused(id) => input(0).clone(),
                Op::Relu => relu(&mut rec, input(0))?,
                Op::MaxPool(p) => max_pool2d(&mut rec, input(0), p)?,
                Op::AdaptiveAvgPool(o) => adaptive_avg_pool2d(&mut rec, input(0), *o)?,
                Op::Flatten => {
                    let s = input(0).shape();
                    input(0).reshape(&[s[0], s[1..].iter().product()])?
                }
                Op::Add => add(&mut rec, input(0), input(1))?,
                Op::LayerNorm { prefix, eps } => {
                    let t = |s: &str| self.w(&format!("{prefix}.{s}"));
                    layer_norm(&mut rec, input(0), t("weight"), t("bias"), *eps)?
                }
                Op::Gelu => gelu(&mut rec, input(0))?,
                Op::Tokens { grid, .. } => {
                    let s = input(0).shape();
                    let prefix = self.token_prefix(id, *grid, [s[2], s[3]])?;
                    patch_tokens(&mut rec, input(0), &prefix)?
                }
                Op::Attention { heads } | Op::AttentionWeights { heads } => {
                    let values = matches!(node.op, Op::Attention { .. });
                    let want = AttentionOutputs {
                        values,
                        weights: !values,
                    };
                    let (v, w) = attention(&mut rec, input(0), *heads, want)?;
                    v.or(w).expect("one output asked")
                }
                Op::Slice { offset, width } => slice_cols(&mut rec, input(0), *offset, *width)?,
                Op::ClassToken => {
                    let s = input(0).shape();
                    let flat = input(0).reshape(&[s[0], s[1] * s[2]])?;
                    slice_cols(&mut rec, &flat, 0, s[2])?
                }
            };
            for &c in &wanted[id] {
                let layout = self.graph.layout(id, y.shape().len());
                captured[c] = Some(reduce(&mut rec, &y, layout, capture.reduce)?);
            }
            out[id] = Some(y);
            // Free inputs nobody later needs (the pool reuses them after this submission).
            for &i in &node.inputs {
                if consumers[i].iter().all(|&c| c <= id) {
                    out[i] = None;
                }
            }
        }
        rec.submit()?;
        Ok(captured
            .into_iter()
            .map(|t| t.expect("every point is a node"))
            .collect())
    }

    /// Uploads `x` (`[N, C, H, W]` values, checked finite), runs [`Network::forward`] and reads
    /// every captured point back: one `Vec` per point, `[N, …]` row-major.
    pub fn extract(&self, x: &[f32], shape: &[usize], capture: &Capture) -> Result<Vec<Vec<f32>>> {
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!(
                "input holds a non-finite value ({}) at flat index {i} (image {})",
                x[i],
                i / shape[1..].iter().product::<usize>().max(1)
            )));
        }
        let t = self.ctx.upload(x, shape)?;
        let outs = self.forward(&t, capture)?;
        self.ctx.read_many(&outs.iter().collect::<Vec<_>>())
    }
}

fn reduce(rec: &mut Recorder<'_>, t: &Tensor, layout: Layout, how: Reduce) -> Result<Tensor> {
    let s = t.shape().to_vec();
    let n = s[0];
    let per_item = t.len() / n;
    match (layout, how) {
        (Layout::Flat, _) => Ok(t.clone()),
        (_, Reduce::None) => t.reshape(&[n, per_item]),
        (Layout::Image, Reduce::Mean | Reduce::Cls) => {
            adaptive_avg_pool2d(rec, t, [1, 1])?.reshape(&[n, s[1]])
        }
        (Layout::Image, Reduce::Max) => {
            let p = Pool2d {
                kernel: [s[2], s[3]],
                stride: [1, 1],
                ..Pool2d::square(1, 1, 0)
            };
            max_pool2d(rec, t, &p)?.reshape(&[n, s[1]])
        }
        (Layout::Tokens, Reduce::Cls) => slice_cols(rec, &t.reshape(&[n, per_item])?, 0, s[2]),
        (Layout::Tokens, _) => reduce_tokens(rec, t, how == Reduce::Max),
        // [N, H, T, T]: the class token's query row, or a reduction over queries, per head.
        (Layout::Heads, Reduce::Cls) => {
            let rows = t.reshape(&[n * s[1], s[2] * s[3]])?;
            slice_cols(rec, &rows, 0, s[3])?.reshape(&[n, s[1] * s[3]])
        }
        (Layout::Heads, _) => {
            let items = t.reshape(&[n * s[1], s[2], s[3]])?;
            reduce_tokens(rec, &items, how == Reduce::Max)?.reshape(&[n, s[1] * s[3]])
        }
    }
}
