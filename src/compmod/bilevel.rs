//! The CompMod training step (SPEC.md, "The bi-level step").
//!
//! Per step, with P = (θ, φ) and the fusion network's ξ:
//! 1. One forward at (P, ξ) and one backward of L_ssl + λ1·L_mcr(ξ fixed) + λ2·L_comp(P fixed):
//!    the P-gradient is ∇_P L1 and the ξ-gradient is λ2·∇_ξ L_comp, from one backward,
//!    because L_mcr sees ξ as constants and L_comp sees ĥ as a constant.
//! 2. The virtual step P' = the model optimiser's step from ∇_P L1 (not committed);
//!    v = ∇_{P'} L_ssl(P').
//! 3. The finite-difference term −α·[∇_ξ L1(P + r·v) − ∇_ξ L1(P − r·v)] / (2r), r = fd_radius/‖v‖ (0.01 by default),
//!    from two forwards without autodiff in the backbone and backwards into g_ξ only.
//! 4. Real steps of P (with the same ∇_P L1) and of ξ.

use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::coding_length::{CodingLength, SeriesCheck};
use crate::config::{CompModConfig, CompModMode, Fusion};
use crate::method::{BaseMethod, Targets};
use crate::model::{Mlp, Mode, SslNet};
use crate::train::optim::Optimizer;
use crate::train::params::{combine, detached, grad_sq_norm, perturbed};

/// Losses and diagnostics of one training step.
#[derive(Debug, Clone, Default)]
pub struct StepStats {
    /// The loss the model was trained on: L_ssl; with CompMod L1 = L_ssl + λ1 L_mcr
    /// (joint mode: L_ssl + λ1 L_mcr + λ2 L_comp).
    pub loss: f64,
    pub ssl: f64,
    pub mcr: Option<f64>,
    pub comp: Option<f64>,
    pub series: SeriesCheck,
    pub meta_grad_norm: Option<f64>,
}

/// The comprehensive input ĥ built from the two views.
pub fn fuse(kind: Fusion, h1: Tensor<2>, h2: Tensor<2>, z1: Tensor<2>, z2: Tensor<2>) -> Tensor<2> {
    match kind {
        Fusion::Concat => Tensor::cat(vec![h1, h2], 1),
        Fusion::ConcatZ => Tensor::cat(vec![z1, z2], 1),
        Fusion::Mean => (h1 + h2).div_scalar(2.0),
    }
}

/// Input width of g_ξ for a fusion kind.
pub fn fusion_input_dim(kind: Fusion, h_dim: usize, z_dim: usize) -> usize {
    match kind {
        Fusion::Concat => 2 * h_dim,
        Fusion::ConcatZ => 2 * z_dim,
        Fusion::Mean => h_dim,
    }
}

/// CompMod's trained state: the fusion network and its (meta) optimiser.
pub struct CompModState {
    pub cfg: CompModConfig,
    pub fusion: Mlp,
    pub meta_opt: Optimizer,
}

/// What level 1 produced.
pub struct LevelOne {
    /// ∇_P L1.
    pub grads_p: GradientsParams,
    /// λ2·∇_ξ L_comp (joint mode: ∇_ξ of the whole loss).
    pub grads_xi: GradientsParams,
    pub stats: StepStats,
}

pub fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f64>()
}

impl CompModState {
    /// Step 1: one forward at (P, ξ) and one backward.
    pub fn level_one(&self, net: &SslNet, method: &dyn BaseMethod, x1: Tensor<4>, x2: Tensor<4>, targets: Option<&Targets>, cl: &CodingLength) -> LevelOne {
        let c = &self.cfg;
        let (h1, z1) = net.forward(x1, Mode::Train);
        let (h2, z2) = net.forward(x2, Mode::Train);
        let l_ssl = method.loss(net, z1.clone(), z2.clone(), targets, Mode::Train);
        let hhat = fuse(c.fusion, h1, h2, z1.clone(), z2.clone());
        let mut series = SeriesCheck::default();
        let (total, l_mcr, l_comp) = if c.mode == CompModMode::Joint {
            let zhat = self.fusion.forward(hhat, Mode::Train);
            let l_mcr = cl.l_mcr(zhat.clone(), z1, z2, &mut series);
            let l_comp = cl.l_comp(zhat, &mut series);
            let total = l_ssl.clone() + l_mcr.clone().mul_scalar(c.lambda1) + l_comp.clone().mul_scalar(c.lambda2);
            (total, l_mcr, l_comp)
        } else {
            let hhat_l1 = if c.detach_comprehensive { hhat.clone().detach() } else { hhat.clone() };
            let zhat_l1 = detached(self.fusion.clone()).forward(hhat_l1, Mode::TrainFrozenStats);
            let l_mcr = cl.l_mcr(zhat_l1, z1, z2, &mut series);
            let zhat_l2 = self.fusion.forward(hhat.detach(), Mode::Train);
            let l_comp = cl.l_comp(zhat_l2, &mut series);
            let total = l_ssl.clone() + l_mcr.clone().mul_scalar(c.lambda1) + l_comp.clone().mul_scalar(c.lambda2);
            (total, l_mcr, l_comp)
        };
        let joint_comp = if c.mode == CompModMode::Joint { c.lambda2 * scalar(&l_comp) } else { 0.0 };
        let stats = StepStats {
            loss: scalar(&l_ssl) + c.lambda1 * scalar(&l_mcr) + joint_comp,
            ssl: scalar(&l_ssl),
            mcr: Some(scalar(&l_mcr)),
            comp: Some(scalar(&l_comp)),
            series,
            meta_grad_norm: None,
        };
        let mut grads = total.backward();
        let grads_p = GradientsParams::from_module(&mut grads, net);
        let grads_xi = GradientsParams::from_module(&mut grads, &self.fusion);
        LevelOne { grads_p, grads_xi, stats }
    }

    /// ∇_ξ of λ1·L_mcr at the (constant) parameters `net_point`, views given on the inner backend.
    fn xi_grad_at(&self, net_point: &SslNet, x1: Tensor<4>, x2: Tensor<4>, cl: &CodingLength) -> GradientsParams {
        let c = &self.cfg;
        let (h1, z1) = net_point.forward(x1, Mode::TrainFrozenStats);
        let (h2, z2) = net_point.forward(x2, Mode::TrainFrozenStats);
        let hhat = fuse(c.fusion, h1, h2, z1.clone(), z2.clone());
        let zhat = self.fusion.forward(hhat, Mode::TrainFrozenStats);
        let mut unused = SeriesCheck::default();
        let l = cl.l_mcr(zhat, z1, z2, &mut unused).mul_scalar(c.lambda1);
        let mut grads = l.backward();
        GradientsParams::from_module(&mut grads, &self.fusion)
    }

    /// Steps 2 and 3: the finite-difference estimate of ∇_ξ L_ssl(P'), for learning rate `lr`.
    pub fn second_order_term(
        &self,
        net: &SslNet,
        opt: &Optimizer,
        method: &dyn BaseMethod,
        level_one: &LevelOne,
        x1: Tensor<4>,
        x2: Tensor<4>,
        targets: Option<&Targets>,
        lr: f64,
        cl: &CodingLength,
    ) -> GradientsParams {
        // Virtual step, exactly as the optimiser would take it, state discarded.
        let (virtual_net, _) = opt.propose(net.clone(), &level_one.grads_p, lr);
        let (_, z1) = virtual_net.forward(x1.clone(), Mode::TrainFrozenStats);
        let (_, z2) = virtual_net.forward(x2.clone(), Mode::TrainFrozenStats);
        let mut grads = method.loss(&virtual_net, z1, z2, targets, Mode::TrainFrozenStats).backward();
        let v = GradientsParams::from_module(&mut grads, &virtual_net);
        let v_norm = grad_sq_norm(&virtual_net, &v).sqrt();
        if v_norm == 0.0 || !v_norm.is_finite() {
            return GradientsParams::new();
        }
        let r = self.cfg.fd_radius / v_norm;
        let (x1_inner, x2_inner) = (x1.inner(), x2.inner());
        let plus = self.xi_grad_at(&perturbed(net.clone(), &v, r), x1_inner.clone(), x2_inner.clone(), cl);
        let minus = self.xi_grad_at(&perturbed(net.clone(), &v, -r), x1_inner, x2_inner, cl);
        let k = -lr / (2.0 * r);
        combine(&self.fusion, k, &plus, -k, &minus)
    }

    /// The whole ξ-gradient of level 2 (before ξ's optimiser), given level 1's output.
    pub fn meta_gradient(
        &self,
        net: &SslNet,
        opt: &Optimizer,
        method: &dyn BaseMethod,
        level_one: &LevelOne,
        x1: Tensor<4>,
        x2: Tensor<4>,
        targets: Option<&Targets>,
        lr: f64,
        cl: &CodingLength,
    ) -> GradientsParams {
        match self.cfg.mode {
            CompModMode::Bilevel => {
                let fd = self.second_order_term(net, opt, method, level_one, x1, x2, targets, lr, cl);
                combine(&self.fusion, 1.0, &level_one.grads_xi, 1.0, &fd)
            }
            CompModMode::FirstOrder | CompModMode::Joint => combine(&self.fusion, 1.0, &level_one.grads_xi, 0.0, &GradientsParams::new()),
        }
    }

    /// One full CompMod step; returns the updated base networks. ξ is updated in place.
    pub fn step(
        &mut self,
        net: SslNet,
        opt: &mut Optimizer,
        method: &dyn BaseMethod,
        x1: Tensor<4>,
        x2: Tensor<4>,
        targets: Option<&Targets>,
        lr: f64,
        cl: &CodingLength,
    ) -> (SslNet, StepStats) {
        let level_one = self.level_one(&net, method, x1.clone(), x2.clone(), targets, cl);
        let mut stats = level_one.stats.clone();
        if !stats.loss.is_finite() {
            return (net, stats);
        }
        let meta = self.meta_gradient(&net, opt, method, &level_one, x1, x2, targets, lr, cl);
        stats.meta_grad_norm = Some(grad_sq_norm(&self.fusion, &meta).sqrt());
        let net = opt.step(net, &level_one.grads_p, lr);
        let fusion = self.fusion.clone();
        self.fusion = self.meta_opt.step(fusion, &meta, self.cfg.meta_lr);
        (net, stats)
    }
}

/// A base-method step without CompMod.
pub fn base_step(net: SslNet, opt: &mut Optimizer, method: &dyn BaseMethod, x1: Tensor<4>, x2: Tensor<4>, targets: Option<&Targets>, lr: f64) -> (SslNet, StepStats) {
    let (_, z1) = net.forward(x1, Mode::Train);
    let (_, z2) = net.forward(x2, Mode::Train);
    let loss = method.loss(&net, z1, z2, targets, Mode::Train);
    let value = scalar(&loss);
    let stats = StepStats { loss: value, ssl: value, ..Default::default() };
    if !value.is_finite() {
        return (net, stats);
    }
    let mut grads = loss.backward();
    let grads = GradientsParams::from_module(&mut grads, &net);
    (opt.step(net, &grads, lr), stats)
}
