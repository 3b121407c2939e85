//! Tables from a results folder, read back from the parquet files with polars.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use polars::prelude::*;

pub use reference::Reference;


pub mod command;
pub mod plot;
pub mod reference;

/// One cell's row of the summary table.
#[derive(Debug, Clone)]
pub struct SummaryRow {
    pub trial_id: String,
    pub experiment: String,
    /// The trial folder (`results/<experiment>/<trial_id>`).
    pub dir: PathBuf,
    pub status: String,
    /// (key, value) of the config keys that differ between the cells.
    pub varying: Vec<(String, String)>,
    /// Every config key of the cell (dotted) with its value as text ("-" for null).
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

/// Row `i` of column `name` as text; "-" for a null or a column this frame lacks.
fn cell_value(df: &DataFrame, name: &str, i: usize) -> String {
    let Ok(column) = df.column(name) else { return "-".into() };
    if let Ok(s) = column.str() {
        return s.get(i).unwrap_or("-").to_string();
    }
    match column.get(i) {
        Ok(AnyValue::Null) | Err(_) => "-".into(),
        Ok(v) => v.to_string(),
    }
}

/// The trial folders (those holding a `run.parquet`) of every experiment folder, sorted.
fn trial_dirs(exp_dirs: &[PathBuf], trials: Option<&[String]>) -> Result<Vec<PathBuf>> {
    let mut all = Vec::new();
    for exp_dir in exp_dirs {
        if !exp_dir.is_dir() {
            bail!("{} is not a results folder (expected results/<experiment>/)", exp_dir.display());
        }
        let mut dirs: Vec<_> = std::fs::read_dir(exp_dir)
            .with_context(|| format!("cannot list {}", exp_dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("run.parquet").is_file())
            .filter(|p| trials.is_none_or(|t| p.file_name().is_some_and(|n| t.iter().any(|id| id.as_str() == n.to_string_lossy()))))
            .collect();
        if dirs.is_empty() {
            bail!("no trial folders with a run.parquet under {} (expected results/<experiment>/<trial_id>/)", exp_dir.display());
        }
        dirs.sort();
        all.extend(dirs);
    }
    Ok(all)
}

/// The `file` (e.g. `evals.parquet`) of every trial folder that has it, as one lazy frame
/// concatenated diagonally: a column that an older schema version lacks comes back as
/// typed nulls for that file's rows, so results of several versions read together.
///
/// Each file is read once, eagerly, before the lazy concat: a runner may atomically replace
/// a cell's file while a report reads it, and a lazy scan opens a file twice (schema at
/// plan time, pages at collect), which can pair one version's footer with the next's data.
/// The files are one row to a few hundred rows, so reading them whole costs nothing.
pub fn scan_trials(dirs: &[PathBuf], file: &str) -> Result<Option<LazyFrame>> {
    let mut frames = Vec::new();
    for dir in dirs {
        let path = dir.join(file);
        if path.is_file() {
            frames.push(crate::results::read_parquet(&path)?.lazy());
        }
    }
    if frames.is_empty() {
        return Ok(None);
    }
    let args = UnionArgs { to_supertypes: true, ..Default::default() };
    Ok(Some(concat_lf_diagonal(frames, args)?))
}

/// Read every trial folder of an experiment folder.
pub fn summarize(exp_dir: &Path) -> Result<Vec<SummaryRow>> {
    summarize_dirs(&[exp_dir.to_path_buf()], None)
}

/// Read the trial folders of an experiment folder (only `trials` when given: the varying
/// columns are then those that vary among them).
pub fn summarize_trials(exp_dir: &Path, trials: Option<&[String]>) -> Result<Vec<SummaryRow>> {
    summarize_dirs(&[exp_dir.to_path_buf()], trials)
}

/// Read the trial folders of several experiment folders into one list of rows, in grid
/// order (experiment, then cell index).
pub fn summarize_dirs(exp_dirs: &[PathBuf], trials: Option<&[String]>) -> Result<Vec<SummaryRow>> {
    let dirs = trial_dirs(exp_dirs, trials)?;
    let read = |file: &str| -> Result<Option<DataFrame>> {
        scan_trials(&dirs, file)?.map(|lf| lf.collect().map_err(anyhow::Error::from).with_context(|| format!("cannot read the trials' {file}"))).transpose()
    };
    let runs = read("run.parquet")?.context("no run.parquet to read")?;
    let evals = read("evals.parquet")?;
    let config_keys = config_columns(&runs);
    let n = runs.height();
    // Config keys with more than one non-null value among the cells (seed included); a
    // key that is null in some cells (a baseline's CompMod knobs) does not vary by that.
    let varying_keys: Vec<String> = config_keys
        .iter()
        .filter(|key| (0..n).map(|i| cell_value(&runs, key, i)).filter(|v| v != "-").collect::<BTreeSet<_>>().len() > 1)
        .cloned()
        .collect();
    let metrics = match &evals {
        Some(evals) => eval_metrics(evals, &runs)?,
        None => BTreeMap::new(),
    };
    let dir_of: BTreeMap<String, PathBuf> = dirs.iter().filter_map(|d| Some((d.file_name()?.to_string_lossy().to_string(), d.clone()))).collect();
    let mut keyed = Vec::new();
    for i in 0..n {
        let trial_id = cell_value(&runs, "trial_id", i);
        let experiment = cell_value(&runs, "experiment", i);
        let index = runs.column("cell_index").ok().and_then(|c| c.i64().ok()?.get(i)).unwrap_or(i64::MAX);
        let row = SummaryRow {
            dir: dir_of.get(&trial_id).cloned().unwrap_or_default(),
            status: cell_value(&runs, "status", i),
            varying: varying_keys.iter().map(|k| (k.clone(), cell_value(&runs, k, i))).collect(),
            config: config_keys.iter().map(|k| (k.clone(), cell_value(&runs, k, i))).collect(),
            metrics: metrics.get(&trial_id).cloned().unwrap_or_default(),
            wall_time_s: runs.column("wall_time_s").ok().and_then(|c| c.f64().ok()?.get(i)),
            trial_id,
            experiment: experiment.clone(),
        };
        keyed.push(((experiment, index), row));
    }
    // Grid order, not the order of the hash-named folders.
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

/// Every trial's metrics (in %) from the concatenated evals. Names carry their protocol and
/// when they were taken: `knn5` (final epoch), `knn5_best` (best epoch after training
/// started), `knn5_epoch0` (the untrained backbone). A cell that did not complete has no
/// final value, only what it reached.
fn eval_metrics(evals: &DataFrame, runs: &DataFrame) -> Result<BTreeMap<String, BTreeMap<String, f64>>> {
    let completed: BTreeSet<String> =
        (0..runs.height()).filter(|&i| cell_value(runs, "status", i) == "completed").map(|i| cell_value(runs, "trial_id", i)).collect();
    let trial = evals.column("trial_id")?.str()?.clone();
    let epochs = evals.column("epoch")?.i64()?.clone();
    let protocol = evals.column("protocol")?.str()?.clone();
    let k = evals.column("k")?.i64()?.clone();
    let top1 = evals.column("top1")?.f64()?.clone();
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    for i in 0..evals.height() {
        if let (Some(t), Some(e)) = (trial.get(i), epochs.get(i)) {
            let l = last.entry(t).or_insert(e);
            *l = (*l).max(e);
        }
    }
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for i in 0..evals.height() {
        let (Some(id), Some(e), Some(p), Some(t)) = (trial.get(i), epochs.get(i), protocol.get(i), top1.get(i)) else { continue };
        let name = match k.get(i) {
            Some(k) => format!("{p}{k}"),
            None => p.to_string(),
        };
        let t = 100.0 * t;
        let metrics = out.entry(id.to_string()).or_default();
        if last.get(id) == Some(&e) && completed.contains(id) {
            metrics.insert(name.clone(), t);
        }
        if e == 0 {
            metrics.insert(format!("{name}_epoch0"), t);
        } else {
            let best = metrics.entry(format!("{name}_best")).or_insert(t);
            *best = best.max(t);
        }
    }
    Ok(out)
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

/// The values of `keys` in a cell's config ("-" for null or absent).
pub fn key_values_of(r: &SummaryRow, keys: &[String]) -> Vec<String> {
    keys.iter().map(|k| r.config.get(k).cloned().unwrap_or_else(|| "-".into())).collect()
}

/// The completed cells grouped by their values of `keys`, groups in sorted order.
pub fn group_by<'a>(rows: impl IntoIterator<Item = &'a SummaryRow>, keys: &[String]) -> BTreeMap<Vec<String>, Vec<&'a SummaryRow>> {
    let mut groups: BTreeMap<Vec<String>, Vec<&SummaryRow>> = BTreeMap::new();
    for r in rows.into_iter().filter(|r| r.status == "completed") {
        groups.entry(key_values_of(r, keys)).or_default().push(r);
    }
    groups
}

/// Rows grouped by the values of `keys` (e.g. `method.name`), every other varying key
/// (seeds) folded: each metric as mean ± std over the group's completed cells. With `cols`
/// (e.g. `compmod.enabled`), each metric is split into one column per value of those keys.
/// With a reference, each metric with reference values gets `ref` and `Δ ref` columns
/// (our mean minus the reference).
pub fn grouped_table(rows: &[SummaryRow], keys: &[String], cols: &[String], metrics: &[String], reference: Option<&Reference>) -> Table {
    let groups = group_by(rows, keys);
    let combos: Vec<Vec<String>> = group_by(rows, cols).into_keys().collect();
    let label = |combo: &[String]| {
        if cols.is_empty() { String::new() } else { format!(" {}", cols.iter().zip(combo).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")) }
    };
    let mut header: Vec<String> = keys.to_vec();
    for m in metrics {
        for combo in &combos {
            header.push(format!("{m} (%){}", label(combo)));
            if reference.is_some_and(|r| r.has(m)) {
                header.push(format!("ref {m}{}", label(combo)));
                header.push(format!("Δ ref {m}{}", label(combo)));
            }
        }
    }
    if cols.is_empty() {
        header.push("n".into());
    }
    let mut body = Vec::new();
    for (key_values, members) in &groups {
        let mut cells = key_values.clone();
        let by_combo = group_by(members.iter().copied(), cols);
        for m in metrics {
            for combo in &combos {
                let in_combo: &[&SummaryRow] = by_combo.get(combo).map_or(&[], Vec::as_slice);
                let vals: Vec<f64> = in_combo.iter().filter_map(|r| r.metrics.get(m).copied()).collect();
                let (mean, std, n) = mean_std(&vals);
                let shown_n = if cols.is_empty() { String::new() } else { format!(" ({n})") };
                cells.push(match n {
                    0 => "-".into(),
                    1 if cols.is_empty() => format!("{mean:.2} (n=1)"),
                    1 => format!("{mean:.2} (1)"),
                    _ => format!("{mean:.2} ± {std:.2}{shown_n}"),
                });
                if let Some(reference) = reference.filter(|r| r.has(m)) {
                    match reference.value(in_combo, m) {
                        Some(x) => {
                            cells.push(format!("{x:.2}"));
                            cells.push(if n > 0 { format!("{:+.2}", mean - x) } else { "-".into() });
                        }
                        None => cells.extend(["-".to_string(), "-".to_string()]),
                    }
                }
            }
        }
        if cols.is_empty() {
            cells.push(members.len().to_string());
        }
        body.push(cells);
    }
    let mut caption = "mean ± sample std over the folded cells (seeds)".to_string();
    if !cols.is_empty() {
        caption.push_str("; (n) cells per entry");
    }
    if let Some(r) = reference {
        caption.push_str(&format!("; ref: {}", if r.source.is_empty() { "reference values" } else { &r.source }));
    }
    Table { caption, header, rows: body }
}

pub fn grouped_markdown(rows: &[SummaryRow], keys: &[String]) -> String {
    grouped_table(rows, keys, &[], &default_metrics(rows), None).render(Format::Md)
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
            experiment: "x".into(),
            dir: PathBuf::new(),
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
