//! `modecollapse diff A B`: two recorded versions of a model set, claim by claim — verdict
//! changes, figure deltas, and a drift test per (model, prompt).
//!
//! Drift: logprob figures carry guaranteed bounds, so they are compared exactly — the entropy
//! moved for sure when the two bounds are disjoint, may have moved when the points differ
//! inside overlapping bounds, and is the same otherwise. Sampled figures are counts, compared by
//! a test of homogeneity of the 2 × (K + 1) table (outcomes and "other"): the G test, or its
//! Monte-Carlo conditional version when expected counts are small; the p-values of one diff
//! are Holm-adjusted together.

use crate::measure::Measurement;
use crate::run::{RunResult, SetResult};
use crate::stats::hypothesis::{
    TableStatistic, asymptotic_unreliable, g_test_homogeneity, holm, monte_carlo_conditional,
};
use serde::Serialize;

/// Resamples of the Monte-Carlo conditional test.
const DRIFT_RESAMPLES: usize = 2000;
/// The level of the drift tests (after Holm).
pub const DRIFT_ALPHA: f64 = 0.05;

/// One claim compared across the two versions.
#[derive(Debug, Serialize)]
pub struct ClaimDiff {
    /// The claim.
    pub claim: String,
    /// Expectations whose verdict differs (or all, with `changed: false`).
    pub expectations: Vec<VerdictChange>,
    /// Per (model, prompt).
    pub figures: Vec<FigureDiff>,
}

/// An expectation's verdict in both versions.
#[derive(Debug, Serialize)]
pub struct VerdictChange {
    /// As written.
    pub that: String,
    /// In version A.
    pub a: String,
    /// In version B.
    pub b: String,
    /// Whether they differ.
    pub changed: bool,
}

/// One (model, prompt) in both versions.
#[derive(Debug, Serialize)]
pub struct FigureDiff {
    /// The model.
    pub model: String,
    /// The prompt.
    pub prompt: String,
    /// Entropy in A as (point, low, high); `None` when A has no figures.
    pub entropy_a: Option<(f64, f64, f64)>,
    /// Entropy in B.
    pub entropy_b: Option<(f64, f64, f64)>,
    /// B − A of the entropy point.
    pub delta: Option<f64>,
    /// `same`, `moved within bounds`, `changed (bounds disjoint)`, `drift`, `no drift`,
    /// `only in A`, `only in B`, `missing in both`.
    pub drift: String,
    /// The homogeneity test for sampled figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// Its p-value, Holm-adjusted over the diff's tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_adjusted: Option<f64>,
}

fn entropy(m: &Measurement) -> (f64, f64, f64) {
    (m.entropy.point, m.entropy.low, m.entropy.high)
}

/// Compares the claims of `result` on set `a` with the same claims on set `b`.
pub fn diff(result: &RunResult, a: &str, b: &str) -> Vec<ClaimDiff> {
    let mut out = Vec::new();
    let mut tests: Vec<(usize, usize, f64)> = Vec::new();
    for claim in &result.claims {
        let find = |id: &str| claim.model_sets.iter().find(|s| s.model_set == id);
        let (Some(sa), Some(sb)) = (find(a), find(b)) else {
            continue;
        };
        let figures = figure_diffs(sa, sb, out.len(), &mut tests);
        let expectations = sa
            .expectations
            .iter()
            .zip(&sb.expectations)
            .map(|(x, y)| VerdictChange {
                that: x.that.clone(),
                a: x.verdict.as_str().into(),
                b: y.verdict.as_str().into(),
                changed: x.verdict != y.verdict,
            })
            .collect();
        out.push(ClaimDiff {
            claim: claim.spec.id.clone(),
            expectations,
            figures,
        });
    }
    let raw: Vec<f64> = tests.iter().map(|t| t.2).collect();
    if let Ok(adjusted) = holm(&raw) {
        for (&(c, f, _), p) in tests.iter().zip(adjusted) {
            let fig = &mut out[c].figures[f];
            fig.p_adjusted = Some(p);
            fig.drift = if p < DRIFT_ALPHA { "drift" } else { "no drift" }.into();
        }
    }
    out
}

fn figure_diffs(
    sa: &SetResult,
    sb: &SetResult,
    claim_index: usize,
    tests: &mut Vec<(usize, usize, f64)>,
) -> Vec<FigureDiff> {
    let mut figures = Vec::new();
    for pa in &sa.measurements {
        let pb = sb
            .measurements
            .iter()
            .find(|p| p.model == pa.model && p.prompt == pa.prompt);
        let (ma, mb) = (
            pa.measurement.as_ref(),
            pb.and_then(|p| p.measurement.as_ref()),
        );
        let mut fig = FigureDiff {
            model: pa.model.clone(),
            prompt: pa.prompt.clone(),
            entropy_a: ma.map(entropy),
            entropy_b: mb.map(entropy),
            delta: ma.zip(mb).map(|(x, y)| y.entropy.point - x.entropy.point),
            drift: String::new(),
            test: None,
            p_adjusted: None,
        };
        fig.drift = match (ma, mb) {
            (None, None) => "missing in both".into(),
            (Some(_), None) => "only in A".into(),
            (None, Some(_)) => "only in B".into(),
            (Some(x), Some(y)) => match (&x.sampled, &y.sampled) {
                (Some(cx), Some(cy)) => {
                    let row = |c: &crate::measure::Sampled| {
                        let mut v = c.counts.clone();
                        v.push(c.other);
                        v
                    };
                    let table = [row(cx), row(cy)];
                    let small = asymptotic_unreliable(&table).unwrap_or(true);
                    let test = if small {
                        monte_carlo_conditional(&table, TableStatistic::G, DRIFT_RESAMPLES, 0xd1f7)
                    } else {
                        g_test_homogeneity(&table)
                    };
                    match test {
                        Ok(t) => {
                            fig.test = Some(format!(
                                "{} of homogeneity, G = {:.3}, p = {:.4}",
                                if small {
                                    "Monte-Carlo conditional G test"
                                } else {
                                    "G test"
                                },
                                t.statistic,
                                t.p_value
                            ));
                            tests.push((claim_index, figures.len(), t.p_value));
                            String::new()
                        }
                        Err(e) => format!("untestable: {e}"),
                    }
                }
                (None, None) => {
                    let (ea, eb) = (x.entropy, y.entropy);
                    if ea.low > eb.high || eb.low > ea.high {
                        "changed (bounds disjoint)".into()
                    } else if (ea.point - eb.point).abs() > 1e-9
                        || (ea.low - eb.low).abs() > 1e-9
                        || (ea.high - eb.high).abs() > 1e-9
                    {
                        "moved within bounds".into()
                    } else {
                        "same".into()
                    }
                }
                _ => "method changed".into(),
            },
        };
        figures.push(fig);
    }
    figures
}

/// The diff as a table for people.
pub fn diff_table(diffs: &[ClaimDiff], a: &str, b: &str) -> String {
    use std::fmt::Write;
    let mut out = format!("diff {a} → {b}\n");
    let fmt = |e: Option<(f64, f64, f64)>| {
        e.map_or("-".into(), |(p, l, h)| format!("{p:.3} [{l:.3}, {h:.3}]"))
    };
    for d in diffs {
        let _ = writeln!(out, "\nclaim {}", d.claim);
        for e in &d.expectations {
            let mark = if e.changed { "CHANGED" } else { "same   " };
            let _ = writeln!(out, "  {mark} {:<14} → {:<14} {}", e.a, e.b, e.that);
        }
        for f in &d.figures {
            let delta = f.delta.map_or("".into(), |x| format!("{x:+.3}"));
            let _ = writeln!(
                out,
                "  {:<22} {:<24} entropy {} → {} ({delta}) {}{}",
                f.model,
                f.prompt,
                fmt(f.entropy_a),
                fmt(f.entropy_b),
                f.drift,
                f.test
                    .as_ref()
                    .zip(f.p_adjusted)
                    .map(|(t, p)| format!(" — {t}, Holm-adjusted p = {p:.4}"))
                    .unwrap_or_default()
            );
        }
    }
    out
}
