//! Verdicts: expectations evaluated on measured figures. The one place that decides holds,
//! refuted or inconclusive; the sampling methods (and their tests) plug in here by giving
//! their figures as intervals.
//!
//! With interval figures, `A > B + m` holds when low(A) > high(B) + m, is refuted when
//! high(A) ≤ low(B) + m, and is inconclusive otherwise; the other operators mirror this.
//! `mode(x) == o` holds when o is the mode whatever the unresolved mass does, and is refuted
//! when some other outcome's share surely exceeds o's.

use crate::measure::Measurement;
use crate::spec::{CmpOp, OutcomeSet};
use crate::stats::Interval;
use serde::Serialize;

/// The outcome of an expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The evidence shows the expectation holds.
    Holds,
    /// The evidence shows it does not.
    Refuted,
    /// The evidence does not decide (overlapping intervals).
    Inconclusive,
    /// The model set lacks a role the expectation uses.
    NotApplicable,
    /// A model it needs is retired and was never recorded.
    Unavailable,
}

impl Verdict {
    /// The name used in tables, snapshots and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Refuted => "refuted",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotApplicable => "not_applicable",
            Verdict::Unavailable => "unavailable",
        }
    }

    /// Combines the verdicts of several instances of one expectation (for each prompt and
    /// each binding of its roles): refuted if any is, else inconclusive if any is, else
    /// unavailable if any is, else holds; not applicable only when there is no instance.
    pub fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let all: Vec<Verdict> = verdicts.into_iter().collect();
        [
            Verdict::Refuted,
            Verdict::Inconclusive,
            Verdict::Unavailable,
            Verdict::Holds,
        ]
        .into_iter()
        .find(|v| all.contains(v))
        .unwrap_or(Verdict::NotApplicable)
    }
}

impl Verdict {
    /// Combines instances of an `over: any` expectation: holds if any instance holds, refuted
    /// only if every instance is, else inconclusive (or unavailable when that is what is left).
    pub fn combine_any(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let all: Vec<Verdict> = verdicts.into_iter().collect();
        if all.is_empty() {
            Verdict::NotApplicable
        } else if all.contains(&Verdict::Holds) {
            Verdict::Holds
        } else if all.iter().all(|v| *v == Verdict::Refuted) {
            Verdict::Refuted
        } else if all.contains(&Verdict::Inconclusive) {
            Verdict::Inconclusive
        } else if all.contains(&Verdict::Unavailable) {
            Verdict::Unavailable
        } else {
            Verdict::Refuted
        }
    }
}

/// Decides `lhs op rhs + margin` on intervals, returning the verdict and the rule applied.
pub fn compare(lhs: Interval, op: CmpOp, rhs: Interval, margin: f64) -> (Verdict, String) {
    let (b_lo, b_hi) = if op == CmpOp::Approx {
        (rhs.low, rhs.high)
    } else {
        (rhs.low + margin, rhs.high + margin)
    };
    let (holds, refuted, rule) = match op {
        CmpOp::Gt => (
            lhs.low > b_hi,
            lhs.high <= b_lo,
            "holds if low(lhs) > high(rhs)+margin; refuted if high(lhs) <= low(rhs)+margin",
        ),
        CmpOp::Ge => (
            lhs.low >= b_hi,
            lhs.high < b_lo,
            "holds if low(lhs) >= high(rhs)+margin; refuted if high(lhs) < low(rhs)+margin",
        ),
        CmpOp::Lt => (
            lhs.high < b_lo,
            lhs.low >= b_hi,
            "holds if high(lhs) < low(rhs)+margin; refuted if low(lhs) >= high(rhs)+margin",
        ),
        CmpOp::Le => (
            lhs.high <= b_lo,
            lhs.low > b_hi,
            "holds if high(lhs) <= low(rhs)+margin; refuted if low(lhs) > high(rhs)+margin",
        ),
        CmpOp::Approx => {
            // The difference lhs − rhs lies in [low(lhs) − high(rhs), high(lhs) − low(rhs)].
            let (d_lo, d_hi) = (lhs.low - rhs.high, lhs.high - rhs.low);
            (
                d_lo > -margin && d_hi < margin,
                d_lo >= margin || d_hi <= -margin,
                "holds if the difference's interval lies inside (-margin, margin); refuted if it lies outside [-margin, margin]",
            )
        }
        CmpOp::Eq | CmpOp::Ne => unreachable!("the parser allows equality on modes only"),
    };
    let verdict = if holds {
        Verdict::Holds
    } else if refuted {
        Verdict::Refuted
    } else {
        Verdict::Inconclusive
    };
    (verdict, rule.to_string())
}

/// Decides an expectation from the one-sided p-values of a test: holds when the (adjusted)
/// p-value of its direction is below α, refuted when that of the opposite direction is, and
/// inconclusive otherwise — a difference that is not significant never "holds".
pub fn test_verdict(p_hold: f64, p_opposite: f64, alpha: f64) -> (Verdict, String) {
    let verdict = if p_hold < alpha {
        Verdict::Holds
    } else if p_opposite < alpha {
        Verdict::Refuted
    } else {
        Verdict::Inconclusive
    };
    (
        verdict,
        format!(
            "holds if the adjusted one-sided p-value is below {alpha}; refuted if that of the \
             opposite direction is"
        ),
    )
}

/// Decides `mode(x) == outcome` (or `!=` when `negated`).
pub fn mode_is(
    m: &Measurement,
    outcome: usize,
    negated: bool,
    outcomes: &OutcomeSet,
) -> (Verdict, String) {
    let is = m.mode_certain && m.mode == Some(outcome);
    let high_o = m.shares[outcome].high;
    let beaten_by = m
        .shares
        .iter()
        .enumerate()
        .find(|(n, s)| *n != outcome && s.low > high_o)
        .map(|(n, _)| n);
    let label = outcomes.label(outcome);
    let (verdict, reason) = if is {
        (
            Verdict::Holds,
            format!("{label:?} is the mode whatever the unresolved mass does"),
        )
    } else if let Some(n) = beaten_by {
        (
            Verdict::Refuted,
            format!(
                "{:?} surely has more probability than {label:?}",
                outcomes.label(n)
            ),
        )
    } else {
        (
            Verdict::Inconclusive,
            format!("the unresolved mass could make {label:?} the mode or not"),
        )
    };
    let verdict = match (negated, verdict) {
        (true, Verdict::Holds) => Verdict::Refuted,
        (true, Verdict::Refuted) => Verdict::Holds,
        (_, v) => v,
    };
    (verdict, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(low: f64, high: f64) -> Interval {
        Interval {
            point: 0.5 * (low + high),
            low,
            high,
        }
    }

    #[test]
    fn interval_rules() {
        assert_eq!(
            compare(iv(2.0, 3.0), CmpOp::Gt, iv(0.5, 1.0), 0.5).0,
            Verdict::Holds
        );
        assert_eq!(
            compare(iv(2.0, 3.0), CmpOp::Gt, iv(0.5, 1.0), 1.0).0,
            Verdict::Inconclusive
        );
        assert_eq!(
            compare(iv(0.0, 0.5), CmpOp::Gt, iv(0.5, 1.0), 0.0).0,
            Verdict::Refuted
        );
        assert_eq!(
            compare(iv(0.0, 0.5), CmpOp::Ge, iv(0.5, 1.0), 0.0).0,
            Verdict::Inconclusive
        );
        assert_eq!(
            compare(iv(0.0, 0.4), CmpOp::Lt, iv(0.5, 1.0), 0.0).0,
            Verdict::Holds
        );
        assert_eq!(
            compare(iv(0.6, 0.7), CmpOp::Le, iv(0.5, 0.55), 0.0).0,
            Verdict::Refuted
        );
        assert_eq!(
            compare(iv(0.5, 0.5), CmpOp::Ge, Interval::exact(0.5), 0.0).0,
            Verdict::Holds
        );
        assert_eq!(
            compare(iv(0.5, 0.5), CmpOp::Gt, Interval::exact(0.5), 0.0).0,
            Verdict::Refuted
        );
    }

    #[test]
    fn equivalence_on_intervals() {
        let eq = |l, r, m| compare(l, CmpOp::Approx, r, m).0;
        assert_eq!(eq(iv(1.0, 1.1), iv(1.0, 1.05), 0.2), Verdict::Holds);
        assert_eq!(eq(iv(1.0, 1.1), iv(1.0, 1.05), 0.05), Verdict::Inconclusive);
        assert_eq!(eq(iv(2.0, 2.1), iv(1.0, 1.05), 0.5), Verdict::Refuted);
        assert_eq!(eq(iv(0.0, 0.1), iv(1.0, 1.05), 0.5), Verdict::Refuted);
    }

    #[test]
    fn combining() {
        use Verdict::*;
        assert_eq!(Verdict::combine([Holds, Holds]), Holds);
        assert_eq!(Verdict::combine([Holds, Inconclusive, Refuted]), Refuted);
        assert_eq!(Verdict::combine([Holds, Unavailable]), Unavailable);
        assert_eq!(Verdict::combine([]), NotApplicable);
    }
}
