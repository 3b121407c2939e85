//! MLflow tracking: each cell is an MLflow run (params = the resolved config, metrics per
//! epoch and per evaluation, tags for trial id and status), sent over MLflow's REST API
//! (`/api/2.0/mlflow/...`) by a background thread.
//!
//! Parquet stays the source of truth: a tracking server that is down, slow or failing never
//! fails or stalls training. Every request has a short timeout; the first failure prints one
//! warning and the sink goes quiet for the rest of the cell.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(3);
/// MLflow accepts at most 100 params per log-batch call.
const PARAMS_PER_BATCH: usize = 100;

enum Msg {
    Metrics(Vec<(String, f64, i64)>),
    Tag(String, String),
    End(String),
}

pub struct MlflowRun {
    tx: Option<Sender<Msg>>,
    worker: Option<JoinHandle<()>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        let mut resp = self.agent.post(&url).send_json(&body).map_err(|e| format!("POST {url}: {e}"))?;
        resp.body_mut().read_json::<Value>().map_err(|e| format!("POST {url}: {e}"))
    }

    fn experiment_id(&self, name: &str) -> Result<String, String> {
        let url = format!("{}/api/2.0/mlflow/experiments/get-by-name", self.base);
        match self.agent.get(&url).query("experiment_name", name).call() {
            Ok(mut r) => {
                let v: Value = r.body_mut().read_json().map_err(|e| e.to_string())?;
                v["experiment"]["experiment_id"].as_str().map(String::from).ok_or_else(|| format!("unexpected answer {v}"))
            }
            Err(ureq::Error::StatusCode(404)) => {
                let v = self.post("experiments/create", json!({ "name": name }))?;
                v["experiment_id"].as_str().map(String::from).ok_or_else(|| format!("unexpected answer {v}"))
            }
            Err(e) => Err(format!("GET {url}: {e}")),
        }
    }
}

impl MlflowRun {
    /// Start an MLflow run for a cell; returns at once (the requests happen on a thread).
    pub fn start(uri: &str, experiment: &str, run_name: &str, params: Vec<(String, String)>, tags: Vec<(String, String)>) -> Self {
        let (tx, rx) = channel();
        let (uri, experiment, run_name) = (uri.trim_end_matches('/').to_string(), experiment.to_string(), run_name.to_string());
        let worker = std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).build().into();
            let client = Client { agent, base: uri.clone() };
            if let Err(e) = serve(&client, &experiment, &run_name, params, tags, rx) {
                eprintln!("  warning: MLflow tracking at {uri} failed ({e}); results are in parquet, tracking is off for this cell");
            }
        });
        Self { tx: Some(tx), worker: Some(worker) }
    }

    pub fn log_metrics(&self, metrics: Vec<(String, f64, i64)>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Metrics(metrics));
        }
    }

    pub fn set_tag(&self, key: &str, value: &str) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Tag(key.into(), value.into()));
        }
    }

    /// End the run with the cell's status and wait (bounded by the request timeouts).
    pub fn finish(mut self, status: &str) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::End(status.to_string()));
        }
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for MlflowRun {
    fn drop(&mut self) {
        // Dropped without `finish` (an error path): close the channel, don't wait.
        self.tx.take();
    }
}

fn serve(c: &Client, experiment: &str, run_name: &str, params: Vec<(String, String)>, tags: Vec<(String, String)>, rx: Receiver<Msg>) -> Result<(), String> {
    let experiment_id = c.experiment_id(experiment)?;
    let tag_list: Vec<Value> = tags.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
    let v = c.post("runs/create", json!({ "experiment_id": experiment_id, "run_name": run_name, "start_time": now_ms(), "tags": tag_list }))?;
    let run_id = v["run"]["info"]["run_id"].as_str().ok_or_else(|| format!("unexpected answer {v}"))?.to_string();
    for chunk in params.chunks(PARAMS_PER_BATCH) {
        let list: Vec<Value> = chunk.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect();
        c.post("runs/log-batch", json!({ "run_id": run_id, "params": list }))?;
    }
    for msg in rx {
        match msg {
            Msg::Metrics(m) => {
                let t = now_ms();
                let list: Vec<Value> = m.iter().filter(|(_, v, _)| v.is_finite()).map(|(k, v, s)| json!({ "key": k, "value": v, "timestamp": t, "step": s })).collect();
                c.post("runs/log-batch", json!({ "run_id": run_id, "metrics": list }))?;
            }
            Msg::Tag(k, v) => {
                c.post("runs/set-tag", json!({ "run_id": run_id, "key": k, "value": v }))?;
            }
            Msg::End(status) => {
                c.post("runs/set-tag", json!({ "run_id": run_id, "key": "compmod.status", "value": status }))?;
                let mlflow_status = if status == "completed" { "FINISHED" } else { "FAILED" };
                c.post("runs/update", json!({ "run_id": run_id, "status": mlflow_status, "end_time": now_ms() }))?;
            }
        }
    }
    Ok(())
}
