//! `compmod report` on results folders built here with known numbers: grouped means and
//! stds, rows x columns, paired deltas with their t interval, reference columns, several
//! folders and an older schema read together, plots, and LaTeX that compiles.

use std::path::{Path, PathBuf};
use std::process::Command;

use compmod::config::{ExperimentConfig, MethodName, cell_id};
use compmod::results::{EpochRow, EvalRow, RunRow, epochs_frame, evals_frame, run_frame, write_parquet_atomic};
use polars::prelude::*;

/// One trial folder with final knn5/linear and an epoch-0 knn5, two epochs of losses.
/// `old_schema` drops columns that schema version 2 added, as an older compmod wrote them.
fn write_trial(exp_dir: &Path, name: &str, method: MethodName, enabled: bool, seed: u64, knn5: f64, linear: f64, old_schema: bool) -> String {
    let mut cfg = ExperimentConfig::default();
    cfg.name = name.into();
    cfg.method.name = method;
    cfg.compmod.enabled = enabled;
    cfg.seed = seed;
    cfg.train.epochs = 2;
    let id = cell_id(&cfg);
    let dir = exp_dir.join(&id);
    std::fs::create_dir_all(&dir).unwrap();
    let row = RunRow {
        trial_id: id.clone(),
        experiment: name.into(),
        cell_index: seed as i64 * 2 + enabled as i64,
        status: "completed".into(),
        error: None,
        started_at_ms: 0,
        finished_at_ms: Some(1000),
        wall_time_s: Some(1.0),
        diverged_step: None,
        diverged_value: None,
        backend: "flex".into(),
        lr_effective: 0.3,
        eval_network: "online".into(),
    };
    let mut run = run_frame(&row, &cfg).unwrap();
    if old_schema {
        run = run.drop("eval_network").unwrap().drop("lr_effective").unwrap();
        run.replace("schema_version", Series::new("schema_version".into(), [1i32]).into_column()).unwrap();
    }
    write_parquet_atomic(&dir.join("run.parquet"), &mut run).unwrap();
    let evals = vec![
        EvalRow { epoch: 0, protocol: "knn".into(), k: Some(5), top1: 0.5 },
        EvalRow { epoch: 2, protocol: "knn".into(), k: Some(5), top1: knn5 / 100.0 },
        EvalRow { epoch: 2, protocol: "linear".into(), k: None, top1: linear / 100.0 },
    ];
    write_parquet_atomic(&dir.join("evals.parquet"), &mut evals_frame(&id, &evals).unwrap()).unwrap();
    let epochs: Vec<EpochRow> = (1..=2).map(|e| EpochRow { epoch: e, steps: 10, loss: 5.0 - e as f64, loss_ssl: 5.0 - e as f64, ..Default::default() }).collect();
    let mut epochs = epochs_frame(&id, &epochs).unwrap();
    if old_schema {
        epochs = epochs.drop("z_effective_rank").unwrap();
    }
    write_parquet_atomic(&dir.join("epochs.parquet"), &mut epochs).unwrap();
    id
}

/// results/m: SimCLR and BYOL x CompMod off/on x 4 seeds with chosen knn5 values.
/// SimCLR off: 70, 72, 74, 76 (mean 73, sample std √(20/3) = 2.58); on: +0.5, +1.5, +2.5,
/// +3.5 per seed (Δ mean 2, std √(5/3) = 1.29, t(3) = 3.182: interval 2 ± 2.05).
fn methods_results(root: &Path) -> PathBuf {
    let dir = root.join("results/m");
    let off = [70.0, 72.0, 74.0, 76.0];
    let delta = [0.5, 1.5, 2.5, 3.5];
    for seed in 0..4 {
        write_trial(&dir, "m", MethodName::Simclr, false, seed, off[seed as usize], 80.0, false);
        write_trial(&dir, "m", MethodName::Simclr, true, seed, off[seed as usize] + delta[seed as usize], 81.0, false);
        write_trial(&dir, "m", MethodName::Byol, false, seed, 60.0, 70.0 + seed as f64, false);
        write_trial(&dir, "m", MethodName::Byol, true, seed, 61.0, 70.0, false);
    }
    dir
}

fn report(cwd: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_compmod")).arg("report").args(args).current_dir(cwd).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn rows_and_columns_fold_seeds_into_mean_std_n() {
    let d = tempfile::tempdir().unwrap();
    methods_results(d.path());
    let (ok, out, err) = report(d.path(), &["results/m", "--rows", "method.name", "--cols", "compmod.enabled", "--metric", "knn5,linear"]);
    assert!(ok, "{err}");
    assert!(out.contains("| method.name | knn5 (%) compmod.enabled=false | knn5 (%) compmod.enabled=true | linear (%) compmod.enabled=false | linear (%) compmod.enabled=true |"), "{out}");
    // SimCLR on: 70.5, 73.5, 76.5, 79.5 → mean 75, std √15 = 3.87. BYOL linear off: 70..73 → 71.5 ± 1.29.
    assert!(out.contains("| simclr | 73.00 ± 2.58 (4) | 75.00 ± 3.87 (4) | 80.00 ± 0.00 (4) | 81.00 ± 0.00 (4) |"), "{out}");
    assert!(out.contains("| byol | 60.00 ± 0.00 (4) | 61.00 ± 0.00 (4) | 71.50 ± 1.29 (4) | 70.00 ± 0.00 (4) |"), "{out}");
    // An unknown metric is named, with the ones the results have.
    let (ok, _, err) = report(d.path(), &["results/m", "--metric", "knn7"]);
    assert!(!ok && err.contains("--metric knn7: no cell has this metric") && err.contains("knn5_epoch0"), "{err}");
    // Default rows: seeds vary, so the other varying keys with seeds folded.
    let (ok, out, _) = report(d.path(), &["results/m", "--metric", "knn5"]);
    assert!(ok);
    // Config columns come in sorted key order.
    assert!(out.contains("| compmod.enabled | method.name | knn5 (%) | n |") && out.contains("| false | simclr | 73.00 ± 2.58 | 4 |"), "{out}");
}

#[test]
fn paired_deltas_carry_a_t_interval() {
    let d = tempfile::tempdir().unwrap();
    methods_results(d.path());
    let (ok, out, err) = report(d.path(), &["results/m", "--baseline", "compmod.enabled=false", "--metric", "knn5,linear"]);
    assert!(ok, "{err}");
    assert!(out.contains("paired-t 95% CI"), "{out}");
    // Δ = 0.5, 1.5, 2.5, 3.5: mean 2, sd 1.29, half-width 3.182 · 1.29 / 2 = 2.05.
    assert!(out.contains("| simclr | true | +2.00 ± 1.29 [-0.05, +4.05] | +1.00 ± 0.00 [+1.00, +1.00] | 4 |"), "{out}");
    // BYOL linear: Δ = 0, -1, -2, -3 → mean -1.5, sd 1.29, interval -1.5 ± 2.05.
    assert!(out.contains("| byol | true | +1.00 ± 0.00 [+1.00, +1.00] | -1.50 ± 1.29 [-3.55, +0.55] | 4 |"), "{out}");
}

#[test]
fn reference_values_show_beside_ours() {
    let d = tempfile::tempdir().unwrap();
    let dir = methods_results(d.path());
    std::fs::write(
        dir.join("reference.toml"),
        "[reference]\nsource = \"made-up numbers\"\ncells = [\n  { \"method.name\" = \"simclr\", compmod = { enabled = true }, knn5 = 74.0 },\n  { \"method.name\" = \"simclr\", \"compmod.enabled\" = false, knn5 = 75.5 },\n]\n",
    )
    .unwrap();
    let (ok, out, err) = report(d.path(), &["results/m", "--rows", "method.name,compmod.enabled", "--metric", "knn5"]);
    assert!(ok, "{err}");
    assert!(out.contains("ref: made-up numbers"), "{out}");
    assert!(out.contains("| method.name | compmod.enabled | knn5 (%) | ref knn5 | Δ ref knn5 | n |"), "{out}");
    assert!(out.contains("| simclr | true | 75.00 ± 3.87 | 74.00 | +1.00 | 4 |"), "{out}");
    assert!(out.contains("| simclr | false | 73.00 ± 2.58 | 75.50 | -2.50 | 4 |"), "{out}");
    assert!(out.contains("| byol | false | 60.00 ± 0.00 | - | - | 4 |"), "{out}");
    // A reference naming a key the results lack is an error that names the file and entry.
    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, "[reference]\ncells = [{ \"method.nmae\" = \"simclr\", knn5 = 1.0 }]\n").unwrap();
    let (ok, _, err) = report(d.path(), &["results/m", "--reference", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("bad.toml: reference.cells[0]") && err.contains("did you mean `method.name`"), "{err}");
    std::fs::write(&bad, "[reference]\ncells = [{ \"method.name\" = \"simclr\", knn5 = \"high\" }]\n").unwrap();
    let (ok, _, err) = report(d.path(), &["results/m", "--reference", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("reference.cells[0].knn5: expected a number"), "{err}");
}

#[test]
fn several_folders_and_an_older_schema_read_together() {
    let d = tempfile::tempdir().unwrap();
    methods_results(d.path());
    let old = d.path().join("results/old");
    write_trial(&old, "old", MethodName::Barlow, false, 0, 66.0, 67.0, true);
    write_trial(&old, "old", MethodName::Barlow, false, 1, 68.0, 69.0, true);
    let (ok, out, err) = report(d.path(), &["results/m", "results/old", "--rows", "method.name", "--metric", "knn5"]);
    assert!(ok, "{err}");
    assert!(out.contains("| barlow | 67.00 ± 1.41 | 2 |") && out.contains("| simclr | 74.00 ± 3.23 | 8 |"), "{out}");
    // Missing columns come back as typed nulls.
    let dirs: Vec<PathBuf> = std::fs::read_dir(&old).unwrap().map(|e| e.unwrap().path()).chain([d.path().join("results/m").read_dir().unwrap().next().unwrap().unwrap().path()]).collect();
    let runs = compmod::report::scan_trials(&dirs, "run.parquet").unwrap().unwrap().collect().unwrap();
    let eval_network = runs.column("eval_network").unwrap();
    assert_eq!(eval_network.dtype(), &DataType::String);
    assert_eq!(eval_network.null_count(), 2);
    let epochs = compmod::report::scan_trials(&dirs, "epochs.parquet").unwrap().unwrap().collect().unwrap();
    assert_eq!(epochs.column("z_effective_rank").unwrap().dtype(), &DataType::Float64);
    assert_eq!(epochs.column("z_effective_rank").unwrap().null_count(), 4);
}

#[test]
fn plots_are_drawn_as_png_and_svg() {
    let d = tempfile::tempdir().unwrap();
    methods_results(d.path());
    let (ok, _, err) = report(d.path(), &["results/m", "--rows", "method.name", "--cols", "compmod.enabled", "--metric", "knn5", "--plots"]);
    assert!(ok, "{err}");
    let out = d.path().join("results/m/report");
    for stem in ["curves", "bars_knn5"] {
        let png = image::open(out.join(format!("{stem}.png"))).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), (1200, 520));
        // Not a blank canvas: lines, bars and text cover a real share of the pixels.
        let inked = png.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(inked > 10_000, "{stem}.png has only {inked} non-white pixels");
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("knn5 top-1 (%)"), "{stem}.svg lacks its axis label");
    }
    let svg = std::fs::read_to_string(out.join("bars_knn5.svg")).unwrap();
    assert!(svg.contains("compmod.enabled=true") && svg.contains("simclr"), "bar chart lacks its legend or group labels");
    let svg = std::fs::read_to_string(out.join("curves.svg")).unwrap();
    std::fs::copy(out.join("curves.svg"), std::env::temp_dir().join("compmod-curves.svg")).ok();
    std::fs::copy(out.join("curves.png"), std::env::temp_dir().join("compmod-curves.png")).ok();
    std::fs::copy(out.join("bars_knn5.png"), std::env::temp_dir().join("compmod-bars.png")).ok();
    assert!(svg.contains("training loss") && svg.contains("compmod.enabled=true method.name=byol"), "curves lack their title or legend");
}

#[test]
fn latex_output_compiles_with_booktabs() {
    let d = tempfile::tempdir().unwrap();
    methods_results(d.path());
    let (ok, tex, err) = report(d.path(), &["results/m", "--rows", "method.name", "--cols", "compmod.enabled", "--metric", "knn5", "--format", "latex"]);
    assert!(ok, "{err}");
    assert!(tex.contains("\\toprule") && tex.contains("$\\pm$") && tex.contains("compmod.enabled=true"), "{tex}");
    let Ok(_) = Command::new("pdflatex").arg("--version").output() else {
        // scripts/test.sh installs pdflatex; only a run outside it may lack one.
        assert!(std::env::var_os("TEST_REQUIRE_PDFLATEX").is_none(), "pdflatex is required here but not installed");
        eprintln!("pdflatex not installed: compile check skipped");
        return;
    };
    std::fs::write(d.path().join("table.tex"), &tex).unwrap();
    std::fs::write(d.path().join("doc.tex"), "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{table.tex}\n\\end{document}\n").unwrap();
    let out = Command::new("pdflatex").args(["-interaction=nonstopmode", "-halt-on-error", "doc.tex"]).current_dir(d.path()).output().unwrap();
    assert!(out.status.success(), "pdflatex failed:\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(d.path().join("doc.pdf").is_file());
}
