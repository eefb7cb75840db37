//! Orchestration: specs × model sets → measurements → verdicts.

use crate::error::{Error, MeasureError};
use crate::evaluate::ExpectationResult;
use crate::evaluate::evaluate_set;
use crate::measure::{Measurement, MeasurementTarget, measure};
use crate::source::{Mode, Source};
use crate::spec::{
    Catalog, ClaimSpec, ClaimStatus, LoadedSpec, ModelEntry, ModelSet, ModelStatus, Role,
};
use crate::verdict::Verdict;

/// Why a retired model has no figures.
pub(crate) const RETIRED: &str = "retired, cannot be recorded";

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

impl SetResult {
    /// Every model of the set with its role, in the order of its first measurement.
    pub fn models(&self) -> Vec<(&str, Role)> {
        let mut out: Vec<(&str, Role)> = Vec::new();
        for p in &self.measurements {
            if !out.iter().any(|(m, _)| *m == p.model) {
                out.push((p.model.as_str(), p.role));
            }
        }
        out
    }
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
            let (measurement, unavailable) = if let Some(why) = set.not_recorded(&spec.id) {
                (None, Some(format!("not recorded on `{}`: {why}", set.id)))
            } else if unrecorded {
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
                    Err(MeasureError::MissingRecording { .. })
                        if source.missing_is_unavailable() =>
                    {
                        (None, Some(format!("not recorded in `{}`", set.id)))
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
    let expectations = evaluate_set(spec, set, &measurements);
    Ok(SetResult {
        model_set: set.id.clone(),
        measurements,
        expectations,
    })
}
