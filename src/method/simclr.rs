//! SimCLR's NT-Xent loss over the 2m views.

use burn::tensor::{Bool, Int, Tensor};

use super::{BaseMethod, Targets};
use crate::model::norm::l2_normalize;
use crate::model::{Mode, SslNet};

pub struct SimClr {
    pub temperature: f64,
}

impl BaseMethod for SimClr {
    fn name(&self) -> &'static str {
        "simclr"
    }

    fn loss(&self, _net: &SslNet, z1: Tensor<2>, z2: Tensor<2>, _targets: Option<&Targets>, _mode: Mode) -> Tensor<1> {
        nt_xent(z1, z2, self.temperature)
    }
}

/// NT-Xent: for each of the 2m embeddings, cross-entropy of picking its positive (the other
/// view of the same image) among the other 2m-1, with cosine similarity / temperature as
/// logits. Written in log-sum-exp form with the row maximum subtracted, so it stays finite
/// at temperature 0.01.
pub fn nt_xent(z1: Tensor<2>, z2: Tensor<2>, temperature: f64) -> Tensor<1> {
    let [m, _] = z1.dims();
    let device = z1.device();
    let z = l2_normalize(Tensor::cat(vec![z1, z2], 0));
    let n = 2 * m;
    let logits = z.clone().matmul(z.transpose()).div_scalar(temperature);
    let self_mask: Tensor<2, Bool> = Tensor::<2, Int>::eye(n, &device).equal_elem(1);
    let logits = logits.mask_fill(self_mask, -1.0e9);
    let row_max = logits.clone().max_dim(1).detach();
    let lse = (logits.clone() - row_max.clone()).exp().sum_dim(1).log() + row_max;
    // Positive of row i is i + m (mod 2m).
    let pos_index: Vec<i64> = (0..n).map(|i| ((i + m) % n) as i64).collect();
    let pos_index = Tensor::<1, Int>::from_data(pos_index.as_slice(), &device).reshape([n, 1]);
    let positive = logits.gather(1, pos_index);
    (lse - positive).mean()
}
