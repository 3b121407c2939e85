//! MLflow tracking against a real `mlflow server` (scripts/test.sh installs and starts one
//! on 127.0.0.1 and passes its address in MLFLOW_TEST_URI), and against servers that are
//! down or never answer: training must neither fail nor stall.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn server() -> String {
    std::env::var("MLFLOW_TEST_URI").expect("MLFLOW_TEST_URI is unset: run the tests through scripts/test.sh, which starts an MLflow server")
}

fn experiment(dir: &Path, name: &str) -> std::path::PathBuf {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist");
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "name = \"{name}\"\n[data]\nroot = \"{}\"\nimage_size = 16\ntrain_subset = 256\ntest_subset = 128\n[backbone]\nwidth = 4\n[method]\nproj_hidden = 16\nproj_dim = 8\n[train]\nepochs = 2\nbatch_size = 32\nmax_steps_per_epoch = 2\n[eval]\nlinear_epochs = 2\n[grid]\n\"compmod.enabled\" = [false, true]\n",
            data.display()
        ),
    )
    .unwrap();
    p
}

fn run(dir: &Path, file: &Path, uri: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_compmod"))
        .args(["run", file.to_str().unwrap(), "--quiet"])
        .env("MLFLOW_TRACKING_URI", uri)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn api(uri: &str, path: &str, body: Value) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
    agent.post(&format!("{uri}/api/2.0/mlflow/{path}")).send_json(&body).unwrap().body_mut().read_json().unwrap()
}

#[test]
fn each_cell_is_an_mlflow_run_with_params_metrics_and_tags() {
    let uri = server();
    let d = tempfile::tempdir().unwrap();
    // A unique experiment name per test run: the server may outlive one run of the tests.
    let name = format!("ml-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    let file = experiment(d.path(), &name);
    let out = run(d.path(), &file, &uri);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("warning: MLflow"), "{err}");
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
    let exp: Value = agent
        .get(&format!("{uri}/api/2.0/mlflow/experiments/get-by-name"))
        .query("experiment_name", &name)
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let id = exp["experiment"]["experiment_id"].as_str().unwrap().to_string();
    let runs = api(&uri, "runs/search", json!({ "experiment_ids": [id] }));
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "one MLflow run per cell");
    let trials: Vec<String> = std::fs::read_dir(d.path().join("results").join(&name)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    for r in runs {
        assert_eq!(r["info"]["status"], "FINISHED");
        let tags = r["data"]["tags"].as_array().unwrap();
        let tag = |k: &str| tags.iter().find(|t| t["key"] == k).map(|t| t["value"].as_str().unwrap().to_string());
        assert_eq!(tag("compmod.status").as_deref(), Some("completed"));
        assert!(trials.contains(&tag("compmod.trial_id").unwrap()), "the trial id tag names a results folder");
        let params = r["data"]["params"].as_array().unwrap();
        let param = |k: &str| params.iter().find(|p| p["key"] == k).map(|p| p["value"].as_str().unwrap().to_string());
        assert_eq!(param("train.epochs").as_deref(), Some("2"));
        assert!(param("compmod.enabled").is_some() && param("augment.view1.crop_scale").is_some());
        // Metric history: kNN at epochs 0 and 2, the loss per epoch.
        let run_id = r["info"]["run_id"].as_str().unwrap();
        let history = |key: &str| -> Value {
            agent
                .get(&format!("{uri}/api/2.0/mlflow/metrics/get-history"))
                .query("run_id", run_id)
                .query("metric_key", key)
                .call()
                .unwrap()
                .body_mut()
                .read_json()
                .unwrap()
        };
        let h = history("knn5");
        let steps: Vec<i64> = h["metrics"].as_array().unwrap().iter().map(|m| m["step"].as_i64().unwrap_or(0)).collect();
        assert_eq!(steps, vec![0, 2], "{h}");
        let h = history("loss");
        assert_eq!(h["metrics"].as_array().unwrap().len(), 2);
    }
}

#[test]
fn a_down_or_silent_server_never_fails_or_stalls_training() {
    let d = tempfile::tempdir().unwrap();
    // Down: nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    // Silent: accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_uri = format!("http://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    for (label, uri) in [("down", down), ("silent", silent_uri)] {
        let file = experiment(d.path(), label);
        let t = Instant::now();
        let out = run(d.path(), &file, &uri);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{label}: {err}");
        assert_eq!(err.matches("warning: MLflow tracking").count(), 2, "{label}: one warning per cell:\n{err}");
        assert!(t.elapsed() < Duration::from_secs(60), "{label}: took {:?}", t.elapsed());
        for e in std::fs::read_dir(d.path().join("results").join(label)).unwrap() {
            let df = compmod::results::read_parquet(&e.unwrap().path().join("run.parquet")).unwrap();
            assert_eq!(df.column("status").unwrap().str().unwrap().get(0), Some("completed"));
        }
    }
}
