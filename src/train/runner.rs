//! The grid runner: every cell of an experiment, skipping completed ones, recording a
//! failed or diverged cell and going on.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::cell::{CellOptions, LoadedData, now_ms, run_cell};
use crate::config::{Cell, Experiment};
use crate::results::{RunRow, read_parquet, run_frame, write_parquet_atomic};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub results_root: PathBuf,
    pub quiet: bool,
    /// Run only this cell index (Slurm array tasks).
    pub only_cell: Option<usize>,
    /// Stop every cell after this epoch's checkpoint (a clean stand-in for a kill).
    pub stop_after_epoch: Option<usize>,
    /// Run every cell on this device instead of its config's `device` (one worker of
    /// `--devices`; the cell's identity does not change).
    pub device: Option<String>,
}

/// The status recorded in a cell's `run.parquet`, if any.
pub fn cell_status(dir: &Path) -> Option<String> {
    let df = read_parquet(&dir.join("run.parquet")).ok()?;
    let s = df.column("status").ok()?.str().ok()?.get(0)?.to_string();
    Some(s)
}

pub fn experiment_dir(exp: &Experiment, results_root: &Path) -> PathBuf {
    results_root.join(exp.name())
}

#[derive(Debug, Clone)]
pub struct CellOutcome {
    pub index: usize,
    pub trial_id: String,
    pub status: String,
    pub error: Option<String>,
}

/// Run every (selected) cell. Returns one outcome per cell; errors only for problems that
/// stop the whole grid (e.g. an unwritable results folder).
pub fn run_experiment(exp: &Experiment, opts: &RunOptions) -> Result<Vec<CellOutcome>> {
    let exp_dir = experiment_dir(exp, &opts.results_root);
    let cells: Vec<&Cell> = exp.cells.iter().filter(|c| opts.only_cell.is_none_or(|i| i == c.index)).collect();
    if let Some(i) = opts.only_cell {
        anyhow::ensure!(!cells.is_empty(), "--cell {i}: the grid has cells 0 to {}", exp.cells.len().saturating_sub(1));
    }
    // Read every dataset the cells need before anything is written, so a missing or
    // malformed file fails the command without touching results/.
    let mut data_cache: HashMap<String, LoadedData> = HashMap::new();
    for cell in &cells {
        let key = toml::to_string(&cell.config.data).unwrap_or_default();
        if !data_cache.contains_key(&key) && cell_status(&exp_dir.join(&cell.id)).as_deref() != Some("completed") {
            data_cache.insert(key, LoadedData::load(&cell.config)?);
        }
    }
    std::fs::create_dir_all(&exp_dir).with_context(|| format!("cannot create results folder {}", exp_dir.display()))?;
    probe_writable(&exp_dir)?;
    // The file's `[reference]` (published numbers) goes beside the results for the reports.
    if !exp.file.reference.is_empty() {
        let mut doc = toml::Table::new();
        doc.insert("reference".into(), toml::Value::Table(exp.file.reference.clone()));
        crate::results::write_text_atomic(&exp_dir.join("reference.toml"), &toml::to_string(&doc)?)?;
    }
    let mut outcomes = Vec::new();
    for (pos, cell) in cells.iter().enumerate() {
        outcomes.push(run_one(exp, cell, pos, cells.len(), &exp_dir, &data_cache, opts, opts.device.as_deref())?);
    }
    Ok(outcomes)
}

/// Skip, claim or run one cell.
#[allow(clippy::too_many_arguments)]
pub fn run_one(
    exp: &Experiment,
    cell: &Cell,
    pos: usize,
    total: usize,
    exp_dir: &Path,
    data_cache: &HashMap<String, LoadedData>,
    opts: &RunOptions,
    device: Option<&str>,
) -> Result<CellOutcome> {
    let dir = exp_dir.join(&cell.id);
    let label = describe(cell);
    let skip = |status: &str, why: &str| {
        eprintln!("[{}/{total}] cell {} {} {label}: {why}, skipped", pos + 1, cell.index, cell.id);
        Ok(CellOutcome { index: cell.index, trial_id: cell.id.clone(), status: status.into(), error: None })
    };
    if cell_status(&dir).as_deref() == Some("completed") {
        return skip("completed", "already completed");
    }
    // Claim the cell; another live runner may hold it (several processes, devices or Slurm
    // tasks on one results folder), and a completed cell may have finished meanwhile.
    let Some(_lock) = super::lock::try_claim(&dir)? else {
        return skip("elsewhere", "running in another runner");
    };
    if cell_status(&dir).as_deref() == Some("completed") {
        return skip("completed", "completed by another runner");
    }
    if !opts.quiet {
        eprintln!("[{}/{total}] cell {} {} {label}{}", pos + 1, cell.index, cell.id, device.map(|d| format!(" on {d}")).unwrap_or_default());
    }
    let key = toml::to_string(&cell.config.data).unwrap_or_default();
    let result = match data_cache.get(&key) {
        None => Err(anyhow::anyhow!("dataset of cell {} was not loaded", cell.index)),
        Some(data) => {
            let cell_opts = CellOptions { quiet: opts.quiet, stop_after_epoch: opts.stop_after_epoch, device: device.map(String::from) };
            match std::panic::catch_unwind(AssertUnwindSafe(|| run_cell(cell, exp.name(), &dir, data, cell_opts))) {
                Ok(r) => r,
                Err(panic) => {
                    let msg = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "panic".into());
                    Err(anyhow::anyhow!("panicked: {msg}"))
                }
            }
        }
    };
    Ok(match result {
        Ok(report) => {
            let summary = report
                .evals
                .iter()
                .filter(|e| e.epoch == report.evals.iter().map(|e| e.epoch).max().unwrap_or(0))
                .map(|e| format!("{}{} {:.2}%", e.protocol, e.k.map(|k| k.to_string()).unwrap_or_default(), 100.0 * e.top1))
                .collect::<Vec<_>>()
                .join(", ");
            eprintln!("cell {} {} {}: {} in {:.0} s; {summary}", cell.index, cell.id, label, report.run.status, report.run.wall_time_s.unwrap_or(0.0));
            CellOutcome { index: cell.index, trial_id: cell.id.clone(), status: report.run.status.clone(), error: report.run.error.clone() }
        }
        Err(e) => {
            let message = format!("{e:#}");
            eprintln!("cell {} {} {label}: failed: {message}", cell.index, cell.id);
            record_failure(cell, exp.name(), &dir, &message);
            CellOutcome { index: cell.index, trial_id: cell.id.clone(), status: "failed".into(), error: Some(message) }
        }
    })
}

/// Mark a cell failed on disk (best effort: the grid goes on either way).
fn record_failure(cell: &Cell, experiment: &str, dir: &Path, message: &str) {
    let _ = std::fs::create_dir_all(dir);
    let row = RunRow {
        trial_id: cell.id.clone(),
        experiment: experiment.to_string(),
        cell_index: cell.index as i64,
        status: "failed".into(),
        error: Some(message.to_string()),
        started_at_ms: now_ms(),
        finished_at_ms: Some(now_ms()),
        wall_time_s: None,
        diverged_step: None,
        diverged_value: None,
        backend: super::backend_name(&cell.config.device).into(),
        lr_effective: cell.config.train.effective_lr(),
        eval_network: crate::method::build(&cell.config.method).eval_network().into(),
    };
    if let Ok(mut df) = run_frame(&row, &cell.config) {
        let _ = write_parquet_atomic(&dir.join("run.parquet"), &mut df);
    }
}

fn probe_writable(dir: &Path) -> Result<()> {
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| format!("results folder {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// `key=value` of the grid values that make a cell.
pub fn describe(cell: &Cell) -> String {
    cell.varying.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}
