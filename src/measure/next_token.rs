//! The post's method: one request, the top-k next tokens, outcomes that are single tokens.
//!
//! P(N) is the probability of the single token whose text decides outcome N (" 97", or " 97."
//! where a tokenizer has it). The interval is the post's uncertainty bar: from the entropy of
//! the seen outcomes up to the largest entropy possible were the unseen mass spread uniformly
//! over the vocabulary's other tokens (`vocab_size` of the model; ln K when it is not given).
//! It is a heuristic bar, not a guaranteed bound — `enumerate` gives those.

use super::measurement::{FetchLog, Measurement, MeasurementTarget};
use crate::error::MeasureError;
use crate::request::{LogprobRequest, Request};
use crate::source::Source;
use crate::spec::{OutcomeSet, PrefixState};
use crate::stats::{Chunk, Interval, MassBounds};

pub(super) async fn measure(
    t: &MeasurementTarget<'_>,
    source: &Source,
    top_k: u32,
) -> Result<Measurement, MeasureError> {
    let req = LogprobRequest {
        api: t.model.api,
        model: t.model.model.clone(),
        prompt: t.prompt.text.clone(),
        prompt_ids: Vec::new(),
        continuation_ids: Vec::new(),
        continuation_text: String::new(),
        top_k: top_k.min(t.model.max_top_logprobs),
    };
    let fetched = source
        .fetch(t.model_set, t.model, &Request::Logprobs(req))
        .await
        .map_err(|e| t.fail(e))?;
    source.flush()?;
    let mut log = FetchLog::default();
    log.note(&fetched);
    let outcomes = &t.spec.outcomes;
    let probs: Vec<(f64, Option<usize>)> = fetched
        .logprobs()
        .tokens
        .iter()
        .map(|tok| (tok.logprob.exp(), single_token_outcome(outcomes, &tok.text)))
        .collect();
    let bounds = bounds_from(outcomes, &probs);
    let dead = probs
        .iter()
        .filter(|(_, o)| o.is_none())
        .map(|(p, _)| p)
        .sum();
    let mut m = Measurement::from_bounds("next_token", &bounds, dead, &log);
    m.entropy = post_bar(&probs, m.entropy.point, t.model.vocab_size, outcomes.len());
    Ok(m)
}

/// The outcome a single token decides, if any.
fn single_token_outcome(outcomes: &OutcomeSet, text: &str) -> Option<usize> {
    match outcomes.classify(text) {
        PrefixState::Complete(n) => Some(n),
        PrefixState::Open => outcomes.classify_end(text),
        PrefixState::Dead => None,
    }
}

fn bounds_from(outcomes: &OutcomeSet, probs: &[(f64, Option<usize>)]) -> MassBounds {
    let mut lower = vec![0.0; outcomes.len()];
    let mut seen = 0.0;
    for &(p, outcome) in probs {
        seen += p;
        if let Some(n) = outcome {
            lower[n] += p;
        }
    }
    let unseen = (1.0 - seen).max(0.0);
    MassBounds {
        lower,
        chunks: vec![Chunk {
            mass: unseen,
            reach: (0..outcomes.len()).collect(),
        }],
    }
}

/// The post's bar: [entropy of the seen outcomes, entropy with the unseen mass spread
/// uniformly over the other `vocab − seen` tokens].
fn post_bar(probs: &[(f64, Option<usize>)], point: f64, vocab: Option<u64>, k: usize) -> Interval {
    let seen: f64 = probs.iter().map(|(p, _)| p).sum();
    let unseen = (1.0 - seen).max(0.0);
    let high = match vocab {
        Some(v) if v as usize > probs.len() => {
            let others = (v as usize - probs.len()) as f64;
            let seen_part: f64 = probs
                .iter()
                .filter(|(p, _)| *p > 0.0)
                .map(|(p, _)| -p * p.ln())
                .sum();
            let unseen_part = if unseen > 0.0 {
                -unseen * (unseen / others).ln()
            } else {
                0.0
            };
            seen_part + unseen_part
        }
        _ => (k as f64).ln(),
    };
    Interval {
        point,
        low: point,
        high: high.max(point),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::IntegerRange;

    // Synthetic top-5 in the shape of the post's text-davinci-002 figure: these test the
    // arithmetic of the bar only.
    #[test]
    fn post_bar_spreads_unseen_mass_over_the_vocabulary() {
        let outcomes = OutcomeSet::Integers(IntegerRange {
            prefix: " ".into(),
            lo: 0,
            hi: 100,
        });
        let probs: Vec<(f64, Option<usize>)> = [
            (" 97", 0.7),
            (" 42", 0.1),
            (" 7", 0.05),
            ("\n", 0.05),
            (" 3", 0.05),
        ]
        .iter()
        .map(|(t, p)| (*p, single_token_outcome(&outcomes, t)))
        .collect();
        assert_eq!(probs[0].1, Some(97));
        assert_eq!(probs[3].1, None);
        let b = bounds_from(&outcomes, &probs);
        assert!((b.coverage().point - 0.9).abs() < 1e-12);
        let bar = post_bar(&probs, 0.5, Some(50_257), 101);
        let expected = -(0.7f64 * 0.7f64.ln() + 0.1 * 0.1f64.ln() + 3.0 * 0.05 * 0.05f64.ln())
            - 0.05 * (0.05f64 / 50_252.0).ln();
        assert!((bar.high - expected).abs() < 1e-12);
        assert_eq!(bar.low, 0.5);
    }
}
