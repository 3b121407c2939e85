//! Linear probe: multinomial logistic regression on frozen, standardised backbone features
//! (no augmentation), trained with AdamW (weight decay 1e-4, cosine decay) and evaluated on
//! the test features.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::config::OptimizerName;
use crate::train::optim::{Optimizer, OptimizerConfig};

#[derive(Module, Debug)]
struct Probe {
    fc: Linear,
}

pub struct LinearProbe {
    pub epochs: usize,
    pub lr: f64,
    pub batch_size: usize,
    pub seed: u64,
}

impl LinearProbe {
    /// Top-1 test accuracy (fraction).
    pub fn top1(
        &self,
        train: &[f32],
        train_labels: &[u16],
        test: &[f32],
        test_labels: &[u16],
        d: usize,
        num_classes: usize,
        device: &Device,
    ) -> f64 {
        let (mean, std) = column_stats(train, d);
        let standardize = |x: &[f32]| -> Vec<f32> {
            x.chunks(d).flat_map(|row| row.iter().zip(&mean).zip(&std).map(|((v, m), s)| (v - m) / s)).collect()
        };
        let train = standardize(train);
        let test = standardize(test);
        let ad = device.clone().autodiff();
        device.seed(self.seed);
        let mut probe = Probe { fc: LinearConfig::new(d, num_classes).init(&ad) };
        let mut opt = Optimizer::new(OptimizerConfig::new(OptimizerName::Adamw, 0.0, 1e-4));
        let n = train_labels.len();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut order: Vec<usize> = (0..n).collect();
        let total_steps = self.epochs * n.div_ceil(self.batch_size);
        let mut step = 0;
        for _ in 0..self.epochs {
            order.shuffle(&mut rng);
            for chunk in order.chunks(self.batch_size) {
                let b = chunk.len();
                let x: Vec<f32> = chunk.iter().flat_map(|&i| train[i * d..(i + 1) * d].iter().copied()).collect();
                let y: Vec<i64> = chunk.iter().map(|&i| train_labels[i] as i64).collect();
                let x = Tensor::<2>::from_data(TensorData::new(x, [b, d]), &ad);
                let y = Tensor::<1, Int>::from_data(TensorData::new(y, [b]), &ad).reshape([b, 1]);
                let logp = log_softmax(probe.fc.forward(x), 1);
                let loss = logp.gather(1, y).mean().neg();
                let mut grads = loss.backward();
                let grads = GradientsParams::from_module(&mut grads, &probe);
                // Cosine decay keeps the last epochs from bouncing around the optimum.
                let lr = self.lr * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total_steps as f64).cos());
                probe = opt.step(probe, &grads, lr);
                step += 1;
            }
        }
        let probe = probe.valid();
        let nt = test_labels.len();
        let logits = probe.fc.forward(Tensor::<2>::from_data(TensorData::new(test, [nt, d]), device));
        let pred: Vec<i64> = logits.argmax(1).into_data().convert::<i64>().try_into_vec().expect("i64");
        let correct = pred.iter().zip(test_labels).filter(|(p, t)| **p == **t as i64).count();
        correct as f64 / nt.max(1) as f64
    }
}

fn column_stats(x: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (x.len() / d).max(1) as f32;
    let mut mean = vec![0f32; d];
    for row in x.chunks(d) {
        row.iter().zip(mean.iter_mut()).for_each(|(v, m)| *m += v / n);
    }
    let mut var = vec![0f32; d];
    for row in x.chunks(d) {
        row.iter().zip(&mean).zip(var.iter_mut()).for_each(|((v, m), s)| *s += (v - m).powi(2) / n);
    }
    (mean, var.into_iter().map(|v| v.sqrt().max(1e-6)).collect())
}
