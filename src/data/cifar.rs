//! CIFAR-10/100 binary batches.
//!
//! CIFAR-10: each record is 1 label byte then 3072 bytes of pixels (1024 R, 1024 G, 1024 B,
//! each row-major 32x32). CIFAR-100: a coarse and a fine label byte, then the same pixels;
//! we train and evaluate on the fine (100-class) label.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::{ImageSet, read_file};

const PIXELS: usize = 3 * 32 * 32;

/// `data_batch_1..5.bin` and `test_batch.bin`, in `root` or `root/cifar-10-batches-bin`.
pub fn read_cifar10(root: &Path) -> Result<(ImageSet, ImageSet)> {
    let dir = subdir(root, "cifar-10-batches-bin", "test_batch.bin");
    let train_files: Vec<PathBuf> = (1..=5).map(|i| dir.join(format!("data_batch_{i}.bin"))).collect();
    let train = read_records(&train_files, 1, 0, 10)?;
    let test = read_records(&[dir.join("test_batch.bin")], 1, 0, 10)?;
    Ok((train, test))
}

/// `train.bin` and `test.bin`, in `root` or `root/cifar-100-binary`.
pub fn read_cifar100(root: &Path) -> Result<(ImageSet, ImageSet)> {
    let dir = subdir(root, "cifar-100-binary", "test.bin");
    let train = read_records(&[dir.join("train.bin")], 2, 1, 100)?;
    let test = read_records(&[dir.join("test.bin")], 2, 1, 100)?;
    Ok((train, test))
}

fn subdir(root: &Path, name: &str, probe: &str) -> PathBuf {
    if !root.join(probe).is_file() && root.join(name).join(probe).is_file() { root.join(name) } else { root.to_path_buf() }
}

/// Read fixed-size records of `label_bytes` label bytes followed by 3072 pixel bytes.
pub fn read_records(files: &[PathBuf], label_bytes: usize, label_index: usize, num_classes: usize) -> Result<ImageSet> {
    let record = label_bytes + PIXELS;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for path in files {
        if !path.is_file() {
            bail!(
                "{} not found (expected the CIFAR binary layout: records of {label_bytes} label byte(s) + 3072 pixel bytes)",
                path.display()
            );
        }
        let bytes = read_file(path)?;
        if bytes.is_empty() || bytes.len() % record != 0 {
            bail!(
                "{}: {} bytes is not a whole number of {record}-byte CIFAR records ({label_bytes} label byte(s) + 3072 pixels); truncated or wrong file",
                path.display(),
                bytes.len()
            );
        }
        for rec in bytes.chunks_exact(record) {
            let label = rec[label_index] as usize;
            if label >= num_classes {
                bail!(
                    "{}: record {} has label {label}, expected < {num_classes}; is this the right CIFAR variant?",
                    path.display(),
                    labels.len()
                );
            }
            labels.push(label as u16);
            pixels.extend_from_slice(&rec[label_bytes..]);
        }
    }
    Ok(ImageSet { pixels, labels, channels: 3, height: 32, width: 32, num_classes })
}
