//! Experiment files: layering, key and type checks with file:line, grid, identity.

use std::path::{Path, PathBuf};

use compmod::config::{Origin, Overrides, load_experiment};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn err_text(path: &Path, o: &Overrides) -> String {
    load_experiment(path, o).unwrap_err().to_string()
}

#[test]
fn misspelled_key_names_file_line_and_nearest_key() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "exp.toml", "name = \"x\"\n\n[train]\nepochs = 2\nlrr = 0.1\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains(&format!("{}:5", p.display())), "{e}");
    assert!(e.contains("key `train.lrr`"), "{e}");
    assert!(e.contains("did you mean `train.lr`?"), "{e}");
}

#[test]
fn misspelled_section_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "exp.toml", "[trian]\nepochs = 2\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains(":1: key `trian`") && e.contains("did you mean `train"), "{e}");
}

#[test]
fn integers_are_floats_but_not_the_reverse() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "ok.toml", "[train]\nlr = 1\n");
    let exp = load_experiment(&p, &Overrides::default()).unwrap();
    assert_eq!(exp.cells[0].config.train.lr, 1.0);
    let p = write(d.path(), "bad.toml", "[train]\nepochs = 2.5\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains(":2: key `train.epochs`: expected an integer, found the float 2.5"), "{e}");
    let p = write(d.path(), "bad2.toml", "[compmod]\nenabled = \"yes\"\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains("key `compmod.enabled`: expected a boolean, found a string"), "{e}");
}

#[test]
fn unknown_enum_value_names_the_key_and_choices() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "exp.toml", "[method]\nname = \"simclrr\"\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains(":2: key `method.name`") && e.contains("simclr"), "{e}");
}

#[test]
fn out_of_range_values_are_rejected_with_expected_form() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "exp.toml", "[augment.view1]\nflip_prob = 1.5\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains(":2: key `augment.view1.flip_prob`: expected a probability in [0, 1], found 1.5"), "{e}");
}

#[test]
fn layers_defaults_file_include_env_set() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "base.toml", "[train]\nepochs = 3\nbatch_size = 64\nlr = 0.5\n");
    let p = write(d.path(), "exp.toml", "include = \"base.toml\"\n[train]\nepochs = 4\n");
    let exp = load_experiment(&p, &Overrides::default()).unwrap();
    let t = &exp.cells[0].config.train;
    assert_eq!((t.epochs, t.batch_size, t.lr), (4, 64, 0.5));
    assert_eq!(t.momentum, 0.9, "untouched keys keep their defaults");
    let o = Overrides { env: vec![("COMPMOD_TRAIN__EPOCHS".into(), "7".into()), ("COMPMOD_SEED".into(), "3".into())], set: vec![] };
    let exp = load_experiment(&p, &o).unwrap();
    assert_eq!((exp.cells[0].config.train.epochs, exp.cells[0].config.seed), (7, 3));
    let o = Overrides { env: vec![("COMPMOD_TRAIN__EPOCHS".into(), "7".into())], set: vec!["train.epochs=9".into()] };
    assert_eq!(load_experiment(&p, &o).unwrap().cells[0].config.train.epochs, 9, "--set wins over the environment");
    let o = Overrides { env: vec![("COMPMOD_TRAIN__EPOCS".into(), "7".into())], set: vec![] };
    let e = err_text(&p, &o);
    assert!(e.contains("environment variable COMPMOD_TRAIN__EPOCS: key `train.epocs`"), "{e}");
    let o = Overrides { env: vec![], set: vec!["train.batch_size=big".into()] };
    let e = err_text(&p, &o);
    assert!(e.contains("--set train.batch_size=big: key `train.batch_size`: expected an integer, found a string"), "{e}");
}

#[test]
fn errors_in_included_files_point_at_them() {
    let d = tempfile::tempdir().unwrap();
    let base = write(d.path(), "base.toml", "\n[train]\nepochs = 3\nmomentm = 0.5\n");
    let p = write(d.path(), "exp.toml", "include = \"base.toml\"\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains(&format!("{}:4: key `train.momentm`", base.display())), "{e}");
}

#[test]
fn grid_expands_to_cartesian_product_with_distinct_ids() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "exp.toml",
        "[grid]\n\"compmod.enabled\" = [false, true]\nseed = [0, 1, 2]\n\"train.lr\" = [0.1, 1]\n",
    );
    let exp = load_experiment(&p, &Overrides::default()).unwrap();
    assert_eq!(exp.cells.len(), 12);
    let mut ids: Vec<_> = exp.cells.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    // First axis varies slowest.
    assert!(!exp.cells[5].config.compmod.enabled && exp.cells[6].config.compmod.enabled);
    assert_eq!(exp.cells[1].config.train.lr, 1.0);
    assert_eq!(exp.cells[2].config.seed, 1);
    // Reloading gives the same ids; --set on an axis pins it.
    let again = load_experiment(&p, &Overrides::default()).unwrap();
    assert_eq!(again.cells[7].id, exp.cells[7].id);
    let pinned = load_experiment(&p, &Overrides { env: vec![], set: vec!["seed=5".into()] }).unwrap();
    assert_eq!(pinned.cells.len(), 4);
    assert!(pinned.cells.iter().all(|c| c.config.seed == 5));
}

#[test]
fn linked_axes_set_several_keys_together() {
    let d = tempfile::tempdir().unwrap();
    // A section-named axis: entry keys are relative to the section. A free label
    // (`[[grid.recipe]]`): entry keys are full dotted paths.
    let p = write(
        d.path(),
        "l.toml",
        "[grid]\nseed = [0, 1]\ndata = [{ dataset = \"mnist\", train_subset = 100 }, { dataset = \"cifar10\", image_size = 32 }]\n\
         [[grid.recipe]]\n\"method.name\" = \"simclr\"\n\"train.lr\" = 0.5\n\
         [[grid.recipe]]\n\"method.name\" = \"byol\"\ntrain = { optimizer = \"lars\", lr = 1 }\n",
    );
    let exp = load_experiment(&p, &Overrides::default()).unwrap();
    assert_eq!(exp.cells.len(), 2 * 2 * 2);
    let c = &exp.cells[3]; // seed 0, cifar10, byol
    assert_eq!(c.config.seed, 0);
    assert_eq!(c.config.data.dataset.name(), "cifar10");
    assert_eq!(c.config.data.image_size, 32);
    assert_eq!(format!("{:?}", c.config.method.name).to_lowercase(), "byol");
    assert_eq!(c.config.train.lr, 1.0);
    assert_eq!(format!("{:?}", c.config.train.optimizer).to_lowercase(), "lars");
    let c = &exp.cells[4]; // seed 1, mnist, simclr
    assert_eq!((c.config.seed, c.config.data.dataset.name(), c.config.data.train_subset), (1, "mnist", 100));
    assert_eq!((format!("{:?}", c.config.method.name).to_lowercase(), c.config.train.lr), ("simclr".to_string(), 0.5));
    let keys: Vec<&str> = exp.cells[3].varying.iter().map(|(k, _)| k.as_str()).collect();
    // Axes in file order; an entry's keys in TOML's (sorted) table order.
    assert_eq!(keys, ["seed", "data.dataset", "data.image_size", "method.name", "train.lr", "train.optimizer"]);
    // An override pins one key of a linked axis; entries it makes identical collapse.
    let set = Overrides { env: vec![], set: vec!["data.dataset=fashion-mnist".into(), "data.image_size=28".into(), "data.train_subset=50".into()] };
    let exp = load_experiment(&p, &set).unwrap();
    assert_eq!(exp.cells.len(), 2 * 2, "{:?}", exp.cells.iter().map(|c| &c.varying).collect::<Vec<_>>());
    assert!(exp.cells.iter().all(|c| c.config.data.dataset.name() == "fashion-mnist" && c.config.data.image_size == 28));
    assert!(exp.warnings.iter().any(|w| w.contains("[grid] axis \"data\"") && w.contains("pins this grid axis (2 values → 1)")), "{:?}", exp.warnings);
}

#[test]
fn bad_linked_axes_are_rejected() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "k.toml", "[grid]\nrecipe = [{ \"method.name\" = \"byol\" }, { \"train.optimiser\" = \"sgd\" }]\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains("key `recipe[1].train.optimiser`") && e.contains("did you mean `train.optimizer`"), "{e}");
    let p = write(d.path(), "m.toml", "[grid]\ndata = [{ dataset = \"mnist\" }, \"cifar10\"]\n");
    assert!(err_text(&p, &Overrides::default()).contains("either plain values or tables"));
    let p = write(d.path(), "v.toml", "[grid]\nseed = [{ x = 1 }]\n");
    assert!(err_text(&p, &Overrides::default()).contains("`seed` is a single value"));
    let p = write(d.path(), "t.toml", "[grid]\n[[grid.data]]\ndataset = \"mnist\"\nimage_size = 2.5\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains(":2: [grid] axis \"data\": key `data[0].data.image_size`") && e.contains("expected an integer"), "{e}");
}

#[test]
fn any_knob_changes_the_identity() {
    let d = tempfile::tempdir().unwrap();
    let a = load_experiment(&write(d.path(), "a.toml", "[augment.view2]\nsolarize_prob = 0.2\n"), &Overrides::default()).unwrap();
    let b = load_experiment(&write(d.path(), "b.toml", "[augment.view2]\nsolarize_prob = 0.0\n"), &Overrides::default()).unwrap();
    let c = load_experiment(&write(d.path(), "c.toml", "[compmod]\nenabled = false\n"), &Overrides::default()).unwrap();
    assert_ne!(a.cells[0].id, b.cells[0].id);
    assert_eq!(b.cells[0].id, c.cells[0].id, "writing a default explicitly is the same cell");
    assert_eq!(b.cells[0].id.len(), 12);
}

#[test]
fn bad_grids_are_rejected() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "e.toml", "[grid]\nseed = []\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains("[grid] axis \"seed\": key `seed`: a grid axis needs at least one value"), "{e}");
    let p = write(d.path(), "u.toml", "[grid]\n\"train.lerning_rate\" = [0.1]\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains("a grid axis must name a config key") && e.contains("train.lerning_rate"), "{e}");
    let p = write(d.path(), "t.toml", "[grid]\n\"train.epochs\" = [1, 2.5]\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains("train.epochs[1]") && e.contains("expected an integer"), "{e}");
    let p = write(d.path(), "dup.toml", "[grid]\nseed = [1, 1]\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains("resolve to the same config"), "{e}");
}

#[test]
fn toml_syntax_errors_have_a_line() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "s.toml", "name = \"x\"\n[train\nepochs = 1\n");
    match load_experiment(&p, &Overrides::default()) {
        Err(e) => {
            assert!(matches!(e.0[0].origin, Origin::File { line: 2, .. }), "{e}");
            assert!(e.to_string().contains("TOML syntax error"), "{e}");
        }
        Ok(_) => panic!("syntax error accepted"),
    }
}

#[test]
fn shipped_experiments_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    for name in ["quickstart.toml", "fmnist_methods.toml", "presets/small_images.toml", "presets/simclr_views.toml", "presets/byol_views.toml"] {
        let exp = load_experiment(&root.join(name), &Overrides::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!exp.cells.is_empty());
    }
    let q = load_experiment(&root.join("quickstart.toml"), &Overrides::default()).unwrap();
    assert_eq!(q.cells.len(), 2);
    assert_eq!(q.cells[1].config.augment.view1.crop_scale, [0.2, 1.0], "the preset include applies");
}

#[test]
fn byol_tau_is_checked_and_warned() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "t.toml", "[method]\nname = \"byol\"\nbase_tau = 1.5\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains(":3: key `method.base_tau`: expected 0 <= base_tau <= 1"), "{e}");
    let p = write(d.path(), "w.toml", "[method]\nname = \"byol\"\nbase_tau = 0.5\n");
    let exp = load_experiment(&p, &Overrides::default()).unwrap();
    assert_eq!(exp.warnings.len(), 1);
    assert!(exp.warnings[0].contains("tau is the weight on the old target"), "{:?}", exp.warnings);
}

#[test]
fn review_regressions() {
    let d = tempfile::tempdir().unwrap();
    // A [lo, hi] range with a third item is an error, not silently truncated.
    let p = write(d.path(), "r.toml", "[augment.view1]\ncrop_scale = [0.2, 1.0, 0.5]\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains(":2: key `augment.view1.crop_scale`: expected a list of 2 numbers [lo, hi], found 3 item(s)"), "{e}");
    // A typo under view1 suggests view1's key, not view2's.
    let p = write(d.path(), "v.toml", "[augment.view1]\nflip_prb = 0.5\n");
    let e = err_text(&p, &Overrides::default());
    assert!(e.contains("did you mean `augment.view1.flip_prob`?"), "{e}");
    // An override that pins a grid axis says so.
    let p = write(d.path(), "g.toml", "\n[grid]\nseed = [0, 1, 2]\n");
    let exp = load_experiment(&p, &Overrides { env: vec![("COMPMOD_SEED".into(), "0".into())], set: vec![] }).unwrap();
    assert_eq!(exp.cells.len(), 1);
    assert!(exp.warnings.iter().any(|w| w.contains(":3: [grid] axis \"seed\"") && w.contains("pins this grid axis (3 values → 1)")), "{:?}", exp.warnings);
    // Non-finite numbers and a GPU device on a CPU-only build are rejected.
    let p = write(d.path(), "i.toml", "[compmod]\nlambda1 = inf\n");
    assert!(err_text(&p, &Overrides::default()).contains("key `compmod.lambda1`: expected a finite number"));
    if !cfg!(feature = "tch") {
        let p = write(d.path(), "c.toml", "device = \"cuda:0\"\n");
        assert!(err_text(&p, &Overrides::default()).contains("needs the LibTorch backend"));
    }
}
