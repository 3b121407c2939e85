//! Training: the per-cell loop, optimisers, schedules, and the grid runner.

pub mod cell;
pub mod checkpoint;
pub mod ema;
pub mod lock;
pub mod optim;
pub mod params;
pub mod runner;
pub mod schedule;
pub mod slurm;
pub mod step;

use anyhow::{Result, bail};
use burn::tensor::Device;

/// The device an experiment's `device` key names.
pub fn make_device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::flex()),
        #[cfg(feature = "tch")]
        "tch-cpu" => {
            #[allow(deprecated)]
            Ok(Device::libtorch())
        }
        #[cfg(feature = "tch")]
        other if other.starts_with("cuda:") => {
            let index = crate::config::validate::parse_cuda(other).ok_or_else(|| anyhow::anyhow!("device {other:?}: expected cuda:N"))?;
            #[allow(deprecated)]
            Ok(Device::libtorch_cuda(index))
        }
        other => bail!("device {other:?} needs the LibTorch backend: rebuild with `cargo build --features tch` (see README)"),
    }
}

/// A short name of the backend behind a device key, recorded with the results.
pub fn backend_name(device: &str) -> &'static str {
    match device {
        "cpu" => "flex",
        "tch-cpu" => "tch-cpu",
        _ => "tch-cuda",
    }
}
