//! `--format markdown`: the claim × model set table the README carries (generated, checked by a
//! test, never edited by hand).

use crate::evaluate::ExpectationResult;
use crate::run::{RunResult, SetResult};
use crate::verdict::Verdict;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Renders one row per claim and one column per model set: the set's combined verdict, how many
/// expectations hold of those that apply, and the first decided comparison's figures.
pub fn to_markdown(result: &RunResult) -> String {
    let sets: BTreeSet<&str> = result
        .claims
        .iter()
        .flat_map(|c| c.model_sets.iter().map(|s| s.model_set.as_str()))
        .collect();
    let mut out = String::new();
    let _ = write!(out, "| claim | status |");
    for s in &sets {
        let _ = write!(out, " {s} |");
    }
    let _ = write!(out, "\n|---|---|");
    for _ in &sets {
        out.push_str("---|");
    }
    out.push('\n');
    for c in &result.claims {
        let status = format!("{:?}", c.spec.status).to_lowercase();
        let _ = write!(out, "| `{}` | {status} |", c.spec.id);
        for s in &sets {
            let cell = c
                .model_sets
                .iter()
                .find(|r| r.model_set == *s)
                .map_or_else(|| "—".to_string(), cell);
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    for u in &result.untestable {
        let _ = write!(out, "| `{}` | not testable |", u.spec.id);
        for _ in &sets {
            out.push_str(" — |");
        }
        out.push('\n');
    }
    out
}

fn cell(set: &SetResult) -> String {
    let applicable: Vec<&ExpectationResult> = set
        .expectations
        .iter()
        .filter(|e| e.verdict != Verdict::NotApplicable)
        .collect();
    if applicable.is_empty() {
        return "n/a".into();
    }
    if applicable.iter().all(|e| e.verdict == Verdict::Unavailable) {
        let reason = applicable[0].reason.as_deref().unwrap_or("");
        return if reason.starts_with("not recorded") {
            "not recorded".into()
        } else {
            "unavailable (retired)".into()
        };
    }
    let verdict = Verdict::combine(applicable.iter().map(|e| e.verdict));
    let holds = applicable
        .iter()
        .filter(|e| e.verdict == Verdict::Holds)
        .count();
    let key = applicable
        .iter()
        .find_map(|e| key_figure(e))
        .map(|k| format!(" · {k}"))
        .unwrap_or_default();
    format!(
        "**{}** ({holds}/{} hold){key}",
        verdict.as_str(),
        applicable.len()
    )
}

/// The first instance with figures on both sides that has the expectation's own verdict (so a
/// refuted cell shows a refuting instance), else the first decided one, e.g.
/// `entropy(dpo) 3.89 > entropy(base) 1.24` or `entropy(overopt) 4.17, not < entropy(rlhf)
/// 3.84`; or the smallest slack of a KL bound.
fn key_figure(e: &ExpectationResult) -> Option<String> {
    if e.instances.iter().any(|i| i.evidence.divergence.is_some()) {
        let slack = e
            .instances
            .iter()
            .filter_map(|i| i.evidence.divergence.as_ref().map(|d| d.slack))
            .fold(f64::INFINITY, f64::min);
        return Some(format!("min slack {slack:.3} nats"));
    }
    let decided = |i: &&crate::evaluate::Instance| {
        !matches!(i.verdict, Verdict::Unavailable | Verdict::NotApplicable)
            && i.evidence.lhs.is_some()
    };
    let i = e
        .instances
        .iter()
        .filter(decided)
        .find(|i| i.verdict == e.verdict)
        .or_else(|| e.instances.iter().find(decided))?;
    let side = |f: &crate::evaluate::Figure| {
        if f.model.is_some() {
            format!("{} {:.2}", f.label, f.point)
        } else {
            f.label.clone()
        }
    };
    let lhs = side(i.evidence.lhs.as_ref()?);
    let op = e
        .that
        .split_whitespace()
        .find(|t| ["<", "<=", ">", ">=", "==", "!="].contains(t))
        .unwrap_or("vs");
    let op = if i.verdict == Verdict::Refuted {
        format!(", not {op} ")
    } else {
        format!(" {op} ")
    };
    Some(match &i.evidence.rhs {
        Some(r) => format!("{lhs}{op}{}", side(r)),
        None => lhs,
    })
}
