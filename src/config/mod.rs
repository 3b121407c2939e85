//! Experiment files: schema, layering, grid expansion, identity, validation.

pub mod load;
pub mod schema;
pub mod validate;

pub use load::{Cell, ConfigError, ConfigErrors, Experiment, Origin, Overrides, cell_id, flatten_config, load_experiment, resolved_toml};
pub use schema::*;
