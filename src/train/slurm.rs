//! `compmod slurm`: scale-out is the cluster's scheduler, not ours. Cells are independent,
//! so a Slurm array job whose task N runs `compmod run FILE --cell N` covers a grid; every
//! task writes only its own trial folder, and the cell locks keep a resubmitted array from
//! running a cell twice.

use std::path::Path;

use anyhow::{Context, Result};

use crate::config::Experiment;

#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub gpus_per_task: Option<u32>,
    pub cpus_per_task: u32,
    pub time: String,
    /// Extra `#SBATCH` arguments, passed through as written.
    pub extra: Vec<String>,
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The sbatch script. Paths are made absolute so the job runs from any folder.
pub fn array_script(exp: &Experiment, file: &Path, results: &Path, set: &[String], o: &SlurmOptions) -> Result<String> {
    let cwd = std::env::current_dir()?;
    let file = std::fs::canonicalize(file).with_context(|| format!("cannot resolve {}", file.display()))?;
    let results = if results.is_absolute() { results.to_path_buf() } else { cwd.join(results) };
    let exe = std::env::current_exe()?;
    let name = exp.name();
    let mut s = String::from("#!/usr/bin/env bash\n");
    s.push_str(&format!("# {} cell(s) of {}; task N runs cell N (see `compmod plan`).\n", exp.cells.len(), file.display()));
    s.push_str(&format!("#SBATCH --job-name=compmod-{name}\n"));
    s.push_str(&format!("#SBATCH --array=0-{}\n", exp.cells.len().saturating_sub(1)));
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", o.cpus_per_task));
    s.push_str(&format!("#SBATCH --time={}\n", o.time));
    if let Some(p) = &o.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(g) = o.gpus_per_task {
        s.push_str(&format!("#SBATCH --gpus-per-task={g}\n"));
    }
    for e in &o.extra {
        s.push_str(&format!("#SBATCH {e}\n"));
    }
    s.push_str(&format!("#SBATCH --output={}/slurm-%A_%a.out\n", results.join(name).display()));
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!("mkdir -p {}\n", shell_quote(&results.join(name).to_string_lossy())));
    s.push_str(&format!("cd {}\n", shell_quote(&cwd.to_string_lossy())));
    let mut cmd = format!(
        "exec {} run {} --results {} --cell \"$SLURM_ARRAY_TASK_ID\" --quiet",
        shell_quote(&exe.to_string_lossy()),
        shell_quote(&file.to_string_lossy()),
        shell_quote(&results.to_string_lossy())
    );
    for kv in set {
        cmd.push_str(&format!(" --set {}", shell_quote(kv)));
    }
    s.push_str(&cmd);
    s.push('\n');
    Ok(s)
}
