//! `compmod bench`: images/s of one training step per method, with and without CompMod, on
//! the current backend; of the loading + augmentation pipeline on the same cores; and, when
//! PyTorch is importable, of the same steps in PyTorch eager (bench/torch_ref.py, same
//! architecture, batch, losses and thread count), measured in the same invocation.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::{Distribution, Tensor};

use crate::augment::ViewPipeline;
use crate::config::{ExperimentConfig, MethodName};
use crate::data::ImageSet;
use crate::data::loader::PretrainLoader;
use crate::train::step::Trainer;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub batch: usize,
    pub image_size: usize,
    pub width: usize,
    pub steps: usize,
    pub warmup: usize,
    /// Python interpreter for the PyTorch reference; None skips it.
    pub python: Option<String>,
    /// The device key the steps run on (`cpu`, or with `--features tch`: `tch-cpu`, `cuda:N`).
    pub device: String,
}

fn config(o: &BenchOptions, name: MethodName, compmod: bool) -> ExperimentConfig {
    let mut c = ExperimentConfig::default();
    c.device = o.device.clone();
    c.method.name = name;
    c.method.temperature = 0.2;
    c.backbone.width = o.width;
    c.data.image_size = o.image_size;
    c.train.batch_size = o.batch;
    c.compmod.enabled = compmod;
    c.compmod.lambda1 = 0.1;
    c
}

/// Images per second of one training step (two views of `batch` images each).
pub fn step_rate(cfg: &ExperimentConfig, o: &BenchOptions) -> Result<f64> {
    let device = crate::train::make_device(&cfg.device)?;
    let ad = device.clone().autodiff();
    ad.seed(0);
    let mut trainer = Trainer::new(cfg, 1, &ad);
    let shape = [o.batch, 1, o.image_size, o.image_size];
    let x1 = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &ad);
    let x2 = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &ad);
    let total = o.warmup + o.steps;
    let mut clock = Instant::now();
    for s in 0..total {
        if s == o.warmup {
            clock = Instant::now();
        }
        // Past the λ warm-up: the series at its working value.
        let stats = trainer.step(x1.clone(), x2.clone(), 0.15, s, total, 1e9);
        anyhow::ensure!(stats.loss.is_finite(), "bench step diverged");
    }
    Ok((o.batch * o.steps) as f64 / clock.elapsed().as_secs_f64())
}

/// Images per second of the loader (decode, two augmented views, standardise) with `workers`.
pub fn augment_rate(o: &BenchOptions, workers: usize) -> f64 {
    let n = 16 * o.batch;
    let side = 28;
    let pixels: Vec<u8> = (0..n * side * side).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let data = ImageSet { pixels, labels: vec![0; n], channels: 1, height: side, width: side, num_classes: 10 };
    let view = crate::config::ViewConfig { crop_scale: [0.2, 1.0], ..Default::default() };
    let loader = PretrainLoader {
        data: Arc::new(data),
        views: Arc::new([ViewPipeline::new(view.clone(), o.image_size), ViewPipeline::new(view, o.image_size)]),
        normalize: None,
        batch_size: o.batch,
        seed: 0,
        workers,
        prefetch: 4,
        max_steps: 0,
    };
    let clock = Instant::now();
    let batches = loader.epoch(0, 0).count();
    (batches * o.batch) as f64 / clock.elapsed().as_secs_f64()
}

fn torch_rates(o: &BenchOptions, python: &str) -> Result<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/torch_ref.py");
    let out = Command::new(python)
        .arg(script)
        .args(["--batch", &o.batch.to_string(), "--image-size", &o.image_size.to_string(), "--width", &o.width.to_string()])
        .args(["--steps", &o.steps.to_string(), "--warmup", &o.warmup.to_string(), "--threads", "2"])
        .output()
        .with_context(|| format!("cannot start {python}"))?;
    anyhow::ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("PyTorch reference failed"));
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Run everything and return the table (markdown).
pub fn run(o: &BenchOptions) -> Result<String> {
    let backend = crate::train::backend_name(&o.device);
    let torch = o.python.as_deref().map(|p| torch_rates(o, p));
    let mut out = format!(
        "compmod bench: small-cnn width {}, {}x{} px, batch {} (two views each), {} timed steps after {} warm-up, backend {} (device {})\n\n",
        o.width, o.image_size, o.image_size, o.batch, o.steps, o.warmup, backend, o.device
    );
    match &torch {
        Some(Ok(v)) => out.push_str(&format!("PyTorch reference: {} eager, {} threads\n\n", v["torch"].as_str().unwrap_or("?"), v["threads"])),
        Some(Err(e)) => out.push_str(&format!("PyTorch reference not run: {e}\n\n")),
        None => out.push_str("PyTorch reference not run (--python none)\n\n"),
    }
    out.push_str(&format!("| method | step | compmod ({backend}) img/s | PyTorch img/s | time vs PyTorch | CompMod time vs base |\n|---|---|---|---|---|---|\n"));
    let mut simclr_rate = 0.0;
    for (name, label) in [(MethodName::Simclr, "simclr"), (MethodName::Byol, "byol"), (MethodName::Barlow, "barlow")] {
        let base = step_rate(&config(o, name, false), o)?;
        let with = step_rate(&config(o, name, true), o)?;
        if name == MethodName::Simclr {
            simclr_rate = base;
        }
        let reference = match &torch {
            Some(Ok(v)) => v[label].as_f64(),
            _ => None,
        };
        let fmt = |r: Option<f64>| r.map(|r| format!("{r:.0}")).unwrap_or_else(|| "-".into());
        let ratio = reference.map(|r| format!("{:.2}x", r / base)).unwrap_or_else(|| "-".into());
        out.push_str(&format!("| {label} | base | {base:.0} | {} | {ratio} | |\n", fmt(reference)));
        out.push_str(&format!("| {label} | + CompMod | {with:.0} | - | - | {:.2}x |\n", base / with));
    }
    for workers in [1, 2] {
        let rate = augment_rate(o, workers);
        out.push_str(&format!(
            "| loader + augmentation | {workers} worker(s) | {rate:.0} | - | - | {:.1}x the SimCLR step's rate |\n",
            rate / simclr_rate
        ));
    }
    Ok(out)
}
