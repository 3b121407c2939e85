//! Readers on real pixels. Needs `compmod data fetch fashion-mnist`, `mnist` and
//! `cifar-samples` (the README's test command and .ci/run do this first).

use std::path::{Path, PathBuf};

use compmod::data::{cifar, idx};

fn data_dir(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name);
    assert!(p.is_dir(), "{} is missing: run `cargo run -- data fetch {}` (the test script does)", p.display(), if name.starts_with("cifar") || name == "imagenet-samples" { "cifar-samples" } else { name });
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

/// The 20 sample files (sorted) with extension `ext` in data/<name>.
fn twenty_files(name: &str, ext: &str) -> Vec<PathBuf> {
    let dir = data_dir(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == ext)).collect();
    files.sort();
    assert_eq!(files.len(), 20, "{}", dir.display());
    files
}

/// (label, CHW pixels) of the foolbox PNGs, file names `cifar10_NN_LABEL.png`.
fn cifar_pngs(name: &str) -> Vec<(u8, Vec<u8>)> {
    twenty_files(name, "png")
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

/// (class id, RGB image, path) of the 20 foolbox ImageNet photos (512 px JPEGs),
/// `imagenet_NN_CLASS.jpg`.
fn imagenet_photos() -> Vec<(u32, image::RgbImage, PathBuf)> {
    twenty_files("imagenet-samples", "jpg")
        .into_iter()
        .map(|p| {
            let class: u32 = p.file_stem().unwrap().to_str().unwrap().rsplit('_').next().unwrap().parse().unwrap();
            (class, image::open(&p).unwrap().to_rgb8(), p)
        })
        .collect()
}

fn chw(img: &image::RgbImage) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let mut out = vec![0u8; (3 * w * h) as usize];
    for (x, y, px) in img.enumerate_pixels() {
        for c in 0..3 {
            out[(c as u32 * w * h + y * w + x) as usize] = px[c];
        }
    }
    out
}

#[test]
fn stl10_binary_reader_on_real_pixels() {
    use compmod::data::stl10;
    // Real photos at 96 px, written the way STL-10 stores them: per channel, column-major.
    let photos: Vec<image::RgbImage> = imagenet_photos().iter().map(|(_, img, _)| image::imageops::resize(img, 96, 96, image::imageops::FilterType::Triangle)).collect();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("stl10_binary");
    std::fs::create_dir_all(&dir).unwrap();
    let column_major = |img: &image::RgbImage| -> Vec<u8> {
        let mut out = Vec::with_capacity(3 * 96 * 96);
        for c in 0..3 {
            for x in 0..96 {
                for y in 0..96 {
                    out.push(img.get_pixel(x, y)[c]);
                }
            }
        }
        out
    };
    let write = |name: &str, imgs: &[image::RgbImage]| std::fs::write(dir.join(name), imgs.iter().flat_map(column_major).collect::<Vec<u8>>()).unwrap();
    write("train_X.bin", &photos[..12]);
    write("test_X.bin", &photos[12..]);
    write("unlabeled_X.bin", &photos[..5]);
    std::fs::write(dir.join("train_y.bin"), (0..12u8).map(|i| i % 10 + 1).collect::<Vec<_>>()).unwrap();
    std::fs::write(dir.join("test_y.bin"), (0..8u8).map(|i| 10 - i).collect::<Vec<_>>()).unwrap();
    let (train, test, unlabeled) = stl10::read_stl10(d.path(), true).unwrap();
    assert_eq!((train.len(), test.len(), unlabeled.as_ref().unwrap().len()), (12, 8, 5));
    assert_eq!((train.channels, train.height, train.width, train.num_classes), (3, 96, 96, 10));
    assert_eq!(train.labels[..3], [0, 1, 2]);
    assert_eq!(test.labels[..2], [9, 8]);
    for i in 0..12 {
        assert_eq!(train.image(i), chw(&photos[i]).as_slice(), "train image {i}");
    }
    assert_eq!(test.image(7), chw(&photos[19]).as_slice());
    // Broken files say which file and what layout was expected.
    std::fs::write(dir.join("test_y.bin"), [1u8, 2, 3]).unwrap();
    let e = format!("{:#}", stl10::read_stl10(d.path(), false).unwrap_err());
    assert!(e.contains("test_y.bin holds 3 labels but its images file holds 8 images"), "{e}");
    std::fs::write(dir.join("test_y.bin"), [0u8; 8]).unwrap();
    let e = format!("{:#}", stl10::read_stl10(d.path(), false).unwrap_err());
    assert!(e.contains("label 0 of image 0 is outside 1..=10"), "{e}");
    std::fs::write(dir.join("test_X.bin"), [0u8; 100]).unwrap();
    let e = format!("{:#}", stl10::read_stl10(d.path(), false).unwrap_err());
    assert!(e.contains("test_X.bin: 100 bytes is not a whole number of 3x96x96 STL-10 images"), "{e}");
    std::fs::remove_file(dir.join("unlabeled_X.bin")).unwrap();
    std::fs::write(dir.join("test_X.bin"), photos[12..].iter().flat_map(column_major).collect::<Vec<u8>>()).unwrap();
    std::fs::write(dir.join("test_y.bin"), [1u8; 8]).unwrap();
    let e = format!("{:#}", stl10::read_stl10(d.path(), true).unwrap_err());
    assert!(e.contains("unlabeled_X.bin not found (expected STL-10's binary layout"), "{e}");
}

#[test]
fn image_folder_reader_on_real_photos() {
    use compmod::data::folder;
    let photos = imagenet_photos();
    let d = tempfile::tempdir().unwrap();
    // Two classes by the parity of the ImageNet class id; every fourth photo goes to val.
    for (i, (class, _, path)) in photos.iter().enumerate() {
        let split = if i % 4 == 3 { "val" } else { "train" };
        let dir = d.path().join(split).join(if class % 2 == 0 { "even" } else { "odd" });
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let (train, val) = folder::read_image_folder(d.path(), 32).unwrap();
    assert_eq!((train.len(), val.len(), train.num_classes, train.height), (15, 5, 2, 32));
    // Classes are the sorted folder names ("even" = 0), images sorted within a class.
    let mut want: Vec<(u16, &image::RgbImage)> =
        photos.iter().enumerate().filter(|(i, _)| i % 4 != 3).map(|(_, (c, img, _))| ((c % 2) as u16, img)).collect();
    want.sort_by_key(|(l, _)| *l);
    let mut squares = 0;
    for (i, (label, img)) in want.iter().enumerate() {
        assert_eq!(train.labels[i], *label);
        // A square photo: the centre crop is the whole image, resized (the wide case is below).
        if img.width() == img.height() {
            let expect = chw(&image::imageops::resize(*img, 32, 32, image::imageops::FilterType::Triangle));
            assert_eq!(train.image(i), expect.as_slice(), "train image {i}");
            squares += 1;
        }
    }
    assert!(squares >= 10, "only {squares} square photos");
    // A wide JPEG keeps its centre square.
    let wide = image::imageops::crop_imm(&photos[0].1, 0, 0, 512, 256).to_image();
    wide.save(d.path().join("wide.jpg")).unwrap();
    let px = folder::decode(&d.path().join("wide.jpg"), 16).unwrap();
    let decoded = image::open(d.path().join("wide.jpg")).unwrap().to_rgb8();
    let resized = image::imageops::resize(&decoded, 32, 16, image::imageops::FilterType::Triangle);
    assert_eq!(px, chw(&image::imageops::crop_imm(&resized, 8, 0, 16, 16).to_image()));
    // A val class that train lacks, and an empty split, are named.
    std::fs::create_dir_all(d.path().join("val/cat")).unwrap();
    let e = format!("{:#}", folder::read_image_folder(d.path(), 32).unwrap_err());
    assert!(e.contains("class folder `cat` is not among train/'s 2 classes"), "{e}");
    let e = format!("{:#}", folder::read_image_folder(&d.path().join("nowhere"), 32).unwrap_err());
    assert!(e.contains("nowhere/train not found (expected class folders"), "{e}");
}

#[test]
fn tiny_imagenet_layout_on_real_photos() {
    use compmod::data::folder;
    let photos = imagenet_photos();
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("tiny-imagenet-200");
    let wnids = ["n01443537", "n01629819"];
    let mut annotations = String::new();
    for (i, (_, img, _)) in photos.iter().enumerate() {
        let small = image::imageops::resize(img, 64, 64, image::imageops::FilterType::Triangle);
        let wnid = wnids[i % 2];
        if i < 14 {
            let dir = root.join("train").join(wnid).join("images");
            std::fs::create_dir_all(&dir).unwrap();
            small.save(dir.join(format!("{wnid}_{i}.JPEG"))).unwrap();
        } else {
            let dir = root.join("val/images");
            std::fs::create_dir_all(&dir).unwrap();
            small.save(dir.join(format!("val_{i}.JPEG"))).unwrap();
            annotations.push_str(&format!("val_{i}.JPEG\t{wnid}\t0\t0\t63\t63\n"));
        }
    }
    std::fs::write(root.join("val/val_annotations.txt"), &annotations).unwrap();
    let (train, val) = folder::read_tiny_imagenet(d.path(), 64).unwrap();
    assert_eq!((train.len(), val.len(), train.num_classes, val.height), (14, 6, 2, 64));
    assert_eq!(val.labels, [0, 1, 0, 1, 0, 1]);
    assert_eq!(train.labels.iter().filter(|&&l| l == 1).count(), 7);
    // The JPEGs decode to what the image crate decodes them to.
    let first = image::open(root.join("val/images/val_14.JPEG")).unwrap().to_rgb8();
    assert_eq!(val.image(0), chw(&image::imageops::resize(&first, 64, 64, image::imageops::FilterType::Triangle)).as_slice());
    std::fs::write(root.join("val/val_annotations.txt"), format!("{annotations}val_99.JPEG\tn99999999\t0\t0\t1\t1\n")).unwrap();
    let e = format!("{:#}", folder::read_tiny_imagenet(d.path(), 64).unwrap_err());
    assert!(e.contains("val_annotations.txt:7: class `n99999999` has no folder"), "{e}");
}
