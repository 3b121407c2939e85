//! compmod: self-supervised learning experiments with CompMod / Meta Comprehensive
//! Regularization. See README.md for the tour and shared/SPEC.md for the method.

pub mod augment;
pub mod bench;
pub mod compmod;
pub mod config;
pub mod data;
pub mod eval;
pub mod method;
pub mod model;
pub mod report;
pub mod results;
pub mod train;
