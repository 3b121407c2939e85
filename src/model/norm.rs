//! Batch normalisation whose behaviour is chosen by the caller, not by the device.
//!
//! burn's BatchNorm picks batch statistics only on an autodiff device in training mode and
//! always updates its running statistics then. The bi-level step runs extra forwards (the
//! virtual step and the finite-difference points) that must use batch statistics without
//! touching the running ones, so the mode is explicit here (like candle's `forward_t`).

use burn::module::{Module, Param, RunningState};
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Batch statistics; running statistics updated. The real training forward.
    Train,
    /// Batch statistics; running statistics left alone. Virtual and finite-difference passes.
    TrainFrozenStats,
    /// Running statistics. Evaluation.
    Eval,
}

#[derive(Module, Debug)]
pub struct Norm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    pub running_mean: RunningState<Tensor<1>>,
    pub running_var: RunningState<Tensor<1>>,
    pub momentum: f64,
    pub epsilon: f64,
}

impl Norm {
    pub fn new(features: usize, device: &Device) -> Self {
        Self {
            gamma: Initializer::Ones.init([features], device),
            beta: Initializer::Zeros.init([features], device),
            running_mean: RunningState::new(Tensor::zeros([features], device)),
            running_var: RunningState::new(Tensor::ones([features], device)),
            momentum: 0.1,
            epsilon: 1e-5,
        }
    }

    /// Input `[batch, features, ...]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>, mode: Mode) -> Tensor<D> {
        let device = x.device();
        match mode {
            Mode::Eval => burn::tensor::module::batch_norm(
                x,
                self.gamma.val(),
                self.beta.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                self.epsilon,
            ),
            Mode::Train | Mode::TrainFrozenStats => {
                let out = burn::tensor::module::batch_norm_train(x, self.gamma.val(), self.beta.val(), self.epsilon);
                if mode == Mode::Train {
                    let m = self.momentum;
                    let mean = self.running_mean.value_sync().to_device(&device);
                    let var = self.running_var.value_sync().to_device(&device);
                    self.running_mean.update(mean.mul_scalar(1.0 - m).add(out.mean.detach().mul_scalar(m)).detach());
                    self.running_var.update(var.mul_scalar(1.0 - m).add(out.variance.detach().mul_scalar(m)).detach());
                }
                out.output
            }
        }
    }
}

/// Batch norm without learnable affine parameters and without running statistics,
/// e.g. for standardising embeddings inside a loss.
pub fn standardize_columns(x: Tensor<2>, epsilon: f64) -> Tensor<2> {
    let mean = x.clone().mean_dim(0);
    let centered = x - mean;
    let var = centered.clone().powf_scalar(2.0).mean_dim(0);
    centered / (var + epsilon).sqrt()
}

/// Rows scaled to unit L2 norm (every loss that compares directions starts here).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powf_scalar(2.0).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}
