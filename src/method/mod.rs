//! Base self-supervised methods. A method is a small unit: its heads and a pure loss
//! function of the online projector outputs. CompMod attaches to any method through
//! [`BaseMethod`] without editing it.

pub mod simclr;

use burn::tensor::Tensor;

use crate::config::{MethodConfig, MethodName};

/// What a base method contributes to a training step.
pub trait BaseMethod: Send + Sync {
    fn name(&self) -> &'static str;
    /// L_ssl from the two views' online projector outputs, each `[m, d]`.
    fn loss(&self, z1: Tensor<2>, z2: Tensor<2>) -> Tensor<1>;
}

pub fn build(cfg: &MethodConfig) -> Box<dyn BaseMethod> {
    match cfg.name {
        MethodName::Simclr => Box::new(simclr::SimClr { temperature: cfg.temperature }),
    }
}
