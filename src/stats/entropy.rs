//! Shannon entropy in nats and helpers around it.

/// Entropy in nats of a probability vector (zeros contribute nothing). The input need not be
/// normalised exactly; callers normalise first where it matters.
pub fn entropy_nats(p: &[f64]) -> f64 {
    p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.ln()).sum()
}

/// `p / Σp`; all zeros when the sum is zero.
pub fn normalized(p: &[f64]) -> Vec<f64> {
    let total: f64 = p.iter().sum();
    if total > 0.0 {
        p.iter().map(|x| x / total).collect()
    } else {
        vec![0.0; p.len()]
    }
}

/// h(t) = −t ln t − (1−t) ln(1−t), nats.
pub fn binary_entropy(t: f64) -> f64 {
    entropy_nats(&[t, 1.0 - t])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Uniform on 101 outcomes: ln 101 (scipy.stats.entropy([1]*101) = 4.61512051684126).
        let u = vec![1.0 / 101.0; 101];
        assert!((entropy_nats(&u) - 4.61512051684126).abs() < 1e-12);
        assert_eq!(entropy_nats(&[1.0, 0.0]), 0.0);
        assert!((binary_entropy(0.5) - std::f64::consts::LN_2).abs() < 1e-15);
        assert_eq!(normalized(&[1.0, 3.0]), vec![0.25, 0.75]);
        assert_eq!(normalized(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
