//! `over: paired` and `over: pooled`: one instance per binding, over all the expectation's
//! prompts together (the statistics are in `crate::across`).

use super::expectations::{bindings, directional, finish};
use super::{Evidence, ExpectationResult, Figure, Instance, Tested};
use crate::across::{self, Aggregate, PromptPoint};
use crate::measure::Measurement;
use crate::run::MeasuredPair;
use crate::spec::{
    ClaimSpec, Condition, Expectation, Method, ModelSet, Operand, Over, PromptSpec, RealMetric,
    Selector,
};
use crate::verdict::{Verdict, test_verdict};
use std::collections::BTreeMap;

/// `over: paired` and `over: pooled`: one instance per binding of roles to models, over all the
/// expectation's prompts together.
pub(super) fn evaluate_across<'m>(
    spec: &ClaimSpec,
    set: &ModelSet,
    e: &Expectation,
    selectors: &[Selector],
    find: &dyn Fn(&str, &str) -> Option<&'m Measurement>,
    measured: &[MeasuredPair],
) -> ExpectationResult {
    let Condition::Compare {
        lhs,
        op,
        rhs,
        margin,
    } = &e.condition
    else {
        unreachable!("validated: over paired/pooled compares metrics");
    };
    let prompts: Vec<&PromptSpec> = spec.prompts_of(e).collect();
    let (seed, level) = match spec.method {
        Method::Sample { seed, level, .. } => (seed, level),
        _ => (0, 0.95),
    };
    let alpha = (1.0 - level) / 2.0;
    let mut instances = Vec::new();
    for binding in bindings(spec, set, selectors) {
        let models: BTreeMap<String, String> = selectors
            .iter()
            .zip(&binding)
            .map(|(s, m)| (s.to_string(), m.name.clone()))
            .collect();
        // Per operand: its model's measurements on every prompt (None for constants).
        let mut slot = 0;
        let mut side = |o: &Operand| -> Option<Option<(String, RealMetric, Vec<&'m Measurement>)>> {
            match o {
                Operand::Constant(_) => Some(None),
                Operand::Metric { metric, .. } => {
                    let entry = binding[slot];
                    slot += 1;
                    let ms: Option<Vec<&Measurement>> =
                        prompts.iter().map(|p| find(&entry.name, &p.name)).collect();
                    ms.map(|ms| Some((entry.name.clone(), metric.clone(), ms)))
                }
            }
        };
        let (l, r) = (side(lhs), side(rhs));
        let label = format!("all {} prompts", prompts.len());
        let (Some(l), Some(r)) = (l, r) else {
            instances.push(Instance {
                prompt: label,
                models,
                verdict: Verdict::Unavailable,
                evidence: Evidence {
                    lhs: None,
                    rhs: None,
                    margin: *margin,
                    rule: "a model has no recordings (retired, or not recorded yet)".into(),
                    difference: None,
                    divergence: None,
                },
            });
            continue;
        };
        let constant = |o: &Operand| match o {
            Operand::Constant(c) => *c,
            Operand::Metric { .. } => 0.0,
        };
        let points = |(_, metric, ms): &(String, RealMetric, Vec<&Measurement>)| {
            prompt_points(spec, metric, ms, &prompts)
        };
        let test_at = |margin: f64| match e.over {
            Over::Paired => {
                let values =
                    |x: &Option<(String, RealMetric, Vec<&Measurement>)>, o: &Operand| match x {
                        Some(x) => points(x).iter().map(|p| p.value).collect::<Vec<f64>>(),
                        None => vec![constant(o); prompts.len()],
                    };
                across::paired(&values(&l, lhs), &values(&r, rhs), margin, seed, level)
            }
            _ => {
                let agg = |m: &RealMetric| match m {
                    RealMetric::Ece => Aggregate::Ece,
                    RealMetric::Accuracy => Aggregate::Accuracy,
                    _ => Aggregate::Mean,
                };
                let lp = l.as_ref().map(|x| (agg(&x.1), points(x)));
                let rp = r.as_ref().map(|x| (agg(&x.1), points(x)));
                match (&lp, &rp) {
                    (Some((ka, pa)), rp) => across::pooled(
                        (*ka, pa),
                        rp.as_ref().map(|(k, p)| (*k, p.as_slice())),
                        constant(rhs),
                        margin,
                        seed,
                        level,
                    ),
                    // A constant on the left: mirror into rhs − lhs.
                    (None, Some((kb, pb))) => {
                        across::pooled((*kb, pb), None, constant(lhs), -margin, seed, level).map(
                            |mut d| {
                                std::mem::swap(&mut d.p_greater, &mut d.p_less);
                                (d.estimate, d.low, d.high) = (-d.estimate, -d.high, -d.low);
                                d
                            },
                        )
                    }
                    (None, None) => Err("an expectation needs a metric".into()),
                }
            }
        };
        let figure = |x: &Option<(String, RealMetric, Vec<&Measurement>)>, o: &Operand| match x {
            Some(x) => {
                let pts = points(x);
                let all: Vec<usize> = (0..pts.len()).collect();
                let kind = match x.1 {
                    RealMetric::Ece => Aggregate::Ece,
                    RealMetric::Accuracy => Aggregate::Accuracy,
                    _ => Aggregate::Mean,
                };
                let v = across::aggregate(kind, &pts, &all);
                Figure {
                    label: match (e.over, kind) {
                        (_, Aggregate::Mean) => format!("mean {}", operand_label(o)),
                        _ => operand_label(o),
                    },
                    model: Some(x.0.clone()),
                    point: v,
                    low: v,
                    high: v,
                }
            }
            None => Figure {
                label: format!("{}", constant(o)),
                model: None,
                point: constant(o),
                low: constant(o),
                high: constant(o),
            },
        };
        let tested = test_at(*margin).and_then(|d| directional(*op, *margin, d, test_at));
        let (verdict, rule, difference) = match tested {
            Ok((d, p_hold, p_refute)) => {
                let (verdict, rule) = test_verdict(p_hold, p_refute, alpha);
                (
                    verdict,
                    rule,
                    Some(Tested {
                        difference: d,
                        p_value: p_hold,
                        p_adjusted: p_hold,
                        p_opposite_adjusted: p_refute,
                        alpha,
                    }),
                )
            }
            Err(err) => (
                Verdict::Inconclusive,
                format!("the difference could not be tested: {err}"),
                None,
            ),
        };
        instances.push(Instance {
            prompt: label,
            models,
            verdict,
            evidence: Evidence {
                lhs: Some(figure(&l, lhs)),
                rhs: Some(figure(&r, rhs)),
                margin: *margin,
                rule,
                difference,
                divergence: None,
            },
        });
    }
    finish(e, instances, measured)
}

fn operand_label(o: &Operand) -> String {
    match o {
        Operand::Metric { metric, selector } => metric.label(*selector),
        Operand::Constant(c) => format!("{c}"),
    }
}

/// Each prompt's point figure, mode share and correctness.
fn prompt_points(
    spec: &ClaimSpec,
    metric: &RealMetric,
    ms: &[&Measurement],
    prompts: &[&PromptSpec],
) -> Vec<PromptPoint> {
    ms.iter()
        .zip(prompts)
        .map(|(m, p)| {
            let answer = p
                .answer
                .as_deref()
                .and_then(|a| spec.outcomes.index_of(&crate::spec::outcome_ref(a)));
            PromptPoint {
                value: m
                    .metric(metric, &spec.outcomes)
                    .map_or(f64::NAN, |iv| iv.point),
                confidence: m.mode_prob.point,
                correct: answer.is_some() && m.mode == answer,
            }
        })
        .collect()
}
