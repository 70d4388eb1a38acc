//! A [`Graph`] with its weights on an executor: the [`Plan`] of a capture run op by op (on the GPU
//! recorded into one submission per batch), captured points reduced on the device and read back
//! once.

use std::collections::HashMap;
use std::sync::Mutex;

use super::graph::{Graph, Layout, NodeId, Op};
use super::plan::Plan;
use super::vit::resample_pos_embed;
use crate::error::{Error, Result};
use crate::exec::{Engine, Executor, GpuExecutor, HostTensor, NativeExecutor, ReferenceExecutor};
use crate::gpu::Tensor;
use crate::ops::pool::Pool2d;
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

/// Weights of one network on one executor, and the token prefixes made from them.
struct Params<T> {
    tensors: HashMap<String, T>,
    /// Class token + position embedding per token node and patch grid, made on first use.
    prefixes: Mutex<HashMap<(NodeId, [usize; 2]), T>>,
}

/// The executor a network runs on, with its weights there.
enum Runner<'e> {
    Gpu(GpuExecutor<'e>, Params<Tensor>),
    Native(&'e NativeExecutor, Params<HostTensor>),
    Reference(&'e ReferenceExecutor, Params<HostTensor>),
}

/// A model ready to run: architecture plus weights resident on an executor.
pub struct Network<'e> {
    graph: Graph,
    source: WeightSource,
    /// Host copies of each token node's class token and position embedding.
    token_weights: HashMap<NodeId, (Vec<f32>, Vec<f32>)>,
    runner: Runner<'e>,
}

fn upload<E: Executor>(exec: &E, graph: &Graph, weights: &Weights) -> Result<Params<E::Tensor>> {
    let mut tensors = HashMap::new();
    for spec in &graph.specs {
        let t = weights.get(&spec.name)?;
        tensors.insert(spec.name.clone(), exec.upload(&t.data, &t.shape)?);
    }
    Ok(Params {
        tensors,
        prefixes: Mutex::new(HashMap::new()),
    })
}

impl<'e> Network<'e> {
    /// Loads `weights` (already checked against `graph.specs`) onto `engine`.
    pub fn new(engine: &'e Engine, graph: Graph, weights: &Weights) -> Result<Network<'e>> {
        let runner = match engine {
            Engine::Gpu(ctx) => {
                let exec = GpuExecutor::new(ctx);
                let params = upload(&exec, &graph, weights)?;
                Runner::Gpu(exec, params)
            }
            Engine::Native(exec) => Runner::Native(exec, upload(exec, &graph, weights)?),
            Engine::Reference(exec) => Runner::Reference(exec, upload(exec, &graph, weights)?),
        };
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
            graph,
            source: weights.source.clone(),
            token_weights,
            runner,
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn source(&self) -> &WeightSource {
        &self.source
    }

    /// Runs `x` (`[N, C, H, W]` values, checked finite) through the network and reads every
    /// captured point back: one `Vec` per point, `[N, …]` row-major, reduced as `capture` says.
    pub fn extract(&self, x: &[f32], shape: &[usize], capture: &Capture) -> Result<Vec<Vec<f32>>> {
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!(
                "input holds a non-finite value ({}) at flat index {i} (image {})",
                x[i],
                i / shape[1..].iter().product::<usize>().max(1)
            )));
        }
        if shape.len() != 4 || shape[1] != self.graph.in_channels {
            return Err(Error::Invalid(format!(
                "{} takes input [N, {}, H, W], got {shape:?}",
                self.graph.model, self.graph.in_channels
            )));
        }
        self.graph.shapes(shape[0], shape[2], shape[3])?;
        let plan = Plan::new(&self.graph, capture)?;
        match &self.runner {
            Runner::Gpu(exec, p) => self.extract_on(exec, p, x, shape, &plan, capture.reduce),
            Runner::Native(exec, p) => self.extract_on(*exec, p, x, shape, &plan, capture.reduce),
            Runner::Reference(exec, p) => {
                self.extract_on(*exec, p, x, shape, &plan, capture.reduce)
            }
        }
    }

    fn extract_on<E: Executor>(
        &self,
        exec: &E,
        params: &Params<E::Tensor>,
        x: &[f32],
        shape: &[usize],
        plan: &Plan,
        how: Reduce,
    ) -> Result<Vec<Vec<f32>>> {
        let input = exec.upload(x, shape)?;
        let captured = match self.forward(exec, params, input, plan, how) {
            Ok(c) => c,
            Err(e) => {
                exec.discard();
                return Err(e);
            }
        };
        exec.flush()?;
        exec.read_owned(captured)
    }

    /// The class token followed by the position embedding for a `grid` of patches.
    fn token_prefix<E: Executor>(
        &self,
        exec: &E,
        params: &Params<E::Tensor>,
        id: NodeId,
        stored: [usize; 2],
        grid: [usize; 2],
    ) -> Result<E::Tensor> {
        let mut cache = params.prefixes.lock().expect("prefix cache lock");
        if let Some(t) = cache.get(&(id, grid)) {
            return Ok(t.clone());
        }
        let (cls, pos) = &self.token_weights[&id];
        let d = cls.len();
        let mut prefix = cls.clone();
        prefix.extend(resample_pos_embed(pos, d, stored, grid));
        let t = exec.upload(&prefix, &[prefix.len()])?;
        cache.insert((id, grid), t.clone());
        Ok(t)
    }

    /// Runs `plan` on `x: [N, C, H, W]` and returns the captured points (reduced) in capture order.
    fn forward<E: Executor>(
        &self,
        exec: &E,
        params: &Params<E::Tensor>,
        x: E::Tensor,
        plan: &Plan,
        how: Reduce,
    ) -> Result<Vec<E::Tensor>> {
        let nodes = &self.graph.nodes;
        let points = plan.wanted.iter().map(Vec::len).sum();
        let mut out: Vec<Option<E::Tensor>> = vec![None; nodes.len()];
        let mut captured: Vec<Option<E::Tensor>> = vec![None; points];
        out[0] = Some(x);
        for id in 1..nodes.len() {
            if !plan.live[id] {
                continue;
            }
            let node = &nodes[id];
            let input =
                |k: usize| -> &E::Tensor { out[node.inputs[k]].as_ref().expect("input is live") };
            let fuse_relu = plan.fuses_relu(id);
            let y = self.run_node(exec, params, id, &input, fuse_relu, plan.fused[id]);
            // Name the layer in any failure (a shape, an allocation that could not be made).
            let y = y.map_err(|e| {
                e.at(format!(
                    "{} at {}",
                    self.graph.model,
                    self.graph.node_label(id)
                ))
            })?;
            for &c in &plan.wanted[id] {
                let layout = self.graph.layout(id, exec.shape(&y).len());
                captured[c] = Some(reduce(exec, &y, layout, how)?);
            }
            out[id] = Some(y);
            // Free inputs nobody later needs (a pool reuses their memory).
            for &i in &plan.frees[id] {
                if let Some(t) = out[i].take() {
                    exec.recycle(t);
                }
            }
        }
        Ok(captured
            .into_iter()
            .map(|t| t.expect("every point is a node"))
            .collect())
    }

    /// Runs node `id` on its inputs.
    fn run_node<'t, E: Executor>(
        &self,
        exec: &E,
        params: &Params<E::Tensor>,
        id: NodeId,
        input: &dyn Fn(usize) -> &'t E::Tensor,
        fuse_relu: bool,
        fused_away: bool,
    ) -> Result<E::Tensor>
    where
        E::Tensor: 't,
    {
        let node = &self.graph.nodes[id];
        let w = |name: &str| -> &E::Tensor { &params.tensors[name] };
        Ok(match &node.op {
            Op::Input => input(0).clone(),
            Op::Conv { weight, bias, conv } => {
                let p = crate::ops::conv::Conv2d {
                    relu: fuse_relu,
                    ..*conv
                };
                exec.conv2d(input(0), w(weight), bias.as_deref().map(w), &p)?
            }
            Op::Linear { weight, bias } => {
                // Over the last dimension: tokens [N, T, D] go through as [N·T, D].
                let x = input(0);
                let shape = exec.shape(x).to_vec();
                let d = *shape.last().expect("checked shape");
                let rows = exec.reshape(x, &[shape.iter().product::<usize>() / d, d])?;
                let y = exec.linear(&rows, w(weight), bias.as_deref().map(w), fuse_relu)?;
                let mut out_shape = shape;
                *out_shape.last_mut().expect("rank ≥ 2") = exec.shape(&y)[1];
                exec.reshape(&y, &out_shape)?
            }
            Op::BatchNorm { prefix, eps } => {
                let t = |s: &str| w(&format!("{prefix}.{s}"));
                let stats = [t("running_mean"), t("running_var"), t("weight"), t("bias")];
                exec.batch_norm(input(0), stats, *eps)?
            }
            Op::Relu if fused_away => input(0).clone(),
            Op::Relu => exec.relu(input(0))?,
            Op::MaxPool(p) => exec.max_pool2d(input(0), p)?,
            Op::AdaptiveAvgPool(o) => exec.adaptive_avg_pool2d(input(0), *o)?,
            Op::Flatten => {
                let s = exec.shape(input(0));
                exec.reshape(input(0), &[s[0], s[1..].iter().product()])?
            }
            Op::Add => exec.add(input(0), input(1))?,
            Op::LayerNorm { prefix, eps } => {
                let t = |s: &str| w(&format!("{prefix}.{s}"));
                exec.layer_norm(input(0), t("weight"), t("bias"), *eps)?
            }
            Op::Gelu => exec.gelu(input(0))?,
            Op::Tokens { grid, .. } => {
                let s = exec.shape(input(0));
                let prefix = self.token_prefix(exec, params, id, *grid, [s[2], s[3]])?;
                exec.patch_tokens(input(0), &prefix)?
            }
            Op::Attention { heads } | Op::AttentionWeights { heads } => {
                let values = matches!(node.op, Op::Attention { .. });
                let (v, w) = exec.attention(input(0), *heads, values, !values)?;
                v.or(w).expect("one output asked")
            }
            Op::Slice { offset, width } => exec.slice_cols(input(0), *offset, *width)?,
            Op::SplitHeads { heads } => exec.split_heads(input(0), *heads)?,
            Op::PatchSequence => {
                // [N, D, G] is [N, T = D, heads = G] with heads of width 1: the transpose.
                let s = exec.shape(input(0)).to_vec();
                let (n, d, g) = (s[0], s[1], s[2] * s[3]);
                let grid = exec.reshape(input(0), &[n, d, g])?;
                let t = exec.split_heads(&grid, g)?;
                exec.reshape(&t, &[n, g, d])?
            }
            Op::ClassToken => {
                let s = exec.shape(input(0)).to_vec();
                let flat = exec.reshape(input(0), &[s[0], s[1] * s[2]])?;
                exec.slice_cols(&flat, 0, s[2])?
            }
        })
    }
}

/// A captured point as [`Reduce`] asks, on the device.
fn reduce<E: Executor>(exec: &E, t: &E::Tensor, layout: Layout, how: Reduce) -> Result<E::Tensor> {
    let s = exec.shape(t).to_vec();
    let n = s[0];
    let per_item = s.iter().product::<usize>() / n;
    match (layout, how) {
        (Layout::Flat, _) => Ok(t.clone()),
        (_, Reduce::None) => exec.reshape(t, &[n, per_item]),
        (Layout::Image, Reduce::Mean | Reduce::Cls) => {
            let y = exec.adaptive_avg_pool2d(t, [1, 1])?;
            exec.reshape(&y, &[n, s[1]])
        }
        (Layout::Image, Reduce::Max) => {
            let p = Pool2d {
                kernel: [s[2], s[3]],
                stride: [1, 1],
                ..Pool2d::square(1, 1, 0)
            };
            let y = exec.max_pool2d(t, &p)?;
            exec.reshape(&y, &[n, s[1]])
        }
        (Layout::Tokens, Reduce::Cls) => {
            let flat = exec.reshape(t, &[n, per_item])?;
            exec.slice_cols(&flat, 0, s[2])
        }
        (Layout::Tokens, _) => exec.reduce_tokens(t, how == Reduce::Max),
        // [N, H, T, T]: the class token's query row, or a reduction over queries, per head.
        (Layout::Heads, Reduce::Cls) => {
            let rows = exec.reshape(t, &[n * s[1], s[2] * s[3]])?;
            let y = exec.slice_cols(&rows, 0, s[3])?;
            exec.reshape(&y, &[n, s[1] * s[3]])
        }
        (Layout::Heads, _) => {
            let items = exec.reshape(t, &[n * s[1], s[2], s[3]])?;
            let y = exec.reduce_tokens(&items, how == Reduce::Max)?;
            exec.reshape(&y, &[n, s[1] * s[3]])
        }
    }
}
