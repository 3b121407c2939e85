//! End to end through the `compmod` binary on real Fashion-MNIST images: a two-cell grid,
//! the results folder against its schema, skip-if-done, divergence, and bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use compmod::results::read_parquet;
use polars::prelude::*;

fn compmod(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_compmod"))
        .args(args)
        .current_dir(dir)
        .env_remove("COMPMOD_TRAIN__EPOCHS")
        .output()
        .expect("run compmod")
}

fn tiny_experiment(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist");
    assert!(data.is_dir(), "run `cargo run -- data fetch fashion-mnist` first (the test script does)");
    let text = format!(
        r#"name = "{name}"
[data]
root = "{}"
image_size = 16
train_subset = 512
test_subset = 256
[backbone]
width = 8
[method]
proj_hidden = 32
proj_dim = 16
[compmod]
hidden = 32
[train]
epochs = 2
batch_size = 64
max_steps_per_epoch = 3
[eval]
knn_k = [5, 200]
linear_epochs = 20
{extra}
"#,
        data.display()
    );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn trial_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

#[test]
fn grid_runs_writes_schema_and_skips_done_cells() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(d.path(), "tiny", "[grid]\n\"compmod.enabled\" = [false, true]\n");
    let out = compmod(d.path(), &["run", exp.to_str().unwrap(), "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| knn5 (%) | knn200 (%) | linear (%) | knn5_epoch0 (%) |"), "{stdout}");

    let trials = trial_dirs(&d.path().join("results/tiny"));
    assert_eq!(trials.len(), 2);
    let mut seen_enabled = Vec::new();
    for t in &trials {
        for f in ["config.toml", "run.parquet", "epochs.parquet", "evals.parquet"] {
            assert!(t.join(f).is_file(), "{} missing", t.join(f).display());
        }
        let run = read_parquet(&t.join("run.parquet")).unwrap();
        assert_eq!(run.height(), 1);
        let id = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(run.column("trial_id").unwrap().str().unwrap().get(0), Some(id));
        assert_eq!(run.column("status").unwrap().str().unwrap().get(0), Some("completed"));
        assert_eq!(run.column("experiment").unwrap().str().unwrap().get(0), Some("tiny"));
        assert_eq!(run.column("train.epochs").unwrap().dtype(), &DataType::Int64);
        assert_eq!(run.column("train.lr").unwrap().dtype(), &DataType::Float64);
        assert_eq!(run.column("method.name").unwrap().str().unwrap().get(0), Some("simclr"));
        assert!(matches!(run.column("augment.view1.crop_scale").unwrap().dtype(), DataType::List(_)));
        assert!(matches!(run.column("started_at").unwrap().dtype(), DataType::Datetime(_, _)));
        let enabled = run.column("compmod.enabled").unwrap().bool().unwrap().get(0).unwrap();
        let lambda1 = run.column("compmod.lambda1").unwrap();
        assert_eq!(lambda1.dtype(), &DataType::Float64, "typed even when null");
        assert_eq!(lambda1.null_count(), if enabled { 0 } else { 1 }, "a baseline's CompMod knobs are null");
        seen_enabled.push(enabled);

        let epochs = read_parquet(&t.join("epochs.parquet")).unwrap();
        assert_eq!(epochs.column("epoch").unwrap().i64().unwrap().into_no_null_iter().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(epochs.column("steps").unwrap().i64().unwrap().get(0), Some(3));
        assert!(epochs.column("loss").unwrap().f64().unwrap().into_no_null_iter().all(f64::is_finite));
        assert_eq!(epochs.column("loss_mcr").unwrap().null_count(), if enabled { 0 } else { 2 });
        assert_eq!(epochs.column("series_max_norm").unwrap().dtype(), &DataType::Float64);

        let evals = read_parquet(&t.join("evals.parquet")).unwrap();
        // kNN with k = 5, 200 and the linear probe, at epoch 0 and at the last epoch.
        assert_eq!(evals.height(), 6);
        let protocol: Vec<String> = (0..evals.height()).map(|i| evals.column("protocol").unwrap().str().unwrap().get(i).unwrap().to_string()).collect();
        assert_eq!(protocol, vec!["knn", "knn", "linear", "knn", "knn", "linear"]);
        let k: Vec<Option<i64>> = (0..evals.height()).map(|i| evals.column("k").unwrap().i64().unwrap().get(i)).collect();
        assert_eq!(k, vec![Some(5), Some(200), None, Some(5), Some(200), None]);
        let epochs_col: Vec<i64> = evals.column("epoch").unwrap().i64().unwrap().into_no_null_iter().collect();
        assert_eq!(epochs_col, vec![0, 0, 0, 2, 2, 2]);
        // Ten balanced classes: far above chance even at epoch 0 on real images.
        let top1: Vec<f64> = evals.column("top1").unwrap().f64().unwrap().into_no_null_iter().collect();
        assert!(top1.iter().all(|a| (0.2..=1.0).contains(a)), "{top1:?}");

        // The resolved config re-runs alone as the same cell.
        let plan = compmod(d.path(), &["plan", t.join("config.toml").to_str().unwrap()]);
        let plan_out = String::from_utf8_lossy(&plan.stdout);
        assert!(plan.status.success() && plan_out.contains(id) && plan_out.contains("completed"), "{plan_out}");
    }
    seen_enabled.sort();
    assert_eq!(seen_enabled, vec![false, true]);

    // A second run skips both cells and leaves their files byte for byte.
    let before: Vec<Vec<u8>> = trials.iter().map(|t| std::fs::read(t.join("run.parquet")).unwrap()).collect();
    let out = compmod(d.path(), &["run", exp.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).matches("already completed, skipped").count(), 2);
    let after: Vec<Vec<u8>> = trials.iter().map(|t| std::fs::read(t.join("run.parquet")).unwrap()).collect();
    assert_eq!(before, after);
    let plan = compmod(d.path(), &["plan", exp.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&plan.stdout).matches("completed").count(), 2);
}

#[test]
fn diverged_cell_is_recorded_and_the_grid_goes_on() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(d.path(), "div", "[grid]\n\"train.lr\" = [0.1, 1e30]\n");
    let out = compmod(d.path(), &["run", exp.to_str().unwrap(), "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("1 of 2 cells did not complete") && stderr.contains("diverged: non-finite loss"), "{stderr}");
    let mut statuses = Vec::new();
    for t in trial_dirs(&d.path().join("results/div")) {
        let run = read_parquet(&t.join("run.parquet")).unwrap();
        let status = run.column("status").unwrap().str().unwrap().get(0).unwrap().to_string();
        if status == "diverged" {
            assert!(run.column("diverged_step").unwrap().i64().unwrap().get(0).unwrap() >= 1);
            assert!(run.column("error").unwrap().str().unwrap().get(0).unwrap().contains("non-finite loss"));
        }
        statuses.push(status);
    }
    statuses.sort();
    assert_eq!(statuses, vec!["completed", "diverged"]);
}

#[test]
fn bad_input_fails_before_training_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(d.path(), "bad", "[train]\nwarmup_epoch = 1\n");
    // The extra [train] table is a duplicate table: TOML itself rejects it, with a line.
    let out = compmod(d.path(), &["run", exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("bad.toml:") && e.contains("TOML syntax error"), "{e}");

    let p = d.path().join("typo.toml");
    let text = std::fs::read_to_string(tiny_experiment(d.path(), "typo", "")).unwrap().replace("batch_size = 64", "bach_size = 64");
    std::fs::write(&p, text).unwrap();
    let out = compmod(d.path(), &["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("typo.toml:") && e.contains("key `train.bach_size`: unknown key; did you mean `train.batch_size`?"), "{e}");
    assert!(!d.path().join("results").exists(), "a rejected file must not create results");

    let out = compmod(d.path(), &["validate", p.to_str().unwrap(), exp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let o = String::from_utf8_lossy(&out.stdout);
    assert_eq!(o.matches("error  ").count(), 2, "{o}");

    // A missing data folder is named with the way to fetch it.
    let missing = d.path().join("missing.toml");
    std::fs::write(&missing, "name = \"missing\"\n[data]\nroot = \"nowhere\"\n").unwrap();
    let out = compmod(d.path(), &["run", missing.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!d.path().join("results").exists(), "a missing dataset must not create results");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("data folder nowhere does not exist") && e.contains("compmod data fetch fashion-mnist"), "{e}");
}

#[test]
fn every_method_runs_with_and_without_compmod() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(d.path(), "methods", "[grid]\n\"method.name\" = [\"simclr\", \"byol\", \"barlow\"]\n\"compmod.enabled\" = [false, true]\n");
    let out = compmod(d.path(), &["run", exp.to_str().unwrap(), "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let trials = trial_dirs(&d.path().join("results/methods"));
    assert_eq!(trials.len(), 6);
    let mut methods = Vec::new();
    for t in &trials {
        let run = read_parquet(&t.join("run.parquet")).unwrap();
        assert_eq!(run.column("status").unwrap().str().unwrap().get(0), Some("completed"));
        assert_eq!(run.column("eval_network").unwrap().str().unwrap().get(0), Some("online"));
        methods.push(run.column("method.name").unwrap().str().unwrap().get(0).unwrap().to_string());
        let epochs = read_parquet(&t.join("epochs.parquet")).unwrap();
        let rank = epochs.column("z_effective_rank").unwrap().f64().unwrap().get(1).unwrap();
        assert!((1.0..=16.0).contains(&rank), "effective rank {rank} of 16-d embeddings");
        assert!(epochs.column("loss").unwrap().f64().unwrap().into_no_null_iter().all(f64::is_finite));
    }
    methods.sort();
    assert_eq!(methods, vec!["barlow", "barlow", "byol", "byol", "simclr", "simclr"]);
}

#[test]
fn two_runners_run_each_cell_once_and_dead_locks_are_taken_over() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(d.path(), "pair", "[grid]\nseed = [0, 1, 2, 3]\n");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_compmod"))
            .args(["run", exp.to_str().unwrap(), "--quiet"])
            .current_dir(d.path())
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let logs = format!("{}{}", String::from_utf8_lossy(&a.stderr), String::from_utf8_lossy(&b.stderr));
    assert!(a.status.success() && b.status.success(), "{logs}");
    let trials = trial_dirs(&d.path().join("results/pair"));
    assert_eq!(trials.len(), 4);
    for t in &trials {
        let id = t.file_name().unwrap().to_str().unwrap();
        let ran = logs.lines().filter(|l| l.contains(id) && l.contains(": completed in")).count();
        assert_eq!(ran, 1, "cell {id} ran {ran} times:\n{logs}");
        assert!(!t.join("lock").exists(), "lock left behind in {id}");
        let run = read_parquet(&t.join("run.parquet")).unwrap();
        assert_eq!(run.column("status").unwrap().str().unwrap().get(0), Some("completed"));
    }

    // A lock held by a live process with a fresh heartbeat is respected; one whose process
    // is gone is taken over.
    let exp2 = tiny_experiment(d.path(), "locks", "[grid]\nseed = [0, 1]\n");
    let plan = compmod(d.path(), &["plan", exp2.to_str().unwrap()]);
    let ids: Vec<String> = String::from_utf8_lossy(&plan.stdout).lines().skip(1).map(|l| l.split_whitespace().nth(1).unwrap().to_string()).collect();
    let host = compmod::train::lock::hostname();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for (id, pid) in ids.iter().zip([std::process::id(), 999_999]) {
        let dir = d.path().join("results/locks").join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lock"), format!("host = {host:?}\npid = {pid}\nheartbeat = {now}\n")).unwrap();
    }
    let out = compmod(d.path(), &["run", exp2.to_str().unwrap(), "--quiet"]);
    assert!(out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains(&format!("{}", ids[0])) && e.contains("running in another runner, skipped"), "{e}");
    assert!(e.contains(&format!("cell 1 {}", ids[1])) && e.contains(": completed in"), "{e}");
    assert!(d.path().join("results/locks").join(&ids[0]).join("lock").exists(), "a live owner's lock stays");
}

#[test]
fn slurm_array_tasks_run_every_cell_once() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(d.path(), "slurm", "[grid]\n\"compmod.enabled\" = [false, true]\nseed = [0, 1]\n");
    let out = compmod(d.path(), &["slurm", exp.to_str().unwrap(), "--partition", "gpu", "--gpus-per-task", "1", "--time", "01:00:00", "--set", "train.epochs=1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let script = String::from_utf8(out.stdout).unwrap();
    for line in ["#SBATCH --array=0-3", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-task=1", "#SBATCH --time=01:00:00", "--cell \"$SLURM_ARRAY_TASK_ID\"", "--set 'train.epochs=1'"] {
        assert!(script.contains(line), "missing {line:?} in\n{script}");
    }
    let job = d.path().join("job.sh");
    std::fs::write(&job, &script).unwrap();
    // Run the array's tasks here, as Slurm would, one per cell.
    for task in 0..4 {
        let st = Command::new("bash").arg(&job).env("SLURM_ARRAY_TASK_ID", task.to_string()).current_dir("/").output().unwrap();
        assert!(st.status.success(), "task {task}: {}", String::from_utf8_lossy(&st.stderr));
    }
    let trials = trial_dirs(&d.path().join("results/slurm"));
    assert_eq!(trials.len(), 4);
    for t in &trials {
        let run = read_parquet(&t.join("run.parquet")).unwrap();
        assert_eq!(run.column("status").unwrap().str().unwrap().get(0), Some("completed"));
        assert_eq!(run.column("train.epochs").unwrap().i64().unwrap().get(0), Some(1), "the --set reached the task");
    }
    let indices: Vec<i64> = trials.iter().map(|t| read_parquet(&t.join("run.parquet")).unwrap().column("cell_index").unwrap().i64().unwrap().get(0).unwrap()).collect();
    let mut sorted = indices.clone();
    sorted.sort();
    assert_eq!(sorted, vec![0, 1, 2, 3], "each task ran its own cell");
}

fn column_f64(path: &Path, name: &str) -> Vec<f64> {
    let df = read_parquet(path).unwrap();
    let c = df.column(name).unwrap().f64().unwrap().clone();
    (0..df.height()).map(|i| c.get(i).unwrap_or(f64::NAN)).collect()
}

#[test]
fn a_stopped_grid_resumes_from_checkpoints_and_matches_an_uninterrupted_run() {
    let grid = "[grid]\n\"method.name\" = [\"simclr\", \"byol\"]\n\"compmod.enabled\" = [false, true]\n";
    let whole = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(whole.path(), "resume", grid);
    let out = compmod(whole.path(), &["run", exp.to_str().unwrap(), "--quiet", "--set", "train.epochs=3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let parts = tempfile::tempdir().unwrap();
    let exp2 = parts.path().join("resume.toml");
    std::fs::copy(&exp, &exp2).unwrap();
    let out = compmod(parts.path(), &["run", exp2.to_str().unwrap(), "--quiet", "--set", "train.epochs=3", "--stop-after-epoch", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for t in trial_dirs(&parts.path().join("results/resume")) {
        let run = read_parquet(&t.join("run.parquet")).unwrap();
        assert_eq!(run.column("status").unwrap().str().unwrap().get(0), Some("running"), "stopped cells are not done");
        assert!(t.join("checkpoint/state.json").is_file());
    }
    let out = compmod(parts.path(), &["run", exp2.to_str().unwrap(), "--set", "train.epochs=3"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    assert_eq!(e.matches("resuming from the checkpoint of epoch 1").count(), 4, "{e}");

    let a = trial_dirs(&whole.path().join("results/resume"));
    let b = trial_dirs(&parts.path().join("results/resume"));
    assert_eq!(a.iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>(), b.iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>(), "same cells");
    for (x, y) in a.iter().zip(&b) {
        for (file, col) in [("epochs.parquet", "loss"), ("epochs.parquet", "z_std"), ("evals.parquet", "top1")] {
            let (u, v) = (column_f64(&x.join(file), col), column_f64(&y.join(file), col));
            assert_eq!(u.len(), v.len(), "{file}:{col} rows");
            for (p, q) in u.iter().zip(&v) {
                assert!((p - q).abs() <= 1e-6 * p.abs().max(1.0), "{}: {file} {col}: uninterrupted {p} vs resumed {q}", x.display());
            }
        }
        let run = read_parquet(&y.join("run.parquet")).unwrap();
        assert_eq!(run.column("status").unwrap().str().unwrap().get(0), Some("completed"));
    }
}

#[test]
fn kill_9_mid_cell_then_restart_continues_and_keeps_completed_cells() {
    let grid = "[grid]\nseed = [0, 1]\n";
    let d = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(d.path(), "killed", grid);
    let set = ["--set", "train.epochs=4", "--set", "train.max_steps_per_epoch=6"];
    let plan = compmod(d.path(), &["plan", exp.to_str().unwrap(), set[0], set[1], set[2], set[3]]);
    let ids: Vec<String> = String::from_utf8_lossy(&plan.stdout).lines().skip(1).map(|l| l.split_whitespace().nth(1).unwrap().to_string()).collect();
    let second = d.path().join("results/killed").join(&ids[1]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_compmod"))
        .args(["run", exp.to_str().unwrap(), "--quiet"])
        .args(set)
        .current_dir(d.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill -9 as soon as the second cell has its first checkpoint: mid-cell.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !second.join("checkpoint/state.json").exists() {
        assert!(std::time::Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first = d.path().join("results/killed").join(&ids[0]);
    let first_bytes: Vec<Vec<u8>> = ["run.parquet", "epochs.parquet", "evals.parquet"].iter().map(|f| std::fs::read(first.join(f)).unwrap()).collect();
    // Nothing half-written: every parquet file reads.
    for t in trial_dirs(&d.path().join("results/killed")) {
        for f in ["run.parquet", "epochs.parquet", "evals.parquet"] {
            if t.join(f).exists() {
                read_parquet(&t.join(f)).unwrap_or_else(|e| panic!("{}: {e}", t.join(f).display()));
            }
        }
    }
    let run = read_parquet(&second.join("run.parquet")).unwrap();
    assert_eq!(run.column("status").unwrap().str().unwrap().get(0), Some("running"), "killed before the second cell finished");

    let out = compmod(d.path(), &["run", exp.to_str().unwrap(), set[0], set[1], set[2], set[3]]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    assert!(e.contains("already completed, skipped") && e.contains("resuming from the checkpoint of epoch"), "{e}");
    let after: Vec<Vec<u8>> = ["run.parquet", "epochs.parquet", "evals.parquet"].iter().map(|f| std::fs::read(first.join(f)).unwrap()).collect();
    assert_eq!(first_bytes, after, "the completed cell was rewritten");

    // The continued cell equals an uninterrupted run of the same cell.
    let clean = tempfile::tempdir().unwrap();
    let exp3 = clean.path().join("killed.toml");
    std::fs::copy(&exp, &exp3).unwrap();
    let out = compmod(clean.path(), &["run", exp3.to_str().unwrap(), "--quiet", "--cell", "1", set[0], set[1], set[2], set[3]]);
    assert!(out.status.success());
    let reference = clean.path().join("results/killed").join(&ids[1]);
    for (file, col) in [("epochs.parquet", "loss"), ("evals.parquet", "top1")] {
        let (u, v) = (column_f64(&reference.join(file), col), column_f64(&second.join(file), col));
        assert_eq!(u.len(), v.len());
        assert!(u.iter().zip(&v).all(|(p, q)| (p - q).abs() <= 1e-6 * p.abs().max(1.0)), "{file} {col}: {u:?} vs {v:?}");
    }
}

#[test]
fn devices_run_cells_side_by_side_each_once() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny_experiment(d.path(), "devices", "[grid]\nseed = [0, 1, 2, 3]\n");
    let out = compmod(d.path(), &["run", exp.to_str().unwrap(), "--quiet", "--devices", "cpu,cpu"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    let trials = trial_dirs(&d.path().join("results/devices"));
    assert_eq!(trials.len(), 4);
    for t in &trials {
        let id = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(e.lines().filter(|l| l.contains(id) && l.contains(": completed in")).count(), 1, "{e}");
    }
    // Same numbers as one cell at a time.
    let seq = tempfile::tempdir().unwrap();
    let exp2 = seq.path().join("devices.toml");
    std::fs::copy(&exp, &exp2).unwrap();
    assert!(compmod(seq.path(), &["run", exp2.to_str().unwrap(), "--quiet"]).status.success());
    for (a, b) in trials.iter().zip(trial_dirs(&seq.path().join("results/devices"))) {
        let (u, v) = (column_f64(&a.join("evals.parquet"), "top1"), column_f64(&b.join("evals.parquet"), "top1"));
        assert_eq!(u, v, "{}", a.display());
    }
    let bad = compmod(d.path(), &["run", exp.to_str().unwrap(), "--devices", "cpu,cuda:1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--devices cuda:1"));
}

#[test]
fn bench_runs_and_prints_its_table() {
    let d = tempfile::tempdir().unwrap();
    let out = compmod(d.path(), &["bench", "--batch", "8", "--image-size", "12", "--width", "4", "--steps", "1", "--warmup", "0", "--python", "none"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for row in ["| simclr | base |", "| byol | + CompMod |", "| barlow | base |", "| loader + augmentation | 2 worker(s) |"] {
        assert!(s.contains(row), "{row} missing:\n{s}");
    }
}
