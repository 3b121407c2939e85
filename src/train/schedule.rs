//! Learning-rate schedule: linear warm-up, then cosine decay, stepped per iteration.

#[derive(Debug, Clone, Copy)]
pub struct WarmupCosine {
    /// Peak learning rate (already scaled by batch size).
    pub peak: f64,
    pub min_ratio: f64,
    pub warmup_steps: usize,
    pub total_steps: usize,
}

impl WarmupCosine {
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = (self.total_steps - self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        let min = self.peak * self.min_ratio;
        min + (self.peak - min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine() {
        let s = WarmupCosine { peak: 1.0, min_ratio: 0.1, warmup_steps: 10, total_steps: 110 };
        assert!((s.lr(0) - 0.1).abs() < 1e-12);
        assert!((s.lr(9) - 1.0).abs() < 1e-12);
        assert!((s.lr(10) - 1.0).abs() < 1e-12);
        assert!((s.lr(60) - 0.55).abs() < 1e-12);
        assert!((s.lr(110) - 0.1).abs() < 1e-12);
    }
}
