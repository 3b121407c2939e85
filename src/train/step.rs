//! Everything one cell trains, and one training step over it: the base method's networks,
//! BYOL's EMA target, the model optimiser, and CompMod's state when it is attached. Shared by
//! the cell loop and `compmod bench`, so both time and run the same step.

use burn::tensor::{Device, Tensor};

use super::ema::EmaTarget;
use super::optim::{Optimizer, OptimizerConfig};
use crate::compmod::bilevel::{StepStats, base_step, fusion_input_dim};
use crate::compmod::{CodingLength, CompModState};
use crate::config::ExperimentConfig;
use crate::method::{self, BaseMethod};
use crate::model::{Mlp, SslNet};

pub struct Trainer {
    pub method: Box<dyn BaseMethod>,
    pub net: SslNet,
    pub target: Option<EmaTarget>,
    pub opt: Optimizer,
    pub compmod: Option<CompModState>,
}

impl Trainer {
    /// Fresh networks on `device` (an autodiff device), initialised from its current seed.
    pub fn new(cfg: &ExperimentConfig, in_channels: usize, device: &Device) -> Self {
        let method = method::build(&cfg.method);
        let net = SslNet::new(cfg, in_channels, method.has_predictor(), device);
        let target = method.has_target().then(|| EmaTarget::new(&net, cfg.method.base_tau));
        let opt = Optimizer::new(OptimizerConfig {
            lars_eta: cfg.train.lars_eta,
            lars_clip: cfg.train.lars_clip,
            ..OptimizerConfig::new(cfg.train.optimizer, cfg.train.momentum, cfg.train.weight_decay)
        });
        let compmod = cfg.compmod.enabled.then(|| CompModState {
            cfg: cfg.compmod.clone(),
            fusion: Mlp::new(fusion_input_dim(cfg.compmod.fusion, net.backbone.out_dim, cfg.method.proj_dim), cfg.compmod.hidden, cfg.method.proj_dim, device),
            meta_opt: Optimizer::new(OptimizerConfig::new(cfg.compmod.meta_optimizer, 0.9, 0.0)),
        });
        Self { method, net, target, opt, compmod }
    }

    /// One step at learning rate `lr`: step `step` of `total_steps` (BYOL's τ schedule), at
    /// `epoch_progress` epochs into training (the coding length's λ warm-up).
    pub fn step(&mut self, x1: Tensor<4>, x2: Tensor<4>, lr: f64, step: usize, total_steps: usize, epoch_progress: f64) -> StepStats {
        let targets = self.target.as_ref().map(|t| t.project(x1.clone(), x2.clone()));
        let net = self.net.clone();
        let (net, stats) = match self.compmod.as_mut() {
            Some(cm) => {
                let cl = CodingLength::at(&cm.cfg, epoch_progress);
                cm.step(net, &mut self.opt, self.method.as_ref(), x1, x2, targets.as_ref(), lr, &cl)
            }
            None => base_step(net, &mut self.opt, self.method.as_ref(), x1, x2, targets.as_ref(), lr),
        };
        self.net = net;
        if let Some(t) = self.target.as_mut() {
            let tau = t.tau(step, total_steps);
            t.update(&self.net, tau);
        }
        stats
    }
}
