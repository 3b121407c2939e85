//! One cell: pretrain, evaluate, and write its results folder.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};

use super::checkpoint;
use super::step::Trainer;
use super::schedule::WarmupCosine;
use super::{backend_name, make_device};
use crate::augment::ViewPipeline;
use crate::compmod::bilevel::StepStats;
use crate::config::{Cell, ExperimentConfig, resolved_toml};
use crate::data::loader::{Normalize, PretrainLoader, eval_tensor_data};
use crate::data::{ImageSet, Splits, channel_stats, load_splits};
use crate::eval::knn::knn_top1;
use crate::eval::linear::LinearProbe;
use crate::eval::{extract_features, l2_normalize_rows};
use crate::method;
use crate::model::{Mode, SslNet};
use crate::results::mlflow::MlflowRun;
use crate::results::{EpochRow, EvalRow, RunRow, epochs_frame, evals_frame, run_frame, write_parquet_atomic, write_text_atomic};

/// A dataset loaded once and shared by every cell that uses it.
pub struct LoadedData {
    /// The labelled train split: kNN bank and linear probe (and pretraining, unless
    /// `pretrain` adds unlabeled images to it).
    pub train: Arc<ImageSet>,
    /// What the SSL loader draws from: the train split, plus STL-10's unlabeled images.
    pub pretrain: Arc<ImageSet>,
    pub test: ImageSet,
    pub normalize: Option<Normalize>,
    pub side: usize,
    /// Train and test images resized and standardised, for feature extraction.
    pub train_eval: Vec<f32>,
    pub test_eval: Vec<f32>,
}

impl LoadedData {
    pub fn load(cfg: &ExperimentConfig) -> Result<Self> {
        let Splits { train, test, unlabeled } = load_splits(&cfg.data)?;
        let normalize = cfg.data.normalize.then(|| {
            let (m, s) = channel_stats(cfg.data.dataset);
            Normalize { mean: m.to_vec(), std: s.to_vec() }
        });
        let side = cfg.data.image_size;
        let train_eval = eval_tensor_data(&train, side, normalize.as_ref());
        let test_eval = eval_tensor_data(&test, side, normalize.as_ref());
        let train = Arc::new(train);
        let pretrain = match &unlabeled {
            Some(extra) => Arc::new((*train).clone().concat(extra)),
            None => train.clone(),
        };
        Ok(Self { train, pretrain, test, normalize, side, train_eval, test_eval })
    }
}

#[derive(Debug, Clone, Default)]
pub struct CellOptions {
    pub quiet: bool,
    /// Stop after this epoch's checkpoint, as a kill would (to test and demonstrate resume).
    pub stop_after_epoch: Option<usize>,
    /// Run on this device instead of the config's `device` (`--devices`).
    pub device: Option<String>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Evaluate the backbone: kNN for every k, and the linear probe if enabled.
pub fn evaluate(net: &SslNet, data: &LoadedData, cfg: &ExperimentConfig, epoch: usize, device: &Device) -> Vec<EvalRow> {
    let c = data.train.channels;
    let d = net.backbone.out_dim;
    let bank = extract_features(&net.backbone, &data.train_eval, data.train.len(), c, data.side, device);
    let query = extract_features(&net.backbone, &data.test_eval, data.test.len(), c, data.side, device);
    let classes = data.train.num_classes;
    let knn = knn_top1(&bank, &data.train.labels, &query, &data.test.labels, d, classes, &cfg.eval.knn_k, cfg.eval.knn_temperature, device);
    let mut rows: Vec<EvalRow> = cfg
        .eval
        .knn_k
        .iter()
        .zip(knn)
        .map(|(&k, top1)| EvalRow { epoch: epoch as i64, protocol: "knn".into(), k: Some(k as i64), top1 })
        .collect();
    if cfg.eval.linear {
        let probe = LinearProbe { epochs: cfg.eval.linear_epochs, lr: cfg.eval.linear_lr, batch_size: cfg.eval.linear_batch_size, seed: cfg.seed };
        let top1 = probe.top1(&bank, &data.train.labels, &query, &data.test.labels, d, classes, device);
        rows.push(EvalRow { epoch: epoch as i64, protocol: "linear".into(), k: None, top1 });
    }
    rows
}

/// Collapse diagnostics of the L2-normalised projector outputs on up to 512 test images:
/// the mean per-dimension std (→ 0 under collapse; 1/√d for a uniform sphere) and the
/// effective rank exp(H(σ/Σσ)) of the centred embedding matrix (Roy & Vetterli 2007).
fn embedding_stats(net: &SslNet, data: &LoadedData, device: &Device) -> (f64, f64) {
    let c = data.train.channels;
    let per = c * data.side * data.side;
    let n = data.test.len().min(512);
    if n < 2 {
        return (f64::NAN, f64::NAN);
    }
    let x = Tensor::<4>::from_data(TensorData::new(data.test_eval[..n * per].to_vec(), [n, c, data.side, data.side]), device);
    let (_, z) = net.valid().forward(x, Mode::Eval);
    let dim = z.dims()[1];
    let mut z: Vec<f32> = z.into_data().convert::<f32>().try_into_vec().expect("f32");
    l2_normalize_rows(&mut z, dim);
    crate::eval::collapse_stats(&z, n, dim)
}

/// Outcome of a cell for the runner's summary.
#[derive(Debug, Clone)]
pub struct CellReport {
    pub run: RunRow,
    pub evals: Vec<EvalRow>,
}

/// Train and evaluate one cell, writing `dir/{config.toml, epochs,evals,run.parquet}`.
/// A non-finite loss ends the cell as `diverged`; other errors propagate (the runner
/// records them as `failed`).
pub fn run_cell(cell: &Cell, experiment: &str, dir: &Path, data: &LoadedData, opts: CellOptions) -> Result<CellReport> {
    let cfg = &cell.config;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create results folder {}", dir.display()))?;
    write_text_atomic(
        &dir.join("config.toml"),
        &format!(
            "# Resolved config of cell {} (trial {}); run it alone with `compmod run <this file>`.\n\
             # train.lr is per 256 images: the learning rate used is lr * batch_size / 256 = {}.\n{}",
            cell.index,
            cell.id,
            cfg.train.effective_lr(),
            resolved_toml(cfg)
        ),
    )?;
    let started = now_ms();
    let clock = Instant::now();
    let batch_size = cfg.train.batch_size;
    let lr_effective = cfg.train.effective_lr();
    let mut run = RunRow {
        trial_id: cell.id.clone(),
        experiment: experiment.to_string(),
        cell_index: cell.index as i64,
        status: "running".into(),
        error: None,
        started_at_ms: started,
        finished_at_ms: None,
        wall_time_s: None,
        diverged_step: None,
        diverged_value: None,
        backend: backend_name(&cfg.device).into(),
        lr_effective,
        eval_network: method::build(&cfg.method).eval_network().into(),
    };
    write_parquet_atomic(&dir.join("run.parquet"), &mut run_frame(&run, cfg)?)?;
    let tracker = tracking_uri(cfg).map(|uri| {
        let params = crate::config::flatten_config(cfg).into_iter().map(|(k, v)| (k, v.to_string().trim_matches('"').to_string())).collect();
        let tags = vec![
            ("compmod.trial_id".to_string(), cell.id.clone()),
            ("compmod.cell_index".to_string(), cell.index.to_string()),
            ("compmod.status".to_string(), "running".to_string()),
        ];
        MlflowRun::start(&uri, experiment, &cell.id, params, tags)
    });
    let log_evals = |rows: &[EvalRow]| {
        if let Some(t) = &tracker {
            t.log_metrics(rows.iter().map(|e| (e.k.map(|k| format!("{}{k}", e.protocol)).unwrap_or(e.protocol.clone()), 100.0 * e.top1, e.epoch)).collect());
        }
    };

    anyhow::ensure!(
        batch_size <= data.pretrain.len(),
        "train.batch_size = {batch_size} is larger than the {} training images; lower it or raise data.train_subset",
        data.pretrain.len()
    );
    let device = make_device(opts.device.as_deref().unwrap_or(&cfg.device))?;
    let ad = device.clone().autodiff();
    ad.seed(cfg.seed);
    let mut trainer = Trainer::new(cfg, data.train.channels, &ad);
    // Continue from this cell's last checkpoint, if it has one.
    let resume = checkpoint::read_state(dir, &cell.id).filter(|(_, st)| st.epoch < cfg.train.epochs);
    let (mut evals, mut epoch_rows, mut global_step, first_epoch, elapsed_before) = match resume {
        Some((folder, state)) => {
            trainer.net = checkpoint::load_module(trainer.net, &folder.join("net.bpk"))?;
            trainer.opt.state = checkpoint::read_optimizer(&trainer.net, &folder.join("opt.bin"), &device)?;
            if let Some(t) = trainer.target.as_mut() {
                t.net = checkpoint::load_module(t.net.clone(), &folder.join("target.bpk"))?;
            }
            if let Some(cm) = trainer.compmod.as_mut() {
                cm.fusion = checkpoint::load_module(cm.fusion.clone(), &folder.join("fusion.bpk"))?;
                cm.meta_opt.state = checkpoint::read_optimizer(&cm.fusion, &folder.join("meta_opt.bin"), &device)?;
            }
            run.started_at_ms = state.started_at_ms;
            if !opts.quiet {
                eprintln!("  resuming from the checkpoint of epoch {} (step {})", state.epoch, state.global_step);
            }
            (state.evals, state.epoch_rows, state.global_step, state.epoch + 1, state.elapsed_s)
        }
        None => {
            let evals = evaluate(&trainer.net, data, cfg, 0, &device);
            write_parquet_atomic(&dir.join("evals.parquet"), &mut evals_frame(&cell.id, &evals)?)?;
            log_evals(&evals);
            (evals, Vec::new(), 0usize, 1usize, 0.0f64)
        }
    };

    let loader = PretrainLoader {
        data: data.pretrain.clone(),
        views: Arc::new([
            ViewPipeline::new(cfg.augment.view1.clone(), cfg.data.image_size),
            ViewPipeline::new(cfg.augment.view2.clone(), cfg.data.image_size),
        ]),
        normalize: data.normalize.clone(),
        batch_size,
        seed: cfg.seed,
        workers: cfg.data.workers,
        prefetch: cfg.data.prefetch,
        max_steps: cfg.train.max_steps_per_epoch,
    };
    let steps_per_epoch = loader.steps_per_epoch();
    let schedule = WarmupCosine {
        peak: lr_effective,
        min_ratio: cfg.train.min_lr_ratio,
        warmup_steps: (cfg.train.warmup_epochs * steps_per_epoch as f64).round() as usize,
        total_steps: cfg.train.epochs * steps_per_epoch,
    };
    let side = cfg.data.image_size;
    for epoch in first_epoch..=cfg.train.epochs {
        let bar = if opts.quiet { ProgressBar::hidden() } else { ProgressBar::new(steps_per_epoch as u64) };
        bar.set_style(
            ProgressStyle::with_template("  epoch {prefix} {bar:30} {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]")
                .expect("template"),
        );
        bar.set_prefix(format!("{epoch}/{}", cfg.train.epochs));
        let epoch_clock = Instant::now();
        let mut sums = StepStats::default();
        let (mut mcr, mut comp, mut meta) = (0.0, 0.0, 0.0);
        let mut out_of_range = 0i64;
        let mut lr = 0.0;
        let mut steps = 0usize;
        for (s, batch) in loader.epoch(epoch, 0).enumerate() {
            lr = schedule.lr(global_step);
            let shape = [batch.size, batch.channels, side, side];
            let [v1, v2] = batch.views;
            let x1 = Tensor::<4>::from_data(TensorData::new(v1, shape), &ad);
            let x2 = Tensor::<4>::from_data(TensorData::new(v2, shape), &ad);
            let progress = (epoch - 1) as f64 + s as f64 / steps_per_epoch as f64;
            let stats = trainer.step(x1, x2, lr, global_step, schedule.total_steps, progress);
            global_step += 1;
            steps += 1;
            if !stats.loss.is_finite() {
                bar.abandon_with_message(format!("diverged: loss {} at step {global_step}", stats.loss));
                run.status = "diverged".into();
                run.error = Some(format!("non-finite loss {} at step {global_step} (epoch {epoch})", stats.loss));
                run.diverged_step = Some(global_step as i64);
                run.diverged_value = Some(stats.loss);
                run.finished_at_ms = Some(now_ms());
                run.wall_time_s = Some(clock.elapsed().as_secs_f64());
                write_parquet_atomic(&dir.join("epochs.parquet"), &mut epochs_frame(&cell.id, &epoch_rows)?)?;
                write_parquet_atomic(&dir.join("run.parquet"), &mut run_frame(&run, cfg)?)?;
                if let Some(t) = tracker {
                    t.finish("diverged");
                }
                return Ok(CellReport { run, evals });
            }
            sums.loss += stats.loss;
            sums.ssl += stats.ssl;
            mcr += stats.mcr.unwrap_or(0.0);
            comp += stats.comp.unwrap_or(0.0);
            meta += stats.meta_grad_norm.unwrap_or(0.0);
            sums.series.max_norm = sums.series.max_norm.max(stats.series.max_norm);
            if stats.series.max_norm >= 1.0 {
                out_of_range += 1;
            }
            let rate = (steps * batch_size) as f64 / epoch_clock.elapsed().as_secs_f64();
            bar.set_message(format!("loss {:.4} lr {lr:.4} {rate:.0} img/s", sums.loss / steps as f64));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let elapsed = epoch_clock.elapsed().as_secs_f64();
        let n = steps.max(1) as f64;
        let with_cm = trainer.compmod.is_some();
        let (z_std, z_effective_rank) = embedding_stats(&trainer.net, data, &device);
        if with_cm && out_of_range > 0 {
            eprintln!(
                "  warning: epoch {epoch}: the coding-length series left its convergence region in {out_of_range} of {steps} steps (spectral norm up to {:.3} >= 1); see series_max_norm in epochs.parquet",
                sums.series.max_norm
            );
        }
        epoch_rows.push(EpochRow {
            epoch: epoch as i64,
            steps: steps as i64,
            lr,
            loss: sums.loss / n,
            loss_ssl: sums.ssl / n,
            loss_mcr: with_cm.then_some(mcr / n),
            loss_comp: with_cm.then_some(comp / n),
            meta_grad_norm: (with_cm && cfg.compmod.mode != crate::config::CompModMode::Joint).then_some(meta / n),
            series_max_norm: with_cm.then_some(sums.series.max_norm),
            series_out_of_range_steps: with_cm.then_some(out_of_range),
            z_std,
            z_effective_rank,
            images_per_s: (steps * batch_size) as f64 / elapsed,
            epoch_time_s: elapsed,
        });
        write_parquet_atomic(&dir.join("epochs.parquet"), &mut epochs_frame(&cell.id, &epoch_rows)?)?;
        if let Some(t) = &tracker {
            let r = epoch_rows.last().unwrap();
            let mut m = vec![("loss".into(), r.loss, r.epoch), ("loss_ssl".into(), r.loss_ssl, r.epoch), ("lr".into(), r.lr, r.epoch),
                ("z_std".into(), r.z_std, r.epoch), ("z_effective_rank".into(), r.z_effective_rank, r.epoch), ("images_per_s".into(), r.images_per_s, r.epoch)];
            for (k, v) in [("loss_mcr", r.loss_mcr), ("loss_comp", r.loss_comp), ("series_max_norm", r.series_max_norm), ("meta_grad_norm", r.meta_grad_norm)] {
                if let Some(v) = v {
                    m.push((k.to_string(), v, r.epoch));
                }
            }
            t.log_metrics(m);
        }
        if !opts.quiet {
            let last = epoch_rows.last().unwrap();
            eprintln!(
                "  epoch {epoch}/{}: loss {:.4} ({:.0} img/s, {:.1} s)",
                cfg.train.epochs, last.loss, last.images_per_s, last.epoch_time_s
            );
        }
        let every = cfg.eval.every;
        if epoch == cfg.train.epochs || (every > 0 && epoch % every == 0) {
            let new = evaluate(&trainer.net, data, cfg, epoch, &device);
            log_evals(&new);
            evals.extend(new);
            write_parquet_atomic(&dir.join("evals.parquet"), &mut evals_frame(&cell.id, &evals)?)?;
        }
        let state = checkpoint::CheckpointState {
            trial_id: cell.id.clone(),
            epoch,
            global_step,
            epoch_rows: epoch_rows.clone(),
            evals: evals.clone(),
            started_at_ms: run.started_at_ms,
            elapsed_s: elapsed_before + clock.elapsed().as_secs_f64(),
        };
        checkpoint::write_atomically(dir, &state, |folder| {
            checkpoint::save_module(&trainer.net, &folder.join("net.bpk"))?;
            checkpoint::write_optimizer(&trainer.net, &trainer.opt.state, &folder.join("opt.bin"))?;
            if let Some(t) = &trainer.target {
                checkpoint::save_module(&t.net, &folder.join("target.bpk"))?;
            }
            if let Some(cm) = &trainer.compmod {
                checkpoint::save_module(&cm.fusion, &folder.join("fusion.bpk"))?;
                checkpoint::write_optimizer(&cm.fusion, &cm.meta_opt.state, &folder.join("meta_opt.bin"))?;
            }
            Ok(())
        })?;
        if opts.stop_after_epoch == Some(epoch) && epoch < cfg.train.epochs {
            run.status = "stopped".into();
            if let Some(t) = tracker {
                t.finish("stopped");
            }
            return Ok(CellReport { run, evals });
        }
    }
    run.status = "completed".into();
    run.finished_at_ms = Some(now_ms());
    run.wall_time_s = Some(elapsed_before + clock.elapsed().as_secs_f64());
    write_parquet_atomic(&dir.join("run.parquet"), &mut run_frame(&run, cfg)?)?;
    if let Some(t) = tracker {
        t.finish("completed");
    }
    Ok(CellReport { run, evals })
}

/// `tracking.mlflow_uri`, else `$MLFLOW_TRACKING_URI` (http(s) only; a file store is not a server).
fn tracking_uri(cfg: &ExperimentConfig) -> Option<String> {
    let uri = if cfg.tracking.mlflow_uri.is_empty() { std::env::var("MLFLOW_TRACKING_URI").ok()? } else { cfg.tracking.mlflow_uri.clone() };
    uri.starts_with("http").then_some(uri)
}
