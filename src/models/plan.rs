//! The device-free plan of a forward pass: which nodes run for a capture, which ReLUs fuse into the
//! conv or linear before them, and after which node each output can be freed.

use super::graph::{Graph, NodeId, Op};
use super::network::Capture;
use crate::error::{Error, Result};

/// What one forward pass of `graph` computes for one [`Capture`].
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Per node: the capture indices whose point is this node's output.
    pub wanted: Vec<Vec<usize>>,
    /// Per node: whether it leads to a captured point (only those run).
    pub live: Vec<bool>,
    /// Per node: a ReLU that runs fused into the conv or linear node before it.
    pub fused: Vec<bool>,
    /// Per node: the nodes whose outputs nobody needs after this one.
    pub frees: Vec<Vec<NodeId>>,
}

impl Plan {
    /// The plan for `capture` (every point must exist). A conv or linear node absorbs the ReLU
    /// after it only when that ReLU is its sole consumer and its own output is not captured;
    /// fusion is exact, so capturing never changes another point's values.
    pub fn new(graph: &Graph, capture: &Capture) -> Result<Plan> {
        let nodes = &graph.nodes;
        let mut wanted: Vec<Vec<usize>> = vec![vec![]; nodes.len()];
        for (i, name) in capture.points.iter().enumerate() {
            let p = graph.point(name).ok_or_else(|| {
                Error::Invalid(format!("{} has no capture point '{name}'", graph.model))
            })?;
            wanted[p.node].push(i);
        }
        let mut consumers: Vec<Vec<NodeId>> = vec![vec![]; nodes.len()];
        for (id, n) in nodes.iter().enumerate() {
            for &i in &n.inputs {
                consumers[i].push(id);
            }
        }
        let mut live = vec![false; nodes.len()];
        for id in (0..nodes.len()).rev() {
            live[id] = !wanted[id].is_empty() || consumers[id].iter().any(|&c| live[c]);
        }
        let fused: Vec<bool> = (0..nodes.len())
            .map(|id| {
                id > 0
                    && nodes[id].op == Op::Relu
                    && matches!(nodes[id - 1].op, Op::Conv { .. } | Op::Linear { .. })
                    && consumers[id - 1] == [id]
                    && wanted[id - 1].is_empty()
            })
            .collect();
        let frees = nodes
            .iter()
            .enumerate()
            .map(|(id, node)| {
                let mut f: Vec<NodeId> = node
                    .inputs
                    .iter()
                    .copied()
                    .filter(|&i| consumers[i].iter().all(|&c| c <= id || !live[c]))
                    .collect();
                f.dedup();
                f
            })
            .collect();
        Ok(Plan {
            wanted,
            live,
            fused,
            frees,
        })
    }

    /// Whether node `id` (a conv or linear) takes the ReLU after it.
    pub fn fuses_relu(&self, id: NodeId) -> bool {
        self.fused.get(id + 1).copied().unwrap_or(false)
    }
}
