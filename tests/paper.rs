//! The paper's tables (experiments/paper/) load and expand to the grids they promise, and
//! the smoke-test overrides that scripts/paper_smoke.sh applies keep every other axis.

use std::path::Path;

use compmod::config::{Dataset, MethodName, Overrides, load_experiment};

fn table(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/paper").join(name)
}

/// The `--set` list of scripts/paper_smoke.sh, read from the script itself.
fn smoke_overrides() -> Overrides {
    let script = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/paper_smoke.sh")).unwrap();
    let block = script.split("scale=(").nth(1).unwrap().split(')').next().unwrap();
    let set: Vec<String> = block.split_whitespace().filter(|w| *w != "--set").map(String::from).collect();
    assert!(set.len() > 10 && set.iter().all(|s| s.contains('=')), "{set:?}");
    Overrides { env: vec![], set }
}

#[test]
fn paper_tables_expand_to_their_grids() {
    let cases = [("table1_small.toml", 24), ("table2_imagenet.toml", 12), ("table4_augmentations.toml", 10), ("table6_lambdas.toml", 12), ("table7_ablation.toml", 6)];
    for (file, cells) in cases {
        let exp = load_experiment(&table(file), &Overrides::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(exp.cells.len(), cells, "{file}");
        let ids: std::collections::BTreeSet<_> = exp.cells.iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), cells, "{file}: cells share an identity");
    }
    let t1 = load_experiment(&table("table1_small.toml"), &Overrides::default()).unwrap();
    let stl = t1.cells.iter().find(|c| c.config.data.dataset == Dataset::Stl10).unwrap();
    assert!(stl.config.data.unlabeled && stl.config.data.image_size == 96);
    let byol = t1.cells.iter().find(|c| c.config.method.name == MethodName::Byol).unwrap();
    assert_eq!((byol.config.method.pred_hidden, byol.config.train.lr, byol.config.backbone.arch), (4096, 1.0, compmod::config::Arch::Resnet18));
    let t7 = load_experiment(&table("table7_ablation.toml"), &Overrides::default()).unwrap();
    let modes: Vec<String> = t7.cells.iter().filter(|c| c.config.compmod.enabled).map(|c| format!("{:?}/{:?}", c.config.compmod.fusion, c.config.compmod.mode)).collect();
    assert_eq!(modes.len(), 5, "{modes:?}");
}

#[test]
fn smoke_overrides_pin_only_data_and_scale() {
    let set = smoke_overrides();
    // Table 1's four datasets collapse into Fashion-MNIST; methods x CompMod remain.
    let exp = load_experiment(&table("table1_small.toml"), &set).unwrap();
    assert_eq!(exp.cells.len(), 6);
    assert!(exp.cells.iter().all(|c| c.config.data.dataset == Dataset::FashionMnist && c.config.backbone.arch == compmod::config::Arch::SmallCnn));
    assert!(exp.warnings.iter().any(|w| w.contains("pins this grid axis (4 values → 1)")), "{:?}", exp.warnings);
    for (file, cells) in [("table2_imagenet.toml", 6), ("table4_augmentations.toml", 10), ("table6_lambdas.toml", 12), ("table7_ablation.toml", 6)] {
        assert_eq!(load_experiment(&table(file), &set).unwrap().cells.len(), cells, "{file}");
    }
}
