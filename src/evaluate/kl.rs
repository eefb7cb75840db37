//! `kl_bound(a, b)`: footnote 3's bound on the entropy gap from KL, on two measured
//! distributions.

use super::{DivergenceEvidence, Evidence, Figure};
use crate::measure::Measurement;
use crate::spec::{ClaimSpec, ModelEntry, Selector};
use crate::verdict::Verdict;

/// `kl_bound(a, b)`: footnote 3 on the two measured distributions.
pub(super) fn kl_bound(
    spec: &ClaimSpec,
    selectors: &[Selector],
    binding: &[&ModelEntry],
    figures: &[&Measurement],
) -> (Verdict, Evidence) {
    use crate::stats::divergence::{
        entropy_gap_bound_from_kl, jensen_shannon, kl, pinsker_tv_bound, total_variation,
    };
    let (p, q) = (
        figures[0].point_distribution(),
        figures[1].point_distribution(),
    );
    let k = spec.outcomes.len();
    let computed = (|| {
        let kl_pq = kl(&p, &q)?;
        let tv = total_variation(&p, &q)?;
        let js = jensen_shannon(&p, &q)?;
        let pinsker = pinsker_tv_bound(kl_pq)?;
        let bound = entropy_gap_bound_from_kl(kl_pq, k)?;
        Ok::<_, crate::stats::divergence::DivergenceError>((kl_pq, tv, js, pinsker, bound))
    })();
    let h = |d: &[f64]| crate::stats::entropy_nats(d);
    let gap = (h(&p) - h(&q)).abs();
    let figure = |label: &str, model: Option<String>, v: f64| Figure {
        label: label.to_string(),
        model,
        point: v,
        low: v,
        high: v,
    };
    match computed {
        Ok((kl_pq, tv, js, pinsker, bound)) => {
            // The inequality is a theorem; the tolerance covers rounding in the two entropies.
            let holds = gap <= bound + 1e-9;
            (
                if holds {
                    Verdict::Holds
                } else {
                    Verdict::Refuted
                },
                Evidence {
                    lhs: Some(figure(
                        &format!("|H({}) - H({})|", selectors[0], selectors[1]),
                        Some(format!("{} vs {}", binding[0].name, binding[1].name)),
                        gap,
                    )),
                    rhs: Some(figure("bound from KL", None, bound)),
                    margin: 0.0,
                    rule: format!(
                        "holds if |H(P) - H(Q)| <= T ln(K-1) + h(T) with T = min(1, sqrt(KL(P||Q)/2)) \
                         (Pinsker, then Fannes-Audenaert; K = {k}); KL = {kl_pq:.4}, TV = {tv:.4}, \
                         slack = {:.4}",
                        bound - gap
                    ),
                    difference: None,
                    divergence: Some(DivergenceEvidence {
                        kl: kl_pq,
                        tv,
                        js,
                        pinsker_tv: pinsker,
                        bound,
                        gap,
                        slack: bound - gap,
                    }),
                },
            )
        }
        Err(e) => (
            Verdict::Inconclusive,
            Evidence {
                lhs: None,
                rhs: None,
                margin: 0.0,
                rule: format!("failed to compute the divergences: {e}"),
                difference: None,
                divergence: None,
            },
        ),
    }
}
