//! Batches of two augmented views, prepared on background threads ahead of the step.
//!
//! Every random draw is seeded from (run seed, epoch, position in the epoch), so a batch's
//! content does not depend on the number of workers or on thread timing, and an epoch can be
//! regenerated exactly (resume).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::ImageSet;
use crate::augment::{Image, ViewPipeline};
use crate::augment::transforms::resized_crop;
use crate::config::Interpolation;

/// A batch in NCHW f32 layout.
#[derive(Debug, Clone)]
pub struct Batch {
    pub views: [Vec<f32>; 2],
    pub labels: Vec<u16>,
    pub size: usize,
    pub channels: usize,
    pub side: usize,
}

/// Channel standardisation applied after augmentation.
#[derive(Debug, Clone)]
pub struct Normalize {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalize {
    fn apply(&self, img: &mut Image) {
        let n = img.height * img.width;
        for c in 0..img.channels {
            let (m, s) = (self.mean[c], self.std[c]);
            img.data[c * n..(c + 1) * n].iter_mut().for_each(|v| *v = (*v - m) / s);
        }
    }
}

/// SplitMix64-style mixing of seed parts into one well-spread seed.
pub fn mix_seed(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &p in parts {
        h ^= p.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(h << 6).wrapping_add(h >> 2);
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 31;
    }
    h
}

/// Configuration shared by every epoch of pretraining.
#[derive(Clone)]
pub struct PretrainLoader {
    pub data: Arc<ImageSet>,
    pub views: Arc<[ViewPipeline; 2]>,
    pub normalize: Option<Normalize>,
    pub batch_size: usize,
    pub seed: u64,
    pub workers: usize,
    pub prefetch: usize,
    /// 0 = every full batch of the epoch.
    pub max_steps: usize,
}

impl PretrainLoader {
    /// Full batches per epoch (the last partial batch is dropped).
    pub fn steps_per_epoch(&self) -> usize {
        let full = self.data.len() / self.batch_size;
        if self.max_steps > 0 { full.min(self.max_steps) } else { full }
    }

    /// The epoch's shuffled order of image indices.
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.data.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix_seed(&[self.seed, epoch as u64, 0x5348_5546])));
        order
    }

    /// Build batch `b` of `epoch` (pure: same inputs, same batch).
    pub fn make_batch(&self, order: &[usize], epoch: usize, b: usize) -> Batch {
        let d = &self.data;
        let side = self.views[0].out_size;
        let mut views = [Vec::new(), Vec::new()];
        let mut labels = Vec::with_capacity(self.batch_size);
        for pos in b * self.batch_size..(b + 1) * self.batch_size {
            let i = order[pos];
            let img = Image::from_u8(d.channels, d.height, d.width, d.image(i));
            let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(&[self.seed, epoch as u64, pos as u64]));
            for (v, pipeline) in self.views.iter().enumerate() {
                let (mut out, _) = pipeline.apply(&img, &mut rng);
                if let Some(n) = &self.normalize {
                    n.apply(&mut out);
                }
                views[v].extend_from_slice(&out.data);
            }
            labels.push(d.labels[i]);
        }
        Batch { views, labels, size: self.batch_size, channels: d.channels, side }
    }

    /// Iterate over the epoch's batches, starting at `start_step`; work runs ahead on
    /// `workers` threads with `prefetch` batches in flight per worker.
    pub fn epoch(&self, epoch: usize, start_step: usize) -> EpochIter {
        let steps = self.steps_per_epoch();
        let order = Arc::new(self.order(epoch));
        let workers = self.workers.max(1);
        let mut receivers = Vec::new();
        let mut handles = Vec::new();
        for w in 0..workers {
            let (tx, rx) = sync_channel(self.prefetch.max(1));
            let this = self.clone();
            let order = order.clone();
            handles.push(std::thread::spawn(move || {
                for b in (start_step..steps).filter(|b| b % workers == w) {
                    if tx.send(this.make_batch(&order, epoch, b)).is_err() {
                        return; // the consumer stopped early
                    }
                }
            }));
            receivers.push(rx);
        }
        EpochIter { receivers, next: start_step, end: steps, _handles: handles }
    }
}

pub struct EpochIter {
    receivers: Vec<Receiver<Batch>>,
    next: usize,
    end: usize,
    _handles: Vec<JoinHandle<()>>,
}

impl Iterator for EpochIter {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.end {
            return None;
        }
        let w = self.next % self.receivers.len();
        self.next += 1;
        self.receivers[w].recv().ok()
    }
}

/// Every image of a split, resized to `side` (PIL bilinear) and standardised, NCHW.
pub fn eval_tensor_data(data: &ImageSet, side: usize, normalize: Option<&Normalize>) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len() * data.channels * side * side);
    for i in 0..data.len() {
        let mut img = Image::from_u8(data.channels, data.height, data.width, data.image(i));
        if img.height != side || img.width != side {
            img = resized_crop(&img, 0.0, 0.0, img.height as f64, img.width as f64, side, side, Interpolation::Bilinear);
        }
        if let Some(n) = normalize {
            n.apply(&mut img);
        }
        out.extend_from_slice(&img.data);
    }
    out
}
