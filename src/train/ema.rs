//! BYOL's EMA target: a copy of the online backbone and projector on the inner backend (no
//! autodiff), moved toward the online weights after every step.
//!
//! τ is the weight on the *old* target: target ← τ·target + (1 − τ)·online, with τ following
//! a cosine from `base_tau` at the first step to 1 at the last (BYOL, solo-learn).

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::params::blend;
use crate::method::Targets;
use crate::model::{Mode, SslNet};

pub struct EmaTarget {
    pub net: SslNet,
    pub base_tau: f64,
}

impl EmaTarget {
    /// A copy of the online network's current weights, without autodiff and without the
    /// predictor (the target has none). Parameter ids are shared, which pairs the weights.
    pub fn new(online: &SslNet, base_tau: f64) -> Self {
        let mut net = online.valid();
        net.predictor = None;
        Self { net, base_tau }
    }

    /// τ at `step` of `total` steps.
    pub fn tau(&self, step: usize, total: usize) -> f64 {
        let progress = step as f64 / total.max(1) as f64;
        1.0 - (1.0 - self.base_tau) * ((std::f64::consts::PI * progress).cos() + 1.0) / 2.0
    }

    /// The target's projections of the two views. BatchNorm uses batch statistics, as the
    /// reference implementations' target (in training mode) does, although no autodiff is
    /// involved; burn's own BatchNorm would fall back to running statistics here.
    pub fn project(&self, x1: Tensor<4>, x2: Tensor<4>) -> Targets {
        let (_, t1) = self.net.forward(x1.inner(), Mode::TrainFrozenStats);
        let (_, t2) = self.net.forward(x2.inner(), Mode::TrainFrozenStats);
        [t1, t2]
    }

    /// target ← τ·target + (1 − τ)·online for every parameter the two share.
    pub fn update(&mut self, online: &SslNet, tau: f64) {
        let weights = collect(online);
        self.net = blend(self.net.clone(), tau, &weights, 1.0 - tau);
    }
}

/// Online weights by parameter id (trainable parameters only; running statistics stay the
/// target's own).
fn collect(online: &SslNet) -> GradientsParams {
    struct V(GradientsParams);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            if value.is_require_grad() {
                self.0.register::<D>(param.id, value.inner());
            }
        }
    }
    let mut v = V(GradientsParams::new());
    online.visit(&mut v);
    v.0
}

