//! Image folders, decoded (JPEG, PNG) and resized once at load:
//!
//! - class folders, as torchvision's ImageFolder and ImageNet-100/1K are laid out:
//!   `root/train/<class>/<image>` and `root/val/<class>/<image>`; classes are the sorted
//!   folder names of `train/`.
//! - Tiny ImageNet: `root/train/<wnid>/images/<image>.JPEG` and `root/val/images/<image>.JPEG`
//!   with `root/val/val_annotations.txt` (tab-separated: file name, wnid, box) naming each
//!   validation image's class.
//!
//! Every image becomes RGB with its shorter side resized to `side` (bilinear, antialiased)
//! and the centre `side x side` square kept. The sets live in memory as u8: about
//! 3·side² bytes per image (12 KB at 64 px, 150 KB at 224 px).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use image::imageops::FilterType;

use super::ImageSet;

const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

fn is_image(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

/// One image as CHW u8: RGB, shorter side resized to `side`, centre square.
pub fn decode(path: &Path, side: usize) -> Result<Vec<u8>> {
    let img = image::open(path).with_context(|| format!("cannot decode {} (expected a JPEG or PNG image)", path.display()))?.to_rgb8();
    let (w, h) = img.dimensions();
    let scale = side as f64 / w.min(h) as f64;
    let (nw, nh) = (((w as f64 * scale).round() as u32).max(side as u32), ((h as f64 * scale).round() as u32).max(side as u32));
    let resized = image::imageops::resize(&img, nw, nh, FilterType::Triangle);
    let (x0, y0) = ((nw - side as u32) / 2, (nh - side as u32) / 2);
    let mut out = vec![0u8; 3 * side * side];
    for y in 0..side {
        for x in 0..side {
            let p = resized.get_pixel(x0 + x as u32, y0 + y as u32);
            for c in 0..3 {
                out[c * side * side + y * side + x] = p.0[c];
            }
        }
    }
    Ok(out)
}

/// Decode `(path, label)` pairs on every core, in order.
fn decode_all(items: &[(PathBuf, u16)], side: usize, num_classes: usize) -> Result<ImageSet> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len().max(1));
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<Result<Vec<u8>>> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut px = Vec::with_capacity(part.len() * 3 * side * side);
                    for (p, _) in part {
                        px.extend(decode(p, side)?);
                    }
                    Ok(px)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("decoder thread panicked")).collect()
    });
    let mut pixels = Vec::with_capacity(items.len() * 3 * side * side);
    for p in parts {
        pixels.extend(p?);
    }
    Ok(ImageSet { pixels, labels: items.iter().map(|(_, l)| *l).collect(), channels: 3, height: side, width: side, num_classes })
}

fn require_dir(dir: &Path, layout: &str) -> Result<()> {
    if !dir.is_dir() {
        bail!("{} not found (expected {layout})", dir.display());
    }
    Ok(())
}

const FOLDER_LAYOUT: &str = "class folders: <root>/train/<class>/<image> and <root>/val/<class>/<image>, JPEG or PNG";

/// Class folders under `root/train` and `root/val`.
pub fn read_image_folder(root: &Path, side: usize) -> Result<(ImageSet, ImageSet)> {
    let train_dir = root.join("train");
    require_dir(&train_dir, FOLDER_LAYOUT)?;
    let classes: Vec<String> = sorted_entries(&train_dir)?.into_iter().filter(|p| p.is_dir()).filter_map(|p| Some(p.file_name()?.to_string_lossy().to_string())).collect();
    if classes.is_empty() {
        bail!("{} has no class folders (expected {FOLDER_LAYOUT})", train_dir.display());
    }
    let index: BTreeMap<&str, u16> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i as u16)).collect();
    let list = |split: &str| -> Result<Vec<(PathBuf, u16)>> {
        let dir = root.join(split);
        require_dir(&dir, FOLDER_LAYOUT)?;
        let mut items = Vec::new();
        for class_dir in sorted_entries(&dir)?.into_iter().filter(|p| p.is_dir()) {
            let name = class_dir.file_name().unwrap_or_default().to_string_lossy().to_string();
            let Some(&label) = index.get(name.as_str()) else {
                bail!("{}: class folder `{name}` is not among train/'s {} classes", class_dir.display(), classes.len());
            };
            items.extend(sorted_entries(&class_dir)?.into_iter().filter(|p| is_image(p)).map(|p| (p, label)));
        }
        if items.is_empty() {
            bail!("{} holds no JPEG or PNG images (expected {FOLDER_LAYOUT})", dir.display());
        }
        Ok(items)
    };
    let (train, val) = (list("train")?, list("val")?);
    Ok((decode_all(&train, side, classes.len())?, decode_all(&val, side, classes.len())?))
}

const TINY_LAYOUT: &str = "Tiny ImageNet's layout: <root>/train/<wnid>/images/*.JPEG, <root>/val/images/*.JPEG and <root>/val/val_annotations.txt";

/// Tiny ImageNet (`tiny-imagenet-200/`, or its contents in `root`).
pub fn read_tiny_imagenet(root: &Path, side: usize) -> Result<(ImageSet, ImageSet)> {
    let root = if !root.join("train").is_dir() && root.join("tiny-imagenet-200/train").is_dir() { root.join("tiny-imagenet-200") } else { root.to_path_buf() };
    let train_dir = root.join("train");
    require_dir(&train_dir, TINY_LAYOUT)?;
    let wnids: Vec<String> = sorted_entries(&train_dir)?.into_iter().filter(|p| p.is_dir()).filter_map(|p| Some(p.file_name()?.to_string_lossy().to_string())).collect();
    let index: BTreeMap<&str, u16> = wnids.iter().enumerate().map(|(i, c)| (c.as_str(), i as u16)).collect();
    let mut train = Vec::new();
    for (wnid, &label) in &index {
        let dir = train_dir.join(wnid).join("images");
        require_dir(&dir, TINY_LAYOUT)?;
        train.extend(sorted_entries(&dir)?.into_iter().filter(|p| is_image(p)).map(|p| (p, label)));
    }
    if train.is_empty() {
        bail!("{} holds no images (expected {TINY_LAYOUT})", train_dir.display());
    }
    let annotations = root.join("val/val_annotations.txt");
    let text = std::fs::read_to_string(&annotations).with_context(|| format!("cannot read {} (expected {TINY_LAYOUT})", annotations.display()))?;
    let mut val = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut fields = line.split('\t');
        let (Some(file), Some(wnid)) = (fields.next(), fields.next()) else {
            bail!("{}:{}: expected `<file>\\t<wnid>\\t<box>`, found {line:?}", annotations.display(), n + 1);
        };
        let Some(&label) = index.get(wnid) else {
            bail!("{}:{}: class `{wnid}` has no folder under {}", annotations.display(), n + 1, train_dir.display());
        };
        let path = root.join("val/images").join(file);
        if !path.is_file() {
            bail!("{}:{}: {} not found", annotations.display(), n + 1, path.display());
        }
        val.push((path, label));
    }
    Ok((decode_all(&train, side, wnids.len())?, decode_all(&val, side, wnids.len())?))
}
