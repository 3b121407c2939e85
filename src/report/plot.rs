//! Figures for a report, as PNG and SVG: per-cell learning curves (training loss and kNN
//! top-1 per epoch) and a bar chart of a grouped table with ± std error bars.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (plotters' `ab_glyph` backend), so
//! no system font library is involved and the figures look the same on every machine.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use polars::prelude::*;

use super::{SummaryRow, group_by, mean_std, scan_trials};
use crate::results::write_bytes_atomic;

const FONT: &str = "sans-serif";
const SIZE: (u32, u32) = (1200, 520);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        // The embedded file is a valid TrueType font; failing here is a build defect.
        plotters::style::register_font(FONT, FontStyle::Normal, bytes).unwrap_or_else(|_| panic!("embedded DejaVu Sans is not a font"));
    });
}

/// Draw one figure with `draw` and write it as `<stem>.png` and `<stem>.svg` in `out`.
fn write_figure(out: &Path, stem: &str, draw: impl Fn(DrawingArea<BitMapBackend, Shift>) -> Result<()> , draw_svg: impl Fn(DrawingArea<SVGBackend, Shift>) -> Result<()>) -> Result<Vec<PathBuf>> {
    register_font();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let (w, h) = SIZE;
    let mut pixels = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        draw(root.clone())?;
        root.present().map_err(|e| anyhow!("drawing {stem}.png: {e}"))?;
    }
    let image = image::RgbImage::from_raw(w, h, pixels).context("plot buffer has the wrong size")?;
    let mut png = Vec::new();
    image.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)?;
    let png_path = out.join(format!("{stem}.png"));
    write_bytes_atomic(&png_path, &png)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw_svg(root.clone())?;
        root.present().map_err(|e| anyhow!("drawing {stem}.svg: {e}"))?;
    }
    let svg_path = out.join(format!("{stem}.svg"));
    write_bytes_atomic(&svg_path, svg.as_bytes())?;
    Ok(vec![png_path, svg_path])
}

/// A line of a learning-curve panel.
#[derive(Debug, Clone)]
pub struct Series2 {
    /// Legend entry; lines of the same label (seeds) share a colour and one entry.
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Per-cell curves: training loss per epoch, and `knn` top-1 (%) per evaluated epoch.
pub fn curve_data(rows: &[SummaryRow], knn: &str) -> Result<(Vec<Series2>, Vec<Series2>)> {
    let dirs: Vec<PathBuf> = rows.iter().map(|r| r.dir.clone()).collect();
    // The legend names a cell by its varying keys other than the seed (seeds share a line style).
    let label = |r: &SummaryRow| {
        let parts: Vec<String> = r.varying.iter().filter(|(k, _)| k != "seed").map(|(k, v)| format!("{k}={v}")).collect();
        if parts.is_empty() { r.experiment.clone() } else { parts.join(" ") }
    };
    let by_trial = |df: &DataFrame, y: &str, filter: &dyn Fn(usize) -> bool| -> Result<BTreeMap<String, Vec<(f64, f64)>>> {
        let ids = df.column("trial_id")?.str()?.clone();
        let x = df.column("epoch")?.cast(&DataType::Float64)?;
        let x = x.f64()?;
        let yv = df.column(y)?.cast(&DataType::Float64)?;
        let yv = yv.f64()?;
        let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for i in 0..df.height() {
            if let (Some(id), Some(x), Some(y)) = (ids.get(i), x.get(i), yv.get(i)) {
                if filter(i) && y.is_finite() {
                    out.entry(id.to_string()).or_default().push((x, y));
                }
            }
        }
        for v in out.values_mut() {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        Ok(out)
    };
    let mut loss = Vec::new();
    if let Some(lf) = scan_trials(&dirs, "epochs.parquet")? {
        let df = lf.collect()?;
        let curves = by_trial(&df, "loss", &|_| true)?;
        loss = rows.iter().filter_map(|r| Some(Series2 { label: label(r), points: curves.get(&r.trial_id)?.clone() })).collect();
    }
    let mut acc = Vec::new();
    if let Some(lf) = scan_trials(&dirs, "evals.parquet")? {
        let df = lf.collect()?;
        let (protocol, k) = match knn.strip_prefix("knn") {
            Some(k) => ("knn", k.parse::<i64>().ok()),
            None => (knn, None),
        };
        let p = df.column("protocol")?.str()?.clone();
        let kc = df.column("k")?.i64()?.clone();
        let mut curves = by_trial(&df, "top1", &|i| p.get(i) == Some(protocol) && kc.get(i) == k)?;
        curves.values_mut().for_each(|v| v.iter_mut().for_each(|pt| pt.1 *= 100.0));
        acc = rows.iter().filter_map(|r| Some(Series2 { label: label(r), points: curves.get(&r.trial_id)?.clone() })).collect();
    }
    Ok((loss, acc))
}

fn range_of(series: &[Series2], pick: impl Fn(&(f64, f64)) -> f64) -> (f64, f64) {
    let (lo, hi) = series.iter().flat_map(|s| s.points.iter().map(&pick)).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    (lo - pad, hi + pad)
}

fn colour_of(labels: &[String], label: &str) -> RGBColor {
    let i = labels.iter().position(|l| l == label).unwrap_or(0);
    let c = Palette99::pick(i).to_rgba();
    RGBColor(c.0, c.1, c.2)
}

/// The legend box both figures use, at `position`.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart.configure_series_labels().label_font((FONT, 15)).background_style(WHITE.mix(0.85)).border_style(BLACK).position(position).draw()
}

fn draw_lines<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, title: &str, y_desc: &str, series: &[Series2], labels: &[String], legend: bool) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {title}: {e}");
    let (x0, x1) = range_of(series, |p| p.0);
    let (y0, y1) = range_of(series, |p| p.1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 24))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(|e| err(&e))?;
    let mut shown = Vec::new();
    for s in series {
        let colour = colour_of(labels, &s.label);
        let drawn = chart
            .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)).point_size(3))
            .map_err(|e| err(&e))?;
        if legend && !shown.contains(&s.label) {
            shown.push(s.label.clone());
            drawn.label(s.label.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3)));
        }
    }
    if legend && !shown.is_empty() {
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(|e| err(&e))?;
    }
    Ok(())
}

fn draw_curves<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, loss: &[Series2], acc: &[Series2], knn: &str) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let mut labels: Vec<String> = loss.iter().chain(acc).map(|s| s.label.clone()).collect();
    let mut seen = Vec::new();
    labels.retain(|l| if seen.contains(l) { false } else { seen.push(l.clone()); true });
    let panels = root.split_evenly((1, 2));
    draw_lines(&panels[0], "training loss", "loss (mean over the epoch)", loss, &labels, false)?;
    draw_lines(&panels[1], &format!("{knn} top-1 on the test split"), &format!("{knn} top-1 (%)"), acc, &labels, true)?;
    Ok(())
}

/// `curves.png` / `curves.svg`: every cell's training loss and `knn` top-1 per epoch.
pub fn learning_curves(rows: &[SummaryRow], knn: &str, out: &Path) -> Result<Vec<PathBuf>> {
    let (loss, acc) = curve_data(rows, knn)?;
    write_figure(out, "curves", |a| draw_curves(a, &loss, &acc, knn), |a| draw_curves(a, &loss, &acc, knn))
}

/// One bar: (row label, column label, mean, std, n).
pub type Bar = (String, String, f64, f64, usize);

/// The bars of a grouped table for one metric: one group of bars per value of `keys`, one
/// bar per value of `cols` inside it, each the mean over the folded cells with its std.
pub fn bar_data(rows: &[SummaryRow], keys: &[String], cols: &[String], metric: &str) -> Vec<Bar> {
    let join = |v: &[String]| v.join(" / ");
    let mut bars = Vec::new();
    for (key_values, members) in group_by(rows, keys) {
        for (combo, in_combo) in group_by(members, cols) {
            let vals: Vec<f64> = in_combo.iter().filter_map(|r| r.metrics.get(metric).copied()).collect();
            let (mean, std, n) = mean_std(&vals);
            if n > 0 {
                let col_label = cols.iter().zip(&combo).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                bars.push((join(&key_values), col_label, mean, std, n));
            }
        }
    }
    bars
}

fn draw_bars<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, bars: &[Bar], metric: &str, x_desc: &str) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing the bar chart: {e}");
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut groups: Vec<String> = Vec::new();
    let mut series: Vec<String> = Vec::new();
    for (g, s, ..) in bars {
        if !groups.contains(g) {
            groups.push(g.clone());
        }
        if !series.contains(s) {
            series.push(s.clone());
        }
    }
    let lo = bars.iter().map(|b| b.2 - b.3).fold(f64::INFINITY, f64::min);
    let hi = bars.iter().map(|b| b.2 + b.3).fold(f64::NEG_INFINITY, f64::max);
    // Bars start at a floor below the lowest one, so differences of a point stay visible.
    let floor = if lo.is_finite() { (lo - (hi - lo).max(1.0) * 0.5).max(0.0).floor() } else { 0.0 };
    let top = if hi.is_finite() { hi + (hi - floor) * 0.12 } else { 1.0 };
    let n = groups.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{metric} top-1 (mean ± std over seeds)"), (FONT, 24))
        .margin(14)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5..n - 0.5, floor..top)
        .map_err(|e| err(&e))?;
    let names = groups.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(x_desc)
        .y_desc(format!("{metric} top-1 (%)"))
        // One label per group: with as many labels as groups the axis picks the integers.
        .x_labels(groups.len())
        .x_label_formatter(&|x| if (x - x.round()).abs() < 1e-6 { names.get(x.round() as usize).cloned().unwrap_or_default() } else { String::new() })
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(|e| err(&e))?;
    let width = 0.8 / series.len().max(1) as f64;
    for (si, s) in series.iter().enumerate() {
        let c = Palette99::pick(si).to_rgba();
        let colour = RGBColor(c.0, c.1, c.2);
        let mine: Vec<&Bar> = bars.iter().filter(|b| &b.1 == s).collect();
        let left = |b: &Bar| groups.iter().position(|g| g == &b.0).unwrap_or(0) as f64 - 0.4 + si as f64 * width;
        let drawn = chart
            .draw_series(mine.iter().map(|b| Rectangle::new([(left(b) + 0.01, floor), (left(b) + width - 0.01, b.2)], colour.filled())))
            .map_err(|e| err(&e))?;
        if !s.is_empty() {
            drawn.label(s.clone()).legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], colour.filled()));
        }
        chart
            .draw_series(mine.iter().filter(|b| b.4 > 1).map(|b| ErrorBar::new_vertical(left(b) + width / 2.0, b.2 - b.3, b.2, b.2 + b.3, BLACK.stroke_width(2), 12)))
            .map_err(|e| err(&e))?;
    }
    if series.iter().any(|s| !s.is_empty()) {
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(|e| err(&e))?;
    }
    Ok(())
}

/// `bars_<metric>.png` / `.svg`: the grouped table of `metric` as bars with ± std.
pub fn bar_chart(rows: &[SummaryRow], keys: &[String], cols: &[String], metric: &str, out: &Path) -> Result<Vec<PathBuf>> {
    let bars = bar_data(rows, keys, cols, metric);
    anyhow::ensure!(!bars.is_empty(), "no completed cell has a value of `{metric}` to plot");
    let x_desc = keys.join(" / ");
    write_figure(out, &format!("bars_{metric}"), |a| draw_bars(a, &bars, metric, &x_desc), |a| draw_bars(a, &bars, metric, &x_desc))
}
