//! BYOL and Barlow Twins: losses and gradients against numpy references, the EMA target,
//! BatchNorm modes, and LARS's exclusion rule.

mod common;

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use compmod::config::{ExperimentConfig, MethodName, OptimizerName};
use compmod::method::barlow::barlow_loss;
use compmod::method::byol::byol_loss;
use compmod::model::{Mode, Norm, SslNet};
use compmod::train::ema::EmaTarget;
use compmod::train::optim::{Optimizer, OptimizerConfig};
use common::{assert_close, flat, loss_fixtures, matrix, values};






#[test]
fn byol_loss_and_gradient_match_reference() {
    let device = Device::flex().autodiff();
    for case in loss_fixtures()["byol"].as_array().unwrap() {
        let p1 = matrix(&case["p1"], &device).require_grad();
        let [p2, t1, t2] = ["p2", "t1", "t2"].map(|k| matrix(&case[k], &device));
        let loss = byol_loss(p1.clone(), p2, t1, t2);
        let v = loss.clone().into_scalar::<f64>();
        let want = case["loss"].as_f64().unwrap();
        assert!((v - want).abs() < 1e-5 * want.abs().max(1.0), "{v} vs {want}");
        let g = loss.backward();
        assert_close(&values(p1.grad(&g).unwrap()), &flat(&case["grad_p1"]), 1e-3, "dL/dp1");
    }
}

#[test]
fn barlow_loss_and_gradient_match_reference() {
    let device = Device::flex().autodiff();
    for case in loss_fixtures()["barlow"].as_array().unwrap() {
        let z1 = matrix(&case["z1"], &device).require_grad();
        let z2 = matrix(&case["z2"], &device);
        let (lam, scale) = (case["lambda_offdiag"].as_f64().unwrap(), case["scale_loss"].as_f64().unwrap());
        let loss = barlow_loss(z1.clone(), z2, lam, scale);
        let v = loss.clone().into_scalar::<f64>();
        let want = case["loss"].as_f64().unwrap();
        assert!(v.is_finite(), "batch of {}: not finite", case["z1"].as_array().unwrap().len());
        assert!((v - want).abs() < 1e-4 * want.abs().max(1.0), "{v} vs {want}");
        let g = loss.backward();
        assert_close(&values(z1.grad(&g).unwrap()), &flat(&case["grad_z1"]), 2e-3, "dL/dz1");
    }
}

#[test]
#[should_panic(expected = "Barlow Twins needs a batch of at least 2")]
fn barlow_rejects_a_batch_of_one() {
    let device = Device::flex();
    barlow_loss(Tensor::ones([1, 4], &device), Tensor::ones([1, 4], &device), 0.0051, 1.0);
}

/// Values of the parameters in `ids`, in visit order (running statistics excluded by id).
fn values_of(m: &SslNet, ids: &[burn::module::ParamId]) -> Vec<f64> {
    struct V<'a>(&'a [burn::module::ParamId], Vec<f64>);
    impl burn::module::ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0.contains(&param.id) {
                self.1.extend(param.val().into_data().convert::<f64>().try_into_vec::<f64>().unwrap());
            }
        }
    }
    let mut v = V(ids, Vec::new());
    m.visit(&mut v);
    v.1
}

/// Ids of the trainable (gradient-requiring) parameters of an autodiff module.
fn trainable_ids(m: &SslNet) -> Vec<burn::module::ParamId> {
    struct V(Vec<burn::module::ParamId>);
    impl burn::module::ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.val().is_require_grad() {
                self.0.push(param.id);
            }
        }
    }
    let mut v = V(Vec::new());
    m.visit(&mut v);
    v.0
}

#[test]
fn ema_tau_one_keeps_target_tau_zero_copies_online() {
    let ad = Device::flex().autodiff();
    let mut cfg = ExperimentConfig::default();
    cfg.method.name = MethodName::Byol;
    cfg.backbone.width = 4;
    cfg.method.proj_hidden = 8;
    cfg.method.proj_dim = 4;
    let online = SslNet::new(&cfg, 1, true, &ad);
    let mut target = EmaTarget::new(&online, 0.99);
    assert!(target.net.predictor.is_none(), "the target has no predictor");
    // Move the online network by one SGD step so the two differ.
    let x = Tensor::<4>::from_data(TensorData::new((0..4 * 64).map(|i| (i as f32 * 0.3).sin()).collect::<Vec<f32>>(), [4, 1, 8, 8]), &ad);
    let (_, z) = online.forward(x, Mode::Train);
    let mut g = z.powf_scalar(2.0).sum().backward();
    let grads = GradientsParams::from_module(&mut g, &online);
    let moved = Optimizer::new(OptimizerConfig::new(OptimizerName::Sgd, 0.0, 0.0)).step(online.clone(), &grads, 0.5);
    let mut online_only = moved.clone();
    online_only.predictor = None;
    let ids = trainable_ids(&online_only);
    let before = values_of(&target.net, &ids);
    assert!(!before.is_empty());
    assert_ne!(before, values_of(&online_only, &ids));
    target.update(&moved, 1.0);
    assert_eq!(values_of(&target.net, &ids), before, "tau = 1 leaves the target unchanged");
    target.update(&moved, 0.0);
    let copied = values_of(&target.net, &ids);
    let want = values_of(&online_only, &ids);
    assert_eq!(copied.len(), want.len());
    assert!(copied.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-7), "tau = 0 copies the online weights");
    // The schedule: base_tau at the first step, 1 at the last.
    assert!((target.tau(0, 100) - 0.99).abs() < 1e-12);
    assert!((target.tau(50, 100) - 0.995).abs() < 1e-12);
    assert!((target.tau(100, 100) - 1.0).abs() < 1e-12);
}

#[test]
fn target_batchnorm_uses_batch_statistics_without_autodiff() {
    // A BatchNorm whose running statistics are the defaults (mean 0, var 1): in evaluation
    // mode the output equals the input; with batch statistics each column is standardised.
    let device = Device::flex(); // no autodiff, as the EMA target runs
    let norm = Norm::new(3, &device);
    let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 10.0, -3.0, 3.0, 14.0, 5.0, 5.0, 18.0, -1.0, 7.0, 22.0, 3.0], [4, 3]), &device);
    let eval = values(norm.forward(x.clone(), Mode::Eval));
    assert_close(&eval, &values(x.clone()), 1e-5, "eval mode");
    let batch = values(norm.forward(x, Mode::TrainFrozenStats));
    for col in 0..3 {
        let c: Vec<f64> = (0..4).map(|r| batch[r * 3 + col]).collect();
        let mean = c.iter().sum::<f64>() / 4.0;
        let var = c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3, "column {col}: mean {mean}, var {var}");
    }
    // And the running statistics were not touched by that pass.
    assert_eq!(values(norm.running_mean.value()), vec![0.0; 3]);
}

#[test]
fn lars_excludes_one_dimensional_parameters() {
    // One step of LARS vs plain SGD on a Linear layer: the 1-D bias gets the plain update
    // (no trust ratio, no weight decay); the 2-D weight is scaled by η‖w‖/(‖g‖ + wd‖w‖).
    #[derive(Module, Debug)]
    struct Lin {
        fc: burn::nn::Linear,
    }
    let ad = Device::flex().autodiff();
    let m = Lin { fc: burn::nn::LinearConfig::new(3, 2).init(&ad) };
    let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, -1.0, 0.5, -0.3, 2.0], [2, 3]), &ad);
    let mut g = m.fc.forward(x).sum().backward();
    let grads = GradientsParams::from_module(&mut g, &m);
    let (wd, lr, eta) = (0.1, 0.5, 0.02);
    let cfg = OptimizerConfig { lars_eta: eta, ..OptimizerConfig::new(OptimizerName::Lars, 0.0, wd) };
    let stepped = Optimizer::new(cfg).step(m.clone(), &grads, lr);
    let w0 = values(m.fc.weight.val());
    let b0 = values(m.fc.bias.as_ref().unwrap().val());
    let gw = values(grads.get::<2>(m.fc.weight.id).unwrap());
    let gb = values(grads.get::<1>(m.fc.bias.as_ref().unwrap().id).unwrap());
    let b1 = values(stepped.fc.bias.as_ref().unwrap().val());
    let want_b: Vec<f64> = b0.iter().zip(&gb).map(|(b, g)| b - lr * g).collect();
    assert_close(&b1, &want_b, 1e-6, "bias: plain SGD");
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let trust = eta * norm(&w0) / (norm(&gw) + wd * norm(&w0) + 1e-8);
    let want_w: Vec<f64> = w0.iter().zip(&gw).map(|(w, g)| w - lr * trust * (g + wd * w)).collect();
    assert_close(&values(stepped.fc.weight.val()), &want_w, 1e-5, "weight: trust-ratio step");
}
