//! `--format json`: the stable machine interface (README, "JSON output").
//!
//! Contract: top-level `format_version` (bumped on any breaking change), `mode`, `claims`
//! and `summary`. Each claim carries its spec fields and `model_sets`; each model set its
//! `expectations` (verdict, instances with evidence) and `measurements`, one object per
//! (model, prompt) with at least `model`, `role`, `prompt`, `entropy`, `entropy_low`,
//! `entropy_high`, `coverage`, `mode`, `mode_prob`, `requests`. Figures are `null` when a
//! retired model was never recorded. Keys are only ever added within a format version.

use crate::run::{MeasuredPair, RunResult};
use crate::source::Mode;
use crate::spec::OutcomeSet;
use crate::verdict::Verdict;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The version of the JSON contract.
pub const JSON_FORMAT_VERSION: u32 = 1;

pub(crate) fn measurement_json(set: &str, pair: &MeasuredPair, outcomes: &OutcomeSet) -> Value {
    let Some(m) = &pair.measurement else {
        return json!({
            "model_set": set, "model": pair.model, "role": pair.role, "prompt": pair.prompt,
            "status": "unavailable", "reason": pair.unavailable,
            "entropy": null, "entropy_low": null, "entropy_high": null, "coverage": null,
            "mode": null, "mode_prob": null, "requests": 0,
        });
    };
    let distribution: Vec<Value> = m
        .shares
        .iter()
        .enumerate()
        .filter(|(_, s)| s.point > 0.0)
        .map(|(i, s)| {
            let mut entry = json!({"outcome": outcomes.value(i), "text": outcomes.label(i), "p": s.point, "p_low": s.low, "p_high": s.high});
            if let Some(sampled) = &m.sampled {
                entry["count"] = json!(sampled.counts[i]);
            }
            entry
        })
        .collect();
    json!({
        "model_set": set,
        "model": pair.model,
        "role": pair.role,
        "prompt": pair.prompt,
        "status": "measured",
        "method": m.method,
        "entropy": m.entropy.point,
        "entropy_low": m.entropy.low,
        "entropy_high": m.entropy.high,
        "coverage": m.coverage.point,
        "coverage_low": m.coverage.low,
        "coverage_high": m.coverage.high,
        "mode": m.mode.map(|i| outcomes.value(i)),
        "mode_certain": m.mode_certain,
        "mode_prob": m.mode_prob.point,
        "mode_prob_low": m.mode_prob.low,
        "mode_prob_high": m.mode_prob.high,
        "unresolved_mass": m.unresolved,
        "dead_mass": m.dead,
        "requests": m.requests,
        "live_requests": m.live_requests,
        "model_ids": m.model_ids,
        "fingerprints": m.fingerprints,
        "recorded": m.recorded,
        "sampled": m.sampled.as_ref().map(|s| json!({
            "samples": s.counts.iter().sum::<u64>() + s.other,
            "in_outcome_set": s.counts.iter().sum::<u64>(),
            "other": s.other,
            "estimator": s.estimator,
            "interval": s.interval,
        })),
        "warnings": m.warnings,
        "post_bar": m.post_bar.map(|b| json!({"low": b.low, "high": b.high})),
        "distribution": distribution,
    })
}

/// The whole run as the JSON contract.
pub fn to_json(result: &RunResult, mode: Mode) -> Value {
    let mut summary: BTreeMap<&str, usize> = BTreeMap::new();
    let claims: Vec<Value> = result
        .claims
        .iter()
        .map(|c| {
            let sets: Vec<Value> = c
                .model_sets
                .iter()
                .map(|s| {
                    for e in &s.expectations {
                        *summary.entry(e.verdict.as_str()).or_default() += 1;
                    }
                    json!({
                        "model_set": s.model_set,
                        "verdict": Verdict::combine(s.expectations.iter().map(|e| e.verdict)),
                        "expectations": s.expectations,
                        "measurements": s.measurements.iter().map(|p| measurement_json(&s.model_set, p, &c.spec.outcomes)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "id": c.spec.id,
                "claim": c.spec.claim,
                "source": c.spec.source,
                "status": c.spec.status,
                "file": c.file,
                "outcomes": c.spec.outcomes,
                "method": c.spec.method,
                "strict_failure": c.strict_failure(),
                "model_sets": sets,
            })
        })
        .collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "mode": mode,
        "claims": claims,
        "not_testable": result.untestable.iter().map(|u| json!({
            "id": u.spec.id,
            "claim": u.spec.claim,
            "source": u.spec.source,
            "status": "not_testable",
            "reason": u.spec.reason,
            "file": u.path.display().to_string(),
        })).collect::<Vec<_>>(),
        "summary": {
            "claims": result.claims.len(),
            "not_testable": result.untestable.len(),
            "expectations": summary,
            "strict_failure": result.strict_failure(),
        },
    })
}
