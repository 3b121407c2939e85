//! One view's random pipeline: crop, flip, colour jitter, grayscale, blur, solarize,
//! in that order (the SimCLR/BYOL recipes), each with its own probability.

use rand::Rng;
use rand::seq::SliceRandom;

use super::transforms::{self as t, Image};
use crate::config::ViewConfig;

#[derive(Debug, Clone)]
pub struct ViewPipeline {
    pub cfg: ViewConfig,
    pub out_size: usize,
}

/// The parameters one draw of the pipeline used (for tests and debugging).
#[derive(Debug, Clone, PartialEq)]
pub struct ViewSample {
    pub crop: (usize, usize, usize, usize),
    pub flipped: bool,
    /// (op index 0..4 = brightness, contrast, saturation, hue; factor) in application order.
    pub jitter: Vec<(usize, f32)>,
    pub grayscale: bool,
    pub blur_sigma: Option<f32>,
    pub solarized: bool,
}

impl ViewPipeline {
    pub fn new(cfg: ViewConfig, out_size: usize) -> Self {
        Self { cfg, out_size }
    }

    /// torchvision's `RandomResizedCrop.get_params`: (top, left, height, width).
    pub fn crop_params<R: Rng>(&self, h: usize, w: usize, rng: &mut R) -> (usize, usize, usize, usize) {
        let area = (h * w) as f64;
        let [s0, s1] = self.cfg.crop_scale;
        let (lr0, lr1) = (self.cfg.crop_ratio[0].ln(), self.cfg.crop_ratio[1].ln());
        for _ in 0..10 {
            let target = area * rng.random_range(s0..=s1);
            let ratio = if lr1 > lr0 { rng.random_range(lr0..lr1).exp() } else { lr0.exp() };
            let cw = (target * ratio).sqrt().round() as usize;
            let ch = (target / ratio).sqrt().round() as usize;
            if cw > 0 && cw <= w && ch > 0 && ch <= h {
                let top = rng.random_range(0..=h - ch);
                let left = rng.random_range(0..=w - cw);
                return (top, left, ch, cw);
            }
        }
        // Fallback: central crop at the nearest allowed aspect ratio.
        let in_ratio = w as f64 / h as f64;
        let (ch, cw) = if in_ratio < self.cfg.crop_ratio[0] {
            ((w as f64 / self.cfg.crop_ratio[0]).round() as usize, w)
        } else if in_ratio > self.cfg.crop_ratio[1] {
            (h, (h as f64 * self.cfg.crop_ratio[1]).round() as usize)
        } else {
            (h, w)
        };
        ((h - ch) / 2, (w - cw) / 2, ch, cw)
    }

    pub fn apply<R: Rng>(&self, img: &Image, rng: &mut R) -> (Image, ViewSample) {
        let c = &self.cfg;
        let crop = self.crop_params(img.height, img.width, rng);
        let (top, left, ch, cw) = crop;
        let mut out = t::resized_crop(img, top as f64, left as f64, ch as f64, cw as f64, self.out_size, self.out_size, c.interpolation);
        let flipped = rng.random_bool(c.flip_prob);
        if flipped {
            out = t::hflip(&out);
        }
        let mut jitter = Vec::new();
        if rng.random_bool(c.jitter_prob) {
            let mut order = [0usize, 1, 2, 3];
            order.shuffle(rng);
            for op in order {
                let (strength, centre) = match op {
                    0 => (c.brightness, 1.0),
                    1 => (c.contrast, 1.0),
                    2 => (c.saturation, 1.0),
                    _ => (c.hue, 0.0),
                };
                if strength <= 0.0 {
                    continue;
                }
                let lo = if op == 3 { -strength } else { (centre - strength).max(0.0) };
                let factor = rng.random_range(lo..=centre + strength) as f32;
                out = match op {
                    0 => t::adjust_brightness(&out, factor),
                    1 => t::adjust_contrast(&out, factor),
                    2 => t::adjust_saturation(&out, factor),
                    _ => t::adjust_hue(&out, factor),
                };
                jitter.push((op, factor));
            }
        }
        let grayscale = rng.random_bool(c.grayscale_prob);
        if grayscale {
            out = t::grayscale(&out);
        }
        let blur_sigma = if rng.random_bool(c.blur_prob) {
            let sigma = rng.random_range(c.blur_sigma[0]..=c.blur_sigma[1]) as f32;
            out = t::gaussian_blur(&out, c.blur_kernel, sigma);
            Some(sigma)
        } else {
            None
        };
        let solarized = rng.random_bool(c.solarize_prob);
        if solarized {
            out = t::solarize(&out, c.solarize_threshold as f32);
        }
        (out, ViewSample { crop, flipped, jitter, grayscale, blur_sigma, solarized })
    }
}
