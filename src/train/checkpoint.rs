//! Checkpoints at every epoch end, so a killed cell continues where it stopped.
//!
//! `<trial>/checkpoint/` holds the networks (burn records: parameters and BatchNorm running
//! statistics), the optimisers' buffers, and `state.json` (the cell's config hash, the epoch
//! and step reached, and the epoch and evaluation rows so far). It is written to
//! `checkpoint.tmp/` and renamed into place, so a kill leaves the previous one whole. Every
//! random draw is derived from (seed, epoch, position), so no RNG state is needed, and a
//! checkpoint is used only by the cell whose config hash it carries.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::store::ModuleRecord;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::optim::OptimizerState;
use crate::results::{EpochRow, EvalRow};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    pub trial_id: String,
    /// Last completed epoch.
    pub epoch: usize,
    pub global_step: usize,
    pub epoch_rows: Vec<EpochRow>,
    pub evals: Vec<EvalRow>,
    pub started_at_ms: i64,
    pub elapsed_s: f64,
}

/// The float parameters of a module (running statistics included), in visit order.
fn params_in_order<M: Module>(module: &M) -> Vec<(ParamId, Vec<usize>)> {
    struct V(Vec<(ParamId, Vec<usize>)>);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push((param.id, param.val().shape().dims::<D>().to_vec()));
        }
    }
    let mut v = V(Vec::new());
    module.visit(&mut v);
    v.0
}

fn get_any(grads: &GradientsParams, id: ParamId, rank: usize) -> Option<TensorData> {
    match rank {
        1 => grads.get::<1>(id).map(|t| t.into_data()),
        2 => grads.get::<2>(id).map(|t| t.into_data()),
        3 => grads.get::<3>(id).map(|t| t.into_data()),
        4 => grads.get::<4>(id).map(|t| t.into_data()),
        _ => None,
    }
}

fn register_any(grads: &mut GradientsParams, id: ParamId, dims: &[usize], values: Vec<f32>, device: &burn::tensor::Device) {
    let data = TensorData::new(values, dims.to_vec());
    match dims.len() {
        1 => grads.register::<1>(id, Tensor::<1>::from_data(data, device)),
        2 => grads.register::<2>(id, Tensor::<2>::from_data(data, device)),
        3 => grads.register::<3>(id, Tensor::<3>::from_data(data, device)),
        4 => grads.register::<4>(id, Tensor::<4>::from_data(data, device)),
        _ => {}
    }
}

/// Optimiser buffers keyed by the module's visit order (parameter ids are not stable
/// across processes). Format: "CMOPT1", steps u64, then per parameter and buffer a
/// presence byte and that many f32 values (shapes come from the module).
pub fn write_optimizer<M: Module>(module: &M, state: &OptimizerState, path: &Path) -> Result<()> {
    let mut out = b"CMOPT1".to_vec();
    out.extend_from_slice(&state.steps.to_le_bytes());
    for (id, dims) in params_in_order(module) {
        for buf in [&state.first, &state.second] {
            match get_any(buf, id, dims.len()) {
                Some(data) => {
                    out.push(1);
                    for v in data.convert::<f32>().try_to_vec::<f32>().expect("f32") {
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
                None => out.push(0),
            }
        }
    }
    std::fs::File::create(path)?.write_all(&out).with_context(|| format!("cannot write {}", path.display()))
}

pub fn read_optimizer<M: Module>(module: &M, path: &Path, device: &burn::tensor::Device) -> Result<OptimizerState> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    if !bytes.starts_with(b"CMOPT1") || bytes.len() < 14 {
        bail!("{}: not a compmod optimiser checkpoint", path.display());
    }
    let mut pos = 6;
    let steps = u64::from_le_bytes(bytes[pos..pos + 8].try_into().unwrap());
    pos += 8;
    let mut state = OptimizerState { steps, ..Default::default() };
    for (id, dims) in params_in_order(module) {
        let n: usize = dims.iter().product();
        for which in 0..2 {
            let flag = *bytes.get(pos).with_context(|| format!("{}: truncated", path.display()))?;
            pos += 1;
            if flag == 1 {
                let end = pos + 4 * n;
                anyhow::ensure!(end <= bytes.len(), "{}: truncated", path.display());
                let values = bytes[pos..end].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
                pos = end;
                let buf = if which == 0 { &mut state.first } else { &mut state.second };
                register_any(buf, id, &dims, values, device);
            }
        }
    }
    anyhow::ensure!(pos == bytes.len(), "{}: does not match this model (size differs)", path.display());
    Ok(state)
}

pub fn save_module<M: Module>(module: &M, path: &Path) -> Result<()> {
    module.clone().into_record().save(path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

pub fn load_module<M: Module>(module: M, path: &Path) -> Result<M> {
    let record = ModuleRecord::load(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    module.try_load_record(record).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The newest whole checkpoint of this cell: its folder and state. `checkpoint.old` is the
/// previous one, left only if a kill fell between the two renames of a swap.
pub fn read_state(dir: &Path, trial_id: &str) -> Option<(std::path::PathBuf, CheckpointState)> {
    ["checkpoint", "checkpoint.old"].iter().find_map(|name| {
        let folder = dir.join(name);
        let text = std::fs::read_to_string(folder.join("state.json")).ok()?;
        let state: CheckpointState = serde_json::from_str(&text).ok()?;
        (state.trial_id == trial_id).then_some((folder, state))
    })
}

/// Write `checkpoint.tmp/` with `fill`, then swap it in for `checkpoint/`.
pub fn write_atomically(dir: &Path, state: &CheckpointState, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = dir.join("checkpoint.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    fill(&tmp)?;
    std::fs::write(tmp.join("state.json"), serde_json::to_string(state)?)?;
    for entry in std::fs::read_dir(&tmp)? {
        std::fs::File::open(entry?.path())?.sync_all()?;
    }
    let old = dir.join("checkpoint.old");
    let live = dir.join("checkpoint");
    let _ = std::fs::remove_dir_all(&old);
    if live.exists() {
        std::fs::rename(&live, &old)?;
    }
    std::fs::rename(&tmp, &live)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
