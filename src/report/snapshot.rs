//! What a snapshot records for one (claim, model set): verdicts and rounded figures, so that a
//! replay is byte-stable and a re-recording shows as a readable diff.

use crate::run::{ClaimResult, SetResult};
use crate::verdict::Verdict;
use serde_json::{Value, json};

/// Figures are rounded to this many decimals: fine enough to show a real change, coarse
/// enough that numerical noise of a re-recording (about 1e-5 nats) rarely shows.
const DECIMALS: i32 = 3;

/// Claims over more prompts than this (a question set) get one line per measurement, so the
/// snapshot stays reviewable.
const COMPACT_ABOVE_PROMPTS: usize = 10;

fn round(x: f64) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    let f = 10f64.powi(DECIMALS);
    let r = (x * f).round() / f;
    json!(if r == 0.0 { 0.0 } else { r })
}

fn range(point: f64, low: f64, high: f64) -> String {
    let fmt = |x: f64| format!("{:.*}", DECIMALS as usize, x);
    format!("{} [{}, {}]", fmt(point), fmt(low), fmt(high))
}

/// The snapshot content of a claim on one model set.
pub fn snapshot_value(claim: &ClaimResult, set: &SetResult) -> Value {
    let outcomes = &claim.spec.outcomes;
    let measurements: Vec<Value> = set
        .measurements
        .iter()
        .map(|p| match &p.measurement {
            None => json!({"model": p.model, "role": p.role, "prompt": p.prompt, "status": p.unavailable.as_deref().unwrap_or("unavailable")}),
            Some(m) if claim.spec.prompts.len() > COMPACT_ABOVE_PROMPTS => json!(format!(
                "{} {}: entropy {}, coverage {}, mode {} ({})",
                p.model,
                p.prompt,
                range(m.entropy.point, m.entropy.low, m.entropy.high),
                range(m.coverage.point, m.coverage.low, m.coverage.high),
                m.mode.map_or("-".to_string(), |i| outcomes.name(i)),
                range(m.mode_prob.point, m.mode_prob.low, m.mode_prob.high),
            )),
            Some(m) => {
                let mut top: Vec<(usize, f64)> = m.shares.iter().enumerate().map(|(i, s)| (i, s.point)).filter(|(_, p)| *p > 0.0).collect();
                top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                let top: Vec<Value> = top.iter().take(5).map(|(i, p)| json!(format!("{}: {:.3}", outcomes.name(*i), p))).collect();
                let mut v = json!({
                    "model": p.model,
                    "role": p.role,
                    "prompt": p.prompt,
                    "method": m.method,
                    "entropy": range(m.entropy.point, m.entropy.low, m.entropy.high),
                    "coverage": range(m.coverage.point, m.coverage.low, m.coverage.high),
                    "mode": m.mode.map(|i| outcomes.value(i)),
                    "mode_certain": m.mode_certain,
                    "mode_prob": range(m.mode_prob.point, m.mode_prob.low, m.mode_prob.high),
                    "top": top,
                    "requests": m.requests,
                });
                if !m.warnings.is_empty() {
                    v["warnings"] = json!(m.warnings);
                }
                if let Some(b) = m.post_bar {
                    v["post_bar"] = json!(format!("[{:.3}, {:.3}]", b.low, b.high));
                }
                if let Some(s) = &m.sampled {
                    let inside: u64 = s.counts.iter().sum();
                    v["sampled"] = json!(format!(
                        "{inside} of {} completions in the outcome set; entropy by {} with a {} interval",
                        inside + s.other,
                        s.estimator,
                        s.interval
                    ));
                }
                v
            }
        })
        .collect();
    let expectations: Vec<Value> = set
        .expectations
        .iter()
        .map(|e| {
            let instances: Vec<Value> = e
                .instances
                .iter()
                .map(|i| {
                    let side = |f: &Option<crate::evaluate::Figure>| {
                        f.as_ref().map(|f| match f.model.as_deref() {
                            Some(m) => {
                                format!("{} [{m}] = {}", f.label, range(f.point, f.low, f.high))
                            }
                            None => f.label.clone(),
                        })
                    };
                    let mut v = json!({"prompt": i.prompt, "verdict": i.verdict});
                    for (key, figure) in [("lhs", &i.evidence.lhs), ("rhs", &i.evidence.rhs)] {
                        if let Some(text) = side(figure) {
                            v[key] = json!(text);
                        }
                    }
                    if i.evidence.margin != 0.0 {
                        v["margin"] = round(i.evidence.margin);
                    }
                    if let Some(t) = &i.evidence.difference {
                        let d = &t.difference;
                        v["test"] = json!(d.test);
                        v["difference"] = json!(range(d.estimate, d.low, d.high));
                        v["p"] = json!(format!(
                            "{:.4} (adjusted {:.4}; opposite {:.4}; alpha {:.4})",
                            t.p_value, t.p_adjusted, t.p_opposite_adjusted, t.alpha
                        ));
                    }
                    if let Some(d) = &i.evidence.divergence {
                        v["divergence"] = json!({
                            "kl": round(d.kl), "tv": round(d.tv), "js": round(d.js),
                            "bound": round(d.bound), "gap": round(d.gap), "slack": round(d.slack),
                        });
                    }
                    if i.evidence.rule.starts_with("inconclusive:") {
                        v["rule"] = json!(i.evidence.rule);
                    }
                    v
                })
                .collect();
            let mut v = json!({"that": e.that, "verdict": e.verdict});
            if e.over != crate::spec::Over::Each {
                v["over"] = json!(e.over);
            }
            if let Some(reason) = &e.reason {
                v["reason"] = json!(reason);
            }
            v["instances"] = json!(instances);
            v
        })
        .collect();
    json!({
        "claim": claim.spec.id,
        "status": claim.spec.status,
        "model_set": set.model_set,
        "verdict": Verdict::combine(set.expectations.iter().map(|e| e.verdict)),
        "expectations": expectations,
        "measurements": measurements,
    })
}
