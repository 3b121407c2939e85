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
