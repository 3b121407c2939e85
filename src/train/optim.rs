//! Optimisers written over whole modules, with their state kept outside them.
//!
//! The bi-level step needs a *virtual* step, (θ', φ') = the step the optimiser would take,
//! momentum and weight decay included, without committing its state. burn's optimisers
//! keep their state private (and have no LARS), so SGD (PyTorch semantics), LARS and
//! Adam/AdamW are written here:
//! `step` returns the new module and the new state, and the caller commits the state or
//! throws it away.

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::params::update_value;
use crate::config::OptimizerName;

#[derive(Debug, Clone, Copy)]
pub struct OptimizerConfig {
    pub kind: OptimizerName,
    pub momentum: f64,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub lars_eta: f64,
    pub lars_clip: bool,
}

impl OptimizerConfig {
    pub fn new(kind: OptimizerName, momentum: f64, weight_decay: f64) -> Self {
        Self { kind, momentum, weight_decay, beta1: 0.9, beta2: 0.999, eps: 1e-8, lars_eta: 0.02, lars_clip: false }
    }
}

fn norm<const D: usize>(t: &Tensor<D>) -> f64 {
    t.clone().powf_scalar(2.0).sum().into_scalar::<f64>().sqrt()
}

/// Per-parameter buffers (momentum for SGD; first and second moments for Adam).
#[derive(Debug, Default)]
pub struct OptimizerState {
    pub steps: u64,
    pub first: GradientsParams,
    pub second: GradientsParams,
}

#[derive(Debug)]
pub struct Optimizer {
    pub cfg: OptimizerConfig,
    pub state: OptimizerState,
}

impl Optimizer {
    pub fn new(cfg: OptimizerConfig) -> Self {
        Self { cfg, state: OptimizerState::default() }
    }

    /// The step the optimiser would take at learning rate `lr`, and the state it would
    /// leave. Parameters without a gradient are left unchanged.
    pub fn propose<M: Module>(&self, module: M, grads: &GradientsParams, lr: f64) -> (M, OptimizerState) {
        let mut mapper = StepMapper {
            cfg: self.cfg,
            old: &self.state,
            grads,
            lr,
            new: OptimizerState { steps: self.state.steps + 1, ..Default::default() },
        };
        let module = module.map(&mut mapper);
        (module, mapper.new)
    }

    /// Take the step and keep its state.
    pub fn step<M: Module>(&mut self, module: M, grads: &GradientsParams, lr: f64) -> M {
        let (module, state) = self.propose(module, grads, lr);
        self.state = state;
        module
    }
}

struct StepMapper<'a> {
    cfg: OptimizerConfig,
    old: &'a OptimizerState,
    grads: &'a GradientsParams,
    lr: f64,
    new: OptimizerState,
}

impl ModuleMapper for StepMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let id = param.id;
        let Some(grad) = self.grads.get::<D>(id) else {
            // Keep the buffers of a parameter that got no gradient this step.
            if let Some(b) = self.old.first.get::<D>(id) {
                self.new.first.register(id, b);
            }
            if let Some(b) = self.old.second.get::<D>(id) {
                self.new.second.register(id, b);
            }
            return param;
        };
        let c = self.cfg;
        let lr = self.lr;
        let t = self.new.steps as i32;
        let first_old = self.old.first.get::<D>(id);
        let second_old = self.old.second.get::<D>(id);
        let mut first_new = None;
        let mut second_new = None;
        let param = param.map(|value| {
            update_value(value, |theta| match c.kind {
                OptimizerName::Sgd => {
                    // PyTorch SGD: g += wd·θ; buf = μ·buf + g (buf = g at the first step); θ -= lr·buf.
                    let g = grad + theta.clone().mul_scalar(c.weight_decay);
                    let buf = match first_old {
                        Some(b) if c.momentum > 0.0 => b.mul_scalar(c.momentum) + g,
                        _ => g,
                    };
                    first_new = Some(buf.clone());
                    theta - buf.mul_scalar(lr)
                }
                OptimizerName::Lars => {
                    // Shape rule: 1-D parameters (biases, norm scales) are plain momentum SGD.
                    let g = if D > 1 {
                        let (p_norm, g_norm) = (norm(&theta), norm(&grad));
                        let mut trust = if p_norm > 0.0 && g_norm > 0.0 {
                            c.lars_eta * p_norm / (g_norm + c.weight_decay * p_norm + 1e-8)
                        } else {
                            1.0
                        };
                        if c.lars_clip {
                            trust = (trust / lr).min(1.0);
                        }
                        (grad + theta.clone().mul_scalar(c.weight_decay)).mul_scalar(trust)
                    } else {
                        grad
                    };
                    let buf = match first_old {
                        Some(b) if c.momentum > 0.0 => b.mul_scalar(c.momentum) + g,
                        _ => g,
                    };
                    first_new = Some(buf.clone());
                    theta - buf.mul_scalar(lr)
                }
                OptimizerName::Adam | OptimizerName::Adamw => {
                    let decoupled = c.kind == OptimizerName::Adamw;
                    let g = if decoupled { grad } else { grad + theta.clone().mul_scalar(c.weight_decay) };
                    let m = match first_old {
                        Some(m) => m.mul_scalar(c.beta1) + g.clone().mul_scalar(1.0 - c.beta1),
                        None => g.clone().mul_scalar(1.0 - c.beta1),
                    };
                    let v = match second_old {
                        Some(v) => v.mul_scalar(c.beta2) + g.powf_scalar(2.0).mul_scalar(1.0 - c.beta2),
                        None => g.powf_scalar(2.0).mul_scalar(1.0 - c.beta2),
                    };
                    first_new = Some(m.clone());
                    second_new = Some(v.clone());
                    let m_hat = m.div_scalar(1.0 - c.beta1.powi(t));
                    let v_hat = v.div_scalar(1.0 - c.beta2.powi(t));
                    let theta = if decoupled { theta.mul_scalar(1.0 - lr * c.weight_decay) } else { theta };
                    theta - (m_hat / (v_hat.sqrt() + c.eps)).mul_scalar(lr)
                }
            })
        });
        if let Some(b) = first_new {
            self.new.first.register(id, b);
        }
        if let Some(b) = second_new {
            self.new.second.register(id, b);
        }
        param
    }
}
