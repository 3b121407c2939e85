//! Range checks on a resolved config: the values serde accepts but training cannot use.

use super::schema::{Arch, ExperimentConfig, ViewConfig};

/// Every out-of-range value as (dotted key, what was expected).
pub fn validate_ranges(c: &ExperimentConfig) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let mut need = |ok: bool, key: &str, msg: String| {
        if !ok {
            errs.push((key.to_string(), msg));
        }
    };
    need(!c.name.is_empty() && c.name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch)),
        "name", format!("expected a non-empty name of letters, digits, '-', '_' or '.', found {:?}", c.name));
    need(c.device == "cpu" || c.device == "tch-cpu" || parse_cuda(&c.device).is_some(),
        "device", format!("expected \"cpu\", \"tch-cpu\" or \"cuda:N\", found {:?}", c.device));
    if !cfg!(feature = "tch") && c.device != "cpu" {
        need(false, "device", format!("{:?} needs the LibTorch backend: this build has only \"cpu\" (rebuild with `--features tch`, see README)", c.device));
    }
    for (key, x) in [("train.lr", c.train.lr), ("compmod.lambda1", c.compmod.lambda1), ("compmod.lambda2", c.compmod.lambda2),
        ("compmod.eps2", c.compmod.eps2), ("compmod.meta_lr", c.compmod.meta_lr), ("method.temperature", c.method.temperature)] {
        need(x.is_finite(), key, format!("expected a finite number, found {x}"));
    }
    need(c.data.image_size >= 8 && c.data.image_size <= 512, "data.image_size",
        format!("expected 8..=512 pixels, found {}", c.data.image_size));
    need(c.data.workers >= 1, "data.workers", "expected at least 1 worker".into());
    need(c.data.prefetch >= 1, "data.prefetch", "expected at least 1".into());
    need(c.backbone.width >= 4, "backbone.width", format!("expected at least 4, found {}", c.backbone.width));
    if matches!(c.backbone.arch, Arch::Resnet18 | Arch::Resnet50) && c.backbone.width != 64 {
        // Kept explicit so a table never mixes a thin ResNet with the published one silently.
        need(false, "backbone.width", format!("resnets use width 64, found {}", c.backbone.width));
    }
    need(c.method.temperature > 0.0, "method.temperature", format!("expected > 0, found {}", c.method.temperature));
    need(c.method.proj_hidden >= 1, "method.proj_hidden", "expected >= 1".into());
    need(c.method.proj_dim >= 2, "method.proj_dim", "expected >= 2".into());
    need(c.method.pred_hidden >= 1, "method.pred_hidden", "expected >= 1".into());
    need((0.0..=1.0).contains(&c.method.base_tau), "method.base_tau",
        format!("expected 0 <= base_tau <= 1 (the weight on the old target), found {}", c.method.base_tau));
    need(c.method.lambda_offdiag >= 0.0, "method.lambda_offdiag", "expected >= 0".into());
    need(c.method.scale_loss > 0.0, "method.scale_loss", "expected > 0".into());
    need(c.train.lars_eta > 0.0, "train.lars_eta", "expected > 0".into());
    let m = &c.compmod;
    need(m.lambda1 >= 0.0, "compmod.lambda1", format!("expected >= 0, found {}", m.lambda1));
    need(m.lambda2 >= 0.0, "compmod.lambda2", format!("expected >= 0, found {}", m.lambda2));
    need((1..=12).contains(&m.order), "compmod.order", format!("expected 1..=12 series terms, found {}", m.order));
    need(m.eps2 > 0.0, "compmod.eps2", format!("expected > 0, found {}", m.eps2));
    need(m.hidden >= 1, "compmod.hidden", "expected >= 1".into());
    need(m.fd_radius > 0.0, "compmod.fd_radius", format!("expected > 0, found {}", m.fd_radius));
    need(m.meta_lr > 0.0, "compmod.meta_lr", format!("expected > 0, found {}", m.meta_lr));
    need(m.lambda_warmup_factor >= 1.0, "compmod.lambda_warmup_factor",
        format!("expected >= 1 (1 = no warm-up), found {}", m.lambda_warmup_factor));
    need(m.lambda_warmup_epochs >= 0.0, "compmod.lambda_warmup_epochs", "expected >= 0".into());
    let t = &c.train;
    need(t.epochs >= 1, "train.epochs", "expected at least 1 epoch".into());
    need(t.batch_size >= 2, "train.batch_size",
        format!("expected at least 2 (NT-Xent needs negatives; Barlow Twins and BatchNorm normalise over the batch), found {}", t.batch_size));
    need(t.lr > 0.0, "train.lr", format!("expected > 0, found {}", t.lr));
    need((0.0..1.0).contains(&t.momentum), "train.momentum", format!("expected 0 <= momentum < 1, found {}", t.momentum));
    need(t.weight_decay >= 0.0, "train.weight_decay", "expected >= 0".into());
    need(t.warmup_epochs >= 0.0, "train.warmup_epochs", "expected >= 0".into());
    need((0.0..=1.0).contains(&t.min_lr_ratio), "train.min_lr_ratio", "expected 0..=1".into());
    let e = &c.eval;
    need(!e.knn_k.is_empty() && e.knn_k.iter().all(|&k| k >= 1), "eval.knn_k",
        "expected a non-empty list of positive neighbour counts".into());
    need(e.knn_temperature > 0.0, "eval.knn_temperature", "expected > 0".into());
    need(e.linear_lr > 0.0, "eval.linear_lr", "expected > 0".into());
    need(e.linear_batch_size >= 1, "eval.linear_batch_size", "expected >= 1".into());
    for (name, v) in [("view1", &c.augment.view1), ("view2", &c.augment.view2)] {
        errs_view(&format!("augment.{name}"), v, &mut errs);
    }
    errs
}

fn errs_view(prefix: &str, v: &ViewConfig, errs: &mut Vec<(String, String)>) {
    let mut need = |ok: bool, key: &str, msg: String| {
        if !ok {
            errs.push((format!("{prefix}.{key}"), msg));
        }
    };
    let [s0, s1] = v.crop_scale;
    need(0.0 < s0 && s0 <= s1 && s1 <= 1.0, "crop_scale", format!("expected [lo, hi] with 0 < lo <= hi <= 1, found [{s0}, {s1}]"));
    let [r0, r1] = v.crop_ratio;
    need(0.0 < r0 && r0 <= r1, "crop_ratio", format!("expected [lo, hi] with 0 < lo <= hi, found [{r0}, {r1}]"));
    for (key, p) in [("flip_prob", v.flip_prob), ("jitter_prob", v.jitter_prob), ("grayscale_prob", v.grayscale_prob),
        ("blur_prob", v.blur_prob), ("solarize_prob", v.solarize_prob), ("solarize_threshold", v.solarize_threshold)] {
        need((0.0..=1.0).contains(&p), key, format!("expected a probability in [0, 1], found {p}"));
    }
    for (key, x) in [("brightness", v.brightness), ("contrast", v.contrast), ("saturation", v.saturation)] {
        need(x >= 0.0, key, format!("expected >= 0, found {x}"));
    }
    need((0.0..=0.5).contains(&v.hue), "hue", format!("expected 0 <= hue <= 0.5, found {}", v.hue));
    need(v.blur_kernel % 2 == 1, "blur_kernel", format!("expected an odd kernel size, found {}", v.blur_kernel));
    let [b0, b1] = v.blur_sigma;
    need(0.0 < b0 && b0 <= b1, "blur_sigma", format!("expected [lo, hi] with 0 < lo <= hi, found [{b0}, {b1}]"));
}

/// Values that are legal but probably not what the user meant, as (key, why).
pub fn warnings(c: &ExperimentConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if c.train.warmup_epochs > c.train.epochs as f64 {
        out.push(("train.warmup_epochs".to_string(), format!("{} is longer than train.epochs = {}: the learning rate never reaches its peak", c.train.warmup_epochs, c.train.epochs)));
    }
    if c.method.name == crate::config::MethodName::Byol && c.method.base_tau < 0.9 {
        out.push((
            "method.base_tau".to_string(),
            format!("{} is low: tau is the weight on the old target (BYOL uses 0.99-0.996)", c.method.base_tau),
        ));
    }
    out
}

/// `"cuda:N"` → N.
pub fn parse_cuda(device: &str) -> Option<usize> {
    device.strip_prefix("cuda:")?.parse().ok()
}
