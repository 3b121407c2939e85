//! Evaluation of a frozen backbone: features, kNN, linear probe.

pub mod knn;
pub mod linear;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::model::{Backbone, Mode};

/// Backbone features of every image (`data` NCHW), in evaluation mode without autodiff.
/// Returns `[n, d]` row-major.
pub fn extract_features(backbone: &Backbone, data: &[f32], n: usize, channels: usize, side: usize, device: &Device) -> Vec<f32> {
    let net = backbone.valid();
    let per = channels * side * side;
    let batch = 512;
    let mut out = Vec::with_capacity(n * backbone.out_dim);
    for start in (0..n).step_by(batch) {
        let b = batch.min(n - start);
        let x = Tensor::<4>::from_data(TensorData::new(data[start * per..(start + b) * per].to_vec(), [b, channels, side, side]), device);
        let h = net.forward(x, Mode::Eval);
        out.extend(h.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 features"));
    }
    out
}

/// Scale each row to unit L2 norm, in place.
pub fn l2_normalize_rows(x: &mut [f32], d: usize) {
    for row in x.chunks_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= norm);
    }
}

/// (mean per-dimension std, effective rank) of `n` rows of dimension `d`.
pub fn collapse_stats(z: &[f32], n: usize, d: usize) -> (f64, f64) {
    let mean: Vec<f64> = (0..d).map(|j| (0..n).map(|i| z[i * d + j] as f64).sum::<f64>() / n as f64).collect();
    let mut cov = vec![0f64; d * d];
    for i in 0..n {
        for a in 0..d {
            let da = z[i * d + a] as f64 - mean[a];
            for b in a..d {
                cov[a * d + b] += da * (z[i * d + b] as f64 - mean[b]);
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            cov[a * d + b] /= (n - 1) as f64;
            cov[b * d + a] = cov[a * d + b];
        }
    }
    let std = (0..d).map(|a| cov[a * d + a].sqrt()).sum::<f64>() / d as f64;
    // Singular values of the centred matrix are √(n−1)·√eig(cov); the scale cancels in p.
    let sigma: Vec<f64> = symmetric_eigenvalues(cov, d).into_iter().map(|e| e.max(0.0).sqrt()).collect();
    let total: f64 = sigma.iter().sum();
    if total <= 0.0 {
        return (std, 1.0);
    }
    let entropy: f64 = sigma.iter().map(|s| s / total).filter(|p| *p > 0.0).map(|p| -p * p.ln()).sum();
    (std, entropy.exp())
}

/// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (d up to a few hundred).
pub fn symmetric_eigenvalues(mut a: Vec<f64>, d: usize) -> Vec<f64> {
    for _sweep in 0..50 {
        let off: f64 = (0..d).flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i * d + j].powi(2)).sum();
        let diag: f64 = (0..d).map(|i| a[i * d + i].powi(2)).sum();
        if off <= 1e-22 * diag.max(1e-300) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                // Smaller root of t² + 2θt − 1 = 0 (θ = 0 gives t = 1, a 45° rotation).
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..d).map(|i| a[i * d + i]).collect()
}
