//! `ventral layers`: every capture point of a model with its output shape, feature count and
//! receptive field.

use clap::Args;

use std::fmt::Write;

use super::{print_out, Failure};
use crate::models::{build, layer_table, MODELS};

#[derive(Args, Debug)]
pub struct LayersArgs {
    /// Architecture (see --list)
    #[arg(long, required_unless_present = "list")]
    pub model: Option<String>,
    /// Input height and width in pixels (default: the model's training size)
    #[arg(long, num_args = 2, value_names = ["H", "W"])]
    pub input_size: Option<Vec<usize>>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List the known models.
    #[arg(long)]
    pub list: bool,
}

pub fn run(args: &LayersArgs) -> Result<(), Failure> {
    if args.list {
        for m in MODELS {
            println!("{m}");
        }
        return Ok(());
    }
    let graph = build(args.model.as_deref().unwrap_or_default())?;
    let (h, w) = match args.input_size.as_deref() {
        Some([h, w]) => (*h, *w),
        _ => (graph.default_size, graph.default_size),
    };
    let table = layer_table(&graph, h, w)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&table)?);
        return Ok(());
    }
    let width = table.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5) + 2;
    let on_request = table.iter().filter(|r| r.on_request).count();
    let mut out = format!(
        "{} at {h}×{w}: {} capture points{}\n",
        graph.model,
        table.len(),
        if on_request > 0 {
            format!(" ({on_request} marked * only when named: --layers all leaves them out)")
        } else {
            String::new()
        }
    );
    writeln!(
        out,
        "{:width$}  {:>16}  {:>10}  {:>6}  {:>5}",
        "point", "shape", "features", "rf", "jump"
    )?;
    for r in &table {
        let shape = r
            .shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("×");
        let opt = |v: Option<usize>| v.map_or("all".to_string(), |v| v.to_string());
        writeln!(
            out,
            "{:width$}  {:>16}  {:>10}  {:>6}  {:>5}",
            if r.on_request {
                format!("{} *", r.name)
            } else {
                r.name.clone()
            },
            shape,
            r.features,
            opt(r.receptive_field.size),
            opt(r.receptive_field.jump)
        )?;
    }
    print_out(&out)
}
