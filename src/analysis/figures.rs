//! Figures of a run, each as PNG and SVG (plotters, DejaVu Sans embedded): the layer-by-layer
//! score curve of each model with the noise-ceiling band and per-subject points, RDM heatmaps
//! (selected layers of each model and the subject mean of each region, stimuli in the order
//! given, shown as percentiles of dissimilarity), and a bar chart of each model's best layer.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::report::{best_layers, file_safe};
use super::AnalysisResult;
use crate::error::{Error, Result};
use crate::measures::encoding::evaluate::{chance_r, Evaluation};
use crate::measures::encoding::measure::EncodingReport;
use crate::output::write_file;
use crate::rsa::ceiling::NoiseCeiling;
use crate::rsa::compare::rankdata;
use crate::rsa::condensed_to_square;
use crate::rsa::summary::Summary;

pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];
const BAND: RGBColor = RGBColor(215, 215, 215);
pub(crate) const FONT: &str = "sans-serif";

pub(crate) fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font always parses.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

pub(crate) type Draw<'a> =
    dyn Fn(&DrawingArea<BitMapBackend<'_>, Shift>) -> std::result::Result<(), String> + 'a;
pub(crate) type DrawSvg<'a> =
    dyn Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> std::result::Result<(), String> + 'a;

pub(crate) fn plot_err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Renders one figure to `<stem>.png` (and `<stem>.svg` when `svg` is given).
pub(crate) fn save(
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

pub(crate) fn finite_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
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
    let y = finite_range(
        rows.iter()
            .flat_map(|&i| s.models[i].per_subject.iter().map(|p| p.score))
            .chain(nc.iter().flat_map(|c| [c.lower, c.upper]))
            .chain([0.0]),
    );
    let band = nc.map(|c| (c, format!("noise ceiling [{:.3}, {:.3}]", c.lower, c.upper)));
    let y_desc = format!("{} with subject RDMs", s.method);
    let mut chart = layer_axes(root, title, layer_names, y, &y_desc, band)?;
    subject_points(
        &mut chart,
        rows.iter().enumerate().flat_map(|(x, &i)| {
            s.models[i]
                .per_subject
                .iter()
                .map(move |p| (x as f64, p.score))
        }),
        color,
    )?;
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
    let means: Vec<(f64, f64, bool)> = rows
        .iter()
        .enumerate()
        .map(|(x, &i)| {
            let m = &s.models[i];
            (x as f64, m.mean, m.p_value.is_some_and(|p| p < 0.05))
        })
        .collect();
    marked_line(
        &mut chart,
        &means,
        color,
        false,
        "mean ± SEM (filled: p < 0.05)",
    )?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// The frame of a per-layer curve: one column per layer (x from −0.5; about ten names shown,
/// rotated; every layer is in the tables), the noise-ceiling band when given, a line at 0.
fn layer_axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    layer_names: &[String],
    y: (f64, f64),
    y_desc: &str,
    band: Option<(NoiseCeiling, String)>,
) -> std::result::Result<Chart<'a, DB>, String> {
    let l = layer_names.len();
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(l as f64 - 0.5), y.0..y.1)
        .map_err(plot_err)?;
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
        .y_desc(y_desc)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 12))
        .draw()
        .map_err(plot_err)?;
    if let Some((c, label)) = band {
        ceiling_band(&mut chart, c, l, label)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(-0.5, 0.0), (l as f64 - 0.5, 0.0)],
            BLACK.mix(0.4),
        )))
        .map_err(plot_err)?;
    Ok(chart)
}

/// One small light point per (x, subject score), NaN left out, with the legend entry "subjects".
fn subject_points<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    points: impl Iterator<Item = (f64, f64)>,
    color: RGBColor,
) -> std::result::Result<(), String> {
    let light = color.mix(0.35);
    chart
        .draw_series(
            points
                .filter(|p| p.1.is_finite())
                .map(|p| Circle::new(p, 2, light.filled())),
        )
        .map_err(plot_err)?
        .label("subjects")
        .legend(move |(x, y)| Circle::new((x + 8, y), 2, light.filled()));
    Ok(())
}

/// A line through the finite `(x, y)` points (dashed when `dashed`) with a ring at each, filled
/// where marked, and a legend entry.
fn marked_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    points: &[(f64, f64, bool)],
    color: RGBColor,
    dashed: bool,
    label: &str,
) -> std::result::Result<(), String> {
    let path: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.1.is_finite())
        .map(|p| (p.0, p.1))
        .collect();
    let style = color.stroke_width(2);
    let series = if dashed {
        chart.draw_series(DashedLineSeries::new(path, 6, 4, style))
    } else {
        chart.draw_series(LineSeries::new(path, style))
    };
    series
        .map_err(plot_err)?
        .label(label)
        .legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (if dashed { 6 } else { 16 }, 0)], style)
                + PathElement::new(vec![(if dashed { 10 } else { 16 }, 0), (16, 0)], style)
        });
    chart
        .draw_series(
            points
                .iter()
                .filter(|p| p.1.is_finite())
                .map(|&(x, y, fill)| {
                    let inside = if fill { color.filled() } else { WHITE.filled() };
                    EmptyElement::at((x, y))
                        + Circle::new((0, 0), 4, inside)
                        + Circle::new((0, 0), 4, color.stroke_width(1))
                }),
        )
        .map_err(plot_err)?;
    Ok(())
}

pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

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
pub(crate) fn legend<'a, DB: DrawingBackend + 'a>(
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

/// veRSA's colour beside a model's `color` in the encoding curves.
fn versa_color(color: RGBColor) -> RGBColor {
    if color == PALETTE[4] {
        PALETTE[3]
    } else {
        PALETTE[4]
    }
}

/// Mean of the finite values (NaN when none).
fn finite_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, k) = values
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, k), v| (s + v, k + 1));
    if k == 0 {
        f64::NAN
    } else {
        sum / k as f64
    }
}

/// Held-out voxel r per layer of one model against one region's subjects: subject points, the
/// subject mean (test, and train dashed), veRSA's subject mean, the band of the subjects' mean
/// voxel ceilings, and the layer(s) chosen on train for voxel r marked.
fn encoding_curve<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    enc: &EncodingReport,
    layers: &[usize],
    subjects: &[usize],
    color: RGBColor,
) -> std::result::Result<(), String> {
    let eval = |li: usize, t: usize| &enc.layers[li].evaluations[t];
    let names: Vec<String> = layers
        .iter()
        .map(|&li| enc.layers[li].layer.clone())
        .collect();
    let mean_of = |f: &dyn Fn(&Evaluation) -> f64| -> Vec<f64> {
        layers
            .iter()
            .map(|&li| finite_mean(subjects.iter().map(|&t| f(eval(li, t)))))
            .collect()
    };
    let test = mean_of(&|e| e.test.mean_r);
    let train = mean_of(&|e| e.train.mean_r);
    let versa = mean_of(&|e| e.versa_test);
    let ceilings: Vec<f64> = subjects
        .iter()
        .filter_map(|&t| layers.first().and_then(|&li| eval(li, t).ceiling))
        .filter(|c| c.is_finite())
        .collect();
    let (lo, hi) = finite_range(
        layers
            .iter()
            .flat_map(|&li| subjects.iter().map(move |&t| eval(li, t).test.mean_r))
            .chain(train.iter().copied())
            .chain(versa.iter().copied())
            .chain(ceilings.iter().copied())
            .chain([0.0]),
    );
    // Head room for the legend.
    let y = (lo, hi + 0.3 * (hi - lo));
    let band = (!ceilings.is_empty()).then(|| {
        let (lower, upper) = ceilings
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, u), &c| {
                (l.min(c), u.max(c))
            });
        let label = if upper - lower < 5e-4 {
            format!("mean voxel noise ceiling {lower:.3}")
        } else {
            format!("subjects' mean voxel noise ceilings [{lower:.3}, {upper:.3}]")
        };
        // At least 2 px or so tall, so that equal ceilings still show.
        let pad = (0.004 * (y.1 - y.0) - 0.5 * (upper - lower)).max(0.0);
        let shown = NoiseCeiling {
            lower: lower - pad,
            upper: upper + pad,
        };
        (shown, label)
    });
    let mut chart = layer_axes(
        root,
        title,
        &names,
        y,
        "Pearson r (voxel r: mean over voxels)",
        band,
    )?;
    // The layer chosen on train for voxel r, per subject (x positions).
    let selected = enc.selected();
    let model = layers
        .first()
        .map_or("", |&li| enc.layers[li].model.as_str());
    let chosen: Vec<(usize, usize)> = subjects
        .iter()
        .filter_map(|&t| {
            let li = selected.get(&(model.to_string(), t, "encoding_r"))?;
            Some((t, layers.iter().position(|l| l == li)?))
        })
        .collect();
    let mut columns: Vec<usize> = chosen.iter().map(|c| c.1).collect();
    columns.sort_unstable();
    columns.dedup();
    if !columns.is_empty() {
        let described: Vec<String> = columns
            .iter()
            .take(3)
            .map(|&x| {
                let k = chosen.iter().filter(|c| c.1 == x).count();
                if subjects.len() == 1 {
                    names[x].clone()
                } else {
                    format!("{} ({k}/{})", names[x], subjects.len())
                }
            })
            .collect();
        let more = if columns.len() > 3 { ", …" } else { "" };
        let mark = BLACK.mix(0.55);
        chart
            .draw_series(columns.iter().map(|&x| {
                DashedPathElement::new(vec![(x as f64, y.0), (x as f64, y.1)], 3, 3, mark)
            }))
            .map_err(plot_err)?
            .label(format!("chosen on train: {}{more}", described.join(", ")))
            .legend(move |(x, y)| {
                DashedPathElement::new(vec![(x + 8, y - 6), (x + 8, y + 6)], 3, 3, mark)
            });
    }
    subject_points(
        &mut chart,
        layers.iter().enumerate().flat_map(|(x, &li)| {
            subjects
                .iter()
                .map(move |&t| (x as f64, eval(li, t).test.mean_r))
        }),
        color,
    )?;
    // Each subject's own chosen layer: a ring around its point.
    chart
        .draw_series(chosen.iter().filter_map(|&(t, x)| {
            let r = eval(layers[x], t).test.mean_r;
            r.is_finite()
                .then(|| Circle::new((x as f64, r), 5, color.mix(0.7).stroke_width(1)))
        }))
        .map_err(plot_err)?;
    let points = |v: &[f64], fill: bool| -> Vec<(f64, f64, bool)> {
        v.iter()
            .enumerate()
            .map(|(x, &y)| (x as f64, y, fill))
            .collect()
    };
    marked_line(
        &mut chart,
        &points(&train, false),
        lighter(color),
        true,
        "train (LOO) voxel r, mean",
    )?;
    marked_line(
        &mut chart,
        &points(&versa, true),
        versa_color(color),
        false,
        "veRSA (held out), mean",
    )?;
    marked_line(
        &mut chart,
        &points(&test, true),
        color,
        false,
        "held-out voxel r, mean over subjects",
    )?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// `color` blended halfway to white.
fn lighter(color: RGBColor) -> RGBColor {
    let half = |c: u8| ((u16::from(c) + 255) / 2) as u8;
    RGBColor(half(color.0), half(color.1), half(color.2))
}

/// Counts of the finite `values` in bins of a round width (1, 2, 2.5 or 5 × 10^k; about 2√n
/// bins, 10 to 40, over their range), the first starting at a multiple of the width:
/// (start, width, counts). No finite value: no bins.
fn histogram(values: &[f64]) -> (f64, f64, Vec<usize>) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let Some(lo) = finite.iter().copied().reduce(f64::min) else {
        return (0.0, 0.1, Vec::new());
    };
    let hi = finite.iter().copied().fold(lo, f64::max);
    let target = (2.0 * (finite.len() as f64).sqrt())
        .round()
        .clamp(10.0, 40.0);
    let raw = if hi > lo { (hi - lo) / target } else { 0.01 };
    let decade = 10f64.powf(raw.log10().floor());
    let width = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * decade)
        .find(|&w| w >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * decade);
    let start = (lo / width).floor() * width;
    let bin = |v: f64| ((v - start) / width).floor().max(0.0) as usize;
    let last = bin(hi);
    let mut counts = vec![0; last + 1];
    for v in finite {
        counts[bin(v).min(last)] += 1;
    }
    (start, width, counts)
}

/// Histogram of one evaluation's held-out voxel r (constant voxels left out), with the chance
/// threshold for `m` held-out stimuli and the mean.
fn voxel_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    e: &Evaluation,
    color: RGBColor,
) -> std::result::Result<(), String> {
    let v = &e.voxels;
    let r: Vec<f64> = (0..v.test_r.len())
        .filter(|&j| !v.constant[j] && v.test_r[j].is_finite())
        .map(|j| v.test_r[j])
        .collect();
    let m = e.test_index.len();
    let chance = chance_r(m);
    let (start, width, counts) = histogram(&r);
    let end = start + width * counts.len() as f64;
    let (x0, x1) = finite_range([start, end, 0.0, chance].into_iter());
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.15;
    let above = r.iter().filter(|&&x| x > chance).count();
    let x_desc = format!(
        "held-out r per voxel — mean {:.3}; {above} of {} above chance{}",
        e.test.mean_r,
        r.len(),
        if e.test.constant > 0 {
            format!("; {} constant left out", e.test.constant)
        } else {
            String::new()
        }
    );
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, 0.0..top)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .x_desc(x_desc)
        .y_desc("voxels")
        .x_label_formatter(&|x| {
            let x = if x.abs() < 1e-9 { 0.0 } else { *x };
            let t = format!("{x:.2}");
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        })
        .y_label_formatter(&|y| {
            if (y - y.round()).abs() < 1e-9 {
                format!("{y:.0}")
            } else {
                String::new()
            }
        })
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 12))
        .draw()
        .map_err(plot_err)?;
    chart
        .draw_series(
            counts
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .flat_map(|(i, &c)| {
                    let corners = [
                        (start + width * i as f64, 0.0),
                        (start + width * (i + 1) as f64, c as f64),
                    ];
                    [
                        Rectangle::new(corners, lighter(color).filled()),
                        Rectangle::new(corners, color.stroke_width(1)),
                    ]
                }),
        )
        .map_err(plot_err)?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, top)],
            BLACK.mix(0.4),
        )))
        .map_err(plot_err)?;
    if chance.is_finite() {
        let style = BLACK.stroke_width(2);
        chart
            .draw_series(std::iter::once(DashedPathElement::new(
                vec![(chance, 0.0), (chance, top)],
                6,
                4,
                style,
            )))
            .map_err(plot_err)?
            .label(format!(
                "chance r = {chance:.3} (p < 0.05, {m} held-out stimuli)"
            ))
            .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 16, y)], 6, 4, style));
    }
    if e.test.mean_r.is_finite() {
        let style = color.stroke_width(3);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(e.test.mean_r, 0.0), (e.test.mean_r, top)],
                style,
            )))
            .map_err(plot_err)?
            .label(format!("mean r = {:.3}", e.test.mean_r))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// The encoding figures: per model and region the layer curve, and per subject the voxel
/// histogram of the layer chosen on train for voxel r. `capture` gives each model's points in
/// capture order (the x order; models not listed keep the report's order and take the next
/// colours).
fn encoding_figures(
    enc: &EncodingReport,
    capture: &[(&str, &[String])],
    folder: &Path,
) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut models: Vec<&str> = capture.iter().map(|c| c.0).collect();
    for l in &enc.layers {
        if !models.contains(&l.model.as_str()) {
            models.push(&l.model);
        }
    }
    let mut regions: Vec<&str> = Vec::new();
    for (_, region) in &enc.targets {
        if !regions.contains(&region.as_str()) {
            regions.push(region);
        }
    }
    let split = enc.settings.split.describe();
    let selected = enc.selected();
    for (mi, model) in models.iter().enumerate() {
        let order = capture
            .iter()
            .find(|c| c.0 == *model)
            .map_or(&[][..], |c| c.1);
        let mut layers: Vec<usize> = (0..enc.layers.len())
            .filter(|&li| enc.layers[li].model == *model)
            .collect();
        if layers.is_empty() {
            continue;
        }
        layers.sort_by_key(|&li| {
            order
                .iter()
                .position(|p| *p == enc.layers[li].layer)
                .unwrap_or(usize::MAX)
        });
        let color = PALETTE[mi % PALETTE.len()];
        for region in &regions {
            let subjects: Vec<usize> = (0..enc.targets.len())
                .filter(|&t| enc.targets[t].1 == *region)
                .collect();
            let title = format!(
                "{model} vs {region}: voxel-wise encoding per layer ({split}, {} subject{})",
                subjects.len(),
                if subjects.len() == 1 { "" } else { "s" }
            );
            let stem = format!("encoding_{}_{}", file_safe(model), file_safe(region));
            files.extend(both!(folder, &stem, (1000, 560), true, |root| {
                encoding_curve(root, &title, enc, &layers, &subjects, color)
            })?);
            for &t in &subjects {
                let Some(&li) = selected.get(&(model.to_string(), t, "encoding_r")) else {
                    continue;
                };
                let l = &enc.layers[li];
                let subject = &enc.targets[t].0;
                let title = format!(
                    "{model}/{} vs {region}/{subject} ({split}; layer chosen on train)",
                    l.layer
                );
                let stem = format!(
                    "encoding_hist_{}_{}_{}",
                    file_safe(model),
                    file_safe(region),
                    file_safe(subject)
                );
                files.extend(both!(folder, &stem, (820, 480), true, |root| {
                    voxel_histogram(root, &title, &l.evaluations[t], color)
                })?);
            }
        }
    }
    Ok(files)
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
    if let Some(enc) = &r.encoding {
        let capture: Vec<(&str, &[String])> = r
            .models
            .iter()
            .map(|m| (m.label.as_str(), m.points.as_slice()))
            .collect();
        files.extend(encoding_figures(enc, &capture, folder)?);
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

    #[test]
    fn histogram_bins() {
        // 5 values over [0, 1]: 10 bins wanted, width 0.1 from 0; 1.0 opens an 11th bin.
        let (start, width, counts) = histogram(&[0.0, 0.1, 0.2, 0.25, 1.0, f64::NAN]);
        assert_eq!((start, width), (0.0, 0.1));
        assert_eq!(counts, vec![1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 1]);
        // Range 0.2 → width 0.02, starting at the multiple below the smallest value.
        let (start, width, counts) = histogram(&[-0.13, 0.07]);
        assert!((start + 0.14).abs() < 1e-12 && (width - 0.02).abs() < 1e-12);
        assert_eq!(counts.len(), 11);
        assert_eq!((counts[0], counts[10]), (1, 1));
        // One value: one bin; none: no bins.
        assert_eq!(histogram(&[0.3]).2, vec![1]);
        assert!(histogram(&[f64::NAN]).2.is_empty());
    }

    #[test]
    fn encoding_figures_are_written() {
        use crate::measures::encoding::evaluate::Target;
        use crate::measures::encoding::measure::{EncodingSettings, LayerFeatures};
        let mut seed = 7u64;
        let mut rand = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let (n, v) = (12, 6);
        let x: Vec<faer::Mat<f64>> = (0..3)
            .map(|_| faer::Mat::from_fn(n, 4, |_, _| rand()))
            .collect();
        let targets: Vec<Target> = ["s1", "s2"]
            .iter()
            .map(|s| {
                let y = faer::Mat::from_fn(n, v, |i, j| x[1][(i, j % 4)] + 0.5 * rand());
                Target::new(s, "V1", y, Some(vec![0.6; v])).unwrap()
            })
            .collect();
        let settings = EncodingSettings::conwell();
        let mut report = EncodingReport::new(&settings, &targets, false);
        for (i, features) in x.into_iter().enumerate() {
            let layer = LayerFeatures {
                model: "m".into(),
                layer: format!("l{i}"),
                features,
                rdm: (0..n * (n - 1) / 2).map(|_| rand()).collect(),
                ed_raw: 1.0,
                ed_projected: 1.0,
            };
            report.add(layer, &targets).unwrap();
        }
        assert_eq!(report.layers[0].evaluations[0].ceiling, Some(0.6));
        let dir = std::env::temp_dir().join(format!("ventral-encfig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        fonts();
        let order = ["l2".to_string(), "l0".into(), "l1".into()];
        let files = encoding_figures(&report, &[("m", &order)], &dir).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(&names[..2], ["encoding_m_V1.png", "encoding_m_V1.svg"]);
        assert!(names.contains(&"encoding_hist_m_V1_s2.png".to_string()));
        assert_eq!(names.len(), 6);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
