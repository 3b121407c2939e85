//! Every transform against independently computed values (tests/fixtures/make_fixtures.py:
//! Pillow's resize, colorsys for hue, numpy for torchvision's formulas).

use compmod::augment::transforms as t;
use compmod::augment::{Image, ViewPipeline};
use compmod::config::{Interpolation, ViewConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn image(v: &Value) -> Image {
    let c = v.as_array().unwrap();
    let h = c[0].as_array().unwrap().len();
    let w = c[0][0].as_array().unwrap().len();
    let data: Vec<f32> = c
        .iter()
        .flat_map(|p| p.as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32)))
        .collect();
    Image::new(c.len(), h, w, data)
}

#[test]
fn transforms_match_reference_fixtures() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/augment.json")).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 32, "{} cases", cases.len());
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let input = image(&case["input"]);
        let expected = image(&case["output"]);
        let p = &case["params"];
        let f = |k: &str| p[k].as_f64().unwrap() as f32;
        let got = match p["op"].as_str().unwrap() {
            "resized_crop" => {
                let b: Vec<f64> = p["box"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
                let o: Vec<usize> = p["out"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
                let interp = if p["interp"] == "nearest" { Interpolation::Nearest } else { Interpolation::Bilinear };
                t::resized_crop(&input, b[0], b[1], b[2], b[3], o[0], o[1], interp)
            }
            "brightness" => t::adjust_brightness(&input, f("factor")),
            "contrast" => t::adjust_contrast(&input, f("factor")),
            "saturation" => t::adjust_saturation(&input, f("factor")),
            "hue" => t::adjust_hue(&input, f("factor")),
            "grayscale" => t::grayscale(&input),
            "blur" => t::gaussian_blur(&input, p["kernel"].as_u64().unwrap() as usize, f("sigma")),
            "solarize" => t::solarize(&input, f("threshold")),
            "hflip" => t::hflip(&input),
            other => panic!("unknown op {other}"),
        };
        assert_eq!((got.channels, got.height, got.width), (expected.channels, expected.height, expected.width), "{name}: shape");
        let worst = got.data.iter().zip(&expected.data).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 2e-5, "{name}: max abs error {worst}");
    }
}

#[test]
fn pipeline_is_seeded_and_respects_probabilities() {
    let img = Image::new(1, 28, 28, (0..784).map(|i| (i % 29) as f32 / 28.0).collect());
    let p = ViewPipeline::new(ViewConfig::default(), 24);
    let (a, sa) = p.apply(&img, &mut ChaCha8Rng::seed_from_u64(7));
    let (b, sb) = p.apply(&img, &mut ChaCha8Rng::seed_from_u64(7));
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    assert_eq!((a.height, a.width), (24, 24));
    let never = ViewConfig { flip_prob: 0.0, jitter_prob: 0.0, grayscale_prob: 0.0, blur_prob: 0.0, solarize_prob: 0.0, crop_scale: [1.0, 1.0], crop_ratio: [1.0, 1.0], ..ViewConfig::default() };
    let (out, s) = ViewPipeline::new(never, 28).apply(&img, &mut ChaCha8Rng::seed_from_u64(1));
    assert_eq!(s.crop, (0, 0, 28, 28));
    assert!(!s.flipped && s.jitter.is_empty() && !s.grayscale && s.blur_sigma.is_none() && !s.solarized);
    let worst = out.data.iter().zip(&img.data).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst < 1e-6, "identity crop changed the image by {worst}");
    let always = ViewConfig { flip_prob: 1.0, solarize_prob: 1.0, crop_scale: [1.0, 1.0], crop_ratio: [1.0, 1.0], jitter_prob: 0.0, grayscale_prob: 0.0, ..ViewConfig::default() };
    let (_, s) = ViewPipeline::new(always, 28).apply(&img, &mut ChaCha8Rng::seed_from_u64(1));
    assert!(s.flipped && s.solarized);
}

#[test]
fn crop_params_stay_inside_and_follow_scale() {
    let cfg = ViewConfig { crop_scale: [0.2, 0.5], ..ViewConfig::default() };
    let p = ViewPipeline::new(cfg, 28);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for _ in 0..500 {
        let (top, left, h, w) = p.crop_params(28, 32, &mut rng);
        assert!(top + h <= 28 && left + w <= 32 && h > 0 && w > 0);
        let frac = (h * w) as f64 / (28.0 * 32.0);
        assert!((0.15..=0.56).contains(&frac), "area fraction {frac}");
        let ratio = w as f64 / h as f64;
        assert!((0.6..=1.6).contains(&ratio), "ratio {ratio}");
    }
}
