//! Image transforms on f32 CHW images with values in [0, 1].
//!
//! Semantics follow torchvision (the reference pipelines of SimCLR and BYOL): resizing is
//! PIL's separable bilinear filter (antialiased when shrinking), colour operations are
//! torchvision's tensor formulas, and on one-channel images saturation, hue and grayscale
//! leave the image unchanged, as torchvision does for gray input.

use crate::config::Interpolation;

#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

impl Image {
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), channels * height * width, "image buffer size");
        Self { channels, height, width, data }
    }

    pub fn from_u8(channels: usize, height: usize, width: usize, pixels: &[u8]) -> Self {
        Self::new(channels, height, width, pixels.iter().map(|&p| p as f32 / 255.0).collect())
    }

    fn plane(&self, c: usize) -> &[f32] {
        let n = self.height * self.width;
        &self.data[c * n..(c + 1) * n]
    }

    /// ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B); the image itself when it has one channel.
    pub fn luma(&self) -> Vec<f32> {
        if self.channels == 1 {
            return self.data.clone();
        }
        let (r, g, b) = (self.plane(0), self.plane(1), self.plane(2));
        (0..r.len()).map(|i| 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i]).collect()
    }
}

/// PIL's resampling coefficients for one axis: for each output pixel, the first input
/// index and the normalised weights (PIL `precompute_coeffs`, bilinear support 1).
fn bilinear_coeffs(in_size: usize, in0: f64, in1: f64, out_size: usize) -> Vec<(usize, Vec<f64>)> {
    let scale = (in1 - in0) / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale;
    (0..out_size)
        .map(|xx| {
            let center = in0 + (xx as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let mut w: Vec<f64> = (xmin..xmax)
                .map(|x| {
                    let t = ((x as f64 - center + 0.5) / filterscale).abs();
                    if t < 1.0 { 1.0 - t } else { 0.0 }
                })
                .collect();
            let total: f64 = w.iter().sum();
            if total != 0.0 {
                w.iter_mut().for_each(|v| *v /= total);
            }
            (xmin, w)
        })
        .collect()
}

/// Crop the box (top, left, height, width) and resize it to `out_h` x `out_w`, like
/// `PIL.Image.resize(size, filter, box)`; the box may be fractional.
pub fn resized_crop(
    img: &Image,
    top: f64,
    left: f64,
    height: f64,
    width: f64,
    out_h: usize,
    out_w: usize,
    interpolation: Interpolation,
) -> Image {
    let (h, w) = (img.height, img.width);
    let mut out = vec![0f32; img.channels * out_h * out_w];
    match interpolation {
        Interpolation::Nearest => {
            let sx = width / out_w as f64;
            let sy = height / out_h as f64;
            for c in 0..img.channels {
                let p = img.plane(c);
                for y in 0..out_h {
                    let iy = ((top + (y as f64 + 0.5) * sy) as usize).min(h - 1);
                    for x in 0..out_w {
                        let ix = ((left + (x as f64 + 0.5) * sx) as usize).min(w - 1);
                        out[c * out_h * out_w + y * out_w + x] = p[iy * w + ix];
                    }
                }
            }
        }
        Interpolation::Bilinear => {
            let kx = bilinear_coeffs(w, left, left + width, out_w);
            let ky = bilinear_coeffs(h, top, top + height, out_h);
            let mut tmp = vec![0f64; h * out_w];
            for c in 0..img.channels {
                let p = img.plane(c);
                // Horizontal pass over every input row, then vertical (PIL's order).
                for y in 0..h {
                    for (x, (x0, wts)) in kx.iter().enumerate() {
                        let row = &p[y * w + x0..];
                        tmp[y * out_w + x] = wts.iter().zip(row).map(|(a, &b)| a * b as f64).sum();
                    }
                }
                for (y, (y0, wts)) in ky.iter().enumerate() {
                    for x in 0..out_w {
                        let v: f64 = wts.iter().enumerate().map(|(k, a)| a * tmp[(y0 + k) * out_w + x]).sum();
                        out[c * out_h * out_w + y * out_w + x] = v as f32;
                    }
                }
            }
        }
    }
    Image::new(img.channels, out_h, out_w, out)
}

pub fn hflip(img: &Image) -> Image {
    let mut out = img.clone();
    for c in 0..img.channels {
        for y in 0..img.height {
            let base = c * img.height * img.width + y * img.width;
            out.data[base..base + img.width].reverse();
        }
    }
    out
}

fn blend(a: f32, b: f32, factor: f32) -> f32 {
    (factor * a + (1.0 - factor) * b).clamp(0.0, 1.0)
}

pub fn adjust_brightness(img: &Image, factor: f32) -> Image {
    let mut out = img.clone();
    out.data.iter_mut().for_each(|v| *v = blend(*v, 0.0, factor));
    out
}

/// Blend with the mean luma of the whole image.
pub fn adjust_contrast(img: &Image, factor: f32) -> Image {
    let luma = img.luma();
    let mean = luma.iter().sum::<f32>() / luma.len() as f32;
    let mut out = img.clone();
    out.data.iter_mut().for_each(|v| *v = blend(*v, mean, factor));
    out
}

/// Blend with the grayscale image; a no-op on one-channel images.
pub fn adjust_saturation(img: &Image, factor: f32) -> Image {
    if img.channels == 1 {
        return img.clone();
    }
    let luma = img.luma();
    let n = luma.len();
    let mut out = img.clone();
    for c in 0..img.channels {
        for i in 0..n {
            out.data[c * n + i] = blend(img.data[c * n + i], luma[i], factor);
        }
    }
    out
}

/// Shift hue by `factor` (in turns, |factor| <= 0.5); a no-op on one-channel images.
pub fn adjust_hue(img: &Image, factor: f32) -> Image {
    if img.channels == 1 {
        return img.clone();
    }
    let n = img.height * img.width;
    let mut out = img.clone();
    for i in 0..n {
        let (r, g, b) = (img.data[i], img.data[n + i], img.data[2 * n + i]);
        let (h, s, v) = rgb_to_hsv(r, g, b);
        let h = (h + factor).rem_euclid(1.0);
        let (r, g, b) = hsv_to_rgb(h, s, v);
        out.data[i] = r;
        out.data[n + i] = g;
        out.data[2 * n + i] = b;
    }
    out
}

pub fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    if maxc == minc {
        return (0.0, 0.0, maxc);
    }
    let cr = maxc - minc;
    let s = cr / maxc;
    let (rc, gc, bc) = ((maxc - r) / cr, (maxc - g) / cr, (maxc - b) / cr);
    let h = if maxc == r {
        bc - gc
    } else if maxc == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    ((h / 6.0 + 1.0).rem_euclid(1.0), s, maxc)
}

pub fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let i6 = (h * 6.0).floor();
    let f = h * 6.0 - i6;
    let i = (i6 as i32).rem_euclid(6);
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    match i {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

/// Luma replicated over every channel; a no-op on one-channel images.
pub fn grayscale(img: &Image) -> Image {
    if img.channels == 1 {
        return img.clone();
    }
    let luma = img.luma();
    Image::new(img.channels, img.height, img.width, luma.repeat(img.channels))
}

/// Separable gaussian blur with reflect padding (torchvision's `gaussian_blur`).
pub fn gaussian_blur(img: &Image, kernel: usize, sigma: f32) -> Image {
    let half = (kernel as f32 - 1.0) / 2.0;
    let mut k: Vec<f32> = (0..kernel)
        .map(|i| {
            let x = -half + i as f32;
            (-0.5 * (x / sigma).powi(2)).exp()
        })
        .collect();
    let total: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= total);
    let r = (kernel / 2) as isize;
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        let mut i = i;
        // Reflect without repeating the edge, as torch's "reflect" padding does.
        while i < 0 || i >= n {
            if i < 0 {
                i = -i;
            }
            if i >= n {
                i = 2 * (n - 1) - i;
            }
        }
        i as usize
    };
    let (h, w) = (img.height, img.width);
    let mut out = img.clone();
    let mut tmp = vec![0f32; h * w];
    for c in 0..img.channels {
        let p = img.plane(c);
        for y in 0..h {
            for x in 0..w {
                tmp[y * w + x] = (0..kernel).map(|t| k[t] * p[y * w + reflect(x as isize + t as isize - r, w)]).sum();
            }
        }
        for y in 0..h {
            for x in 0..w {
                out.data[c * h * w + y * w + x] =
                    (0..kernel).map(|t| k[t] * tmp[reflect(y as isize + t as isize - r, h) * w + x]).sum();
            }
        }
    }
    out
}

/// Invert every value at or above `threshold`.
pub fn solarize(img: &Image, threshold: f32) -> Image {
    let mut out = img.clone();
    out.data.iter_mut().for_each(|v| {
        if *v >= threshold {
            *v = 1.0 - *v;
        }
    });
    out
}
