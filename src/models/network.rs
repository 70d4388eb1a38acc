//! A [`Graph`] with its weights on the GPU: one recorded submission per batch, captured points
//! reduced on the GPU and read back once.

use std::collections::HashMap;

use super::graph::{Graph, NodeId, Op};
use crate::error::{Error, Result};
use crate::gpu::{Context, Recorder, Tensor};
use crate::ops::conv::conv2d;
use crate::ops::elementwise::{add, relu};
use crate::ops::matmul::{matmul, Matmul};
use crate::ops::norm::{batch_norm, BatchNormParams};
use crate::ops::pool::{adaptive_avg_pool2d, max_pool2d, Pool2d};
use crate::weights::{WeightSource, Weights};

/// What happens to a captured `[N, C, H, W]` activation before readback. `[N, F]` activations
/// (after flattening) are returned as they are under every reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduce {
    /// Flattened `[N, C·H·W]`.
    None,
    /// Mean over space: `[N, C]`.
    Mean,
    /// Max over space: `[N, C]`.
    Max,
}

named_enum!(Reduce, "reduction", { None => "none", Mean => "mean", Max => "max" });

/// Which capture points to return, in the model's order, and how to reduce them.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub points: Vec<String>,
    pub reduce: Reduce,
}

impl Capture {
    /// `layers` is `all` or a comma-separated list of capture point names.
    pub fn parse(graph: &Graph, layers: &str, reduce: Reduce) -> Result<Capture> {
        if layers.trim() == "all" {
            let points = graph.points.iter().map(|p| p.name.clone()).collect();
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
                let s = &shapes[graph.point(name).expect("validated").node][1..];
                match (self.reduce, s.len()) {
                    (Reduce::Mean | Reduce::Max, 3) => vec![s[0]],
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
}

impl<'c> Network<'c> {
    /// Uploads `weights` (already checked against `graph.specs`).
    pub fn new(ctx: &'c Context, graph: Graph, weights: &Weights) -> Result<Network<'c>> {
        let mut map = HashMap::new();
        for spec in &graph.specs {
            let t = weights.get(&spec.name)?;
            map.insert(spec.name.clone(), ctx.upload(&t.data, &t.shape)?);
        }
        Ok(Network {
            ctx,
            graph,
            weights: map,
            source: weights.source.clone(),
        })
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
        for id in 0..nodes.len() {
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
                    matmul(
                        &mut rec,
                        input(0),
                        self.w(weight),
                        bias.as_deref().map(|b| self.w(b)),
                        opts,
                    )?
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
            };
            for &c in &wanted[id] {
                captured[c] = Some(reduce(&mut rec, &y, capture.reduce)?);
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

fn reduce(rec: &mut Recorder<'_>, t: &Tensor, how: Reduce) -> Result<Tensor> {
    let s = t.shape().to_vec();
    if s.len() != 4 {
        return Ok(t.clone());
    }
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let r = match how {
        Reduce::None => return t.reshape(&[n, c * h * w]),
        Reduce::Mean => adaptive_avg_pool2d(rec, t, [1, 1])?,
        Reduce::Max => {
            let p = Pool2d {
                kernel: [h, w],
                stride: [1, 1],
                ..Pool2d::square(1, 1, 0)
            };
            max_pool2d(rec, t, &p)?
        }
    };
    r.reshape(&[n, c])
}
