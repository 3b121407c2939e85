//! Weighted k-nearest-neighbour classification on L2-normalised features (cosine
//! similarity), each neighbour voting exp(similarity / T) for its class (Wu et al. 2018,
//! the protocol of the SSL literature's kNN monitor).

use burn::tensor::{Device, Tensor, TensorData};

use super::l2_normalize_rows;

/// Top-1 accuracy for each k in `ks`, as fractions, computed in one pass.
pub fn knn_top1(
    bank: &[f32],
    bank_labels: &[u16],
    query: &[f32],
    query_labels: &[u16],
    d: usize,
    num_classes: usize,
    ks: &[usize],
    temperature: f64,
    device: &Device,
) -> Vec<f64> {
    let mut bank = bank.to_vec();
    let mut query = query.to_vec();
    l2_normalize_rows(&mut bank, d);
    l2_normalize_rows(&mut query, d);
    let nb = bank_labels.len();
    let nq = query_labels.len();
    let kmax = ks.iter().copied().max().unwrap_or(1).min(nb);
    let bank_t = Tensor::<2>::from_data(TensorData::new(bank, [nb, d]), device).transpose();
    let mut correct = vec![0usize; ks.len()];
    let chunk = 256;
    for start in (0..nq).step_by(chunk) {
        let b = chunk.min(nq - start);
        let q = Tensor::<2>::from_data(TensorData::new(query[start * d..(start + b) * d].to_vec(), [b, d]), device);
        let sims: Vec<f32> = q.matmul(bank_t.clone()).into_data().convert::<f32>().try_into_vec().expect("f32");
        for r in 0..b {
            let row = &sims[r * nb..(r + 1) * nb];
            let mut idx: Vec<usize> = (0..nb).collect();
            if kmax < nb {
                idx.select_nth_unstable_by(kmax - 1, |&a, &c| row[c].total_cmp(&row[a]));
                idx.truncate(kmax);
            }
            idx.sort_by(|&a, &c| row[c].total_cmp(&row[a]).then(a.cmp(&c)));
            let truth = query_labels[start + r] as usize;
            for (ki, &k) in ks.iter().enumerate() {
                let mut votes = vec![0f64; num_classes];
                for &j in idx.iter().take(k) {
                    votes[bank_labels[j] as usize] += (row[j] as f64 / temperature).exp();
                }
                let pred = votes.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0))).map(|(i, _)| i).unwrap_or(0);
                if pred == truth {
                    correct[ki] += 1;
                }
            }
        }
    }
    correct.iter().map(|&c| c as f64 / nq.max(1) as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn votes_are_weighted_by_similarity() {
        let device = Device::flex();
        // Bank: two points of class 0 near (1, 0), three of class 1 farther away near (0, 1).
        let bank = [1.0, 0.05, 1.0, -0.05, 0.2, 1.0, 0.25, 1.0, 0.3, 1.0];
        let labels = [0u16, 0, 1, 1, 1];
        // Query at (1, 0.3): its two nearest are class 0; with k = 5 the three class-1
        // points outvote them only without the similarity weighting.
        let q = [1.0, 0.3];
        let acc = knn_top1(&bank, &labels, &q, &[0], 2, 2, &[1, 2, 5], 0.1, &device);
        assert_eq!(acc, vec![1.0, 1.0, 1.0]);
        let acc = knn_top1(&bank, &labels, &q, &[0], 2, 2, &[5], 100.0, &device);
        assert_eq!(acc, vec![0.0], "at a high temperature the votes are nearly equal");
    }
}
