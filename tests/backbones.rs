//! Backbone shapes and parameter counts against the standard architectures (torchvision's
//! resnet18 / resnet50 without the classifier: 11,176,512 and 23,508,032 parameters).

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use compmod::config::{Arch, BackboneConfig, Stem};
use compmod::model::{Backbone, Mode};

/// Trainable parameters only (BatchNorm's running statistics are buffers).
fn trainable(m: &Backbone) -> usize {
    struct V(usize);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = param.val();
            if v.is_require_grad() {
                self.0 += v.shape().num_elements();
            }
        }
    }
    let mut v = V(0);
    m.visit(&mut v);
    v.0
}

#[test]
fn resnet_parameter_counts_match_the_standard_architectures() {
    let ad = Device::flex().autodiff();
    let cfg = |arch, stem| BackboneConfig { arch, stem, width: 64 };
    assert_eq!(trainable(&Backbone::new(&cfg(Arch::Resnet18, Stem::Imagenet), 3, &ad)), 11_176_512);
    assert_eq!(trainable(&Backbone::new(&cfg(Arch::Resnet50, Stem::Imagenet), 3, &ad)), 23_508_032);
    // The CIFAR stem swaps the 7x7x3x64 conv (9,408) for a 3x3x3x64 one (1,728).
    assert_eq!(trainable(&Backbone::new(&cfg(Arch::Resnet18, Stem::Cifar), 3, &ad)), 11_176_512 - 9_408 + 1_728);
}

#[test]
fn backbones_map_images_to_feature_vectors() {
    let device = Device::flex();
    let x = |c: usize, side: usize| Tensor::<4>::ones([2, c, side, side], &device);
    let small = Backbone::new(&BackboneConfig { arch: Arch::SmallCnn, stem: Stem::Cifar, width: 8 }, 1, &device);
    assert_eq!(small.forward(x(1, 28), Mode::Eval).dims(), [2, 32]);
    let r18 = Backbone::new(&BackboneConfig { arch: Arch::Resnet18, stem: Stem::Cifar, width: 64 }, 3, &device);
    assert_eq!(r18.forward(x(3, 32), Mode::Eval).dims(), [2, 512]);
    let r50 = Backbone::new(&BackboneConfig { arch: Arch::Resnet50, stem: Stem::Imagenet, width: 64 }, 3, &device);
    assert_eq!(r50.forward(x(3, 64), Mode::Eval).dims(), [2, 2048]);
}
