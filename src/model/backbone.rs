//! Backbones f_θ: image → feature vector h.
//!
//! `small-cnn`: four 3x3 conv-BN-ReLU layers (widths w, 2w, 4w, 4w; strides 1, 2, 2, 2) and
//! global average pooling, sized so a CompMod run on 28 px images fits a 2-core CPU.
//! `resnet18` (basic blocks) and `resnet50` (bottlenecks): the standard ResNets, with the CIFAR
//! stem (3x3 conv, stride 1, no max-pool) or the ImageNet stem (7x7 conv stride 2, max-pool).

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::norm::{Mode, Norm};
use crate::config::{Arch, BackboneConfig, Stem};

#[derive(Module, Debug)]
pub struct ConvNorm {
    pub conv: Conv2d,
    pub norm: Norm,
}

impl ConvNorm {
    fn new(cin: usize, cout: usize, kernel: usize, stride: usize, device: &Device) -> Self {
        let pad = kernel / 2;
        Self {
            conv: Conv2dConfig::new([cin, cout], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .init(device),
            norm: Norm::new(cout, device),
        }
    }

    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        self.norm.forward(self.conv.forward(x), mode)
    }
}

#[derive(Module, Debug)]
pub struct SmallCnn {
    pub layers: Vec<ConvNorm>,
}

#[derive(Module, Debug)]
pub struct BasicBlock {
    pub a: ConvNorm,
    pub b: ConvNorm,
    pub shortcut: Option<ConvNorm>,
}

impl BasicBlock {
    fn new(cin: usize, cout: usize, stride: usize, device: &Device) -> Self {
        let shortcut = (stride != 1 || cin != cout).then(|| ConvNorm::new(cin, cout, 1, stride, device));
        Self { a: ConvNorm::new(cin, cout, 3, stride, device), b: ConvNorm::new(cout, cout, 3, 1, device), shortcut }
    }

    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let y = self.b.forward(relu(self.a.forward(x.clone(), mode)), mode);
        let skip = match &self.shortcut {
            Some(s) => s.forward(x, mode),
            None => x,
        };
        relu(y + skip)
    }
}

/// ResNet-50's block: 1x1 reduce, 3x3 (carrying the stride), 1x1 expand by 4.
#[derive(Module, Debug)]
pub struct Bottleneck {
    pub reduce: ConvNorm,
    pub conv: ConvNorm,
    pub expand: ConvNorm,
    pub shortcut: Option<ConvNorm>,
}

impl Bottleneck {
    fn new(cin: usize, width: usize, stride: usize, device: &Device) -> Self {
        let cout = 4 * width;
        let shortcut = (stride != 1 || cin != cout).then(|| ConvNorm::new(cin, cout, 1, stride, device));
        Self {
            reduce: ConvNorm::new(cin, width, 1, 1, device),
            conv: ConvNorm::new(width, width, 3, stride, device),
            expand: ConvNorm::new(width, cout, 1, 1, device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<4> {
        let y = relu(self.reduce.forward(x.clone(), mode));
        let y = relu(self.conv.forward(y, mode));
        let y = self.expand.forward(y, mode);
        let skip = match &self.shortcut {
            Some(s) => s.forward(x, mode),
            None => x,
        };
        relu(y + skip)
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    pub stem: ConvNorm,
    /// The ImageNet stem's max-pool (absent with the CIFAR stem).
    pub pool: Option<MaxPool2d>,
    pub blocks: Vec<BasicBlock>,
    pub bottlenecks: Vec<Bottleneck>,
}

/// One of the backbones; exactly one field is set.
#[derive(Module, Debug)]
pub struct Backbone {
    pub small: Option<SmallCnn>,
    pub resnet: Option<ResNet>,
    pub out_dim: usize,
}

impl Backbone {
    pub fn new(cfg: &BackboneConfig, in_channels: usize, device: &Device) -> Self {
        match cfg.arch {
            Arch::SmallCnn => {
                let w = cfg.width;
                let spec = [(in_channels, w, 1), (w, 2 * w, 2), (2 * w, 4 * w, 2), (4 * w, 4 * w, 2)];
                let layers = spec.iter().map(|&(i, o, s)| ConvNorm::new(i, o, 3, s, device)).collect();
                Self { small: Some(SmallCnn { layers }), resnet: None, out_dim: 4 * w }
            }
            Arch::Resnet18 | Arch::Resnet50 => {
                let (stem, pool) = match cfg.stem {
                    Stem::Cifar => (ConvNorm::new(in_channels, 64, 3, 1, device), None),
                    Stem::Imagenet => (
                        ConvNorm::new(in_channels, 64, 7, 2, device),
                        Some(MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init()),
                    ),
                };
                let (mut blocks, mut bottlenecks) = (Vec::new(), Vec::new());
                let mut cin = 64;
                let stages = [(64, 1), (128, 2), (256, 2), (512, 2)];
                if cfg.arch == Arch::Resnet18 {
                    for (cout, stride) in stages {
                        blocks.push(BasicBlock::new(cin, cout, stride, device));
                        blocks.push(BasicBlock::new(cout, cout, 1, device));
                        cin = cout;
                    }
                } else {
                    for ((width, stride), depth) in stages.into_iter().zip([3, 4, 6, 3]) {
                        for i in 0..depth {
                            bottlenecks.push(Bottleneck::new(cin, width, if i == 0 { stride } else { 1 }, device));
                            cin = 4 * width;
                        }
                    }
                }
                Self { small: None, resnet: Some(ResNet { stem, pool, blocks, bottlenecks }), out_dim: cin }
            }
        }
    }

    /// `[n, c, h, w]` → `[n, out_dim]`.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> Tensor<2> {
        let mut x = x;
        if let Some(net) = &self.small {
            for layer in &net.layers {
                x = relu(layer.forward(x, mode));
            }
        }
        if let Some(net) = &self.resnet {
            x = relu(net.stem.forward(x, mode));
            if let Some(pool) = &net.pool {
                x = pool.forward(x);
            }
            for block in &net.blocks {
                x = block.forward(x, mode);
            }
            for block in &net.bottlenecks {
                x = block.forward(x, mode);
            }
        }
        let [n, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([n, c])
    }
}
