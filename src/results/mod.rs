//! Results on disk: the parquet schema and its atomic writer (DESIGN.md "Results on disk").
//!
//! Every file carries every column of its schema, typed and nullable, so globbing
//! `results/x/*/run.parquet` with polars just works. Writes go to a temporary file that is
//! fsynced and renamed, so a killed run leaves the last good file, never half of one.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;
use toml::Value;

use crate::config::{ExperimentConfig, flatten_config};

/// Bumped whenever a column is added, removed or changes type.
pub const SCHEMA_VERSION: i32 = 2;

/// One row of `epochs.parquet`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct EpochRow {
    pub epoch: i64,
    pub steps: i64,
    pub lr: f64,
    /// Mean training loss (L_ssl, or L_ssl + λ1 L_mcr with CompMod).
    pub loss: f64,
    pub loss_ssl: f64,
    pub loss_mcr: Option<f64>,
    pub loss_comp: Option<f64>,
    pub meta_grad_norm: Option<f64>,
    /// Largest spectral norm of λ·A·Bᵀ in the coding-length series this epoch (must stay < 1).
    pub series_max_norm: Option<f64>,
    /// Steps whose series left its convergence region.
    pub series_out_of_range_steps: Option<i64>,
    /// Mean per-dimension std of the L2-normalised projector outputs (collapse → 0).
    pub z_std: f64,
    /// Effective rank of the same embeddings (collapse → 1).
    pub z_effective_rank: f64,
    pub images_per_s: f64,
    pub epoch_time_s: f64,
}

/// One row of `evals.parquet`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalRow {
    pub epoch: i64,
    /// `"knn"` or `"linear"`.
    pub protocol: String,
    /// Neighbours for kNN; null for the linear probe.
    pub k: Option<i64>,
    /// Top-1 accuracy as a fraction.
    pub top1: f64,
}

/// The one row of `run.parquet` (hyperparameters come from the config).
#[derive(Debug, Clone)]
pub struct RunRow {
    pub trial_id: String,
    pub experiment: String,
    pub cell_index: i64,
    /// `completed`, `failed` or `diverged` (`running` while a cell is in progress).
    pub status: String,
    pub error: Option<String>,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub wall_time_s: Option<f64>,
    pub diverged_step: Option<i64>,
    pub diverged_value: Option<f64>,
    pub backend: String,
    /// Base learning rate scaled by batch size / 256: the rate actually used.
    pub lr_effective: f64,
    /// Whose backbone the evaluations read (`online`; never BYOL's EMA target).
    pub eval_network: String,
}

fn col<T>(name: &str, v: T) -> Column
where
    Series: NamedFrom<T, [Option<f64>]>,
{
    Series::new(name.into(), v).into_column()
}

pub fn epochs_frame(trial_id: &str, rows: &[EpochRow]) -> Result<DataFrame> {
    let n = rows.len();
    let f = |g: fn(&EpochRow) -> f64| rows.iter().map(|r| Some(g(r))).collect::<Vec<_>>();
    let o = |g: fn(&EpochRow) -> Option<f64>| rows.iter().map(g).collect::<Vec<_>>();
    let i = |g: fn(&EpochRow) -> i64| Series::new("".into(), rows.iter().map(g).collect::<Vec<_>>());
    let columns = vec![
        Series::new("schema_version".into(), vec![SCHEMA_VERSION; n]).into_column(),
        Series::new("trial_id".into(), vec![trial_id.to_string(); n]).into_column(),
        i(|r| r.epoch).with_name("epoch".into()).into_column(),
        i(|r| r.steps).with_name("steps".into()).into_column(),
        col("lr", f(|r| r.lr)),
        col("loss", f(|r| r.loss)),
        col("loss_ssl", f(|r| r.loss_ssl)),
        col("loss_mcr", o(|r| r.loss_mcr)),
        col("loss_comp", o(|r| r.loss_comp)),
        col("meta_grad_norm", o(|r| r.meta_grad_norm)),
        col("series_max_norm", o(|r| r.series_max_norm)),
        Series::new("series_out_of_range_steps".into(), rows.iter().map(|r| r.series_out_of_range_steps).collect::<Vec<_>>()).into_column(),
        col("z_std", f(|r| r.z_std)),
        col("z_effective_rank", f(|r| r.z_effective_rank)),
        col("images_per_s", f(|r| r.images_per_s)),
        col("epoch_time_s", f(|r| r.epoch_time_s)),
    ];
    Ok(DataFrame::new(n, columns)?)
}

pub fn evals_frame(trial_id: &str, rows: &[EvalRow]) -> Result<DataFrame> {
    let n = rows.len();
    let columns = vec![
        Series::new("schema_version".into(), vec![SCHEMA_VERSION; n]).into_column(),
        Series::new("trial_id".into(), vec![trial_id.to_string(); n]).into_column(),
        Series::new("epoch".into(), rows.iter().map(|r| r.epoch).collect::<Vec<_>>()).into_column(),
        Series::new("protocol".into(), rows.iter().map(|r| r.protocol.clone()).collect::<Vec<_>>()).into_column(),
        Series::new("k".into(), rows.iter().map(|r| r.k).collect::<Vec<_>>()).into_column(),
        Series::new("top1".into(), rows.iter().map(|r| r.top1).collect::<Vec<_>>()).into_column(),
    ];
    Ok(DataFrame::new(n, columns)?)
}

/// A config value as a one-row column; `null` keeps the key's type.
fn config_column(name: &str, value: &Value, null: bool) -> Result<Column> {
    let s = match value {
        Value::Boolean(b) => Series::new(name.into(), [(!null).then_some(*b)]),
        Value::Integer(i) => Series::new(name.into(), [(!null).then_some(*i)]),
        Value::Float(x) => Series::new(name.into(), [(!null).then_some(*x)]),
        Value::String(s) => Series::new(name.into(), [(!null).then(|| s.clone())]),
        Value::Array(items) if items.iter().all(|v| v.is_integer()) => {
            let inner = Series::new("".into(), items.iter().filter_map(|v| v.as_integer()).collect::<Vec<_>>());
            Series::new(name.into(), [(!null).then_some(inner)]).cast(&DataType::List(Box::new(DataType::Int64)))?
        }
        Value::Array(items) => {
            let inner = Series::new("".into(), items.iter().map(|v| v.as_float().or(v.as_integer().map(|i| i as f64))).collect::<Vec<_>>());
            Series::new(name.into(), [(!null).then_some(inner)]).cast(&DataType::List(Box::new(DataType::Float64)))?
        }
        other => Series::new(name.into(), [(!null).then(|| other.to_string())]),
    };
    Ok(s.into_column())
}

pub fn run_frame(row: &RunRow, config: &ExperimentConfig) -> Result<DataFrame> {
    let ms = |v: Option<i64>, name: &str| -> Result<Column> {
        Ok(Series::new(name.into(), [v]).cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?.into_column())
    };
    let mut columns = vec![
        Series::new("schema_version".into(), [SCHEMA_VERSION]).into_column(),
        Series::new("trial_id".into(), [row.trial_id.clone()]).into_column(),
        Series::new("experiment".into(), [row.experiment.clone()]).into_column(),
        Series::new("cell_index".into(), [row.cell_index]).into_column(),
        Series::new("status".into(), [row.status.clone()]).into_column(),
        Series::new("error".into(), [row.error.clone()]).into_column(),
        ms(Some(row.started_at_ms), "started_at")?,
        ms(row.finished_at_ms, "finished_at")?,
        Series::new("wall_time_s".into(), [row.wall_time_s]).into_column(),
        Series::new("diverged_step".into(), [row.diverged_step]).into_column(),
        Series::new("diverged_value".into(), [row.diverged_value]).into_column(),
        Series::new("compmod_version".into(), [env!("CARGO_PKG_VERSION")]).into_column(),
        Series::new("burn_version".into(), ["0.22.1"]).into_column(),
        Series::new("backend".into(), [row.backend.clone()]).into_column(),
        Series::new("lr_effective".into(), [row.lr_effective]).into_column(),
        Series::new("eval_network".into(), [row.eval_network.clone()]).into_column(),
    ];
    for (key, value) in flatten_config(config) {
        // A baseline's CompMod knobs mean nothing: null, but typed.
        let null = !config.compmod.enabled && key.starts_with("compmod.") && key != "compmod.enabled";
        columns.push(config_column(&key, &value, null)?);
    }
    Ok(DataFrame::new(1, columns)?)
}

/// Write `df` to `path` atomically: temporary file, fsync, rename, fsync the folder.
pub fn write_parquet_atomic(path: &Path, df: &mut DataFrame) -> Result<()> {
    let dir = path.parent().context("parquet path has no folder")?;
    let tmp = dir.join(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
    let file = File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    ParquetWriter::new(&file).finish(df).map_err(anyhow::Error::from).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Write a text file atomically (same protocol as the parquet files).
pub fn write_text_atomic(path: &Path, text: &str) -> Result<()> {
    write_bytes_atomic(path, text.as_bytes())
}

/// Write a file atomically: temporary file, fsync, rename.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path has no folder")?;
    let tmp = dir.join(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}

pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    ParquetReader::new(file).finish().map_err(anyhow::Error::from).with_context(|| format!("cannot read {}", path.display()))
}
pub mod mlflow;
