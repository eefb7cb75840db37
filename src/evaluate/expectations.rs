//! One model set's expectations: bind roles to models, decide each instance (bounds, tests,
//! modes), combine instances, and correct the tests for multiplicity.

use super::differs::differs;
use super::family::adjust_for_multiplicity;
use super::kl::kl_bound;
use super::over_prompts::evaluate_across;
use super::{Evidence, ExpectationResult, Figure, Instance, Tested};
use crate::measure::{DifferenceSettings, Measurement, SampledDifference, sampled_difference};
use crate::run::{MeasuredPair, RETIRED};
use crate::spec::{
    ClaimSpec, CmpOp, Condition, Expectation, Method, ModelEntry, ModelSet, Operand, Over, Selector,
};
use crate::stats::Interval;
use crate::verdict::{Verdict, compare, mode_is, test_verdict};
use std::collections::BTreeMap;

/// Every expectation of `spec` on one model set, from its measurements.
pub fn evaluate_set(
    spec: &ClaimSpec,
    set: &ModelSet,
    measurements: &[MeasuredPair],
) -> Vec<ExpectationResult> {
    let mut expectations: Vec<ExpectationResult> = spec
        .expect
        .iter()
        .map(|e| evaluate(spec, set, e, measurements))
        .collect();
    adjust_for_multiplicity(&mut expectations, spec.multiplicity);
    expectations
}

/// Every way to bind the expectation's selectors to models of the set.
pub(super) fn bindings<'a>(
    spec: &ClaimSpec,
    set: &'a ModelSet,
    selectors: &[Selector],
) -> Vec<Vec<&'a ModelEntry>> {
    let mut out: Vec<Vec<&ModelEntry>> = vec![Vec::new()];
    for sel in selectors {
        let candidates: Vec<&ModelEntry> = match sel {
            Selector::Role(r) => set.models_for(*r).collect(),
            Selector::Every => set
                .models
                .iter()
                .filter(|m| spec.roles.contains(&m.role))
                .collect(),
        };
        let mut extended = Vec::new();
        for prefix in &out {
            // The same model never stands on both sides (`entropy(*) > entropy(base)`).
            for c in candidates
                .iter()
                .filter(|c| !prefix.iter().any(|p| p.name == c.name))
            {
                let mut v = prefix.clone();
                v.push(*c);
                extended.push(v);
            }
        }
        out = extended;
    }
    out
}

fn evaluate(
    spec: &ClaimSpec,
    set: &ModelSet,
    e: &Expectation,
    measured: &[MeasuredPair],
) -> ExpectationResult {
    let selectors = e.condition.selectors();
    let missing: Vec<String> = selectors
        .iter()
        .filter_map(|s| match s {
            Selector::Role(r) if !set.binds(*r) => Some(r.to_string()),
            _ => None,
        })
        .collect();
    if !missing.is_empty() {
        return ExpectationResult {
            that: e.that.clone(),
            over: e.over,
            verdict: Verdict::NotApplicable,
            reason: Some(format!(
                "model set `{}` binds no model to {}",
                set.id,
                missing.join(", ")
            )),
            instances: Vec::new(),
        };
    }
    let find = |model: &str, prompt: &str| {
        measured
            .iter()
            .find(|m| m.model == model && m.prompt == prompt)
            .and_then(|m| m.measurement.as_ref())
    };
    if matches!(e.over, Over::Paired | Over::Pooled) {
        return evaluate_across(spec, set, e, &selectors, &find, measured);
    }
    let mut instances = Vec::new();
    for prompt in spec.prompts_of(e) {
        for binding in bindings(spec, set, &selectors) {
            let models: BTreeMap<String, String> = selectors
                .iter()
                .zip(&binding)
                .map(|(s, m)| (s.to_string(), m.name.clone()))
                .collect();
            let figures: Option<Vec<&Measurement>> = binding
                .iter()
                .map(|m| find(&m.name, &prompt.name))
                .collect();
            let (verdict, evidence) = match figures {
                None => (
                    Verdict::Unavailable,
                    Evidence {
                        lhs: None,
                        rhs: None,
                        margin: 0.0,
                        rule: "a model has no recordings (retired, or not recorded yet)".into(),
                        difference: None,
                        divergence: None,
                    },
                ),
                Some(figures) => {
                    let decided = decide(spec, &e.condition, &selectors, &binding, &figures);
                    below_coverage(e.min_coverage, &binding, &figures, decided)
                }
            };
            instances.push(Instance {
                prompt: prompt.name.clone(),
                models,
                verdict,
                evidence,
            });
        }
    }
    finish(e, instances, measured)
}

/// The reasons models of the set have no figures, distinct and joined.
pub(super) fn unavailable_reason(measured: &[MeasuredPair]) -> String {
    let mut reasons: Vec<&str> = measured
        .iter()
        .filter_map(|m| m.unavailable.as_deref())
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    if reasons.is_empty() {
        RETIRED.to_string()
    } else {
        reasons.join("; ")
    }
}

pub(super) fn combine(over: Over, instances: &[Instance]) -> Verdict {
    let verdicts = instances.iter().map(|i| i.verdict);
    match over {
        Over::Any => Verdict::combine_any(verdicts),
        _ => Verdict::combine(verdicts),
    }
}

/// The expectation's result from its instances (combined as its `over` says).
pub(super) fn finish(
    e: &Expectation,
    instances: Vec<Instance>,
    measured: &[MeasuredPair],
) -> ExpectationResult {
    let verdict = combine(e.over, &instances);
    let reason = (verdict == Verdict::Unavailable).then(|| unavailable_reason(measured));
    ExpectationResult {
        that: e.that.clone(),
        over: e.over,
        verdict,
        reason,
        instances,
    }
}

fn decide(
    spec: &ClaimSpec,
    condition: &Condition,
    selectors: &[Selector],
    binding: &[&ModelEntry],
    figures: &[&Measurement],
) -> (Verdict, Evidence) {
    match condition {
        Condition::KlBound { .. } => kl_bound(spec, selectors, binding, figures),
        Condition::Differs { .. } => differs(spec, binding, figures),
        Condition::ModeIs {
            outcome, negated, ..
        } => {
            let m = figures[0];
            let index = spec
                .outcomes
                .index_of(outcome)
                .expect("validated against the outcome set");
            let (verdict, rule) = mode_is(m, index, *negated, &spec.outcomes);
            let lhs = Figure {
                label: format!("prob({}, {outcome})", selectors[0]),
                model: Some(binding[0].name.clone()),
                point: m.shares[index].point,
                low: m.shares[index].low,
                high: m.shares[index].high,
            };
            (
                verdict,
                Evidence {
                    lhs: Some(lhs),
                    rhs: None,
                    margin: 0.0,
                    rule,
                    difference: None,
                    divergence: None,
                },
            )
        }
        Condition::Compare {
            lhs,
            op,
            rhs,
            margin,
        } => {
            let mut next = 0;
            let mut side = |o: &Operand| -> Figure {
                match o {
                    Operand::Constant(c) => Figure {
                        label: format!("{c}"),
                        model: None,
                        point: *c,
                        low: *c,
                        high: *c,
                    },
                    Operand::Metric { metric, selector } => {
                        let (m, entry) = (figures[next], binding[next]);
                        next += 1;
                        let iv = m
                            .metric(metric, &spec.outcomes)
                            .unwrap_or(Interval::exact(f64::NAN));
                        Figure {
                            label: metric.label(*selector),
                            model: Some(entry.name.clone()),
                            point: iv.point,
                            low: iv.low,
                            high: iv.high,
                        }
                    }
                }
            };
            let (l, r) = (side(lhs), side(rhs));
            let as_iv = |f: &Figure| Interval {
                point: f.point,
                low: f.low,
                high: f.high,
            };
            let tested = two_sampled(spec, lhs, rhs, figures, *margin).map(|first| {
                first.and_then(|d| {
                    directional(*op, *margin, d, |m| {
                        two_sampled(spec, lhs, rhs, figures, m)
                            .unwrap_or_else(|| Err("not sampled".into()))
                    })
                })
            });
            let (verdict, rule, difference) = match tested {
                Some(Ok((d, p_hold, p_refute))) => {
                    let alpha = one_sided_alpha(spec);
                    let t = Tested {
                        difference: d,
                        p_value: p_hold,
                        p_adjusted: p_hold,
                        p_opposite_adjusted: p_refute,
                        alpha,
                    };
                    let (verdict, rule) = test_verdict(t.p_adjusted, t.p_opposite_adjusted, alpha);
                    (verdict, rule, Some(t))
                }
                Some(Err(e)) => (
                    Verdict::Inconclusive,
                    format!("the difference could not be tested: {e}"),
                    None,
                ),
                None => {
                    let (verdict, rule) = compare(as_iv(&l), *op, as_iv(&r), *margin);
                    (verdict, rule, None)
                }
            };
            (
                verdict,
                Evidence {
                    lhs: Some(l),
                    rhs: Some(r),
                    margin: *margin,
                    rule,
                    difference,
                    divergence: None,
                },
            )
        }
    }
}

/// The one-sided level of each test: half of what the two-sided interval leaves out, so that
/// "p < α" and "the interval excludes the margin" agree.
pub(super) fn one_sided_alpha(spec: &ClaimSpec) -> f64 {
    match spec.method {
        Method::Sample { level, .. } => (1.0 - level) / 2.0,
        _ => 0.025,
    }
}

/// The test of `lhs − rhs` against the margin when both sides are the same metric of two
/// sampled measurements.
fn two_sampled(
    spec: &ClaimSpec,
    lhs: &Operand,
    rhs: &Operand,
    figures: &[&Measurement],
    margin: f64,
) -> Option<Result<SampledDifference, String>> {
    let (Operand::Metric { metric: ml, .. }, Operand::Metric { metric: mr, .. }) = (lhs, rhs)
    else {
        return None;
    };
    if ml != mr || figures.len() != 2 {
        return None;
    }
    let Method::Sample {
        resamples,
        seed,
        level,
        ..
    } = spec.method
    else {
        return None;
    };
    let settings = DifferenceSettings {
        resamples: resamples as usize,
        seed,
        level,
    };
    sampled_difference(ml, figures[0], figures[1], &spec.outcomes, margin, settings)
}

/// An instance whose models put too little probability on the outcome set is inconclusive,
/// whatever its figures say (the post's caveat on text-davinci-002 and " 0".." 100").
fn below_coverage(
    min: Option<f64>,
    binding: &[&ModelEntry],
    figures: &[&Measurement],
    (verdict, mut evidence): (Verdict, Evidence),
) -> (Verdict, Evidence) {
    let Some(min) = min else {
        return (verdict, evidence);
    };
    let low: Vec<String> = binding
        .iter()
        .zip(figures)
        .filter(|(_, m)| m.coverage.low < min)
        .map(|(e, m)| format!("{} (coverage at least {:.3})", e.name, m.coverage.low))
        .collect();
    if low.is_empty() || matches!(verdict, Verdict::NotApplicable | Verdict::Unavailable) {
        return (verdict, evidence);
    }
    evidence.rule = format!(
        "inconclusive: {} below the stated min_coverage {min}; the figures alone would say {}",
        low.join(", "),
        verdict.as_str()
    );
    // Not part of any correction family once it is not decided by its test.
    evidence.difference = None;
    (Verdict::Inconclusive, evidence)
}

/// The one-sided p-values (expectation's direction, opposite direction) of a tested
/// difference `d` (tested at `margin`). For `~=` (equivalence within ±margin) the two one-sided
/// tests of TOST: holds when both "d > −m" and "d < m" are significant (p = the larger); refuted
/// when d is significantly outside (p = twice the smaller of "d > m" and "d < −m", a Bonferroni
/// pair); `test_at` re-tests at another margin on the same replicates.
pub(super) fn directional(
    op: CmpOp,
    margin: f64,
    d: SampledDifference,
    test_at: impl Fn(f64) -> Result<SampledDifference, String>,
) -> Result<(SampledDifference, f64, f64), String> {
    match op {
        CmpOp::Gt | CmpOp::Ge => {
            let (h, r) = (d.p_greater, d.p_less);
            Ok((d, h, r))
        }
        CmpOp::Lt | CmpOp::Le => {
            let (h, r) = (d.p_less, d.p_greater);
            Ok((d, h, r))
        }
        CmpOp::Approx => {
            let lower = test_at(-margin)?;
            let upper = d;
            let hold = lower.p_greater.max(upper.p_less);
            let refute = (2.0 * upper.p_greater.min(lower.p_less)).min(1.0);
            let test = format!(
                "TOST within ±{margin}: p(d > -{margin}) = {:.4}, p(d < {margin}) = {:.4}; {}",
                lower.p_greater, upper.p_less, upper.test
            );
            Ok((
                SampledDifference {
                    test,
                    p_greater: lower.p_greater,
                    p_less: upper.p_less,
                    ..upper
                },
                hold,
                refute,
            ))
        }
        CmpOp::Eq | CmpOp::Ne => Err("equality applies to modes only".into()),
    }
}
