//! The deterministic weight and input rule of weights/fixtures/make_model_fixtures.py (its
//! docstring is the specification); both sides regenerate the same f32 values bit for bit.

use std::collections::BTreeMap;

use ventral::weights::{HostTensor, Init, TensorSpec, WeightSource, Weights};

fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn splitmix64(z: u64) -> u64 {
    let z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The rule's values for tensor `name` of `shape`.
pub fn rule(name: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let key = fnv1a(name);
    let leaf = name.rsplit('.').next().unwrap_or(name);
    let fan_in: usize = shape.iter().skip(1).product();
    (0..n as u64)
        .map(|i| {
            let u = (splitmix64(key ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> 11) as f64
                * (0.5f64).powi(53);
            let v = match leaf {
                _ if name == "input" => 2.0 * u - 1.0,
                _ if leaf.ends_with("weight") && shape.len() >= 2 => {
                    (2.0 * u - 1.0) * (6.0 / fan_in as f64).sqrt()
                }
                "weight" | "running_var" => 0.5 + u,
                _ if leaf.ends_with("bias") || leaf == "running_mean" => 0.2 * (2.0 * u - 1.0),
                "class_token" | "cls_token" | "pos_embedding" | "pos_embed" => {
                    0.5 * (2.0 * u - 1.0)
                }
                _ => panic!("no rule for {name}"),
            };
            v as f32
        })
        .collect()
}

/// Weights for `specs` by the rule (fixed tensors keep their values), checked strictly.
pub fn weights(specs: &[TensorSpec]) -> Weights {
    let tensors: BTreeMap<String, HostTensor> = specs
        .iter()
        .map(|s| {
            let data = match &s.init {
                Init::Fixed(v) => v.clone(),
                _ => rule(&s.name, &s.shape),
            };
            (
                s.name.clone(),
                HostTensor {
                    shape: s.shape.clone(),
                    data,
                },
            )
        })
        .collect();
    let source = WeightSource::Other {
        description: "fixture rule".into(),
    };
    Weights::from_tensors(specs, tensors, source, "fixture rule").expect("rule covers every spec")
}
