//! SPEC.md's checks on the bi-level step: the finite-difference meta-gradient against a
//! brute-force derivative of L2, and the routing of each loss to its level.
//!
//! This binary runs in float64 (the flex device is configured before any tensor exists),
//! so the brute-force derivative of L2 (a second-order effect) is resolved well.

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use compmod::compmod::bilevel::{LevelOne, fusion_input_dim, scalar};
use compmod::compmod::{CodingLength, CompModState};
use compmod::config::{CompModConfig, CompModMode, ExperimentConfig, OptimizerName};
use compmod::method::{self, BaseMethod};
use compmod::model::{Mlp, Mode, SslNet};
use compmod::train::optim::{Optimizer, OptimizerConfig};
use compmod::train::params::{flatten_grads, update_value};

/// The finite-difference radius of these checks. SPEC.md's 0.01 is sized for real networks;
/// on this 300-parameter model a step of norm 0.01 crosses ReLU kinks and the central
/// difference stops being local (measured: 46x off), so the formula is pinned at 1e-5 in
/// float64, where it agrees with brute force to ~1e-7.
const FD_RADIUS: f64 = 1e-5;

fn device() -> Device {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let mut d = Device::flex();
        d.configure(FloatDType::F64).expect("flex supports float64");
    });
    Device::flex().autodiff()
}

struct Setup {
    net: SslNet,
    cm: CompModState,
    opt: Optimizer,
    method: Box<dyn BaseMethod>,
    x1: Tensor<4>,
    x2: Tensor<4>,
    cl: CodingLength,
}

fn setup(mode: CompModMode, lambda1: f64, lambda2: f64) -> Setup {
    let ad = device();
    ad.seed(11);
    let mut cfg = ExperimentConfig::default();
    cfg.backbone.width = 4;
    cfg.method.proj_hidden = 8;
    cfg.method.proj_dim = 4;
    cfg.compmod = CompModConfig { enabled: true, mode, lambda1, lambda2, hidden: 8, eps2: 4.0, fd_radius: FD_RADIUS, lambda_warmup_factor: 1.0, ..CompModConfig::default() };
    let net = SslNet::new(&cfg, 1, false, &ad);
    let fusion = Mlp::new(fusion_input_dim(cfg.compmod.fusion, net.backbone.out_dim, 4), 8, 4, &ad);
    let cm = CompModState { cfg: cfg.compmod.clone(), fusion, meta_opt: Optimizer::new(OptimizerConfig::new(OptimizerName::Adam, 0.9, 0.0)) };
    let img = |phase: f64| -> Tensor<4> {
        let data: Vec<f64> = (0..6 * 8 * 8).map(|i| ((i as f64) * 0.173 + phase).sin()).collect();
        Tensor::from_data(TensorData::new(data, [6, 1, 8, 8]), &ad)
    };
    let cl = CodingLength::at(&cfg.compmod, 0.0);
    Setup { net, cm, opt: Optimizer::new(OptimizerConfig::new(OptimizerName::Sgd, 0.9, 5e-4)), method: method::build(&cfg.method), x1: img(0.0), x2: img(1.3), cl }
}

/// `module` with one scalar (flat index `k` in visit order) moved by `delta`.
fn nudge<M: Module>(module: M, k: usize, delta: f64) -> M {
    struct Nudge {
        k: usize,
        seen: usize,
        delta: f64,
    }
    impl ModuleMapper for Nudge {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let n = param.val().shape().num_elements();
            let start = self.seen;
            self.seen += n;
            if !(start..start + n).contains(&self.k) {
                return param;
            }
            let (k, delta) = (self.k - start, self.delta);
            param.map(|t| {
                update_value(t, |inner| {
                    let shape = inner.shape();
                    let device = inner.device();
                    let mut v: Vec<f64> = inner.into_data().convert::<f64>().try_into_vec().unwrap();
                    v[k] += delta;
                    Tensor::from_data(TensorData::new(v, shape), &device)
                })
            })
        }
    }
    module.map(&mut Nudge { k, seen: 0, delta })
}

/// L2(ξ) = L_ssl(P'(ξ)) + λ2 L_comp(ξ), recomputed from scratch (no finite differences
/// inside): level one at (P, ξ), the virtual step, a forward at P'.
fn l2(s: &Setup, cm: &CompModState, lr: f64) -> f64 {
    let LevelOne { grads_p, stats, .. } = cm.level_one(&s.net, s.method.as_ref(), s.x1.clone(), s.x2.clone(), None, &s.cl);
    let (virtual_net, _) = s.opt.propose(s.net.clone(), &grads_p, lr);
    let (_, z1) = virtual_net.forward(s.x1.clone(), Mode::TrainFrozenStats);
    let (_, z2) = virtual_net.forward(s.x2.clone(), Mode::TrainFrozenStats);
    scalar(&s.method.loss(&virtual_net, z1, z2, None, Mode::TrainFrozenStats)) + cm.cfg.lambda2 * stats.comp.unwrap()
}

#[test]
fn spec_checks_on_the_bilevel_step() {
    // --- Meta-gradient: finite-difference estimate vs brute force on every ξ scalar. ---
    let mut s = setup(CompModMode::Bilevel, 2.0, 0.5);
    // One real step first, so the virtual step carries momentum as the real one would.
    let warm = s.cm.level_one(&s.net, s.method.as_ref(), s.x1.clone(), s.x2.clone(), None, &s.cl);
    s.net = s.opt.step(s.net.clone(), &warm.grads_p, 0.05);
    let lr = 0.2;
    let level_one = s.cm.level_one(&s.net, s.method.as_ref(), s.x1.clone(), s.x2.clone(), None, &s.cl);
    let meta = s.cm.meta_gradient(&s.net, &s.opt, s.method.as_ref(), &level_one, s.x1.clone(), s.x2.clone(), None, lr, &s.cl);
    let estimate = flatten_grads(&s.cm.fusion, &meta);
    let delta = 1e-5;
    let mut brute = Vec::new();
    for k in 0..estimate.len() {
        let cm_plus = CompModState { fusion: nudge(s.cm.fusion.clone(), k, delta), cfg: s.cm.cfg.clone(), meta_opt: Optimizer::new(s.cm.meta_opt.cfg) };
        let cm_minus = CompModState { fusion: nudge(s.cm.fusion.clone(), k, -delta), cfg: s.cm.cfg.clone(), meta_opt: Optimizer::new(s.cm.meta_opt.cfg) };
        brute.push((l2(&s, &cm_plus, lr) - l2(&s, &cm_minus, lr)) / (2.0 * delta));
    }
    // Running statistics are buffers, not parameters: they get no gradient either way.
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let diff: Vec<f64> = estimate.iter().zip(&brute).map(|(a, b)| a - b).collect();
    let rel = norm(&diff) / norm(&brute);
    let first_order: Vec<f64> = flatten_grads(&s.cm.fusion, &level_one.grads_xi);
    let fo_diff: Vec<f64> = first_order.iter().zip(&brute).map(|(a, b)| a - b).collect();
    // Compare the second-order parts on their own: the finite-difference term against the
    // brute-force derivative minus the (exact, autodiff) λ2·∇L_comp part.
    let fd_term: Vec<f64> = estimate.iter().zip(&first_order).map(|(a, b)| a - b).collect();
    let rel_second = norm(&diff) / norm(&fo_diff);
    eprintln!("meta-gradient: |brute| {:.3e}, |second-order part| {:.3e}, |fd term| {:.3e}, relative error {rel:.2e} (whole), {rel_second:.2e} (second-order part)", norm(&brute), norm(&fo_diff), norm(&fd_term));
    assert!(norm(&brute) > 1e-3, "the check needs a non-trivial meta-gradient, got {}", norm(&brute));
    assert!(rel < 1e-3, "finite-difference meta-gradient vs brute force: relative error {rel:.2e}");
    assert!(norm(&fo_diff) > 1e-6, "the second-order part is too small to test");
    assert!(rel_second < 1e-2, "finite-difference term vs brute-force second-order part: relative error {rel_second:.2e}");

    // --- Level routing. ---
    // L_comp never reaches θ, φ: with λ1 = 0 the P-gradient is exactly ∇ L_ssl.
    let s = setup(CompModMode::Bilevel, 0.0, 3.0);
    let lo = s.cm.level_one(&s.net, s.method.as_ref(), s.x1.clone(), s.x2.clone(), None, &s.cl);
    let (_, z1) = s.net.forward(s.x1.clone(), Mode::TrainFrozenStats);
    let (_, z2) = s.net.forward(s.x2.clone(), Mode::TrainFrozenStats);
    let mut g = s.method.loss(&s.net, z1, z2, None, Mode::TrainFrozenStats).backward();
    let base = flatten_grads(&s.net, &GradientsParams::from_module(&mut g, &s.net));
    let got = flatten_grads(&s.net, &lo.grads_p);
    let worst = got.iter().zip(&base).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-12, "L_comp leaked into the P-gradient: {worst}");
    assert!(norm(&flatten_grads(&s.cm.fusion, &lo.grads_xi)) > 0.0);
    // Level 1 never changes ξ: with λ2 = 0 and first-order mode, ξ gets no gradient and a
    // full step leaves it as it was while θ, φ move.
    let mut s = setup(CompModMode::FirstOrder, 5.0, 0.0);
    let lo = s.cm.level_one(&s.net, s.method.as_ref(), s.x1.clone(), s.x2.clone(), None, &s.cl);
    assert_eq!(norm(&flatten_grads(&s.cm.fusion, &lo.grads_xi)), 0.0, "L_mcr reached ξ at level 1");
    let before_xi = param_values(&s.cm.fusion);
    let before_p = param_values(&s.net);
    let (net, stats) = s.cm.step(s.net.clone(), &mut s.opt, s.method.as_ref(), s.x1.clone(), s.x2.clone(), None, 0.1, &s.cl);
    assert!(stats.loss.is_finite());
    assert_eq!(param_values(&s.cm.fusion), before_xi, "ξ changed in a step whose level 2 has no gradient");
    assert_ne!(param_values(&net), before_p, "θ, φ did not move");
    // In bi-level mode the full step moves ξ as well.
    let mut s = setup(CompModMode::Bilevel, 1.0, 1.0);
    let before_xi = param_values(&s.cm.fusion);
    let (_, stats) = s.cm.step(s.net.clone(), &mut s.opt, s.method.as_ref(), s.x1.clone(), s.x2.clone(), None, 0.1, &s.cl);
    assert!(stats.meta_grad_norm.unwrap() > 0.0);
    assert_ne!(param_values(&s.cm.fusion), before_xi);
}

fn param_values<M: Module>(m: &M) -> Vec<f64> {
    struct V(Vec<f64>);
    impl burn::module::ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            // Trainable parameters only: BatchNorm's running statistics are buffers.
            if param.val().is_require_grad() {
                self.0.extend(param.val().into_data().convert::<f64>().try_into_vec::<f64>().unwrap());
            }
        }
    }
    let mut v = V(Vec::new());
    m.visit(&mut v);
    v.0
}
