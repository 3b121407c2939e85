//! The LibTorch backend (`--features tch`, CPU) against burn-flex: from the same weights
//! and the same batch, two training steps of every method, with and without CompMod, give
//! the same losses. Built and run only with `--features tch` (LibTorch 2.9.0, see README).
// Cargo.toml builds this file only with `--features tch` (required-features).

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use compmod::config::{ExperimentConfig, MethodName, OptimizerName};
use compmod::train::ema::EmaTarget;
use compmod::train::make_device;
use compmod::train::step::Trainer;

fn batch(phase: f32, device: &Device) -> Tensor<4> {
    let data: Vec<f32> = (0..16 * 16 * 16).map(|i| ((i as f32) * 0.071 + phase).sin()).collect();
    Tensor::from_data(TensorData::new(data, [16, 1, 16, 16]), device)
}

#[test]
fn training_steps_agree_on_flex_and_tch_cpu() {
    for method in [MethodName::Simclr, MethodName::Byol, MethodName::Barlow] {
        for compmod in [false, true] {
            let mut cfg = ExperimentConfig::default();
            cfg.method.name = method;
            cfg.backbone.width = 4;
            cfg.method.proj_hidden = 16;
            cfg.method.proj_dim = 8;
            cfg.method.pred_hidden = 16;
            cfg.compmod.enabled = compmod;
            cfg.compmod.hidden = 16;
            cfg.train.optimizer = OptimizerName::Sgd;
            let flex = Device::flex().autodiff();
            flex.seed(5);
            let mut a = Trainer::new(&cfg, 1, &flex);
            let tch = make_device("tch-cpu").unwrap().autodiff();
            let mut b = Trainer::new(&cfg, 1, &tch);
            // The same weights on both backends: flex's networks forked onto LibTorch (own autodiff graph).
            b.net = a.net.clone().fork(&tch);
            b.target = a.target.as_ref().map(|t| EmaTarget::new(&b.net, t.base_tau));
            if let (Some(ca), Some(cb)) = (&a.compmod, &mut b.compmod) {
                cb.fusion = ca.fusion.clone().fork(&tch);
            }
            for step in 0..2 {
                let sa = a.step(batch(0.0, &flex), batch(1.1, &flex), 0.05, step, 10, 0.5);
                let sb = b.step(batch(0.0, &tch), batch(1.1, &tch), 0.05, step, 10, 0.5);
                let what = format!("{method:?} compmod={compmod} step {step}");
                assert!(sa.loss.is_finite(), "{what}: flex loss {}", sa.loss);
                assert!((sa.loss - sb.loss).abs() <= 1e-3 * sa.loss.abs().max(1.0), "{what}: flex {} vs tch {}", sa.loss, sb.loss);
                assert!((sa.ssl - sb.ssl).abs() <= 1e-3 * sa.ssl.abs().max(1.0), "{what}: L_ssl flex {} vs tch {}", sa.ssl, sb.ssl);
            }
        }
    }
}
