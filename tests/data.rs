//! Readers on real pixels. Needs `compmod data fetch fashion-mnist`, `mnist` and
//! `cifar-samples` (the README's test command and .ci/run do this first).

use std::path::{Path, PathBuf};

use compmod::data::{cifar, idx};

fn data_dir(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name);
    assert!(p.is_dir(), "{} is missing: run `cargo run -- data fetch {}` (the test script does)", p.display(), if name.starts_with("cifar") { "cifar-samples" } else { name });
    p
}

#[test]
fn fashion_mnist_gzipped_idx() {
    let root = data_dir("fashion-mnist");
    let train = idx::read_split(&root, "train").unwrap();
    assert_eq!((train.len(), train.channels, train.height, train.width), (60000, 1, 28, 28));
    assert_eq!(&train.labels[..4], &[9, 0, 0, 3]);
    let test = idx::read_split(&root, "t10k").unwrap();
    assert_eq!(test.len(), 10000);
    assert_eq!(test.num_classes, 10);
    // Class balance of the real test split: 1000 per class.
    let mut counts = [0usize; 10];
    test.labels.iter().for_each(|&l| counts[l as usize] += 1);
    assert_eq!(counts, [1000; 10]);
}

#[test]
fn mnist_raw_idx() {
    let root = data_dir("mnist");
    let train = idx::read_split(&root, "train").unwrap();
    assert_eq!(train.len(), 60000);
    assert_eq!(&train.labels[..5], &[5, 0, 4, 1, 9]);
}

#[test]
fn broken_idx_files_name_the_file_and_the_problem() {
    let root = data_dir("mnist");
    let d = tempfile::tempdir().unwrap();
    let labels = std::fs::read(root.join("t10k-labels-idx1-ubyte")).unwrap();
    let images = std::fs::read(root.join("t10k-images-idx3-ubyte")).unwrap();
    // Truncated images.
    std::fs::write(d.path().join("t10k-images-idx3-ubyte"), &images[..images.len() - 100]).unwrap();
    std::fs::write(d.path().join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    let e = format!("{:#}", idx::read_split(d.path(), "t10k").unwrap_err());
    assert!(e.contains("t10k-images-idx3-ubyte") && e.contains("file has 7839900"), "{e}");
    // Labels where images are expected.
    std::fs::write(d.path().join("t10k-images-idx3-ubyte"), &labels).unwrap();
    let e = format!("{:#}", idx::read_split(d.path(), "t10k").unwrap_err());
    assert!(e.contains("expected IDX magic 0x00000803 (images), found 0x00000801"), "{e}");
    // Missing file.
    std::fs::remove_file(d.path().join("t10k-labels-idx1-ubyte")).unwrap();
    std::fs::write(d.path().join("t10k-images-idx3-ubyte"), &images).unwrap();
    let e = format!("{:#}", idx::read_split(d.path(), "t10k").unwrap_err());
    assert!(e.contains("neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz found"), "{e}");
}

/// (label, CHW pixels) of the foolbox PNGs, file names `cifar10_NN_LABEL.png`.
fn cifar_pngs(name: &str) -> Vec<(u8, Vec<u8>)> {
    let dir = data_dir(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "png")).collect();
    files.sort();
    assert_eq!(files.len(), 20, "{}", dir.display());
    files
        .iter()
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap();
            let label: u8 = stem.rsplit('_').next().unwrap().parse().unwrap();
            let img = image::open(p).unwrap().to_rgb8();
            assert_eq!(img.dimensions(), (32, 32));
            let mut chw = vec![0u8; 3072];
            for (x, y, px) in img.enumerate_pixels() {
                for c in 0..3 {
                    chw[c * 1024 + y as usize * 32 + x as usize] = px[c];
                }
            }
            (label, chw)
        })
        .collect()
}

#[test]
fn cifar10_binary_reader_on_real_pixels() {
    let samples = cifar_pngs("cifar10-samples");
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&dir).unwrap();
    // Train batches 1..5 hold 3 images each; the test batch the last 5.
    let record = |(l, px): &(u8, Vec<u8>)| -> Vec<u8> { std::iter::once(*l).chain(px.iter().copied()).collect() };
    for b in 0..5 {
        let bytes: Vec<u8> = samples[b * 3..b * 3 + 3].iter().flat_map(record).collect();
        std::fs::write(dir.join(format!("data_batch_{}.bin", b + 1)), bytes).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), samples[15..].iter().flat_map(record).collect::<Vec<u8>>()).unwrap();
    let (train, test) = cifar::read_cifar10(d.path()).unwrap();
    assert_eq!((train.len(), test.len(), train.channels, train.height), (15, 5, 3, 32));
    for (i, (label, px)) in samples.iter().enumerate() {
        let (set, j) = if i < 15 { (&train, i) } else { (&test, i - 15) };
        assert_eq!(set.labels[j], *label as u16);
        assert_eq!(set.image(j), &px[..], "image {i}");
    }
    // A truncated batch names the file and the layout.
    let bytes = std::fs::read(dir.join("test_batch.bin")).unwrap();
    std::fs::write(dir.join("test_batch.bin"), &bytes[..bytes.len() - 7]).unwrap();
    let e = format!("{:#}", cifar::read_cifar10(d.path()).unwrap_err());
    assert!(e.contains("test_batch.bin") && e.contains("3073-byte CIFAR records"), "{e}");
}

#[test]
fn cifar100_binary_reader_on_real_pixels() {
    let samples = cifar_pngs("cifar100-samples");
    let d = tempfile::tempdir().unwrap();
    let record = |(l, px): &(u8, Vec<u8>)| -> Vec<u8> { [l / 5, *l].into_iter().chain(px.iter().copied()).collect() };
    std::fs::write(d.path().join("train.bin"), samples[..12].iter().flat_map(record).collect::<Vec<u8>>()).unwrap();
    std::fs::write(d.path().join("test.bin"), samples[12..].iter().flat_map(record).collect::<Vec<u8>>()).unwrap();
    let (train, test) = cifar::read_cifar100(d.path()).unwrap();
    assert_eq!((train.len(), test.len(), train.num_classes), (12, 8, 100));
    for (i, (label, px)) in samples.iter().enumerate() {
        let (set, j) = if i < 12 { (&train, i) } else { (&test, i - 12) };
        assert_eq!(set.labels[j], *label as u16, "fine label of image {i}");
        assert_eq!(set.image(j), &px[..]);
    }
    // CIFAR-10 files read as CIFAR-100 are caught by their size or labels.
    std::fs::write(d.path().join("test.bin"), vec![7u8; 3073 * 2]).unwrap();
    let e = format!("{:#}", cifar::read_cifar100(d.path()).unwrap_err());
    assert!(e.contains("3074-byte CIFAR records"), "{e}");
}
