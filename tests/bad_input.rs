//! The bad-input corpus: each broken input fails before any training, with a message that
//! names the file and line (or the variable / argument / data file), the key, and the
//! expected form; and nothing under results/ appears or changes.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Case {
    name: &'static str,
    /// The experiment file's text (`DATA` is replaced by a data folder).
    toml: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// Substrings the error must contain (`FILE` is replaced by the experiment file's path).
    expect: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case { name: "toml-syntax", toml: "name = \"x\"\n[train\nepochs = 1\n", args: &[], env: &[], expect: &["FILE:2", "TOML syntax error"] },
    Case { name: "unknown-key", toml: "[train]\nepochs = 1\nwarmup_epoch = 1\n", args: &[], env: &[], expect: &["FILE:3", "key `train.warmup_epoch`", "did you mean `train.warmup_epochs`?"] },
    Case { name: "unknown-section", toml: "[compmd]\nenabled = true\n", args: &[], env: &[], expect: &["FILE:1", "key `compmd`", "did you mean `compmod`?"] },
    Case { name: "string-for-int", toml: "[train]\nbatch_size = \"64\"\n", args: &[], env: &[], expect: &["FILE:2", "key `train.batch_size`", "expected an integer, found a string"] },
    Case { name: "float-for-int", toml: "[train]\nepochs = 2.5\n", args: &[], env: &[], expect: &["FILE:2", "expected an integer, found the float 2.5"] },
    Case { name: "string-for-bool", toml: "[compmod]\nenabled = \"yes\"\n", args: &[], env: &[], expect: &["FILE:2", "key `compmod.enabled`", "expected a boolean"] },
    Case { name: "negative-int", toml: "seed = -1\n", args: &[], env: &[], expect: &["FILE:1", "key `seed`", "non-negative integer"] },
    Case { name: "probability-range", toml: "[augment.view2]\nsolarize_prob = 1.2\n", args: &[], env: &[], expect: &["FILE:2", "augment.view2.solarize_prob", "probability in [0, 1], found 1.2"] },
    Case { name: "negative-lr", toml: "[train]\nlr = -0.1\n", args: &[], env: &[], expect: &["FILE:2", "key `train.lr`", "expected > 0"] },
    Case { name: "batch-of-one", toml: "[train]\nbatch_size = 1\n", args: &[], env: &[], expect: &["FILE:2", "key `train.batch_size`", "expected at least 2"] },
    Case { name: "even-blur-kernel", toml: "[augment.view1]\nblur_kernel = 4\n", args: &[], env: &[], expect: &["FILE:2", "augment.view1.blur_kernel", "odd kernel size"] },
    Case { name: "range-length", toml: "[augment.view1]\nblur_sigma = [0.1]\n", args: &[], env: &[], expect: &["FILE:2", "augment.view1.blur_sigma", "list of 2 numbers"] },
    Case { name: "empty-grid-axis", toml: "\n[grid]\nseed = []\n", args: &[], env: &[], expect: &["FILE:3", "[grid] axis \"seed\"", "at least one value"] },
    Case { name: "grid-unknown-key", toml: "[grid]\n\"train.learning_rate\" = [0.1, 0.2]\n", args: &[], env: &[], expect: &["FILE:2", "train.learning_rate", "must name a config key"] },
    Case { name: "grid-names-a-table", toml: "[grid]\n\"augment.view1\" = [1]\n", args: &[], env: &[], expect: &["FILE:2", "not the table `augment.view1`"] },
    Case { name: "grid-wrong-type", toml: "[grid]\n\"train.epochs\" = [1, \"two\"]\n", args: &[], env: &[], expect: &["FILE:2", "train.epochs[1]", "expected an integer, found a string"] },
    Case { name: "grid-not-a-list", toml: "[grid]\nseed = 3\n", args: &[], env: &[], expect: &["FILE:2", "grid.seed", "must be a list"] },
    Case { name: "unknown-dataset", toml: "[data]\ndataset = \"svhn\"\n", args: &[], env: &[], expect: &["FILE:2", "key `data.dataset`", "fashion-mnist"] },
    Case { name: "unknown-method", toml: "[method]\nname = \"moco\"\n", args: &[], env: &[], expect: &["FILE:2", "key `method.name`", "simclr"] },
    Case { name: "missing-include", toml: "include = \"base.toml\"\n", args: &[], env: &[], expect: &["FILE:1", "key `include`", "base.toml does not exist"] },
    Case { name: "include-cycle", toml: "include = \"include-cycle.toml\"\n", args: &[], env: &[], expect: &["key `include`", "include cycle"] },
    Case { name: "set-without-equals", toml: "", args: &["--set", "train.epochs"], env: &[], expect: &["--set train.epochs", "expected --set key=value"] },
    Case { name: "set-unknown-key", toml: "", args: &["--set", "train.epoch=3"], env: &[], expect: &["--set train.epoch=3", "key `train.epoch`", "did you mean `train.epochs`?"] },
    Case { name: "env-unknown-key", toml: "", args: &[], env: &[("COMPMOD_TRAIN__EPOCS", "3")], expect: &["environment variable COMPMOD_TRAIN__EPOCS", "key `train.epocs`"] },
    Case { name: "gpu-on-cpu-build", toml: "device = \"cuda:0\"\n", args: &[], env: &[], expect: &["FILE:1", "key `device`", "LibTorch"] },
    Case { name: "missing-data-folder", toml: "[data]\nroot = \"DATA/none\"\n", args: &[], env: &[], expect: &["data folder", "none does not exist", "compmod data fetch fashion-mnist"] },
    Case { name: "truncated-idx", toml: "[data]\nroot = \"DATA/truncated\"\n", args: &[], env: &[], expect: &["t10k-images-idx3-ubyte", "not a valid IDX file", "file has"] },
    Case { name: "wrong-magic-idx", toml: "[data]\nroot = \"DATA/magic\"\n", args: &[], env: &[], expect: &["train-labels-idx1-ubyte", "expected IDX magic 0x00000801 (labels), found 0x00000803"] },
    Case { name: "truncated-cifar", toml: "[data]\ndataset = \"cifar10\"\nroot = \"DATA/cifar\"\n", args: &[], env: &[], expect: &["test_batch.bin", "not a whole number of 3073-byte CIFAR records"] },
    Case { name: "cifar100-as-cifar10", toml: "[data]\ndataset = \"cifar10\"\nroot = \"DATA/cifar100\"\n", args: &[], env: &[], expect: &["data_batch_1.bin", "expected < 10; is this the right CIFAR variant?"] },
    Case { name: "unlabeled-not-stl10", toml: "[data]\nroot = \"DATA/good\"\nunlabeled = true\n", args: &[], env: &[], expect: &["data.unlabeled = true", "only STL-10 has an unlabeled split", "fashion-mnist"] },
    Case { name: "missing-stl10-file", toml: "[data]\ndataset = \"stl10\"\nroot = \"DATA/good\"\n", args: &[], env: &[], expect: &["train_X.bin not found", "STL-10's binary layout"] },
    Case { name: "image-folder-without-train", toml: "[data]\ndataset = \"image-folder\"\nroot = \"DATA/good\"\n", args: &[], env: &[], expect: &["good/train not found", "class folders"] },
    Case { name: "linked-axis-mixed", toml: "[grid]\ndata = [{ dataset = \"mnist\" }, \"cifar10\"]\n", args: &[], env: &[], expect: &["FILE:2", "[grid] axis \"data\"", "either plain values or tables"] },
    Case { name: "results-not-a-folder", toml: "[data]\nroot = \"DATA/good\"\n", args: &["--results", "DATA/a-file/results"], env: &[], expect: &["cannot create results folder", "a-file/results"] },
];

fn idx(magic: u32, dims: &[u32], fill: u8) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|d| out.extend_from_slice(&d.to_be_bytes()));
    out.extend(std::iter::repeat_n(fill, dims.iter().product::<u32>() as usize));
    out
}

/// Small data folders, good and broken.
fn make_data(root: &Path) {
    let put = |dir: &str, name: &str, bytes: Vec<u8>| {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        std::fs::write(root.join(dir).join(name), bytes).unwrap();
    };
    for dir in ["good", "truncated", "magic"] {
        put(dir, "train-images-idx3-ubyte", idx(0x803, &[8, 28, 28], 7));
        put(dir, "train-labels-idx1-ubyte", idx(0x801, &[8], 1));
        put(dir, "t10k-images-idx3-ubyte", idx(0x803, &[4, 28, 28], 7));
        put(dir, "t10k-labels-idx1-ubyte", idx(0x801, &[4], 1));
    }
    let mut t = idx(0x803, &[4, 28, 28], 7);
    t.truncate(t.len() - 10);
    put("truncated", "t10k-images-idx3-ubyte", t);
    put("magic", "train-labels-idx1-ubyte", idx(0x803, &[8], 1));
    for b in 1..=5 {
        put("cifar", &format!("data_batch_{b}.bin"), vec![3u8; 3073 * 2]);
        put("cifar100", &format!("data_batch_{b}.bin"), [vec![55u8], vec![0u8; 3072]].concat());
    }
    put("cifar", "test_batch.bin", vec![3u8; 3073 * 2 - 5]);
    put("cifar100", "test_batch.bin", vec![3u8; 3073]);
    std::fs::write(root.join("a-file"), b"not a folder").unwrap();
}

fn run_case(dir: &Path, data: &Path, case: &Case) -> (Option<i32>, String, PathBuf) {
    let file = dir.join(format!("{}.toml", case.name));
    std::fs::write(&file, case.toml.replace("DATA", &data.to_string_lossy())).unwrap();
    let args: Vec<String> = case.args.iter().map(|a| a.replace("DATA", &data.to_string_lossy())).collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_compmod"));
    cmd.arg("run").arg(&file).args(&args).arg("--quiet").current_dir(dir);
    for (k, v) in case.env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string(), file)
}

#[test]
fn every_broken_input_is_rejected_with_its_location_and_nothing_is_written() {
    assert!(CASES.len() >= 25);
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    make_data(&data);
    let mut failures = Vec::new();
    for case in CASES {
        let (code, err, file) = run_case(d.path(), &data, case);
        if code != Some(2) {
            failures.push(format!("{}: exit {code:?} (want 2): {err}", case.name));
        }
        for want in case.expect {
            let want = want.replace("FILE", &file.to_string_lossy()).replace("DATA", &data.to_string_lossy());
            if !err.contains(&want) {
                failures.push(format!("{}: message lacks {want:?}:\n{err}", case.name));
            }
        }
        if d.path().join("results").exists() {
            failures.push(format!("{}: results/ was created", case.name));
            let _ = std::fs::remove_dir_all(d.path().join("results"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}
