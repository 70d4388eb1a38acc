//! Figures of the battery, each as PNG and SVG, drawn with the helpers (palette, fonts, legend,
//! file writing) of the RSA figures: every index per layer of every model beside the brain value
//! (`properties_layers`), and each model's feature-layer values on one radar beside the brain's
//! (`properties_radar`).

use std::f64::consts::{FRAC_PI_2, TAU};
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::measure::PropertiesReport;
use super::Property;
use crate::analysis::figures::{
    finite_range, fonts, legend, plot_err, save, Draw, DrawSvg, FONT, PALETTE,
};
use crate::error::Result;

type Drawn = std::result::Result<(), String>;

/// Panels per row of the layer figure, and the size of one panel in pixels.
const COLUMNS: usize = 4;
const PANEL: (u32, u32) = (330, 250);
/// Heights of the title and of the key above the panels.
const TITLE_H: u32 = 40;
const KEY_H: u32 = 30;
/// Size of the radar figure.
const RADAR: (u32, u32) = (1400, 820);

/// The figures of a battery run; returns the files written (none for an empty report).
pub fn write_figures(r: &PropertiesReport, folder: &Path) -> Result<Vec<PathBuf>> {
    if r.rows.is_empty() {
        return Ok(Vec::new());
    }
    fonts();
    let models = r.models();
    let mut files = Vec::new();

    let props = scored_properties(r);
    let cols = props.len().min(COLUMNS);
    let rows = props.len().div_ceil(cols);
    let size = (
        (cols as u32 * PANEL.0).max(800),
        TITLE_H + KEY_H + rows as u32 * PANEL.1,
    );
    let png: &Draw<'_> =
        &|root: &DrawingArea<BitMapBackend<'_>, Shift>| layer_panels(root, r, &models, &props);
    let svg: &DrawSvg<'_> =
        &|root: &DrawingArea<SVGBackend<'_>, Shift>| layer_panels(root, r, &models, &props);
    files.extend(save(folder, "properties_layers", size, png, Some(svg))?);

    let axes = radar_properties(r);
    if !axes.is_empty() {
        let png: &Draw<'_> =
            &|root: &DrawingArea<BitMapBackend<'_>, Shift>| radar(root, r, &models, &axes);
        let svg: &DrawSvg<'_> =
            &|root: &DrawingArea<SVGBackend<'_>, Shift>| radar(root, r, &models, &axes);
        files.extend(save(folder, "properties_radar", RADAR, png, Some(svg))?);
    }
    Ok(files)
}

/// The properties with at least one row, in battery order.
fn scored_properties(r: &PropertiesReport) -> Vec<Property> {
    let mut out: Vec<Property> = r.rows.iter().map(|row| row.property).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The properties with a finite feature-layer value for at least one model, in battery order.
fn radar_properties(r: &PropertiesReport) -> Vec<Property> {
    let mut out: Vec<Property> = r
        .rows
        .iter()
        .filter(|row| row.feature_layer && row.score.index.is_finite())
        .map(|row| row.property)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The title, a key (models, brain value, feature layer) and one panel per property.
fn layer_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &PropertiesReport,
    models: &[&str],
    props: &[Property],
) -> Drawn {
    let root = root
        .titled(
            "Brain-property indices per layer (x: layer in capture order)",
            (FONT, 20),
        )
        .map_err(plot_err)?;
    let (key, body) = root.split_vertically(KEY_H);
    layer_key(&key, models)?;
    let cols = props.len().clamp(1, COLUMNS);
    let rows = props.len().div_ceil(cols);
    for (&p, cell) in props.iter().zip(body.split_evenly((rows, cols)).iter()) {
        layer_panel(cell, r, models, p)?;
    }
    Ok(())
}

/// One line of key entries, left to right: a mark 24 px wide, then its label.
fn layer_key<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, models: &[&str]) -> Drawn {
    let style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let y = (KEY_H / 2) as i32;
    let mut x = 16i32;
    let label = |x: &mut i32, text: &str| -> Drawn {
        area.draw(&Text::new(text, (*x + 30, y), style.clone()))
            .map_err(plot_err)?;
        let (w, _) = area.estimate_text_size(text, &style).map_err(plot_err)?;
        *x += 30 + w as i32 + 20;
        Ok(())
    };
    for (mi, model) in models.iter().enumerate() {
        let color = PALETTE[mi % PALETTE.len()];
        area.draw(&PathElement::new(
            vec![(x, y), (x + 24, y)],
            color.stroke_width(2),
        ))
        .map_err(plot_err)?;
        label(&mut x, model)?;
    }
    area.draw(&DashedPathElement::new(
        vec![(x, y), (x + 24, y)],
        5,
        3,
        BLACK.stroke_width(1),
    ))
    .map_err(plot_err)?;
    label(&mut x, "brain value")?;
    area.draw(&Circle::new((x + 12, y), 4, BLACK.filled()))
        .map_err(plot_err)?;
    label(&mut x, "feature layer")
}

/// One property: a line per model over its layers (broken where the index is NaN), the brain
/// value dashed, the feature-layer row of each model as a filled point.
fn layer_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &PropertiesReport,
    models: &[&str],
    p: Property,
) -> Drawn {
    let rows: Vec<_> = r.rows.iter().filter(|row| row.property == p).collect();
    let brain = p.brain();
    let layers = rows
        .iter()
        .map(|row| row.layer_index + 1)
        .max()
        .unwrap_or(1);
    let x1 = layers as f64 - 0.5;
    let (lo, hi) = finite_range(rows.iter().map(|row| row.score.index).chain([brain]));
    let mut chart = ChartBuilder::on(area)
        .caption(p.to_string(), (FONT, 14))
        .margin(8)
        .x_label_area_size(22)
        .y_label_area_size(42)
        .build_cartesian_2d(-0.5..x1, lo..hi)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.08))
        .x_labels(6)
        .y_labels(5)
        .x_label_formatter(&|x| {
            if *x > -1e-6 && (x - x.round()).abs() < 1e-6 {
                format!("{:.0}", x.round())
            } else {
                String::new()
            }
        })
        .label_style((FONT, 10))
        .draw()
        .map_err(plot_err)?;
    if lo < 0.0 && hi > 0.0 {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, 0.0), (x1, 0.0)],
                BLACK.mix(0.3),
            )))
            .map_err(plot_err)?;
    }
    chart
        .draw_series(std::iter::once(DashedPathElement::new(
            vec![(-0.5, brain), (x1, brain)],
            5,
            3,
            BLACK.stroke_width(1),
        )))
        .map_err(plot_err)?;
    let per_model: Vec<Vec<(usize, f64, bool)>> = models
        .iter()
        .map(|m| {
            let mut v: Vec<(usize, f64, bool)> = rows
                .iter()
                .filter(|row| row.model == *m)
                .map(|row| (row.layer_index, row.score.index, row.feature_layer))
                .collect();
            v.sort_by_key(|q| q.0);
            v
        })
        .collect();
    for (mi, points) in per_model.iter().enumerate() {
        let color = PALETTE[mi % PALETTE.len()];
        let pairs: Vec<(usize, f64)> = points.iter().map(|q| (q.0, q.1)).collect();
        let runs = segments(&pairs);
        chart
            .draw_series(
                runs.iter()
                    .filter(|s| s.len() > 1)
                    .map(|s| PathElement::new(s.clone(), color.stroke_width(2))),
            )
            .map_err(plot_err)?;
        // A finite index between two undefined ones: a dot, so that it shows.
        chart
            .draw_series(
                runs.iter()
                    .filter(|s| s.len() == 1)
                    .map(|s| Circle::new(s[0], 2, color.filled())),
            )
            .map_err(plot_err)?;
    }
    for (mi, points) in per_model.iter().enumerate() {
        let color = PALETTE[mi % PALETTE.len()];
        chart
            .draw_series(points.iter().filter(|q| q.2 && q.1.is_finite()).map(|q| {
                EmptyElement::at((q.0 as f64, q.1))
                    + Circle::new((0, 0), 5, color.filled())
                    + Circle::new((0, 0), 5, WHITE.stroke_width(1))
            }))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// Runs of consecutive layers with a finite index, as `(layer, index)` points in layer order: a
/// NaN, or a layer without a row, ends a run.
fn segments(points: &[(usize, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut last: Option<usize> = None;
    for &(x, y) in points {
        if !y.is_finite() {
            last = None;
            continue;
        }
        match (out.last_mut(), last) {
            (Some(run), Some(l)) if x == l + 1 => run.push((x as f64, y)),
            _ => out.push(vec![(x as f64, y)]),
        }
        last = Some(x);
    }
    out
}

/// The radial scale: `[min(−0.2, data), max(1, data)]` over the finite values.
fn radial_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((-0.2, 1.0), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// Round values (multiples of 1, 2, 2.5 or 5 × 10^k, about six steps) from `lo` to `hi`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 6.0;
    let decade = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * decade)
        .find(|&w| w >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * decade);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A tick value with at most two decimals, trailing zeros dropped.
fn tick_label(t: f64) -> String {
    let t = if t.abs() < 1e-9 { 0.0 } else { t };
    let s = format!("{t:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The outline of one model on the radar as runs of vertex indices: all finite, one closed run
/// (the first index again at the end); otherwise the runs between the NaN vertices, wrapping
/// past the last axis.
fn radar_runs(v: &[f64]) -> Vec<Vec<usize>> {
    let k = v.len();
    if k == 0 {
        return Vec::new();
    }
    let Some(gap) = v.iter().position(|x| !x.is_finite()) else {
        return vec![(0..=k).map(|i| i % k).collect()];
    };
    let mut out = Vec::new();
    let mut run = Vec::new();
    for step in 1..=k {
        let i = (gap + step) % k;
        if v[i].is_finite() {
            run.push(i);
        } else if !run.is_empty() {
            out.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// Each model's feature-layer values on one axis per property (clockwise from the top), the
/// radius linear in the value over [`radial_range`], the brain's values dashed.
fn radar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &PropertiesReport,
    models: &[&str],
    axes: &[Property],
) -> Drawn {
    let k = axes.len();
    let values: Vec<Vec<f64>> = models
        .iter()
        .map(|m| {
            let fv = r.feature_values(m);
            axes.iter()
                .map(|p| fv.iter().find(|(q, _)| q == p).map_or(f64::NAN, |v| v.1))
                .collect()
        })
        .collect();
    let brain: Vec<f64> = axes.iter().map(|p| p.brain()).collect();
    let (lo, hi) = radial_range(values.iter().flatten().chain(&brain).copied());
    let title = format!(
        "Brain properties at each model's feature layer (centre {}, outer ring {}; dashed: brain)",
        tick_label(lo),
        tick_label(hi)
    );
    let root = root.titled(&title, (FONT, 20)).map_err(plot_err)?;
    // Equal units on both axes: the radar on the left, room for the legend on the right.
    let margin = 16u32;
    let (w, h) = root.dim_in_pixel();
    let (pw, ph) = (
        w.saturating_sub(2 * margin).max(1),
        h.saturating_sub(2 * margin).max(1),
    );
    let half = 1.4;
    let x0 = -1.85;
    let x1 = x0 + f64::from(pw) * 2.0 * half / f64::from(ph);
    let mut chart = ChartBuilder::on(&root)
        .margin(margin)
        .build_cartesian_2d(x0..x1, -half..half)
        .map_err(plot_err)?;

    let scale = |v: f64| (v - lo) / (hi - lo);
    let at = |i: usize, rad: f64| {
        let a = FRAC_PI_2 - TAU * i as f64 / k as f64;
        (rad * a.cos(), rad * a.sin())
    };
    let ring = |rad: f64| -> Vec<(f64, f64)> {
        if k >= 3 {
            (0..=k).map(|i| at(i % k, rad)).collect()
        } else {
            (0..=72)
                .map(|j| {
                    let a = TAU * j as f64 / 72.0;
                    (rad * a.cos(), rad * a.sin())
                })
                .collect()
        }
    };

    let grid = BLACK.mix(0.15);
    let grey = BLACK.mix(0.6);
    let small = TextStyle::from((FONT, 11).into_font())
        .color(&grey)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let rings: Vec<f64> = ticks(lo, hi);
    chart
        .draw_series(rings.iter().filter(|&&t| scale(t) > 1e-9).map(|&t| {
            let style = if t.abs() < 1e-9 {
                BLACK.mix(0.45).stroke_width(1)
            } else {
                grid.stroke_width(1)
            };
            PathElement::new(ring(scale(t)), style)
        }))
        .map_err(plot_err)?;
    chart
        .draw_series(
            rings
                .iter()
                .map(|&t| Text::new(tick_label(t), (0.02, scale(t)), small.clone())),
        )
        .map_err(plot_err)?;
    // The outer ring where the top of the scale is not a round value.
    if !rings.iter().any(|&t| (scale(t) - 1.0).abs() < 1e-9) {
        chart
            .draw_series(std::iter::once(PathElement::new(ring(1.0), grid)))
            .map_err(plot_err)?;
    }
    chart
        .draw_series((0..k).map(|i| PathElement::new(vec![(0.0, 0.0), at(i, 1.0)], grid)))
        .map_err(plot_err)?;
    chart
        .draw_series((0..k).map(|i| {
            let (x, y) = at(i, 1.07);
            let h = if x > 0.3 {
                HPos::Left
            } else if x < -0.3 {
                HPos::Right
            } else {
                HPos::Center
            };
            let v = if y > 0.3 {
                VPos::Bottom
            } else if y < -0.3 {
                VPos::Top
            } else {
                VPos::Center
            };
            let style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(h, v));
            Text::new(axes[i].to_string(), (x, y), style)
        }))
        .map_err(plot_err)?;

    let dashed = BLACK.stroke_width(2);
    let outline: Vec<(f64, f64)> = (0..=k).map(|i| at(i % k, scale(brain[i % k]))).collect();
    chart
        .draw_series(std::iter::once(DashedPathElement::new(
            outline, 7, 4, dashed,
        )))
        .map_err(plot_err)?
        .label("brain (humans / monkeys)")
        .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 16, y)], 5, 3, dashed));
    chart
        .draw_series((0..k).map(|i| Circle::new(at(i, scale(brain[i])), 3, BLACK.filled())))
        .map_err(plot_err)?;

    for (mi, (model, v)) in models.iter().zip(&values).enumerate() {
        let color = PALETTE[mi % PALETTE.len()];
        let style = color.stroke_width(2);
        let pts: Vec<(f64, f64)> = (0..k).map(|i| at(i, scale(v[i]))).collect();
        let runs = radar_runs(v);
        if k >= 3 && runs.len() == 1 && runs[0].len() == k + 1 {
            chart
                .draw_series(std::iter::once(Polygon::new(
                    pts.clone(),
                    color.mix(0.1).filled(),
                )))
                .map_err(plot_err)?;
        }
        chart
            .draw_series(runs.iter().filter(|run| run.len() > 1).map(|run| {
                PathElement::new(run.iter().map(|&i| pts[i]).collect::<Vec<_>>(), style)
            }))
            .map_err(plot_err)?;
        let (s, n) = r.brain_similarity(model);
        let label = if n == 0 {
            format!("{model} — brain similarity n/a (no finite property)")
        } else {
            format!(
                "{model} — brain similarity {s:.3} over {n} propert{}",
                if n == 1 { "y" } else { "ies" }
            )
        };
        chart
            .draw_series(
                (0..k)
                    .filter(|&i| v[i].is_finite())
                    .map(|i| Circle::new(pts[i], 4, color.filled())),
            )
            .map_err(plot_err)?
            .label(label)
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (16, 0)], style)
                    + Circle::new((8, 0), 3, color.filled())
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

#[cfg(test)]
mod tests {
    use super::super::measure::PropertyRow;
    use super::super::Score;
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ventral-propfig-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Two models × three properties × five layers; beta's Weber index is NaN on layer 2.
    fn report(feature_finite: bool) -> PropertiesReport {
        let mut rows = Vec::new();
        for (mi, (model, feature)) in [("alpha", 3), ("beta", 4)].into_iter().enumerate() {
            for (pi, property) in [Property::Thatcher, Property::Weber, Property::ThreeD1]
                .into_iter()
                .enumerate()
            {
                for layer in 0..5 {
                    let mut index = 0.1 * layer as f64 + 0.2 * pi as f64 - 0.15 * mi as f64;
                    if (model == "beta" && property == Property::Weber && layer == 2)
                        || (!feature_finite && layer == feature)
                    {
                        index = f64::NAN;
                    }
                    rows.push(PropertyRow {
                        model: model.into(),
                        layer: format!("l{layer}"),
                        layer_index: layer,
                        property,
                        score: Score::single(index, 10),
                        feature_layer: layer == feature,
                    });
                }
            }
        }
        PropertiesReport {
            rows,
            ..PropertiesReport::default()
        }
    }

    fn names(files: &[PathBuf]) -> Vec<String> {
        files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn figures_are_written() {
        let dir = temp_dir("full");
        let files = write_figures(&report(true), &dir).unwrap();
        assert_eq!(
            names(&files),
            [
                "properties_layers.png",
                "properties_layers.svg",
                "properties_radar.png",
                "properties_radar.svg"
            ]
        );
        for f in &files {
            assert!(std::fs::metadata(f).unwrap().len() > 0, "{}", f.display());
        }
        for f in files.iter().filter(|f| f.extension().unwrap() == "svg") {
            let text = std::fs::read_to_string(f).unwrap();
            for p in ["thatcher", "weber", "3d-1"] {
                assert!(text.contains(p), "{p} in {}", f.display());
            }
        }
        let radar = std::fs::read_to_string(&files[3]).unwrap();
        assert!(radar.contains("brain similarity"));
        assert!(radar.contains("over 3 properties"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_rows_no_files_and_no_finite_feature_values_no_radar() {
        let dir = temp_dir("empty");
        let files = write_figures(&PropertiesReport::default(), &dir).unwrap();
        assert!(files.is_empty());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let files = write_figures(&report(false), &dir).unwrap();
        assert_eq!(
            names(&files),
            ["properties_layers.png", "properties_layers.svg"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_and_outlines_break_at_nan() {
        let nan = f64::NAN;
        let runs = segments(&[(0, 0.1), (1, 0.2), (2, nan), (3, 0.4), (4, 0.5), (6, 0.7)]);
        assert_eq!(
            runs,
            vec![
                vec![(0.0, 0.1), (1.0, 0.2)],
                vec![(3.0, 0.4), (4.0, 0.5)],
                vec![(6.0, 0.7)]
            ]
        );
        assert!(segments(&[(0, nan)]).is_empty());
        assert_eq!(radar_runs(&[0.1, 0.2, 0.3]), vec![vec![0, 1, 2, 0]]);
        // A gap at 2 of 5: one run wrapping past the last axis.
        assert_eq!(
            radar_runs(&[0.1, 0.2, nan, 0.4, 0.5]),
            vec![vec![3, 4, 0, 1]]
        );
        assert_eq!(
            radar_runs(&[nan, 0.2, nan, 0.4, 0.5]),
            vec![vec![1], vec![3, 4]]
        );
        assert!(radar_runs(&[nan, nan]).is_empty());
        assert_eq!(radial_range([0.3, nan].into_iter()), (-0.2, 1.0));
        assert_eq!(radial_range([-0.5, 1.4].into_iter()), (-0.5, 1.4));
        let t = ticks(-0.2, 1.0);
        assert_eq!(t.len(), 7);
        assert_eq!(
            t.iter().map(|&x| tick_label(x)).collect::<Vec<_>>(),
            ["-0.2", "0", "0.2", "0.4", "0.6", "0.8", "1"]
        );
    }
}
