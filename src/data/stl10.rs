//! STL-10 binary files (`stl10_binary/`): `train_X.bin` + `train_y.bin` (5,000 labelled),
//! `test_X.bin` + `test_y.bin` (8,000), `unlabeled_X.bin` (100,000, used for pretraining).
//!
//! Each image is 3 x 96 x 96 u8 stored one channel after another, each channel in
//! column-major order (as MATLAB writes it); labels are one u8 per image, 1 to 10.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::{ImageSet, read_file};

pub const SIDE: usize = 96;
const IMAGE: usize = 3 * SIDE * SIDE;

/// `root` itself, or `root/stl10_binary` when the files are there.
fn dir(root: &Path) -> PathBuf {
    if !root.join("test_X.bin").is_file() && root.join("stl10_binary/test_X.bin").is_file() { root.join("stl10_binary") } else { root.to_path_buf() }
}

/// Images of one `*_X.bin` file, converted to row-major CHW.
pub fn read_images(path: &Path) -> Result<Vec<u8>> {
    if !path.is_file() {
        bail!("{} not found (expected STL-10's binary layout: stl10_binary/{{train,test}}_{{X,y}}.bin, unlabeled_X.bin)", path.display());
    }
    let bytes = read_file(path)?;
    if bytes.is_empty() || bytes.len() % IMAGE != 0 {
        bail!("{}: {} bytes is not a whole number of 3x96x96 STL-10 images ({IMAGE} bytes each); truncated or wrong file", path.display(), bytes.len());
    }
    let mut out = vec![0u8; bytes.len()];
    for (src, dst) in bytes.chunks_exact(IMAGE).zip(out.chunks_exact_mut(IMAGE)) {
        for c in 0..3 {
            let plane = c * SIDE * SIDE;
            for x in 0..SIDE {
                for y in 0..SIDE {
                    // Column-major in the file: pixel (row y, column x) is at x * 96 + y.
                    dst[plane + y * SIDE + x] = src[plane + x * SIDE + y];
                }
            }
        }
    }
    Ok(out)
}

/// Labels of one `*_y.bin` file (1 to 10 on disk), as 0 to 9.
pub fn read_labels(path: &Path, expected: usize) -> Result<Vec<u16>> {
    if !path.is_file() {
        bail!("{} not found (expected STL-10's binary layout: one label byte per image, 1 to 10)", path.display());
    }
    let bytes = read_file(path)?;
    if bytes.len() != expected {
        bail!("{} holds {} labels but its images file holds {expected} images", path.display(), bytes.len());
    }
    bytes
        .iter()
        .enumerate()
        .map(|(i, &l)| match l {
            1..=10 => Ok(l as u16 - 1),
            _ => bail!("{}: label {l} of image {i} is outside 1..=10; is this an STL-10 labels file?", path.display()),
        })
        .collect()
}

fn labelled(dir: &Path, split: &str) -> Result<ImageSet> {
    let pixels = read_images(&dir.join(format!("{split}_X.bin")))?;
    let labels = read_labels(&dir.join(format!("{split}_y.bin")), pixels.len() / IMAGE)?;
    Ok(ImageSet { pixels, labels, channels: 3, height: SIDE, width: SIDE, num_classes: 10 })
}

/// The train and test splits, and the unlabeled split when `unlabeled` (its labels are 0
/// and never read: it only feeds pretraining).
pub fn read_stl10(root: &Path, unlabeled: bool) -> Result<(ImageSet, ImageSet, Option<ImageSet>)> {
    let dir = dir(root);
    let train = labelled(&dir, "train")?;
    let test = labelled(&dir, "test")?;
    let extra = if unlabeled {
        let pixels = read_images(&dir.join("unlabeled_X.bin"))?;
        let n = pixels.len() / IMAGE;
        Some(ImageSet { pixels, labels: vec![0; n], channels: 3, height: SIDE, width: SIDE, num_classes: 10 })
    } else {
        None
    };
    Ok((train, test, extra))
}
