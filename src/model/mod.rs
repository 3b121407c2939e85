//! Networks: batch norm with an explicit mode, backbones, MLP heads.

pub mod backbone;
pub mod heads;
pub mod norm;

pub use backbone::Backbone;
pub use heads::Mlp;
pub use norm::{Mode, Norm};

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::config::ExperimentConfig;

/// The trained networks of a base method: backbone f_θ, projector g_φ, and the method's
/// own extra head when it has one (BYOL's predictor). All of it is (θ, φ) for CompMod.
#[derive(Module, Debug)]
pub struct SslNet {
    pub backbone: Backbone,
    pub projector: Mlp,
    pub predictor: Option<Mlp>,
}

impl SslNet {
    pub fn new(cfg: &ExperimentConfig, in_channels: usize, with_predictor: bool, device: &Device) -> Self {
        let backbone = Backbone::new(&cfg.backbone, in_channels, device);
        let projector = Mlp::new(backbone.out_dim, cfg.method.proj_hidden, cfg.method.proj_dim, device);
        let predictor = with_predictor.then(|| Mlp::new(cfg.method.proj_dim, cfg.method.pred_hidden, cfg.method.proj_dim, device));
        Self { backbone, projector, predictor }
    }

    /// (h, z) for one view.
    pub fn forward(&self, x: Tensor<4>, mode: Mode) -> (Tensor<2>, Tensor<2>) {
        let h = self.backbone.forward(x, mode);
        let z = self.projector.forward(h.clone(), mode);
        (h, z)
    }
}
