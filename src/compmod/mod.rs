//! CompMod with Meta Comprehensive Regularization (SPEC.md): the fusion network g_ξ, the
//! coding-length series, L_comp and L_mcr, and the bi-level training step.

pub mod bilevel;
pub mod coding_length;

pub use bilevel::{CompModState, fuse};
pub use coding_length::{CodingLength, SeriesCheck};
