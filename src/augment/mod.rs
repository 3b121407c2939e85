//! Two-view augmentation: single transforms with torchvision's semantics, and the per-view
//! pipeline that samples their parameters.

pub mod pipeline;
pub mod transforms;

pub use pipeline::{ViewPipeline, ViewSample};
pub use transforms::Image;
