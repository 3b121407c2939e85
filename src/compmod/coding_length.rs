//! The coding-length series and the two CompMod losses.
//!
//! S_n(A, B) = tr Σ_{k=1..n} ((-1)^{k+1}/k) (λ A Bᵀ)^k ≈ log det(I + λ A Bᵀ), rows of A and B
//! L2-normalised, λ = d / (m ε²). tr((ABᵀ)^k) = tr((BᵀA)^k), so the powers are taken of the
//! smaller of the m×m and d×d products, and tr(X^k) = Σ (X^a ⊙ (X^b)ᵀ) with a + b = k, so
//! order n needs only the powers up to ⌈n/2⌉.

use burn::tensor::Tensor;

use crate::config::{CompModConfig, MecScale};
use crate::model::norm::l2_normalize;

/// The series' settings at one point of training (λ includes the warm-up).
#[derive(Debug, Clone, Copy)]
pub struct CodingLength {
    pub order: usize,
    pub eps2: f64,
    pub scale: MecScale,
    /// λ⁻¹ multiplier from the warm-up (1 once it is over).
    pub warmup_factor: f64,
}

/// How far the series was from its convergence region in one evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeriesCheck {
    /// Largest spectral norm of λ A Bᵀ seen (the series converges only below 1).
    pub max_norm: f64,
}

impl CodingLength {
    pub fn at(cfg: &CompModConfig, epoch_progress: f64) -> Self {
        let warm = if cfg.lambda_warmup_epochs > 0.0 { (epoch_progress / cfg.lambda_warmup_epochs).min(1.0) } else { 1.0 };
        let warmup_factor = cfg.lambda_warmup_factor - (cfg.lambda_warmup_factor - 1.0) * warm;
        Self { order: cfg.order, eps2: cfg.eps2, scale: cfg.mec_scale, warmup_factor }
    }

    /// λ for a batch of m rows of dimension d.
    pub fn lambda(&self, m: usize, d: usize) -> f64 {
        d as f64 / (m as f64 * self.eps2) / self.warmup_factor
    }

    /// The factor in front of the losses: μ = (m + d)/2, or 1/(λ m) (MEC's code).
    pub fn loss_scale(&self, m: usize, d: usize) -> f64 {
        match self.scale {
            MecScale::Mu => (m + d) as f64 / 2.0,
            MecScale::Mec => 1.0 / (self.lambda(m, d) * m as f64),
        }
    }

    /// S_n(A, B), and the matrix λ·(smaller product) detached for the convergence check.
    pub fn series(&self, a: Tensor<2>, b: Tensor<2>) -> (Tensor<1>, Tensor<2>) {
        let [m, d] = a.dims();
        let lambda = self.lambda(m, d);
        series_terms(l2_normalize(a), l2_normalize(b), lambda, self.order)
    }

    /// L_comp(Ẑ) = −scale · S_n(Ẑ, Ẑ).
    pub fn l_comp(&self, zhat: Tensor<2>, check: &mut SeriesCheck) -> Tensor<1> {
        let [m, d] = zhat.dims();
        let (s, x) = self.series(zhat.clone(), zhat);
        check.observe(x);
        s.mul_scalar(-self.loss_scale(m, d))
    }

    /// L_mcr(Z¹, Z², Ẑ) = −scale · Σ_t S_n(Ẑ, Zᵗ).
    pub fn l_mcr(&self, zhat: Tensor<2>, z1: Tensor<2>, z2: Tensor<2>, check: &mut SeriesCheck) -> Tensor<1> {
        let [m, d] = zhat.dims();
        let (s1, x1) = self.series(zhat.clone(), z1);
        let (s2, x2) = self.series(zhat, z2);
        check.observe(x1);
        check.observe(x2);
        (s1 + s2).mul_scalar(-self.loss_scale(m, d))
    }
}

/// The series on already-normalised rows with a given λ.
pub fn series_terms(a: Tensor<2>, b: Tensor<2>, lambda: f64, order: usize) -> (Tensor<1>, Tensor<2>) {
    let [m, d] = a.dims();
    // Same trace powers either way; pick the smaller square matrix.
    let x = if m <= d { a.matmul(b.transpose()) } else { b.transpose().matmul(a) }.mul_scalar(lambda);
    let n = x.dims()[0];
    let half = order.div_ceil(2);
    let mut powers = vec![x.clone()];
    for _ in 1..half {
        let next = powers.last().unwrap().clone().matmul(x.clone());
        powers.push(next);
    }
    let device = x.device();
    let mut total: Option<Tensor<1>> = None;
    for k in 1..=order {
        let (a_pow, b_pow) = (k.div_ceil(2), k / 2);
        let pa = powers[a_pow - 1].clone();
        let trace = if b_pow == 0 {
            (pa * Tensor::<2>::eye(n, &device)).sum()
        } else {
            (pa * powers[b_pow - 1].clone().transpose()).sum()
        };
        let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
        let term = trace.mul_scalar(sign / k as f64);
        total = Some(match total {
            Some(t) => t + term,
            None => term,
        });
    }
    (total.expect("order >= 1"), x.detach())
}

impl SeriesCheck {
    pub fn observe(&mut self, x: Tensor<2>) {
        let n = x.dims()[0];
        let data: Vec<f32> = x.into_data().convert::<f32>().try_into_vec().expect("f32 data");
        self.max_norm = self.max_norm.max(spectral_norm(&data, n));
    }
}

/// Largest singular value of a square row-major matrix, by power iteration on XᵀX.
pub fn spectral_norm(x: &[f32], n: usize) -> f64 {
    let mut v = vec![1.0f64 / (n as f64).sqrt(); n];
    let mut sigma = 0.0;
    for _ in 0..50 {
        // u = X v ; w = Xᵀ u
        let u: Vec<f64> = (0..n).map(|i| (0..n).map(|j| x[i * n + j] as f64 * v[j]).sum()).collect();
        let mut w = vec![0.0f64; n];
        for i in 0..n {
            for j in 0..n {
                w[j] += x[i * n + j] as f64 * u[i];
            }
        }
        let norm = w.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        let new_sigma = norm.sqrt();
        v = w.into_iter().map(|a| a / norm).collect();
        if (new_sigma - sigma).abs() <= 1e-7 * new_sigma {
            return new_sigma;
        }
        sigma = new_sigma;
    }
    sigma
}
