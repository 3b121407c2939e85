//! Whole-module arithmetic on parameters and gradients, keyed by `ParamId`.
//!
//! The bi-level step treats (θ, φ) as one vector: it needs ‖v‖, θ ± r·v and sums of
//! gradient sets. burn exposes parameters through visitors and mappers generic over the
//! tensor rank, so each operation here is a small visitor or mapper.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Apply `f` to a parameter's value on the inner (non-autodiff) backend and put the result
/// back with the parameter's autodiff state (tracked, gradient retained) unchanged.
pub fn update_value<const D: usize>(t: Tensor<D>, f: impl FnOnce(Tensor<D>) -> Tensor<D>) -> Tensor<D> {
    let was_autodiff = t.is_autodiff();
    let require_grad = t.is_require_grad();
    let new = f(t.inner());
    if !was_autodiff {
        return new;
    }
    let new = Tensor::from_inner(new);
    if require_grad { new.require_grad() } else { new }
}

/// Σ g² over the module's parameters that have a gradient.
pub fn grad_sq_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    struct V<'a> {
        grads: &'a GradientsParams,
        total: f64,
    }
    impl ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.total += g.powf_scalar(2.0).sum().into_scalar::<f32>() as f64;
            }
        }
    }
    let mut v = V { grads, total: 0.0 };
    module.visit(&mut v);
    v.total
}

/// a·A + b·B for every parameter of `module` present in A or B (a missing entry counts as 0).
pub fn combine<M: Module>(module: &M, a: f64, ga: &GradientsParams, b: f64, gb: &GradientsParams) -> GradientsParams {
    struct V<'a> {
        a: f64,
        b: f64,
        ga: &'a GradientsParams,
        gb: &'a GradientsParams,
        out: GradientsParams,
    }
    impl ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let x = self.ga.get::<D>(param.id).map(|g| g.mul_scalar(self.a));
            let y = self.gb.get::<D>(param.id).map(|g| g.mul_scalar(self.b));
            let sum = match (x, y) {
                (Some(x), Some(y)) => x + y,
                (Some(x), None) => x,
                (None, Some(y)) => y,
                (None, None) => return,
            };
            self.out.register::<D>(param.id, sum);
        }
    }
    let mut v = V { a, b, ga, gb, out: GradientsParams::new() };
    module.visit(&mut v);
    v.out
}

/// A copy of `module` with every parameter p that has an entry w in `other` replaced by
/// a·p + b·w, on the inner backend: no autodiff, no gradient. Parameters without an entry
/// (BatchNorm's running statistics among them) are left as they are.
pub fn blend<M: Module>(module: M, a: f64, other: &GradientsParams, b: f64) -> M {
    struct Map<'a> {
        other: &'a GradientsParams,
        a: f64,
        b: f64,
    }
    impl ModuleMapper for Map<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            match self.other.get::<D>(param.id) {
                Some(w) => param.map(|t| t.inner().mul_scalar(self.a) + w.mul_scalar(self.b)),
                None => param,
            }
        }
    }
    module.map(&mut Map { other, a, b })
}

/// A point to evaluate, not to train: p + scale·dir for every parameter with a direction.
pub fn perturbed<M: Module>(module: M, dir: &GradientsParams, scale: f64) -> M {
    blend(module, 1.0, dir, scale)
}

/// A copy of `module` whose parameters are constants (no gradient reaches them).
pub fn detached<M: Module>(module: M) -> M {
    struct Map;
    impl ModuleMapper for Map {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.detach())
        }
    }
    module.map(&mut Map)
}

/// The ids of every float parameter of a module.
pub fn param_ids<M: Module>(module: &M) -> Vec<ParamId> {
    struct V(Vec<ParamId>);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }
    let mut v = V(Vec::new());
    module.visit(&mut v);
    v.0
}

/// The gradients of a module's parameters flattened in visit order (zeros where absent),
/// for comparisons and diagnostics.
pub fn flatten_grads<M: Module>(module: &M, grads: &GradientsParams) -> Vec<f64> {
    struct V<'a> {
        grads: &'a GradientsParams,
        out: Vec<f64>,
    }
    impl ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let n = param.val().shape().num_elements();
            match self.grads.get::<D>(param.id) {
                Some(g) => self.out.extend(g.into_data().convert::<f64>().try_into_vec::<f64>().expect("f64")),
                None => self.out.extend(std::iter::repeat_n(0.0, n)),
            }
        }
    }
    let mut v = V { grads, out: Vec::new() };
    module.visit(&mut v);
    v.out
}
