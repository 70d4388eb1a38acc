//! `ventral classify`: the top-k ImageNet classes of each image, with names and probabilities: the
//! sanity check that trained weights and preprocessing are right.

use std::path::{Path, PathBuf};

use clap::Args;

use super::model_args::ModelArgs;
use super::{print_out, DeviceArgs, Failure};
use crate::analysis::extract::extract_batches;
use crate::error::{Error, Result};
use crate::models::{Capture, Graph, Network, Reduce};
use crate::output::{csv_field, write_file};
use crate::stimuli::StimulusSet;

/// ImageNet-1k class names in index order (weights/fixtures/make_imagenet_classes.py).
const IMAGENET_CLASSES: &str = include_str!("../models/imagenet_classes.txt");

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Folder of images (sorted by file name)
    #[arg(long)]
    pub images: PathBuf,
    #[command(flatten)]
    pub preprocess: super::extract::PreprocessArgs,
    /// Classes per image, most probable first
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Images per forward pass
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Output file (.csv or .json); without it, a table on stdout
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// One of an image's top-k classes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Prediction {
    pub image: String,
    /// 1 for the most probable class.
    pub rank: usize,
    pub class: usize,
    pub name: String,
    pub probability: f64,
    pub logit: f64,
}

/// The capture point of the model's output (its logits): the first point naming the last node,
/// e.g. `classifier.6` for AlexNet, `fc` for ResNets, `heads.head` / `head` for ViTs.
pub fn logits_point(graph: &Graph) -> Result<String> {
    let last = graph.nodes.len().saturating_sub(1);
    graph
        .points
        .iter()
        .find(|p| p.node == last && !p.on_request)
        .map(|p| p.name.clone())
        .ok_or_else(|| Error::Invalid(format!("{} has no output capture point", graph.model)))
}

/// Softmax in f64 and the `top` most probable classes, ties broken by the lower class index.
pub fn top_k(logits: &[f32], top: usize) -> Vec<(usize, f64, f64)> {
    let max = logits
        .iter()
        .map(|&v| f64::from(v))
        .fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|&v| (f64::from(v) - max).exp()).collect();
    let total: f64 = exp.iter().sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| exp[b].total_cmp(&exp[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(top)
        .map(|c| (c, exp[c] / total, f64::from(logits[c])))
        .collect()
}

/// The name of class `c` of a head with `classes` outputs: ImageNet's for 1000, else `class c`.
fn class_name(c: usize, classes: usize) -> String {
    match IMAGENET_CLASSES.lines().nth(c) {
        Some(n) if classes == 1000 => n.to_string(),
        _ => format!("class {c}"),
    }
}

fn to_csv(rows: &[Prediction]) -> String {
    let mut s = String::from("image,rank,class,name,probability,logit\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{}\n",
            csv_field(&r.image),
            r.rank,
            r.class,
            csv_field(&r.name),
            r.probability,
            r.logit
        ));
    }
    s
}

fn to_table(rows: &[Prediction]) -> String {
    let mut s = String::new();
    let mut image = None;
    for r in rows {
        if image != Some(&r.image) {
            s.push_str(&format!("{}:\n", r.image));
            image = Some(&r.image);
        }
        s.push_str(&format!(
            "  {:>2}. {:>5}  {:<32} {:>8.4}  (logit {:.4})\n",
            r.rank, r.class, r.name, r.probability, r.logit
        ));
    }
    s
}

fn output_kind(path: &Path) -> Result<&'static str> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => Ok("csv"),
        Some(e) if e.eq_ignore_ascii_case("json") => Ok("json"),
        _ => Err(Error::Invalid(format!(
            "--out {}: the file must end in .csv or .json",
            path.display()
        ))),
    }
}

pub fn run(args: &ClassifyArgs) -> Result<(), Failure> {
    let kind = args.out.as_deref().map(output_kind).transpose()?;
    if args.batch == 0 {
        return Err(Error::Invalid("--batch must be at least 1".into()).into());
    }
    let (graph, weights) = args.model.load()?;
    let point = logits_point(&graph)?;
    let capture = Capture {
        points: vec![point.clone()],
        reduce: Reduce::None,
    };
    let pre = args.preprocess.build()?;
    let size = (pre.output_size(), pre.output_size());
    let shape = capture.shapes(&graph, size.0, size.1)?;
    let classes: usize = shape[0].iter().product();
    if args.top == 0 || args.top > classes {
        return Err(Error::Invalid(format!(
            "--top {}: must be between 1 and the {classes} classes of {}",
            args.top, graph.model
        ))
        .into());
    }
    let mut stimuli = StimulusSet::folder(&args.images)?;
    let names = stimuli.names.clone();
    let engine = args.device.open()?;
    let net = Network::new(&engine, graph, &weights)?;
    let mut rows = Vec::new();
    let sink = |lo: usize, hi: usize, acts: Vec<Vec<f32>>| {
        for (i, logits) in acts[0].chunks(classes).enumerate().take(hi - lo) {
            for (rank, (class, probability, logit)) in
                top_k(logits, args.top).into_iter().enumerate()
            {
                rows.push(Prediction {
                    image: names[lo + i].clone(),
                    rank: rank + 1,
                    class,
                    name: class_name(class, classes),
                    probability,
                    logit,
                });
            }
        }
        Ok(())
    };
    extract_batches(&net, &mut stimuli, &pre, &capture, args.batch, size, sink)?;
    eprintln!(
        "{} ({}, output {point}): {} images on {}",
        net.graph().model,
        weights.source.tag(),
        names.len(),
        engine.summary()
    );
    match (&args.out, kind) {
        (Some(path), Some("json")) => {
            write_file(path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
            println!("{} predictions -> {}", rows.len(), path.display());
        }
        (Some(path), _) => {
            write_file(path, to_csv(&rows).as_bytes())?;
            println!("{} predictions -> {}", rows.len(), path.display());
        }
        (None, _) => print_out(&to_table(&rows))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_sorts_by_probability_then_index() {
        let t = top_k(&[1.0, 3.0, 3.0, -1.0], 3);
        let idx: Vec<usize> = t.iter().map(|r| r.0).collect();
        assert_eq!(idx, [1, 2, 0]);
        let total: f64 = top_k(&[1.0, 3.0, 3.0, -1.0], 4).iter().map(|r| r.1).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(class_name(0, 1000), "tench");
        assert_eq!(class_name(3, 10), "class 3");
    }
}
