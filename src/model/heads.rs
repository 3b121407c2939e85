//! MLP heads: the base method's projector and CompMod's fusion network share this shape,
//! Linear → BatchNorm → ReLU → Linear.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::norm::{Mode, Norm};

#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub norm: Norm,
    pub fc2: Linear,
}

impl Mlp {
    pub fn new(input: usize, hidden: usize, output: usize, device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(input, hidden).with_bias(false).init(device),
            norm: Norm::new(hidden, device),
            fc2: LinearConfig::new(hidden, output).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<2>, mode: Mode) -> Tensor<2> {
        self.fc2.forward(relu(self.norm.forward(self.fc1.forward(x), mode)))
    }
}
