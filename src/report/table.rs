//! `--format table`: the human-readable summary.

use crate::run::RunResult;
use std::fmt::Write;

/// Renders the run as a plain-text table.
pub fn to_table(result: &RunResult) -> String {
    let mut out = String::new();
    for c in &result.claims {
        let status = format!("{:?}", c.spec.status).to_lowercase();
        let _ = writeln!(out, "claim {} ({status}) — {}", c.spec.id, c.file);
        if c.model_sets.is_empty() {
            let _ = writeln!(out, "  no model set binds its roles");
        }
        for s in &c.model_sets {
            let _ = writeln!(out, "  model set {}", s.model_set);
            let _ = writeln!(
                out,
                "    {:<22} {:<5} {:<18} {:>24} {:>9} {:>12} {:>5}",
                "model",
                "role",
                "prompt",
                "entropy [low, high] nats",
                "coverage",
                "mode (p)",
                "reqs"
            );
            let many = c.spec.prompts.len() > 10;
            if many {
                let _ = writeln!(
                    out,
                    "    ({} prompts: per-prompt figures are in --format json)",
                    c.spec.prompts.len()
                );
            }
            for p in s.measurements.iter().filter(|_| !many) {
                match &p.measurement {
                    None => {
                        let _ = writeln!(
                            out,
                            "    {:<22} {:<5} {:<18} {}",
                            p.model,
                            p.role.as_str(),
                            p.prompt,
                            p.unavailable.as_deref().unwrap_or("unavailable")
                        );
                    }
                    Some(m) => {
                        let entropy = format!(
                            "{:.3} [{:.3}, {:.3}]",
                            m.entropy.point, m.entropy.low, m.entropy.high
                        );
                        let mode = m
                            .mode
                            .map(|i| {
                                format!(
                                    "{}{} ({:.2})",
                                    c.spec.outcomes.value(i),
                                    if m.mode_certain { "" } else { "?" },
                                    m.mode_prob.point
                                )
                            })
                            .unwrap_or_else(|| "-".into());
                        let _ = writeln!(
                            out,
                            "    {:<22} {:<5} {:<18} {:>24} {:>9.3} {:>12} {:>5}",
                            p.model,
                            p.role.as_str(),
                            p.prompt,
                            entropy,
                            m.coverage.point,
                            mode,
                            m.requests
                        );
                    }
                }
            }
            for p in &s.measurements {
                for w in p.measurement.iter().flat_map(|m| &m.warnings) {
                    let _ = writeln!(out, "    warning: {} on {}: {w}", p.model, p.prompt);
                }
            }
            for e in &s.expectations {
                let why = e
                    .reason
                    .as_deref()
                    .map(|r| format!("  ({r})"))
                    .unwrap_or_default();
                let _ = writeln!(out, "    {:<14} {}{why}", e.verdict.as_str(), e.that);
            }
        }
        if c.strict_failure() {
            let _ = writeln!(out, "  STRICT CLAIM FAILED");
        }
        out.push('\n');
    }
    for u in &result.untestable {
        let _ = writeln!(
            out,
            "claim {} (not testable) — {}\n  {}\n",
            u.spec.id,
            u.path.display(),
            u.spec.reason.trim()
        );
    }
    out
}
