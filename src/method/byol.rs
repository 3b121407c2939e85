//! BYOL: an online predictor regresses the EMA target's projection of the other view.

use burn::tensor::Tensor;

use super::{BaseMethod, Targets};
use crate::model::norm::l2_normalize;
use crate::model::{Mode, SslNet};

pub struct Byol;

impl BaseMethod for Byol {
    fn name(&self) -> &'static str {
        "byol"
    }

    fn has_predictor(&self) -> bool {
        true
    }

    fn has_target(&self) -> bool {
        true
    }

    fn loss(&self, net: &SslNet, z1: Tensor<2>, z2: Tensor<2>, targets: Option<&Targets>, mode: Mode) -> Tensor<1> {
        let predictor = net.predictor.as_ref().expect("BYOL's network has a predictor");
        let targets = targets.expect("BYOL needs its target network's projections");
        let p1 = predictor.forward(z1, mode);
        let p2 = predictor.forward(z2, mode);
        byol_loss(p1, p2, targets[0].clone(), targets[1].clone())
    }
}

/// Symmetric BYOL loss: (2 − 2 cos(p¹, t²)) + (2 − 2 cos(p², t¹)), each a batch mean.
/// The targets are constants (they come from the EMA network without autodiff).
pub fn byol_loss(p1: Tensor<2>, p2: Tensor<2>, t1: Tensor<2>, t2: Tensor<2>) -> Tensor<1> {
    let term = |p: Tensor<2>, t: Tensor<2>| {
        let cos = (l2_normalize(p) * l2_normalize(t.detach())).sum_dim(1);
        cos.mul_scalar(-2.0).add_scalar(2.0).mean()
    };
    term(p1, t2) + term(p2, t1)
}
