//! Tables from a results folder, read back from the parquet files with polars.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use polars::prelude::*;

use crate::results::read_parquet;

/// One cell's row of the summary table.
#[derive(Debug, Clone)]
pub struct SummaryRow {
    pub trial_id: String,
    pub status: String,
    /// (key, value) of the config keys that differ between the cells.
    pub varying: Vec<(String, String)>,
    /// Every config key of the cell (dotted) with its value as text.
    pub config: BTreeMap<String, String>,
    /// (metric name, value in %) in column order.
    pub metrics: BTreeMap<String, f64>,
    pub wall_time_s: Option<f64>,
}

/// run.parquet's own columns; every other column is a config key.
const RUN_COLUMNS: &[&str] = &[
    "schema_version", "trial_id", "experiment", "cell_index", "status", "error", "started_at", "finished_at", "wall_time_s",
    "diverged_step", "diverged_value", "compmod_version", "burn_version", "backend", "lr_effective", "eval_network",
];

/// Config columns of run.parquet (top-level keys such as `seed` included).
fn config_columns(df: &DataFrame) -> Vec<String> {
    df.get_column_names().iter().filter(|n| !RUN_COLUMNS.contains(&n.as_str())).map(|n| n.to_string()).collect()
}

fn cell_value(df: &DataFrame, name: &str) -> String {
    let Ok(column) = df.column(name) else { return "-".into() };
    if let Ok(s) = column.str() {
        return s.get(0).unwrap_or("-").to_string();
    }
    match column.get(0) {
        Ok(AnyValue::Null) | Err(_) => "-".into(),
        Ok(v) => v.to_string(),
    }
}

/// Read every trial folder of an experiment folder.
pub fn summarize(exp_dir: &Path) -> Result<Vec<SummaryRow>> {
    summarize_trials(exp_dir, None)
}

/// Read the trial folders of an experiment folder (only `trials` when given: the varying
/// columns are then those that vary among them).
pub fn summarize_trials(exp_dir: &Path, trials: Option<&[String]>) -> Result<Vec<SummaryRow>> {
    if !exp_dir.is_dir() {
        bail!("{} is not a results folder (expected results/<experiment>/)", exp_dir.display());
    }
    let mut runs = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(exp_dir)
        .with_context(|| format!("cannot list {}", exp_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("run.parquet").is_file())
        .filter(|p| trials.is_none_or(|t| p.file_name().is_some_and(|n| t.iter().any(|id| id.as_str() == n.to_string_lossy()))))
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        bail!("no trial folders with a run.parquet under {} (expected results/<experiment>/<trial_id>/)", exp_dir.display());
    }
    for dir in &dirs {
        runs.push((dir.clone(), read_parquet(&dir.join("run.parquet"))?));
    }
    // Config keys with more than one non-null value among the cells (seed included); a
    // key that is null in some cells (a baseline's CompMod knobs) does not vary by that.
    let mut varying_keys = Vec::new();
    if let Some((_, first)) = runs.first() {
        for key in config_columns(first) {
            let mut values: Vec<String> = runs.iter().map(|(_, df)| cell_value(df, &key)).filter(|v| v != "-").collect();
            values.sort();
            values.dedup();
            if values.len() > 1 {
                varying_keys.push(key);
            }
        }
    }
    let mut rows = Vec::new();
    let mut order = Vec::new();
    for (dir, run) in &runs {
        let mut metrics = BTreeMap::new();
        if let Ok(evals) = read_parquet(&dir.join("evals.parquet")) {
            let epochs = evals.column("epoch")?.i64()?.clone();
            let protocol = evals.column("protocol")?.str()?.clone();
            let k = evals.column("k")?.i64()?.clone();
            let top1 = evals.column("top1")?.f64()?.clone();
            let last = epochs.max().unwrap_or(0);
            // Metric names carry their protocol and when they were taken: `knn5` (final
            // epoch), `knn5_best` (best epoch after training started), `knn5_epoch0`.
            for i in 0..evals.height() {
                let (Some(e), Some(p), Some(t)) = (epochs.get(i), protocol.get(i), top1.get(i)) else { continue };
                let name = match k.get(i) {
                    Some(k) => format!("{p}{k}"),
                    None => p.to_string(),
                };
                let t = 100.0 * t;
                // A cell that did not complete has no final value, only what it reached.
                if e == last && cell_value(run, "status") == "completed" {
                    metrics.insert(name.clone(), t);
                }
                if e == 0 {
                    metrics.insert(format!("{name}_epoch0"), t);
                } else {
                    let best = metrics.entry(format!("{name}_best")).or_insert(t);
                    *best = best.max(t);
                }
            }
        }
        let wall = run.column("wall_time_s").ok().and_then(|c| c.f64().ok()?.get(0));
        let index = run.column("cell_index").ok().and_then(|c| c.i64().ok()?.get(0)).unwrap_or(i64::MAX);
        order.push((cell_value(run, "experiment"), index));
        rows.push(SummaryRow {
            trial_id: cell_value(run, "trial_id"),
            status: cell_value(run, "status"),
            varying: varying_keys.iter().map(|k| (k.clone(), cell_value(run, k))).collect(),
            config: config_columns(run).into_iter().map(|k| {
                let v = cell_value(run, &k);
                (k, v)
            }).collect(),
            metrics,
            wall_time_s: wall,
        });
    }
    // Grid order (experiment, then cell index), not the order of the hash-named folders.
    let mut keyed: Vec<_> = order.into_iter().zip(rows).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

/// A table independent of its rendering: header and rows of text cells, plus a caption.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// GitHub-flavoured markdown.
    Md,
    Csv,
    /// A booktabs `tabular` (needs `\usepackage{booktabs}`).
    Latex,
}

impl Table {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Md => {
                let mut out = String::new();
                if !self.caption.is_empty() {
                    out.push_str(&format!("{}\n\n", self.caption));
                }
                out.push_str(&format!("| {} |\n|{}\n", self.header.join(" | "), "---|".repeat(self.header.len())));
                for r in &self.rows {
                    out.push_str(&format!("| {} |\n", r.join(" | ")));
                }
                out
            }
            Format::Csv => {
                let quote = |c: &String| if c.contains([',', '"', '\n']) { format!("\"{}\"", c.replace('"', "\"\"")) } else { c.clone() };
                let mut out = self.header.iter().map(quote).collect::<Vec<_>>().join(",") + "\n";
                for r in &self.rows {
                    out.push_str(&(r.iter().map(quote).collect::<Vec<_>>().join(",") + "\n"));
                }
                out
            }
            Format::Latex => {
                let esc = |c: &String| {
                    c.replace('\\', "\\textbackslash{}")
                        .replace('_', "\\_")
                        .replace('%', "\\%")
                        .replace('&', "\\&")
                        .replace('#', "\\#")
                        .replace('±', "$\\pm$")
                        .replace('Δ', "$\\Delta$")
                };
                let mut out = String::new();
                if !self.caption.is_empty() {
                    out.push_str(&format!("% {}\n", self.caption));
                }
                out.push_str(&format!("\\begin{{tabular}}{{{}}}\n\\toprule\n", "l".repeat(self.header.len())));
                out.push_str(&format!("{} \\\\\n\\midrule\n", self.header.iter().map(esc).collect::<Vec<_>>().join(" & ")));
                for r in &self.rows {
                    out.push_str(&format!("{} \\\\\n", r.iter().map(esc).collect::<Vec<_>>().join(" & ")));
                }
                out.push_str("\\bottomrule\n\\end{tabular}\n");
                out
            }
        }
    }
}

/// The metrics shown by default: final values, then the epoch-0 ones (best-epoch values
/// only on request, so the two are never mixed in one column).
pub fn default_metrics(rows: &[SummaryRow]) -> Vec<String> {
    let mut names: Vec<String> = rows.iter().flat_map(|r| r.metrics.keys().cloned()).filter(|m| !m.ends_with("_best")).collect();
    names.sort_by_key(|m| {
        let base = m.trim_end_matches("_epoch0");
        (m.ends_with("_epoch0") as u8, base.starts_with("linear") as u8, base.trim_start_matches("knn").parse::<u32>().unwrap_or(0))
    });
    names.dedup();
    names
}

/// One row per cell: the varying keys, status, metrics and wall time.
pub fn cell_table(rows: &[SummaryRow], metrics: &[String]) -> Table {
    let varying: Vec<String> = rows.first().map(|r| r.varying.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    let mut header = vec!["trial".to_string()];
    header.extend(varying.iter().cloned());
    header.push("status".into());
    header.extend(metrics.iter().map(|m| format!("{m} (%)")));
    header.push("wall (s)".into());
    let body = rows
        .iter()
        .map(|r| {
            let mut cells = vec![r.trial_id.clone()];
            cells.extend(r.varying.iter().map(|(_, v)| v.clone()));
            cells.push(r.status.clone());
            cells.extend(metrics.iter().map(|m| r.metrics.get(m).map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into())));
            cells.push(r.wall_time_s.map(|w| format!("{w:.0}")).unwrap_or_else(|| "-".into()));
            cells
        })
        .collect();
    Table { caption: String::new(), header, rows: body }
}

/// The per-cell table in markdown with the default metrics.
pub fn markdown(rows: &[SummaryRow]) -> String {
    cell_table(rows, &default_metrics(rows)).render(Format::Md)
}

/// Check that every key names a config column of the results, with the nearest one.
pub fn check_keys(rows: &[SummaryRow], keys: &[String]) -> Result<()> {
    let known: Vec<&String> = rows.first().map(|r| r.config.keys().collect()).unwrap_or_default();
    for k in keys {
        if !known.contains(&k) {
            let nearest = known.iter().max_by(|a, b| strsim::jaro_winkler(k, a).total_cmp(&strsim::jaro_winkler(k, b)));
            bail!("`{k}` is not a config key of these results{}", nearest.map(|n| format!("; did you mean `{n}`?")).unwrap_or_default());
        }
    }
    Ok(())
}

/// Mean, sample standard deviation and count.
pub fn mean_std(values: &[f64]) -> (f64, f64, usize) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, 0);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let std = if n > 1 { (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
    (mean, std, n)
}

/// Rows grouped by the values of `keys` (e.g. `method.name`, `compmod.enabled`), every
/// other varying key (seeds) folded: each metric as mean ± std (n) over the group's
/// completed cells.
pub fn grouped_table(rows: &[SummaryRow], keys: &[String], metrics: &[String]) -> Table {
    let value = |r: &SummaryRow, k: &str| r.config.get(k).cloned().unwrap_or_else(|| "-".into());
    let mut groups: BTreeMap<Vec<String>, Vec<&SummaryRow>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "completed") {
        groups.entry(keys.iter().map(|k| value(r, k)).collect()).or_default().push(r);
    }
    let mut header: Vec<String> = keys.to_vec();
    header.extend(metrics.iter().map(|m| format!("{m} (%)")));
    header.push("n".into());
    let mut body = Vec::new();
    for (key_values, members) in &groups {
        let mut cells = key_values.clone();
        for m in metrics {
            let vals: Vec<f64> = members.iter().filter_map(|r| r.metrics.get(m).copied()).collect();
            let (mean, std, n) = mean_std(&vals);
            cells.push(if n > 1 { format!("{mean:.2} ± {std:.2}") } else if n == 1 { format!("{mean:.2} (n=1)") } else { "-".into() });
        }
        cells.push(members.len().to_string());
        body.push(cells);
    }
    Table { caption: "mean ± sample std over the folded cells (seeds)".into(), header, rows: body }
}

pub fn grouped_markdown(rows: &[SummaryRow], keys: &[String]) -> String {
    grouped_table(rows, keys, &default_metrics(rows)).render(Format::Md)
}

/// Two-sided 95% quantile of Student's t with `df` degrees of freedom (table for small df,
/// the normal value beyond 30).
pub fn t_quantile_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101,
        2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    if df == 0 { f64::NAN } else if df <= 30 { TABLE[df - 1] } else { 1.960 }
}

/// Paired differences against a baseline: every completed cell whose `key` is not
/// `baseline_value` is paired with the completed baseline cell that agrees with it on every
/// other config key set in both (a baseline's null CompMod knobs match anything), and the
/// differences are grouped by `group` keys: mean Δ, sample std, n and a paired-t 95%
/// confidence interval, per metric.
pub fn paired_delta_table(rows: &[SummaryRow], key: &str, baseline_value: &str, group: &[String], metrics: &[String]) -> Table {
    let done: Vec<&SummaryRow> = rows.iter().filter(|r| r.status == "completed").collect();
    let is_base = |r: &SummaryRow| r.config.get(key).map(String::as_str) == Some(baseline_value);
    let matches = |a: &SummaryRow, b: &SummaryRow| {
        a.config.iter().all(|(k, v)| k == key || v == "-" || b.config.get(k).is_none_or(|w| w == "-" || w == v))
    };
    let mut groups: BTreeMap<Vec<String>, Vec<(&SummaryRow, &SummaryRow)>> = BTreeMap::new();
    for cell in done.iter().filter(|r| !is_base(r)) {
        if let Some(base) = done.iter().find(|b| is_base(b) && matches(b, cell)) {
            let g = group.iter().map(|k| cell.config.get(k).cloned().unwrap_or_else(|| "-".into())).collect();
            groups.entry(g).or_default().push((cell, base));
        }
    }
    let mut header: Vec<String> = group.to_vec();
    header.push(key.to_string());
    header.extend(metrics.iter().map(|m| format!("Δ {m} (points)")));
    header.push("pairs".into());
    let mut body = Vec::new();
    for (g, pairs) in &groups {
        let mut cells = g.clone();
        cells.push(pairs[0].0.config.get(key).cloned().unwrap_or_default());
        for m in metrics {
            let d: Vec<f64> = pairs.iter().filter_map(|(c, b)| Some(c.metrics.get(m)? - b.metrics.get(m)?)).collect();
            let (mean, std, n) = mean_std(&d);
            cells.push(if n > 1 {
                let half = t_quantile_975(n - 1) * std / (n as f64).sqrt();
                format!("{mean:+.2} ± {std:.2} [{:+.2}, {:+.2}]", mean - half, mean + half)
            } else if n == 1 {
                format!("{mean:+.2} (one pair, no interval)")
            } else {
                "-".into()
            });
        }
        cells.push(pairs.len().to_string());
        body.push(cells);
    }
    Table {
        caption: format!("Paired differences against {key} = {baseline_value}: mean Δ ± sample std [paired-t 95% CI]"),
        header,
        rows: body,
    }
}

pub fn paired_delta_markdown(rows: &[SummaryRow], key: &str, baseline_value: &str, group: &[String]) -> String {
    let metrics: Vec<String> = default_metrics(rows).into_iter().filter(|m| !m.ends_with("_epoch0")).collect();
    paired_delta_table(rows, key, baseline_value, group, &metrics).render(Format::Md)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: &str, seed: &str, knn5: f64) -> SummaryRow {
        let config = [("method.name", method), ("seed", seed)].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SummaryRow {
            trial_id: format!("{method}{seed}"),
            status: "completed".into(),
            varying: vec![],
            config,
            metrics: [("knn5".to_string(), knn5)].into_iter().collect(),
            wall_time_s: None,
        }
    }

    #[test]
    fn groups_fold_seeds_into_mean_and_sample_std() {
        let rows = vec![row("byol", "0", 70.0), row("byol", "1", 74.0), row("byol", "2", 78.0), row("simclr", "0", 80.0)];
        let md = grouped_markdown(&rows, &["method.name".to_string()]);
        // byol: mean 74, sample std sqrt(((−4)² + 0 + 4²) / 2) = 4.
        assert!(md.contains("| byol | 74.00 ± 4.00 | 3 |"), "{md}");
        assert!(md.contains("| simclr | 80.00 (n=1) | 1 |"), "{md}");
        assert_eq!(mean_std(&[1.0, 2.0, 3.0, 4.0]), (2.5, (5.0f64 / 3.0).sqrt(), 4));
    }

    #[test]
    fn paired_deltas_pair_by_every_other_key() {
        let cell = |enabled: &str, seed: &str, lambda: &str, knn5: f64| {
            let mut r = row("simclr", seed, knn5);
            r.config.insert("compmod.enabled".into(), enabled.into());
            r.config.insert("compmod.lambda1".into(), lambda.into());
            r
        };
        // Baselines have a null lambda1 ("-"); CompMod cells pair with the same seed.
        let rows = vec![
            cell("false", "0", "-", 70.0),
            cell("false", "1", "-", 72.0),
            cell("false", "2", "-", 71.0),
            cell("true", "0", "0.1", 71.0),
            cell("true", "1", "0.1", 75.0),
            cell("true", "2", "0.1", 73.0),
        ];
        let md = paired_delta_markdown(&rows, "compmod.enabled", "false", &["method.name".to_string()]);
        // Δ = 1, 3, 2: mean 2, sd 1, CI 2 ± 4.303/√3 = [−0.48, 4.48].
        assert!(md.contains("| simclr | true | +2.00 ± 1.00 [-0.48, +4.48] | 3 |"), "{md}");
    }
}
