//! `compmod report`: which table a request asks for (per cell, grouped, paired deltas),
//! with reference values and plots, from one or more results folders.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Result, anyhow, ensure};

use super::{Format, Reference, SummaryRow, cell_table, check_keys, default_metrics, grouped_table, paired_delta_table, plot, summarize_dirs};

/// What the command line asked for (see `compmod report --help`).
#[derive(Debug, Clone)]
pub struct Request {
    pub dirs: Vec<PathBuf>,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    /// `KEY=VALUE` of the baseline cells for paired deltas.
    pub baseline: Option<String>,
    pub metrics: Vec<String>,
    /// An experiment file whose `[reference]` replaces the results' reference.toml.
    pub reference: Option<PathBuf>,
    pub format: Format,
    pub out: Option<PathBuf>,
    pub plots: bool,
}

/// The rendered table and the files written (table under `--out`, plots).
pub struct Report {
    pub text: String,
    pub written: Vec<PathBuf>,
}

/// The reference values: `--reference FILE`, else the first results folder's reference.toml.
fn load_reference(req: &Request, rows: &[SummaryRow]) -> Result<Option<Reference>> {
    let path = match &req.reference {
        Some(p) => Some(p.clone()),
        None => req.dirs.iter().map(|d| d.join("reference.toml")).find(|p| p.is_file()),
    };
    let Some(path) = path else { return Ok(None) };
    let reference = Reference::from_file(&path)?;
    reference.check_keys(rows, &path.display().to_string())?;
    Ok(Some(reference).filter(|r| !r.entries.is_empty()))
}

pub fn run(req: &Request) -> Result<Report> {
    let rows = summarize_dirs(&req.dirs, None)?;
    check_keys(&rows, &req.rows)?;
    check_keys(&rows, &req.cols)?;
    let metrics = if req.metrics.is_empty() { default_metrics(&rows) } else { req.metrics.clone() };
    let known: BTreeSet<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    if let Some(unknown) = metrics.iter().find(|m| !known.contains(m)) {
        let names: Vec<&str> = known.iter().map(|m| m.as_str()).collect();
        anyhow::bail!("--metric {unknown}: no cell has this metric; these results have {}", names.join(", "));
    }
    let reference = load_reference(req, &rows)?;
    let varying: Vec<String> = rows.first().map(|r| r.varying.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    // Default rows: the varying keys other than the seed (folded) and the columns.
    let default_rows: Vec<String> = varying.iter().filter(|k| *k != "seed" && !req.cols.contains(k)).cloned().collect();
    let fold = varying.iter().any(|k| k == "seed") || !req.cols.is_empty() || reference.is_some();
    let group_keys = if req.rows.is_empty() && fold { default_rows.clone() } else { req.rows.clone() };
    let table = if let Some(b) = &req.baseline {
        let (key, value) = b.split_once('=').ok_or_else(|| anyhow!("--baseline expects KEY=VALUE, e.g. compmod.enabled=false"))?;
        check_keys(&rows, &[key.to_string()])?;
        ensure!(
            rows.iter().any(|r| r.config.get(key).map(String::as_str) == Some(value)),
            "no cell has {key} = {value}; its values here are {:?}",
            rows.iter().filter_map(|r| r.config.get(key).cloned()).collect::<BTreeSet<_>>()
        );
        let metrics: Vec<String> = metrics.iter().filter(|m| !m.ends_with("_epoch0")).cloned().collect();
        let group: Vec<String> = if req.rows.is_empty() { default_rows.iter().filter(|k| *k != key).cloned().collect() } else { req.rows.clone() };
        paired_delta_table(&rows, key, value, &group, &metrics)
    } else if group_keys.is_empty() && req.cols.is_empty() && reference.is_none() {
        cell_table(&rows, &metrics)
    } else {
        grouped_table(&rows, &group_keys, &req.cols, &metrics, reference.as_ref())
    };
    let text = table.render(req.format);
    let out_dir = req.out.clone().unwrap_or_else(|| req.dirs[0].join("report"));
    let mut written = Vec::new();
    if req.out.is_some() {
        std::fs::create_dir_all(&out_dir)?;
        let ext = match req.format {
            Format::Md => "md",
            Format::Csv => "csv",
            Format::Latex => "tex",
        };
        let path = out_dir.join(format!("report.{ext}"));
        crate::results::write_text_atomic(&path, &text)?;
        written.push(path);
    }
    if req.plots {
        let shown: Vec<&String> = metrics.iter().filter(|m| !m.ends_with("_epoch0")).collect();
        let knn = shown.iter().find(|m| m.starts_with("knn")).map(|m| m.trim_end_matches("_best").to_string()).unwrap_or_else(|| "knn5".into());
        written.extend(plot::learning_curves(&rows, &knn, &out_dir)?);
        if let Some(m) = shown.first() {
            let bar_keys = if group_keys.is_empty() { varying.iter().filter(|k| !req.cols.contains(k)).cloned().collect() } else { group_keys.clone() };
            written.extend(plot::bar_chart(&rows, &bar_keys, &req.cols, m, &out_dir)?);
        }
    }
    Ok(Report { text, written })
}
