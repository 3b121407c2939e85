//! Helpers shared by the tests that compare against tests/fixtures/losses.json.
#![allow(dead_code)]

use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;

/// A JSON list of rows as a `[rows, cols]` f32 tensor.
pub fn matrix(v: &Value, device: &Device) -> Tensor<2> {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    let data: Vec<f32> = rows.iter().flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32)).collect();
    Tensor::from_data(TensorData::new(data, [rows.len(), cols]), device)
}

/// A JSON list of rows, flattened.
pub fn flat(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap())).collect()
}

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_into_vec().unwrap()
}

pub fn loss_fixtures() -> Value {
    serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/losses.json")).unwrap()).unwrap()
}

/// Element-wise agreement within `rel` of the largest reference magnitude.
pub fn assert_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().map(|x| x.abs()).fold(0.0, f64::max).max(1e-3);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= rel * scale, "{what}[{i}]: got {g}, want {w}");
    }
}
