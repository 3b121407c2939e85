//! The experiment schema: every key a cell can set, with its default.
//!
//! The defaults here are the single source of truth: the loader derives the set of
//! valid keys (and their types) from `ExperimentConfig::default()` serialised to TOML,
//! so a new field is a new key everywhere (validation, grid, parquet columns) at once.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentConfig {
    /// Experiment name; results go to `results/<name>/<trial_id>/`.
    pub name: String,
    pub seed: u64,
    /// `"cpu"` (burn-flex), or with `--features tch`: `"tch-cpu"`, `"cuda:N"`.
    pub device: String,
    pub data: DataConfig,
    pub backbone: BackboneConfig,
    pub method: MethodConfig,
    pub augment: AugmentConfig,
    pub compmod: CompModConfig,
    pub train: TrainConfig,
    pub eval: EvalConfig,
    /// Where runs are mirrored; not part of a cell's identity.
    pub tracking: TrackingConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TrackingConfig {
    /// MLflow tracking server, e.g. "http://127.0.0.1:5000"; empty = $MLFLOW_TRACKING_URI
    /// if set, else no tracking.
    pub mlflow_uri: String,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            name: "experiment".into(),
            seed: 0,
            device: "cpu".into(),
            data: DataConfig::default(),
            backbone: BackboneConfig::default(),
            method: MethodConfig::default(),
            augment: AugmentConfig::default(),
            compmod: CompModConfig::default(),
            train: TrainConfig::default(),
            eval: EvalConfig::default(),
            tracking: TrackingConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Dataset {
    FashionMnist,
    Mnist,
    Cifar10,
    Cifar100,
    /// STL-10 binary (96 px; `data.unlabeled` adds its 100k unlabeled images to pretraining).
    Stl10,
    /// Tiny ImageNet's train/val layout with val_annotations.txt.
    TinyImagenet,
    /// Class folders `train/<class>/` and `val/<class>/` (ImageNet-100/1K).
    ImageFolder,
}

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::FashionMnist => "fashion-mnist",
            Dataset::Mnist => "mnist",
            Dataset::Cifar10 => "cifar10",
            Dataset::Cifar100 => "cifar100",
            Dataset::Stl10 => "stl10",
            Dataset::TinyImagenet => "tiny-imagenet",
            Dataset::ImageFolder => "image-folder",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    pub dataset: Dataset,
    /// Folder holding the dataset's files; empty means `data/<dataset>`.
    pub root: String,
    /// Side of the square images fed to the backbone (crops are resized to it).
    pub image_size: usize,
    /// Use only the first N training images for pretraining and as the kNN bank (0 = all).
    pub train_subset: usize,
    /// Evaluate on the first N test images (0 = the whole test split).
    pub test_subset: usize,
    /// Background threads that load and augment batches ahead of the training step.
    pub workers: usize,
    /// Batches prepared ahead of the step.
    pub prefetch: usize,
    /// Standardise pixels with the dataset's channel mean and std after augmentation.
    pub normalize: bool,
    /// STL-10: pretrain on the train split plus the 100k unlabeled images (kNN bank and
    /// linear probe stay on the labelled train split).
    pub unlabeled: bool,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: Dataset::FashionMnist,
            root: String::new(),
            image_size: 28,
            train_subset: 0,
            test_subset: 0,
            workers: 1,
            prefetch: 4,
            normalize: true,
            unlabeled: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    SmallCnn,
    Resnet18,
    Resnet50,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Stem {
    /// 3x3 conv, stride 1, no max-pool (for 28-32 px images).
    Cifar,
    /// 7x7 conv, stride 2, then 3x3 max-pool, stride 2 (for 64-224 px images).
    Imagenet,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackboneConfig {
    pub arch: Arch,
    pub stem: Stem,
    /// Channels of the first stage (small-cnn doubles it twice; resnet18 uses 64 as published).
    pub width: usize,
}

impl Default for BackboneConfig {
    fn default() -> Self {
        Self { arch: Arch::SmallCnn, stem: Stem::Cifar, width: 32 }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MethodName {
    Simclr,
    Byol,
    Barlow,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MethodConfig {
    pub name: MethodName,
    /// NT-Xent temperature (SimCLR).
    pub temperature: f64,
    pub proj_hidden: usize,
    pub proj_dim: usize,
    /// Hidden width of BYOL's predictor (proj_dim → pred_hidden → proj_dim).
    pub pred_hidden: usize,
    /// BYOL: τ, the weight on the *old* target, at the first step; it follows a cosine to 1.
    pub base_tau: f64,
    /// Barlow Twins: weight of the off-diagonal terms.
    pub lambda_offdiag: f64,
    /// Barlow Twins: factor on the whole loss (solo-learn's CIFAR recipe uses 0.1).
    pub scale_loss: f64,
}

impl Default for MethodConfig {
    fn default() -> Self {
        Self {
            name: MethodName::Simclr,
            temperature: 0.5,
            proj_hidden: 512,
            proj_dim: 128,
            pred_hidden: 512,
            base_tau: 0.99,
            lambda_offdiag: 0.0051,
            scale_loss: 0.1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    pub view1: ViewConfig,
    pub view2: ViewConfig,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Interpolation {
    Bilinear,
    Nearest,
}

/// One view's augmentation recipe, in torchvision's terms and order:
/// crop, flip, colour jitter, grayscale, blur, solarize.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ViewConfig {
    /// RandomResizedCrop area fraction range.
    pub crop_scale: [f64; 2],
    /// RandomResizedCrop aspect-ratio range.
    pub crop_ratio: [f64; 2],
    pub interpolation: Interpolation,
    pub flip_prob: f64,
    /// Probability that colour jitter is applied at all.
    pub jitter_prob: f64,
    pub brightness: f64,
    pub contrast: f64,
    pub saturation: f64,
    pub hue: f64,
    pub grayscale_prob: f64,
    pub blur_prob: f64,
    /// Odd kernel side of the gaussian blur.
    pub blur_kernel: usize,
    pub blur_sigma: [f64; 2],
    pub solarize_prob: f64,
    pub solarize_threshold: f64,
}

impl Default for ViewConfig {
    /// SimCLR's CIFAR recipe (crop 0.08-1, flip, jitter 0.4/0.4/0.4/0.1 at p=0.8,
    /// grayscale 0.2, no blur), the published small-image setting.
    fn default() -> Self {
        Self {
            crop_scale: [0.08, 1.0],
            crop_ratio: [3.0 / 4.0, 4.0 / 3.0],
            interpolation: Interpolation::Bilinear,
            flip_prob: 0.5,
            jitter_prob: 0.8,
            brightness: 0.4,
            contrast: 0.4,
            saturation: 0.4,
            hue: 0.1,
            grayscale_prob: 0.2,
            blur_prob: 0.0,
            blur_kernel: 3,
            blur_sigma: [0.1, 2.0],
            solarize_prob: 0.0,
            solarize_threshold: 0.5,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MecScale {
    /// μ = (m + d) / 2, as written in the paper.
    Mu,
    /// 1 / (λ m), as in the MEC authors' code; keeps gradients near the base loss's size.
    Mec,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerName {
    Sgd,
    Adam,
    Adamw,
    /// SGD with momentum and layer-wise trust ratios; 1-D parameters (biases, norms) are
    /// excluded from the adaptation and from weight decay.
    Lars,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CompModMode {
    /// Level 1 on θ, φ; level 2 on ξ with the finite-difference meta-gradient (SPEC.md).
    Bilevel,
    /// One level: every network trained with L_ssl + λ1 L_mcr + λ2 L_comp.
    Joint,
    /// Level 2 without the finite-difference term (ξ sees only λ2 L_comp). An ablation.
    FirstOrder,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Fusion {
    /// ĥ = h¹ ⊕ h² (backbone features).
    Concat,
    /// ẑ's input is z¹ ⊕ z² (projector outputs).
    ConcatZ,
    /// ĥ = (h¹ + h²) / 2.
    Mean,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CompModConfig {
    pub enabled: bool,
    /// Weight of L_mcr in level 1.
    pub lambda1: f64,
    /// Weight of L_comp in level 2.
    pub lambda2: f64,
    /// Terms of the coding-length series.
    pub order: usize,
    /// ε² of the coding length.
    pub eps2: f64,
    pub mec_scale: MecScale,
    /// Hidden width of the fusion network g_ξ.
    pub hidden: usize,
    pub meta_lr: f64,
    pub meta_optimizer: OptimizerName,
    pub mode: CompModMode,
    /// r = fd_radius / ‖v‖ in the finite-difference meta-gradient (SPEC.md: 0.01, as DARTS).
    pub fd_radius: f64,
    /// Stop L_mcr's gradient from reaching θ through Ẑ.
    pub detach_comprehensive: bool,
    pub fusion: Fusion,
    /// λ⁻¹ starts at this multiple of its value ...
    pub lambda_warmup_factor: f64,
    /// ... and comes down linearly over this many epochs.
    pub lambda_warmup_epochs: f64,
}

impl Default for CompModConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            lambda1: 1.0,
            lambda2: 1.0,
            order: 4,
            eps2: 64.0,
            mec_scale: MecScale::Mec,
            hidden: 512,
            meta_lr: 1e-3,
            meta_optimizer: OptimizerName::Adam,
            mode: CompModMode::Bilevel,
            fd_radius: 0.01,
            detach_comprehensive: false,
            fusion: Fusion::Concat,
            lambda_warmup_factor: 8.0,
            lambda_warmup_epochs: 10.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerName,
    /// Base learning rate per 256 images: the rate used is `lr * batch_size / 256`.
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Linear warm-up length in epochs (fractions allowed), then cosine to `min_lr_ratio * lr`.
    pub warmup_epochs: f64,
    pub min_lr_ratio: f64,
    /// LARS trust coefficient η.
    pub lars_eta: f64,
    /// LARS: cap the layer-wise rate at the global one (solo-learn's `clip_lr`).
    pub lars_clip: bool,
    /// Stop after this many steps per epoch (0 = the whole epoch); for smoke tests.
    pub max_steps_per_epoch: usize,
}

impl TrainConfig {
    /// The learning rate used: `lr` is per 256 images and scales with the batch.
    pub fn effective_lr(&self) -> f64 {
        self.lr * self.batch_size as f64 / 256.0
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 256,
            optimizer: OptimizerName::Sgd,
            lr: 0.3,
            momentum: 0.9,
            weight_decay: 5e-4,
            warmup_epochs: 1.0,
            min_lr_ratio: 0.0,
            lars_eta: 0.02,
            lars_clip: false,
            max_steps_per_epoch: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Neighbour counts of the kNN classifier (cosine similarity, temperature-weighted votes).
    pub knn_k: Vec<usize>,
    pub knn_temperature: f64,
    /// Evaluate every N epochs as well (0 = only before training and after the last epoch).
    pub every: usize,
    pub linear: bool,
    pub linear_epochs: usize,
    pub linear_lr: f64,
    pub linear_batch_size: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            knn_k: vec![5, 200],
            knn_temperature: 0.1,
            every: 0,
            linear: true,
            linear_epochs: 30,
            linear_lr: 1e-2,
            linear_batch_size: 256,
        }
    }
}
