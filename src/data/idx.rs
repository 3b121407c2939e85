//! IDX files (MNIST, Fashion-MNIST), raw or gzipped.
//!
//! Layout: big-endian magic (0x00000803 images, 0x00000801 labels), one u32 per
//! dimension, then u8 data in row-major order.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{ImageSet, read_file};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Read `<root>/<prefix>-images-idx3-ubyte[.gz]` and the matching labels file.
pub fn read_split(root: &Path, prefix: &str) -> Result<ImageSet> {
    let images = find(root, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels = find(root, &format!("{prefix}-labels-idx1-ubyte"))?;
    let (dims, pixels) = read_idx(&images, IMAGES_MAGIC)?;
    let (ldims, labels_raw) = read_idx(&labels, LABELS_MAGIC)?;
    if dims.len() != 3 {
        bail!("{}: expected 3 dimensions (n, rows, cols), found {}", images.display(), dims.len());
    }
    if ldims[0] != dims[0] {
        bail!(
            "{} has {} labels but {} has {} images",
            labels.display(),
            ldims[0],
            images.display(),
            dims[0]
        );
    }
    let labels: Vec<u16> = labels_raw.iter().map(|&l| l as u16).collect();
    let num_classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    Ok(ImageSet { pixels, labels, channels: 1, height: dims[1], width: dims[2], num_classes: num_classes.max(10) })
}

fn find(root: &Path, name: &str) -> Result<PathBuf> {
    for candidate in [root.join(name), root.join(format!("{name}.gz"))] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "{}: neither {name} nor {name}.gz found (expected the IDX files of the dataset there)",
        root.display()
    )
}

/// Read one IDX file, checking its magic number and that its size matches its header.
pub fn read_idx(path: &Path, expected_magic: u32) -> Result<(Vec<usize>, Vec<u8>)> {
    let raw = read_file(path)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .with_context(|| format!("{}: corrupt gzip stream", path.display()))?;
        out
    } else {
        raw
    };
    parse_idx(&bytes, expected_magic).with_context(|| format!("{}: not a valid IDX file", path.display()))
}

pub fn parse_idx(bytes: &[u8], expected_magic: u32) -> Result<(Vec<usize>, Vec<u8>)> {
    if bytes.len() < 4 {
        bail!("file is {} bytes long, shorter than the 4-byte IDX magic", bytes.len());
    }
    let magic = u32::from_be_bytes(bytes[..4].try_into().unwrap());
    if magic != expected_magic {
        let what = if expected_magic == IMAGES_MAGIC { "images" } else { "labels" };
        bail!("expected IDX magic 0x{expected_magic:08x} ({what}), found 0x{magic:08x}");
    }
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        bail!("truncated header: {ndim} dimensions need {header} bytes, file has {}", bytes.len());
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let expected: usize = dims.iter().product();
    let data = &bytes[header..];
    if data.len() != expected {
        bail!(
            "header says {dims:?} = {expected} bytes of data, file has {} (truncated or wrong file)",
            data.len()
        );
    }
    Ok((dims, data.to_vec()))
}

/// Encode an IDX file (used by tests and tools that repack data).
pub fn encode_idx(magic: u32, dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let data: Vec<u8> = (0..2 * 3 * 4).map(|x| x as u8).collect();
        let enc = encode_idx(IMAGES_MAGIC, &[2, 3, 4], &data);
        let (dims, back) = parse_idx(&enc, IMAGES_MAGIC).unwrap();
        assert_eq!(dims, vec![2, 3, 4]);
        assert_eq!(back, data);
        let err = parse_idx(&enc, LABELS_MAGIC).unwrap_err().to_string();
        assert!(err.contains("expected IDX magic 0x00000801 (labels), found 0x00000803"), "{err}");
        let err = parse_idx(&enc[..enc.len() - 1], IMAGES_MAGIC).unwrap_err().to_string();
        assert!(err.contains("24 bytes of data, file has 23"), "{err}");
        let err = parse_idx(&enc[..10], IMAGES_MAGIC).unwrap_err().to_string();
        assert!(err.contains("truncated header"), "{err}");
    }
}
