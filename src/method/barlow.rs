//! Barlow Twins: the cross-correlation of the two views' batch-normalised embeddings is
//! pushed to the identity.

use burn::tensor::Tensor;

use super::{BaseMethod, Targets};
use crate::model::norm::standardize_columns;
use crate::model::{Mode, SslNet};

pub struct BarlowTwins {
    /// Weight of the off-diagonal terms (0.0051 in the paper).
    pub lambda_offdiag: f64,
    /// Factor on the whole loss (solo-learn's `scale_loss`).
    pub scale_loss: f64,
}

impl BaseMethod for BarlowTwins {
    fn name(&self) -> &'static str {
        "barlow"
    }

    fn loss(&self, _net: &SslNet, z1: Tensor<2>, z2: Tensor<2>, _targets: Option<&Targets>, _mode: Mode) -> Tensor<1> {
        barlow_loss(z1, z2, self.lambda_offdiag, self.scale_loss)
    }
}

/// scale · [Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²], C = BN(z¹)ᵀ BN(z²) / m, BN without affine
/// parameters (biased variance, ε = 1e-5). Needs at least two samples to normalise over.
pub fn barlow_loss(z1: Tensor<2>, z2: Tensor<2>, lambda_offdiag: f64, scale_loss: f64) -> Tensor<1> {
    let [m, d] = z1.dims();
    assert!(m >= 2, "Barlow Twins needs a batch of at least 2 to normalise over, got {m}");
    let a = standardize_columns(z1, 1e-5);
    let b = standardize_columns(z2, 1e-5);
    let c = a.transpose().matmul(b).div_scalar(m as f64);
    let eye = Tensor::<2>::eye(d, &c.device());
    let diag = (c.clone() * eye).sum_dim(1);
    let on = (diag.clone() - 1.0).powf_scalar(2.0).sum();
    let off = c.powf_scalar(2.0).sum() - diag.powf_scalar(2.0).sum();
    (on + off.mul_scalar(lambda_offdiag)).mul_scalar(scale_loss)
}
