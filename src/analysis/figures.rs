//! Figures of a run, each as PNG and SVG (plotters, DejaVu Sans embedded): the layer-by-layer
//! score curve of each model with the noise-ceiling band and per-subject points, RDM heatmaps
//! (selected layers of each model and the subject mean of each region, stimuli in the order
//! given, shown as percentiles of dissimilarity), and a bar chart of each model's best layer.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::report::{best_layers, file_safe};
use super::AnalysisResult;
use crate::error::{Error, Result};
use crate::output::write_file;
use crate::rsa::ceiling::NoiseCeiling;
use crate::rsa::compare::rankdata;
use crate::rsa::condensed_to_square;
use crate::rsa::summary::Summary;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];
const BAND: RGBColor = RGBColor(215, 215, 215);
const FONT: &str = "sans-serif";

fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font always parses.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

type Draw<'a> =
    dyn Fn(&DrawingArea<BitMapBackend<'_>, Shift>) -> std::result::Result<(), String> + 'a;
type DrawSvg<'a> =
    dyn Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> std::result::Result<(), String> + 'a;

fn plot_err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Renders one figure to `<stem>.png` (and `<stem>.svg` when `svg` is given).
fn save(
    folder: &Path,
    stem: &str,
    size: (u32, u32),
    png: &Draw<'_>,
    svg: Option<&DrawSvg<'_>>,
) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let fail = |p: &Path, e: String| Error::file(p, format!("cannot draw the figure: {e}"));
    let path = folder.join(format!("{stem}.png"));
    let mut buf = vec![255u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&path, plot_err(e)))?;
        png(&root).map_err(|e| fail(&path, e))?;
        root.present().map_err(|e| fail(&path, plot_err(e)))?;
    }
    let img = image::RgbImage::from_raw(size.0, size.1, buf).expect("buffer size");
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| fail(&path, e.to_string()))?;
    write_file(&path, &bytes)?;
    out.push(path);
    if let Some(svg) = svg {
        let path = folder.join(format!("{stem}.svg"));
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
            root.fill(&WHITE).map_err(|e| fail(&path, plot_err(e)))?;
            svg(&root).map_err(|e| fail(&path, e))?;
            root.present().map_err(|e| fail(&path, plot_err(e)))?;
        }
        write_file(&path, text.as_bytes())?;
        out.push(path);
    }
    Ok(out)
}

/// One drawing expression rendered by both backends.
macro_rules! both {
    ($folder:expr, $stem:expr, $size:expr, $svg:expr, |$root:ident| $body:expr) => {{
        let png: &Draw<'_> = &|$root: &DrawingArea<BitMapBackend<'_>, Shift>| $body;
        let svg: &DrawSvg<'_> = &|$root: &DrawingArea<SVGBackend<'_>, Shift>| $body;
        save(
            $folder,
            $stem,
            $size,
            png,
            if $svg { Some(svg) } else { None },
        )
    }};
}

fn finite_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(0.02);
    (lo - pad, hi + pad)
}

/// Score per layer for one model: noise-ceiling band, subject points, mean ± SEM, filled markers
/// where the Mantel p of the mean is below 0.05.
fn layer_curve<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    s: &Summary,
    rows: &[usize],
    layer_names: &[String],
    color: RGBColor,
) -> std::result::Result<(), String> {
    let nc = s.noise_ceiling;
    let (lo, hi) = finite_range(
        rows.iter()
            .flat_map(|&i| s.models[i].per_subject.iter().map(|p| p.score))
            .chain(nc.iter().flat_map(|c| [c.lower, c.upper]))
            .chain([0.0]),
    );
    let l = rows.len();
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(l as f64 - 0.5), lo..hi)
        .map_err(plot_err)?;
    // About ten names fit side by side; every layer is in results.csv.
    let step = l.div_ceil(9).max(1);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .x_labels(l)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 1e-6
                || i < 0.0
                || i as usize >= l
                || !(i as usize).is_multiple_of(step)
            {
                String::new()
            } else {
                layer_names[i as usize].clone()
            }
        })
        .x_label_style(TextStyle::from((FONT, 11).into_font()).transform(FontTransform::Rotate90))
        .y_desc(format!("{} with subject RDMs", s.method))
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 12))
        .draw()
        .map_err(plot_err)?;
    if let Some(c) = nc {
        let label = format!("noise ceiling [{:.3}, {:.3}]", c.lower, c.upper);
        ceiling_band(&mut chart, c, l, label)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(-0.5, 0.0), (l as f64 - 0.5, 0.0)],
            BLACK.mix(0.4),
        )))
        .map_err(plot_err)?;
    let light = color.mix(0.35);
    chart
        .draw_series(rows.iter().enumerate().flat_map(|(x, &i)| {
            s.models[i]
                .per_subject
                .iter()
                .filter(|p| p.score.is_finite())
                .map(move |p| Circle::new((x as f64, p.score), 2, light.filled()))
        }))
        .map_err(plot_err)?
        .label("subjects")
        .legend(move |(x, y)| Circle::new((x + 8, y), 2, light.filled()));
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(x, &i)| {
            let m = &s.models[i];
            (m.sem.is_finite() && m.mean.is_finite()).then(|| {
                PathElement::new(
                    vec![(x as f64, m.mean - m.sem), (x as f64, m.mean + m.sem)],
                    color.stroke_width(1),
                )
            })
        }))
        .map_err(plot_err)?;
    chart
        .draw_series(LineSeries::new(
            rows.iter()
                .enumerate()
                .filter(|(_, &i)| s.models[i].mean.is_finite())
                .map(|(x, &i)| (x as f64, s.models[i].mean)),
            color.stroke_width(2),
        ))
        .map_err(plot_err)?
        .label("mean ± SEM (filled: p < 0.05)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(x, &i)| {
            let m = &s.models[i];
            m.mean.is_finite().then(|| {
                let sig = m.p_value.is_some_and(|p| p < 0.05);
                let style = if sig { color.filled() } else { WHITE.filled() };
                EmptyElement::at((x as f64, m.mean))
                    + Circle::new((0, 0), 4, style)
                    + Circle::new((0, 0), 4, color.stroke_width(1))
            })
        }))
        .map_err(plot_err)?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The noise-ceiling band across `columns` categories (x from −0.5), with a legend entry.
fn ceiling_band<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    c: NoiseCeiling,
    columns: usize,
    label: String,
) -> std::result::Result<(), String> {
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(-0.5, c.lower), (columns as f64 - 0.5, c.upper)],
            BAND.filled(),
        )))
        .map_err(plot_err)?
        .label(label)
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BAND.filled()));
    Ok(())
}

/// The legend box of every figure, at `position`.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> std::result::Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()
        .map_err(plot_err)
}

/// Viridis, linearly interpolated between 9 anchor colours.
fn viridis(t: f64) -> RGBColor {
    const A: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 45, 123),
        (59, 82, 139),
        (44, 114, 142),
        (33, 145, 140),
        (40, 174, 128),
        (94, 201, 98),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = t.clamp(0.0, 1.0) * 8.0;
    let i = (t.floor() as usize).min(7);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    RGBColor(
        mix(A[i].0, A[i + 1].0),
        mix(A[i].1, A[i + 1].1),
        mix(A[i].2, A[i + 1].2),
    )
}

/// Condensed RDM → square matrix of percentiles (rank-transformed, 0–100); NaN stays NaN.
fn percentiles(condensed: &[f64]) -> Vec<f64> {
    let finite: Vec<f64> = condensed
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let ranks = rankdata(&finite);
    let m = finite.len().max(2) as f64;
    let mut it = ranks.into_iter();
    let pct: Vec<f64> = condensed
        .iter()
        .map(|v| {
            if v.is_finite() {
                100.0 * (it.next().unwrap_or(1.0) - 1.0) / (m - 1.0)
            } else {
                f64::NAN
            }
        })
        .collect();
    condensed_to_square(&pct).unwrap_or_default()
}

/// A grid of RDM heatmaps with titles and one colour bar.
fn heatmaps<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[(String, Vec<f64>)],
    n: usize,
) -> std::result::Result<(), String> {
    let root = root.titled(title, (FONT, 20)).map_err(plot_err)?;
    let (body, bar) = root.split_horizontally(root.dim_in_pixel().0 - 90);
    let cols = (panels.len() as f64).sqrt().ceil() as usize;
    let rows = panels.len().div_ceil(cols);
    let cells = body.split_evenly((rows, cols));
    for ((name, sq), area) in panels.iter().zip(cells.iter()) {
        let mut chart = ChartBuilder::on(area)
            .caption(name, (FONT, 13))
            .margin(6)
            .build_cartesian_2d(0..n, 0..n)
            .map_err(plot_err)?;
        chart
            .draw_series((0..n).flat_map(|i| {
                (0..n).map(move |j| {
                    let v = sq[i * n + j];
                    let c = if v.is_nan() {
                        RGBColor(255, 255, 255)
                    } else {
                        viridis(v / 100.0)
                    };
                    // Row i at the top.
                    Rectangle::new([(j, n - 1 - i), (j + 1, n - i)], c.filled())
                })
            }))
            .map_err(plot_err)?;
    }
    let mut cb = ChartBuilder::on(&bar)
        .margin_top(40)
        .margin_bottom(40)
        .margin_right(10)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..1.0, 0.0..100.0)
        .map_err(plot_err)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc("dissimilarity (percentile)")
        .y_labels(6)
        .label_style((FONT, 11))
        .axis_desc_style((FONT, 12))
        .draw()
        .map_err(plot_err)?;
    cb.draw_series((0..100).map(|k| {
        Rectangle::new(
            [(0.0, k as f64), (1.0, k as f64 + 1.0)],
            viridis(k as f64 / 99.0).filled(),
        )
    }))
    .map_err(plot_err)?;
    Ok(())
}

/// Each model's best layer as a bar with its interval (bootstrap CI, else ± SEM) and the
/// noise-ceiling band.
fn model_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    s: &Summary,
) -> std::result::Result<(), String> {
    let best = best_layers(s);
    let bars: Vec<(String, f64, f64, f64)> = best
        .iter()
        .map(|(model, i)| {
            let r = &s.models[*i];
            let (lo, hi) =
                r.ci.map_or((r.mean - r.sem, r.mean + r.sem), |c| (c.low, c.high));
            let layer = r.model.split_once('/').map_or("", |(_, l)| l);
            (format!("{model}\n{layer}"), r.mean, lo, hi)
        })
        .collect();
    let nc = s.noise_ceiling;
    let (lo, hi) = finite_range(
        bars.iter()
            .flat_map(|b| [b.1, b.2, b.3])
            .chain(nc.iter().flat_map(|c| [c.lower, c.upper]))
            .chain([0.0]),
    );
    let k = bars.len();
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(k as f64 - 0.5), lo.min(0.0)..hi)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .x_labels(k)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 1e-6 || i < 0.0 || i as usize >= k {
                String::new()
            } else {
                bars[i as usize].0.replace('\n', " · ")
            }
        })
        .y_desc(format!("{} (best layer per model)", s.method))
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 12))
        .draw()
        .map_err(plot_err)?;
    if let Some(c) = nc {
        ceiling_band(&mut chart, c, k, "noise ceiling".into())?;
    }
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            Rectangle::new(
                [(i as f64 - 0.3, 0.0), (i as f64 + 0.3, b.1)],
                PALETTE[i % PALETTE.len()].mix(0.85).filled(),
            )
        }))
        .map_err(plot_err)?;
    chart
        .draw_series(
            bars.iter()
                .enumerate()
                .filter(|(_, b)| b.2.is_finite())
                .map(|(i, b)| {
                    PathElement::new(
                        vec![(i as f64, b.2), (i as f64, b.3)],
                        BLACK.stroke_width(2),
                    )
                }),
        )
        .map_err(plot_err)?;
    if nc.is_some() {
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

/// Up to `k` indices spread evenly over `0..len`, first and last included.
fn spread(len: usize, k: usize) -> Vec<usize> {
    if len <= k {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..k)
        .map(|i| ((i * (len - 1)) as f64 / (k - 1) as f64).round() as usize)
        .collect();
    v.dedup();
    v
}

/// Every figure of a run; returns the files written.
pub fn write_figures(r: &AnalysisResult, folder: &Path) -> Result<Vec<PathBuf>> {
    fonts();
    let mut files = Vec::new();
    let n = r.stimulus_names.len();
    // SVG heatmaps hold one rectangle per cell: beyond 150 stimuli only the PNG is written.
    let svg_heatmaps = n <= 150;
    for (region, s) in &r.summaries {
        for (mi, m) in r.models.iter().enumerate() {
            let rows: Vec<usize> = s
                .models
                .iter()
                .enumerate()
                .filter(|(_, row)| row.model.split_once('/').map(|(l, _)| l) == Some(&m.label))
                .map(|(i, _)| i)
                .collect();
            let title = format!("{} vs {region}: {} per layer (N = {n})", m.label, s.method);
            let stem = format!(
                "layers_{}_{}_{}",
                file_safe(&m.label),
                file_safe(region),
                s.method
            );
            let color = PALETTE[mi % PALETTE.len()];
            files.extend(both!(folder, &stem, (1000, 560), true, |root| {
                layer_curve(root, &title, s, &rows, &m.points, color)
            })?);
        }
        let title = format!("Best layer per model vs {region}: {}", s.method);
        let stem = format!("models_{}_{}", file_safe(region), s.method);
        files.extend(both!(folder, &stem, (760, 520), true, |root| {
            model_bars(root, &title, s)
        })?);
    }
    for m in &r.models {
        let panels: Vec<(String, Vec<f64>)> = spread(m.points.len(), 12)
            .into_iter()
            .map(|i| (m.points[i].clone(), percentiles(&m.rdms[i])))
            .collect();
        let title = format!("{}: layer RDMs ({}, N = {n})", m.label, r.config.rdm.metric);
        let stem = format!("rdms_{}", file_safe(&m.label));
        files.extend(both!(folder, &stem, (1100, 1000), svg_heatmaps, |root| {
            heatmaps(root, &title, &panels, n)
        })?);
    }
    for g in &r.regions {
        let m = g.subjects[0].condensed.len();
        let mean: Vec<f64> = (0..m)
            .map(|k| {
                g.subjects.iter().map(|s| s.condensed[k]).sum::<f64>() / g.subjects.len() as f64
            })
            .collect();
        let panels = vec![(
            format!("mean of {} subjects", g.subjects.len()),
            percentiles(&mean),
        )];
        let title = format!("{}: subject-mean RDM (N = {n})", g.name);
        let stem = format!("rdm_brain_{}", file_safe(&g.name));
        files.extend(both!(folder, &stem, (640, 560), svg_heatmaps, |root| {
            heatmaps(root, &title, &panels, n)
        })?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_spread() {
        let sq = percentiles(&[3.0, 1.0, 2.0]);
        // Pairs (0,1), (0,2), (1,2) have ranks 3, 1, 2.
        assert_eq!(sq, vec![0.0, 100.0, 0.0, 100.0, 0.0, 50.0, 0.0, 50.0, 0.0]);
        assert_eq!(spread(5, 12), vec![0, 1, 2, 3, 4]);
        assert_eq!(spread(21, 5), vec![0, 5, 10, 15, 20]);
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
    }
}
