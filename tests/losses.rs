//! NT-Xent and the coding-length series against float64 numpy references
//! (tests/fixtures/make_fixtures.py), values and gradients.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use compmod::compmod::coding_length::{series_terms, spectral_norm};
use compmod::compmod::CodingLength;
use compmod::config::{CompModConfig, MecScale};
use compmod::method::simclr::nt_xent;
use compmod::model::norm::l2_normalize;
use common::{assert_close, flat, loss_fixtures, matrix, values};






#[test]
fn nt_xent_value_and_gradient_match_reference() {
    let device = Device::flex().autodiff();
    for case in loss_fixtures()["nt_xent"].as_array().unwrap() {
        let t = case["temperature"].as_f64().unwrap();
        let z1 = matrix(&case["z1"], &device).require_grad();
        let z2 = matrix(&case["z2"], &device).require_grad();
        let loss = nt_xent(z1.clone(), z2.clone(), t);
        let value = loss.clone().into_scalar::<f32>() as f64;
        let want = case["loss"].as_f64().unwrap();
        assert!(value.is_finite(), "temperature {t}: loss not finite");
        assert!((value - want).abs() <= 1e-4 * want.abs().max(1.0), "temperature {t}: loss {value}, want {want}");
        let grads = loss.backward();
        assert_close(&values(z1.grad(&grads).unwrap()), &flat(&case["grad_z1"]), 2e-3, &format!("T={t} dL/dz1"));
        assert_close(&values(z2.grad(&grads).unwrap()), &flat(&case["grad_z2"]), 2e-3, &format!("T={t} dL/dz2"));
    }
}

#[test]
fn nt_xent_is_finite_for_identical_views_at_low_temperature() {
    let device = Device::flex();
    let z = Tensor::<2>::from_data(TensorData::new((0..64).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<f32>>(), [16, 4]), &device);
    let loss = nt_xent(z.clone(), z, 0.01).into_scalar::<f32>();
    assert!(loss.is_finite() && loss >= 0.0, "{loss}");
}

#[test]
fn series_matches_reference_and_log_det() {
    let device = Device::flex().autodiff();
    for case in loss_fixtures()["series"].as_array().unwrap() {
        let order = case["order"].as_u64().unwrap() as usize;
        let lambda = case["lambda"].as_f64().unwrap();
        let a = matrix(&case["a"], &device).require_grad();
        let b = matrix(&case["b"], &device);
        let (s, _) = series_terms(l2_normalize(a.clone()), l2_normalize(b), lambda, order);
        let value = s.clone().into_scalar::<f32>() as f64;
        let want = case["value"].as_f64().unwrap();
        assert!((value - want).abs() < 1e-5 * want.abs().max(1.0), "order {order}: S = {value}, want {want}");
        // Truncating log(1+x) after n terms errs by at most ρ^{n+1} / ((n+1)(1-ρ)) per
        // eigenvalue, ρ = the spectral radius of λ A Bᵀ (computed by numpy).
        let logdet = case["logdet"].as_f64().unwrap();
        let rho = case["rho"].as_f64().unwrap();
        assert!(rho < 0.7, "fixture outside the convergence region: rho = {rho}");
        let rows = case["a"].as_array().unwrap().len().min(case["a"][0].as_array().unwrap().len());
        let bound = rows as f64 * rho.powi(order as i32 + 1) / ((order + 1) as f64 * (1.0 - rho)) + 1e-5;
        assert!((value - logdet).abs() <= bound, "order {order}: |S - logdet| = {} > {bound}", (value - logdet).abs());
        let grads = s.backward();
        assert_close(&values(a.grad(&grads).unwrap()), &flat(&case["grad_a"]), 1e-3, &format!("order {order} dS/dA"));
    }
}

#[test]
fn losses_follow_spec_formulas() {
    let device = Device::flex();
    let data = |seed: f32| -> Tensor<2> {
        Tensor::from_data(TensorData::new((0..96).map(|i| ((i as f32 + seed) * 0.731).sin()).collect::<Vec<f32>>(), [12, 8]), &device)
    };
    let (zh, z1, z2) = (data(0.0), data(1.0), data(2.0));
    let cfg = CompModConfig { order: 4, eps2: 2.0, lambda_warmup_factor: 1.0, mec_scale: MecScale::Mu, ..CompModConfig::default() };
    let cl = CodingLength::at(&cfg, 100.0);
    let lambda = 8.0 / (12.0 * 2.0);
    assert!((cl.lambda(12, 8) - lambda).abs() < 1e-12);
    let s = |a: Tensor<2>, b: Tensor<2>| series_terms(l2_normalize(a), l2_normalize(b), lambda, 4).0.into_scalar::<f32>() as f64;
    let mu = (12.0 + 8.0) / 2.0;
    let mut check = Default::default();
    let comp = cl.l_comp(zh.clone(), &mut check).into_scalar::<f32>() as f64;
    assert!((comp + mu * s(zh.clone(), zh.clone())).abs() < 1e-4 * comp.abs());
    let mcr = cl.l_mcr(zh.clone(), z1.clone(), z2.clone(), &mut check).into_scalar::<f32>() as f64;
    let want = -mu * (s(zh.clone(), z1) + s(zh.clone(), z2));
    assert!((mcr - want).abs() < 1e-4 * want.abs(), "{mcr} vs {want}");
    assert!(check.max_norm > 0.0);
    // MEC scaling: 1/(λ m).
    let cl = CodingLength::at(&CompModConfig { mec_scale: MecScale::Mec, ..cfg.clone() }, 100.0);
    let comp_mec = cl.l_comp(zh.clone(), &mut check).into_scalar::<f32>() as f64;
    assert!((comp_mec - comp / mu / (lambda * 12.0)).abs() < 1e-4 * comp_mec.abs());
    // Warm-up: λ⁻¹ starts 8x larger and reaches its value after the warm-up epochs.
    let warm = CompModConfig { lambda_warmup_factor: 8.0, lambda_warmup_epochs: 10.0, ..cfg };
    assert!((CodingLength::at(&warm, 0.0).lambda(12, 8) - lambda / 8.0).abs() < 1e-12);
    assert!((CodingLength::at(&warm, 5.0).lambda(12, 8) - lambda / 4.5).abs() < 1e-12);
    assert!((CodingLength::at(&warm, 12.0).lambda(12, 8) - lambda).abs() < 1e-12);
}

#[test]
fn spectral_norm_flags_a_collapsed_batch() {
    // Power iteration against a matrix with known singular values.
    let x = [3.0f32, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 0.5];
    assert!((spectral_norm(&x, 3) - 3.0).abs() < 1e-6);
    let device = Device::flex();
    let cfg = CompModConfig { lambda_warmup_factor: 1.0, ..CompModConfig::default() };
    let cl = CodingLength::at(&cfg, 0.0);
    // Every row identical: λ Z Zᵀ has one eigenvalue λ m = d / ε².
    let z = Tensor::<2>::ones([32, 128], &device);
    let mut check = Default::default();
    cl.l_comp(z, &mut check);
    assert!((check.max_norm - 128.0 / 64.0).abs() < 1e-4, "{}", check.max_norm);
    // A spread batch stays inside the region.
    let spread = Tensor::<2>::from_data(TensorData::new((0..32 * 128).map(|i| ((i * 7919) % 113) as f32 - 56.0).collect::<Vec<f32>>(), [32, 128]), &device);
    let mut check = Default::default();
    cl.l_comp(spread, &mut check);
    assert!(check.max_norm < 1.0, "{}", check.max_norm);
}
