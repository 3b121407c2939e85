//! Base self-supervised methods. A method is a small unit: whether it has a predictor head
//! and an EMA target, and a pure loss function of the online projector outputs (and the
//! target's, when it has one). CompMod attaches to any method through [`BaseMethod`]
//! without editing it: it only ever sees the online projector outputs Z¹, Z² and L_ssl.

pub mod barlow;
pub mod byol;
pub mod simclr;

use burn::tensor::Tensor;

use crate::config::{MethodConfig, MethodName};
use crate::model::{Mode, SslNet};

/// The EMA target network's projections of the two views (constants).
pub type Targets = [Tensor<2>; 2];

/// What a base method contributes to a training step.
pub trait BaseMethod: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether the online network carries a predictor head (BYOL).
    fn has_predictor(&self) -> bool {
        false
    }
    /// Whether the method keeps an EMA target of the backbone and projector (BYOL). Its
    /// EMA pairs are then (online backbone, target backbone) and (online projector, target
    /// projector); the predictor has no target.
    fn has_target(&self) -> bool {
        false
    }
    /// The network whose backbone is evaluated (recorded as `eval_network`).
    fn eval_network(&self) -> &'static str {
        "online"
    }
    /// L_ssl from the two views' online projector outputs, each `[m, d]`. `net` gives
    /// access to method heads beyond the projector; `mode` is the BatchNorm mode of the pass.
    fn loss(&self, net: &SslNet, z1: Tensor<2>, z2: Tensor<2>, targets: Option<&Targets>, mode: Mode) -> Tensor<1>;
}

pub fn build(cfg: &MethodConfig) -> Box<dyn BaseMethod> {
    match cfg.name {
        MethodName::Simclr => Box::new(simclr::SimClr { temperature: cfg.temperature }),
        MethodName::Byol => Box::new(byol::Byol),
        MethodName::Barlow => Box::new(barlow::BarlowTwins { lambda_offdiag: cfg.lambda_offdiag, scale_loss: cfg.scale_loss }),
    }
}
