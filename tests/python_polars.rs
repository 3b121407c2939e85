//! Python polars (PyPI; scripts/test.sh installs it) reads the same results and gets the
//! same cell means as `compmod report`: the files are usable outside compmod.

use std::path::Path;
use std::process::Command;

#[test]
fn python_polars_agrees_with_the_report() {
    let d = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist");
    let exp = d.path().join("py.toml");
    std::fs::write(
        &exp,
        format!(
            "name = \"py\"\n[data]\nroot = \"{}\"\nimage_size = 16\ntrain_subset = 256\ntest_subset = 128\n[backbone]\nwidth = 4\n[method]\nproj_hidden = 16\nproj_dim = 8\n[train]\nepochs = 2\nbatch_size = 32\nmax_steps_per_epoch = 2\n[eval]\nlinear_epochs = 2\n[grid]\n\"compmod.enabled\" = [false, true]\nseed = [0, 1]\n",
            data.display()
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_compmod");
    assert!(Command::new(bin).args(["run", exp.to_str().unwrap(), "--quiet"]).current_dir(d.path()).status().unwrap().success());
    let report = Command::new(bin)
        .args(["report", "results/py", "--group", "compmod.enabled", "--metric", "knn5,linear", "--format", "csv"])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(report.status.success());
    let csv = String::from_utf8(report.stdout).unwrap();
    let script = r#"
import polars as pl
runs = pl.scan_parquet("results/py/*/run.parquet").select("trial_id", "compmod.enabled", "train.epochs")
evals = pl.scan_parquet("results/py/*/evals.parquet")
last = (evals.join(runs, on="trial_id").filter(pl.col("epoch") == pl.col("train.epochs"))
        .with_columns(pl.when(pl.col("protocol") == "knn").then(pl.lit("knn") + pl.col("k").cast(pl.String)).otherwise(pl.col("protocol")).alias("metric")))
out = last.group_by("compmod.enabled", "metric").agg((pl.col("top1") * 100).mean().alias("mean")).sort("compmod.enabled", "metric").collect()
for row in out.iter_rows():
    print(f"{str(row[0]).lower()},{row[1]},{row[2]:.2f}")
"#;
    let py = Command::new("python3").arg("-c").arg(script).current_dir(d.path()).output().expect("python3");
    assert!(py.status.success(), "python polars failed (scripts/test.sh installs it): {}", String::from_utf8_lossy(&py.stderr));
    let py_out = String::from_utf8(py.stdout).unwrap();
    // The report's CSV: compmod.enabled,knn5 (%),linear (%),n with "mean ± std" cells.
    let mut checked = 0;
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        for (metric, cell) in [("knn5", cells[1]), ("linear", cells[2])] {
            let mean = cell.split(' ').next().unwrap();
            let want = format!("{},{metric},{mean}", cells[0]);
            assert!(py_out.lines().any(|l| l == want), "report says {want}, python polars says:\n{py_out}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
}
