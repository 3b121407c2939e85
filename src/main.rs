//! The `compmod` command line. Everything it does lives in the library; this file only
//! parses arguments and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use compmod::config::{Overrides, load_experiment};
use compmod::train::runner::{RunOptions, cell_status, describe, experiment_dir, run_experiment};

#[derive(Parser)]
#[command(name = "compmod", version, about = "Self-supervised learning experiments with CompMod (Meta Comprehensive Regularization)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one experiment, or every cell of its grid.
    Run {
        file: PathBuf,
        /// Override a key: --set train.epochs=5 (wins over the file and COMPMOD_* variables).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Folder that holds results/<experiment>/.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// Run only cell N of the grid (see `compmod plan`).
        #[arg(long)]
        cell: Option<usize>,
        /// No progress bars; one line per finished cell.
        #[arg(long, short)]
        quiet: bool,
        /// Stop each cell after this epoch's checkpoint, as a kill would; the next run
        /// continues from there.
        #[arg(long)]
        stop_after_epoch: Option<usize>,
        /// Run cells side by side, one worker process per device: --devices cpu,cpu or
        /// cuda:0,cuda:1 (the cell locks give each cell to one worker).
        #[arg(long, value_delimiter = ',')]
        devices: Vec<String>,
        /// Run every cell on this device (what each --devices worker is given).
        #[arg(long, hide = true)]
        device: Option<String>,
    },
    /// List the grid's cells: index, id, varying values, and whether each is done.
    Plan {
        file: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long, default_value = "results")]
        results: PathBuf,
    },
    /// Print a Slurm array job whose task N runs cell N: `compmod slurm exp.toml > job.sh`.
    Slurm {
        file: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long, default_value = "results")]
        results: PathBuf,
        #[arg(long)]
        partition: Option<String>,
        #[arg(long)]
        gpus_per_task: Option<u32>,
        #[arg(long, default_value_t = 4)]
        cpus_per_task: u32,
        /// Wall-time limit per task, in Slurm's format (e.g. 04:00:00).
        #[arg(long, default_value = "04:00:00")]
        time: String,
        /// Extra `#SBATCH` lines, e.g. --sbatch "--account=abc".
        #[arg(long)]
        sbatch: Vec<String>,
    },
    /// Images/s of each method's step (± CompMod), of the loader, and of PyTorch eager.
    Bench {
        #[arg(long, default_value_t = 128)]
        batch: usize,
        #[arg(long, default_value_t = 28)]
        image_size: usize,
        #[arg(long, default_value_t = 16)]
        width: usize,
        #[arg(long, default_value_t = 10)]
        steps: usize,
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Python with PyTorch for the reference (`none` to skip).
        #[arg(long, default_value = "python3")]
        python: String,
        /// Device of the timed steps: cpu (flex), or with `--features tch`: tch-cpu, cuda:N.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Check experiment files (or every .toml under folders) without running anything.
    Validate { paths: Vec<PathBuf> },
    /// Real datasets through the package registries.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Summarise results folders (results/<experiment>, several read together) as a table,
    /// and optionally plot them.
    Report {
        /// Results folders (results/<experiment>), read together.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Rows: cells grouped by these config keys (comma-separated), the other keys
        /// (seeds) folded into mean ± std (n), e.g. --rows method.name. Default: when seeds
        /// vary, the other varying keys; otherwise one row per cell.
        #[arg(long, alias = "group", value_delimiter = ',')]
        rows: Vec<String>,
        /// Columns: split each metric by these config keys, e.g. --cols compmod.enabled.
        #[arg(long, value_delimiter = ',')]
        cols: Vec<String>,
        /// Paired differences against a baseline, e.g. --baseline compmod.enabled=false
        /// (pairs share every other key, seed included; paired-t 95% interval).
        #[arg(long, value_name = "KEY=VALUE")]
        baseline: Option<String>,
        /// Metrics to show (comma-separated): knn5, knn200, linear, with _best (best epoch)
        /// or _epoch0 (untrained backbone) suffixes. Default: final values and epoch 0.
        #[arg(long, value_delimiter = ',')]
        metric: Vec<String>,
        /// Reference values from this experiment file's `[reference]` (default: the
        /// reference.toml the runner wrote beside the results, if any).
        #[arg(long, value_name = "FILE")]
        reference: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "md")]
        format: compmod::report::Format,
        /// Write the table to DIR/report.{md,csv,tex} (and the plots into DIR).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also draw learning curves and a bar chart (PNG and SVG) into --out, default
        /// <first results folder>/report/.
        #[arg(long)]
        plots: bool,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Fetch a dataset into data/<name>, checking every checksum: fashion-mnist, mnist, cifar-samples.
    Fetch {
        name: String,
        #[arg(long, default_value = "data")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    // `compmod plan x.toml | head` should stop quietly when the reader goes away, like
    // other command-line tools, instead of panicking on a broken pipe.
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        eprintln!("{msg}");
    }));
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run { file, set, results, cell, quiet, stop_after_epoch, devices, device } => {
            let exp = load_experiment(&file, &Overrides::from_env_and_args(set.clone()))?;
            exp.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
            for d in devices.iter().chain(&device) {
                compmod::train::make_device(d).map_err(|e| anyhow::anyhow!("--devices {d}: {e}"))?;
            }
            let opts = RunOptions { results_root: results.clone(), quiet, only_cell: cell, stop_after_epoch, device };
            let outcomes = if devices.len() > 1 {
                // One worker process per device (burn's backends keep process-wide state, so
                // processes, not threads); each walks the grid and the cell locks share it out.
                let exe = std::env::current_exe()?;
                let mut children = Vec::new();
                for d in &devices {
                    let mut cmd = std::process::Command::new(&exe);
                    cmd.arg("run").arg(&file).arg("--results").arg(&results).arg("--device").arg(d).arg("--quiet");
                    set.iter().for_each(|kv| {
                        cmd.arg("--set").arg(kv);
                    });
                    if let Some(c) = cell {
                        cmd.arg("--cell").arg(c.to_string());
                    }
                    if let Some(e) = stop_after_epoch {
                        cmd.arg("--stop-after-epoch").arg(e.to_string());
                    }
                    children.push(cmd.stdout(std::process::Stdio::null()).spawn()?);
                }
                for mut c in children {
                    c.wait()?;
                }
                let exp_dir = experiment_dir(&exp, &results);
                exp.cells
                    .iter()
                    .filter(|c| cell.is_none_or(|i| i == c.index))
                    .map(|c| compmod::train::runner::CellOutcome {
                        index: c.index,
                        trial_id: c.id.clone(),
                        status: cell_status(&exp_dir.join(&c.id)).unwrap_or_else(|| "not run".into()),
                        error: None,
                    })
                    .collect()
            } else {
                let opts = RunOptions { device: devices.first().cloned().or(opts.device.clone()), ..opts };
                run_experiment(&exp, &opts)?
            };
            let exp_dir = experiment_dir(&exp, &results);
            let ids: Vec<String> = outcomes.iter().map(|o| o.trial_id.clone()).collect();
            let rows = compmod::report::summarize_trials(&exp_dir, Some(&ids))?;
            println!("\n{}", compmod::report::markdown(&rows));
            println!("results: {}", exp_dir.display());
            let failed: Vec<_> = outcomes.iter().filter(|o| !["completed", "elsewhere", "stopped"].contains(&o.status.as_str())).collect();
            if failed.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("{} of {} cells did not complete:", failed.len(), outcomes.len());
            for o in failed {
                eprintln!("  cell {} {}: {}: {}", o.index, o.trial_id, o.status, o.error.clone().unwrap_or_default());
            }
            Ok(ExitCode::from(1))
        }
        Command::Plan { file, set, results } => {
            let exp = load_experiment(&file, &Overrides::from_env_and_args(set))?;
            let dir = experiment_dir(&exp, &results);
            exp.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
            println!("{}: {} cell(s), results in {}", file.display(), exp.cells.len(), dir.display());
            for c in &exp.cells {
                let status = cell_status(&dir.join(&c.id)).unwrap_or_else(|| "not run".into());
                println!("{:>4}  {}  {:<10}  {}", c.index, c.id, status, describe(c));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Slurm { file, set, results, partition, gpus_per_task, cpus_per_task, time, sbatch } => {
            let exp = load_experiment(&file, &Overrides::from_env_and_args(set.clone()))?;
            let opts = compmod::train::slurm::SlurmOptions { partition, gpus_per_task, cpus_per_task, time, extra: sbatch };
            print!("{}", compmod::train::slurm::array_script(&exp, &file, &results, &set, &opts)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { batch, image_size, width, steps, warmup, python, device } => {
            let python = (python != "none").then_some(python);
            let o = compmod::bench::BenchOptions { batch, image_size, width, steps, warmup, python, device };
            print!("{}", compmod::bench::run(&o)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { paths } => {
            let mut files = Vec::new();
            for p in &paths {
                collect_toml(p, &mut files)?;
            }
            anyhow::ensure!(!files.is_empty(), "no .toml files under {:?}", paths);
            let mut bad = 0;
            for f in &files {
                match load_experiment(f, &Overrides::from_env_and_args(vec![])) {
                    Ok(exp) => {
                        println!("ok     {} ({} cell(s))", f.display(), exp.cells.len());
                        exp.warnings.iter().for_each(|w| println!("       warning: {w}"));
                    }
                    Err(e) => {
                        bad += 1;
                        println!("error  {}", f.display());
                        for line in e.to_string().lines() {
                            println!("       {line}");
                        }
                    }
                }
            }
            Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Data { command: DataCommand::Fetch { name, dir } } => {
            for path in compmod::data::fetch::fetch(&name, &dir)? {
                println!("{name}: ready in {} (checksums verified)", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { dirs, rows, cols, baseline, metric, reference, format, out, plots } => {
            let request = compmod::report::command::Request { dirs, rows, cols, baseline, metrics: metric, reference, format, out, plots };
            let report = compmod::report::command::run(&request)?;
            print!("{}", report.text);
            for p in report.written {
                eprintln!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn collect_toml(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "toml") {
                collect_toml(&e, out)?;
            }
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    } else {
        anyhow::bail!("{} does not exist", path.display());
    }
    Ok(())
}
