//! Orchestration: specs × model sets → measurements → verdicts.

use crate::across::{self, Aggregate, PromptPoint};
use crate::error::{Error, MeasureError};
use crate::measure::{
    DifferenceSettings, Measurement, MeasurementTarget, SampledDifference, measure,
    sampled_difference,
};
use crate::source::{Mode, Source};

/// Why a retired model has no figures.
const RETIRED: &str = "retired, cannot be recorded";
use crate::spec::{
    Catalog, ClaimSpec, ClaimStatus, CmpOp, Condition, LoadedSpec, Method, ModelEntry, ModelSet,
    ModelStatus, Operand, Over, RealMetric, Role, Selector,
};
use crate::stats::Interval;
use crate::stats::hypothesis::holm;
use crate::verdict::{Verdict, compare, mode_is, test_verdict};
use serde::Serialize;
use std::collections::BTreeMap;

/// The result of a run: every claim with its model sets.
#[derive(Debug)]
pub struct RunResult {
    /// Claims in spec-id order.
    pub claims: Vec<ClaimResult>,
    /// Claims that cannot be tested through an API, listed with their reasons.
    pub untestable: Vec<crate::spec::LoadedUntestable>,
}

/// One claim evaluated on the model sets that bind its roles.
#[derive(Debug)]
pub struct ClaimResult {
    /// The spec.
    pub spec: ClaimSpec,
    /// Its file.
    pub file: String,
    /// Results per model set, in set-id order.
    pub model_sets: Vec<SetResult>,
}

/// One (claim, model set).
#[derive(Debug)]
pub struct SetResult {
    /// Model set id.
    pub model_set: String,
    /// Every (model, prompt) measured or found unavailable.
    pub measurements: Vec<MeasuredPair>,
    /// Every expectation with its verdict and instances.
    pub expectations: Vec<ExpectationResult>,
}

/// One (model, prompt).
#[derive(Debug)]
pub struct MeasuredPair {
    /// The model's name in the set.
    pub model: String,
    /// Its role.
    pub role: Role,
    /// The prompt name.
    pub prompt: String,
    /// The figures, or `None` when they cannot be had (see `unavailable`).
    pub measurement: Option<Measurement>,
    /// Why there are no figures: retired and never recorded, or a live model of a set that
    /// has no recordings yet (with the command that records them).
    pub unavailable: Option<String>,
}

/// One expectation on one model set.
#[derive(Debug, Serialize)]
pub struct ExpectationResult {
    /// The condition as written.
    pub that: String,
    /// How its instances combine.
    pub over: Over,
    /// Combined over instances.
    pub verdict: Verdict,
    /// Why, when there are no instances or models are missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One per prompt and binding of roles to models.
    pub instances: Vec<Instance>,
}

/// An expectation on one prompt with one model per role.
#[derive(Debug, Serialize)]
pub struct Instance {
    /// The prompt name.
    pub prompt: String,
    /// Role (or `*`) → model name.
    pub models: BTreeMap<String, String>,
    /// The verdict.
    pub verdict: Verdict,
    /// The figures compared and the rule applied.
    pub evidence: Evidence,
}

/// The figures behind a verdict.
#[derive(Debug, Serialize)]
pub struct Evidence {
    /// Left side (or the mode's measurement).
    pub lhs: Option<Figure>,
    /// Right side.
    pub rhs: Option<Figure>,
    /// Added to the right side.
    pub margin: f64,
    /// The rule or reason.
    pub rule: String,
    /// For two sampled figures: the test of their difference, which decides the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difference: Option<Tested>,
    /// For `kl_bound`: the divergences and the bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<DivergenceEvidence>,
}

/// Footnote 3's bound, computed on the two normalised point distributions over the outcome set.
#[derive(Debug, Serialize)]
pub struct DivergenceEvidence {
    /// KL(P‖Q), nats (infinite when Q misses an outcome P has; serialised as null then).
    pub kl: f64,
    /// Total variation distance.
    pub tv: f64,
    /// Jensen–Shannon divergence, nats.
    pub js: f64,
    /// Pinsker's bound on TV from KL, √(KL/2) capped at 1.
    pub pinsker_tv: f64,
    /// The Fannes–Audenaert bound on |H(P) − H(Q)| at Pinsker's TV.
    pub bound: f64,
    /// |H(P) − H(Q)|.
    pub gap: f64,
    /// bound − gap.
    pub slack: f64,
}

/// A difference tested, with its p-values before and after the correction for the family of
/// tests in this (claim, model set).
#[derive(Debug, Serialize)]
pub struct Tested {
    /// The difference and its interval.
    #[serde(flatten)]
    pub difference: SampledDifference,
    /// One-sided p-value of the expectation's direction.
    pub p_value: f64,
    /// That p-value after Holm's correction over every tested instance of the claim.
    pub p_adjusted: f64,
    /// One-sided p-value of the opposite direction (evidence that refutes), Holm-adjusted.
    pub p_opposite_adjusted: f64,
    /// The one-sided level each adjusted p-value is compared with: (1 − level) / 2.
    pub alpha: f64,
}

/// One side of a comparison.
#[derive(Debug, Serialize)]
pub struct Figure {
    /// What it is, e.g. `entropy(rlhf)` or `0.5`.
    pub label: String,
    /// Model name, for metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Point estimate.
    pub point: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl ClaimResult {
    /// Whether this claim makes the run fail: strict, and an expectation that is refuted or
    /// inconclusive on some model set.
    pub fn strict_failure(&self) -> bool {
        self.spec.status == ClaimStatus::Strict
            && self
                .model_sets
                .iter()
                .flat_map(|s| &s.expectations)
                .any(|e| matches!(e.verdict, Verdict::Refuted | Verdict::Inconclusive))
    }
}

impl RunResult {
    /// Whether any strict claim failed.
    pub fn strict_failure(&self) -> bool {
        self.claims.iter().any(ClaimResult::strict_failure)
    }
}

/// Models of a set measured for a spec: those whose role the spec lists.
fn models_for<'a>(
    spec: &'a ClaimSpec,
    set: &'a ModelSet,
) -> impl Iterator<Item = &'a ModelEntry> + 'a {
    set.models
        .iter()
        .filter(move |m| spec.roles.contains(&m.role))
}

/// Runs every spec of the catalog on every model set that binds one of its roles.
pub async fn run(catalog: &Catalog, source: &Source) -> Result<RunResult, Error> {
    let mut claims = Vec::new();
    for loaded in &catalog.specs {
        let mut model_sets = Vec::new();
        for set in &catalog.model_sets {
            if models_for(&loaded.spec, &set.set).next().is_none() {
                continue;
            }
            model_sets.push(run_on_set(loaded, &set.set, source).await?);
        }
        claims.push(ClaimResult {
            spec: loaded.spec.clone(),
            file: loaded.path.display().to_string(),
            model_sets,
        });
    }
    Ok(RunResult {
        claims,
        untestable: catalog.untestable.clone(),
    })
}

async fn run_on_set(
    loaded: &LoadedSpec,
    set: &ModelSet,
    source: &Source,
) -> Result<SetResult, Error> {
    let spec = &loaded.spec;
    let mut measurements = Vec::new();
    // One model at a time: two local servers sharing two cores slow each other fourfold.
    for model in models_for(spec, set) {
        for prompt in &spec.prompts {
            let target = MeasurementTarget {
                spec,
                spec_path: &loaded.path,
                model_set: &set.id,
                model,
                prompt,
            };
            // A live model of a set nobody has recorded yet (no network here, say) is reported
            // per set with the command that records it; a recorded model missing a request is
            // an error, so that a new prompt without recordings fails review.
            let unrecorded = model.status == ModelStatus::Live
                && source.mode() == Mode::Replay
                && !source.has_recordings(&set.id, &model.name);
            let (measurement, unavailable) = if unrecorded {
                (
                    None,
                    Some(format!(
                        "not recorded yet: record with `modecollapse run --models {} --mode record`",
                        set.id
                    )),
                )
            } else {
                match measure(&target, source).await {
                    Ok(m) => (Some(m), None),
                    Err(MeasureError::MissingRecording { .. })
                        if model.status == ModelStatus::Retired =>
                    {
                        (None, Some(RETIRED.to_string()))
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            measurements.push(MeasuredPair {
                model: model.name.clone(),
                role: model.role,
                prompt: prompt.name.clone(),
                measurement,
                unavailable,
            });
        }
    }
    let mut expectations: Vec<ExpectationResult> = spec
        .expect
        .iter()
        .map(|e| evaluate(spec, set, e, &measurements))
        .collect();
    adjust_for_multiplicity(&mut expectations);
    Ok(SetResult {
        model_set: set.id.clone(),
        measurements,
        expectations,
    })
}

/// Every way to bind the expectation's selectors to models of the set.
fn bindings<'a>(
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
    e: &crate::spec::Expectation,
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

/// The reasons models of the set have no figures, distinct and joined.
fn unavailable_reason(measured: &[MeasuredPair]) -> String {
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

fn combine(over: Over, instances: &[Instance]) -> Verdict {
    let verdicts = instances.iter().map(|i| i.verdict);
    match over {
        Over::Any => Verdict::combine_any(verdicts),
        _ => Verdict::combine(verdicts),
    }
}

/// `over: paired` and `over: pooled`: one instance per binding of roles to models, over all the
/// expectation's prompts together.
fn evaluate_across<'m>(
    spec: &ClaimSpec,
    set: &ModelSet,
    e: &crate::spec::Expectation,
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
    let prompts: Vec<&crate::spec::PromptSpec> = spec.prompts_of(e).collect();
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
        let tested = match e.over {
            Over::Paired => {
                let values =
                    |x: &Option<(String, RealMetric, Vec<&Measurement>)>, o: &Operand| match x {
                        Some(x) => points(x).iter().map(|p| p.value).collect::<Vec<f64>>(),
                        None => vec![constant(o); prompts.len()],
                    };
                across::paired(&values(&l, lhs), &values(&r, rhs), *margin, seed, level)
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
                        *margin,
                        seed,
                        level,
                    ),
                    // A constant on the left: mirror into rhs − lhs.
                    (None, Some((kb, pb))) => {
                        across::pooled((*kb, pb), None, constant(lhs), -*margin, seed, level).map(
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
        let (verdict, rule, difference) = match tested {
            Ok(d) => {
                let (p_hold, p_refute) = match op {
                    CmpOp::Gt | CmpOp::Ge => (d.p_greater, d.p_less),
                    _ => (d.p_less, d.p_greater),
                };
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
    let verdict = Verdict::combine(instances.iter().map(|i| i.verdict));
    let reason = (verdict == Verdict::Unavailable).then(|| unavailable_reason(measured));
    ExpectationResult {
        that: e.that.clone(),
        over: e.over,
        verdict,
        reason,
        instances,
    }
}

fn operand_label(o: &Operand) -> String {
    match o {
        Operand::Metric { metric, selector } => format!("{metric}({selector})"),
        Operand::Constant(c) => format!("{c}"),
    }
}

/// Each prompt's point figure, mode share and correctness.
fn prompt_points(
    spec: &ClaimSpec,
    metric: &RealMetric,
    ms: &[&Measurement],
    prompts: &[&crate::spec::PromptSpec],
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

fn decide(
    spec: &ClaimSpec,
    condition: &Condition,
    selectors: &[Selector],
    binding: &[&ModelEntry],
    figures: &[&Measurement],
) -> (Verdict, Evidence) {
    match condition {
        Condition::KlBound { .. } => kl_bound(spec, selectors, binding, figures),
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
                            label: format!("{metric}({selector})"),
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
            let tested = two_sampled(spec, lhs, rhs, figures, *margin);
            let (verdict, rule, difference) = match tested {
                Some(Ok(d)) => {
                    let (p_hold, p_refute) = match op {
                        CmpOp::Gt | CmpOp::Ge => (d.p_greater, d.p_less),
                        _ => (d.p_less, d.p_greater),
                    };
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
fn one_sided_alpha(spec: &ClaimSpec) -> f64 {
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

/// Holm's correction over every tested instance of the claim on this model set: each
/// direction's p-values are adjusted as one family, and the verdicts decided again.
fn adjust_for_multiplicity(expectations: &mut [ExpectationResult]) {
    let tested: Vec<(usize, usize)> = expectations
        .iter()
        .enumerate()
        .flat_map(|(e, r)| {
            r.instances
                .iter()
                .enumerate()
                .filter(|(_, i)| i.evidence.difference.is_some())
                .map(move |(i, _)| (e, i))
        })
        .collect();
    if tested.len() < 2 {
        return;
    }
    let get = |ex: &[ExpectationResult], (e, i): (usize, usize)| -> (f64, f64) {
        let t = ex[e].instances[i]
            .evidence
            .difference
            .as_ref()
            .expect("filtered");
        (t.p_value, t.p_opposite_adjusted)
    };
    let hold: Vec<f64> = tested.iter().map(|&at| get(expectations, at).0).collect();
    let refute: Vec<f64> = tested.iter().map(|&at| get(expectations, at).1).collect();
    let (Ok(hold), Ok(refute)) = (holm(&hold), holm(&refute)) else {
        return;
    };
    for (n, &(e, i)) in tested.iter().enumerate() {
        let instance = &mut expectations[e].instances[i];
        let t = instance.evidence.difference.as_mut().expect("filtered");
        t.p_adjusted = hold[n];
        t.p_opposite_adjusted = refute[n];
        let (verdict, rule) = test_verdict(t.p_adjusted, t.p_opposite_adjusted, t.alpha);
        instance.verdict = verdict;
        instance.evidence.rule = format!("{rule} (Holm over {} tests)", tested.len());
    }
    for r in expectations.iter_mut() {
        if !r.instances.is_empty() {
            r.verdict = combine(r.over, &r.instances);
        }
    }
}

/// `kl_bound(a, b)`: footnote 3 on the two measured distributions.
fn kl_bound(
    spec: &ClaimSpec,
    selectors: &[Selector],
    binding: &[&ModelEntry],
    figures: &[&Measurement],
) -> (Verdict, Evidence) {
    use crate::stats::divergence::{
        entropy_gap_bound_from_kl, jensen_shannon, kl, pinsker_tv_bound, total_variation,
    };
    let dist = |m: &Measurement| -> Vec<f64> {
        let p: Vec<f64> = m.shares.iter().map(|s| s.point.max(0.0)).collect();
        let total: f64 = p.iter().sum();
        if total > 0.0 {
            p.iter().map(|x| x / total).collect()
        } else {
            p
        }
    };
    let (p, q) = (dist(figures[0]), dist(figures[1]));
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
