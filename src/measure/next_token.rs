//! The post's method: one request, the top-k next tokens, outcomes that are single tokens.
//!
//! P(N) is the probability of the single tokens whose text decides outcome N (" 97", or " 97."
//! where a tokenizer has it). The interval is a guaranteed bound from the ranks: a token
//! outside the top k is no more probable than the k-th, so an unlisted outcome holds at most
//! (its tokens) × that probability; with a declared tokenizer the tokens are counted exactly,
//! without one each outcome is taken to be one token. It never exceeds ln K.
//!
//! The post's uncertainty bar is kept as its own figure (`post_bar`): from the entropy of the
//! seen outcomes up to the largest entropy possible were the unseen mass spread uniformly over
//! the vocabulary's other tokens (`vocab_size`; ln K when not given). It is a heuristic bar,
//! not a bound: it can exceed ln K.

use super::measurement::{FetchLog, Measurement, MeasurementTarget};
use crate::error::MeasureError;
use crate::request::{LogprobRequest, Request, TopToken};
use crate::source::Source;
use crate::spec::{OutcomeSet, PrefixState};
use crate::stats::{Chunk, Interval, MassBounds};
use crate::vocab::OutcomeFacts;
use std::collections::BTreeSet;

pub(super) async fn measure(
    t: &MeasurementTarget<'_>,
    source: &Source,
    top_k: u32,
) -> Result<Measurement, MeasureError> {
    let asked = top_k.min(t.model.max_top_logprobs);
    let req = LogprobRequest {
        api: t.model.api,
        model: t.model.model.clone(),
        prompt: t.prompt.text.clone(),
        prompt_ids: Vec::new(),
        continuation_ids: Vec::new(),
        continuation_text: String::new(),
        top_k: asked,
        lora: t.model.lora.clone(),
    };
    let outcomes = &t.spec.outcomes;
    let facts = source.vocabulary_facts(t.model_set, t.model, outcomes)?;
    let fetched = source
        .fetch(t.model_set, t.model, &Request::Logprobs(req))
        .await
        .map_err(|e| t.fail(e))?;
    source.flush()?;
    let mut log = FetchLog::default();
    log.note(&fetched);
    let listed = &fetched.logprobs().tokens;
    let probs: Vec<(f64, Option<usize>)> = listed
        .iter()
        .map(|tok| {
            // A special token decides nothing; an id-only token's text comes from the facts
            // (not viable: it decides nothing either).
            let text = if tok.ends_generation() {
                None
            } else if tok.is_id_only() {
                facts
                    .as_ref()
                    .zip(tok.id)
                    .and_then(|(f, id)| f.by_id(id))
                    .map(|v| v.text.as_str())
            } else {
                Some(tok.text.as_str())
            };
            (
                tok.logprob.exp(),
                text.and_then(|x| single_token_outcome(outcomes, x)),
            )
        })
        .collect();
    let unlisted = unlisted_per_outcome(outcomes, listed, facts.as_ref());
    let full_list = listed.len() >= asked as usize;
    let [per_outcome, pooled] = rank_bounds(outcomes, &probs, &unlisted, full_list);
    let dead = probs
        .iter()
        .filter(|(_, o)| o.is_none())
        .map(|(p, _)| p)
        .sum();
    let a = Measurement::from_bounds("next_token", &per_outcome, dead, &log);
    let b = Measurement::from_bounds("next_token", &pooled, dead, &log);
    let mut m = a.intersect(&b);
    m.post_bar = Some(post_bar(
        &probs,
        m.entropy.point,
        t.model.vocab_size,
        outcomes.len(),
    ));
    if let Some(f) = &facts {
        // An outcome that no single token decides is given probability 0 by this method: on
        // tokenizers after GPT-3 (" 97" is " " + "97" on cl100k_base) that is most of them.
        let single: BTreeSet<usize> = f
            .viable
            .iter()
            .filter_map(|v| single_token_outcome(outcomes, &v.text))
            .chain(probs.iter().filter_map(|(_, o)| *o))
            .collect();
        let missing = outcomes.len() - single.len();
        if missing > 0 {
            m.warnings.push(format!(
                "{missing} of {} outcomes are no single token of this vocabulary, so \
                 `next_token` gives them probability 0; `enumerate` measures them",
                outcomes.len()
            ));
        }
    }
    m.warnings
        .extend(super::enumerate::unavailable_vocabulary(t, facts.is_some()));
    if facts.is_none() && t.model.tokenizer.is_none() && !unlisted.iter().all(|&c| c == 0) {
        m.warnings.push(
            "no tokenizer declared: the bounds assume each outcome is at most one token; \
             declare `tokenizer:` in the model set for exact counts"
                .into(),
        );
    }
    Ok(m)
}

/// Unlisted tokens that decide each outcome on their own: from the vocabulary's viable
/// tokens where known, else one per outcome without a listed token (the method's premise:
/// an outcome is a token, such as GPT-3's " 97").
fn unlisted_per_outcome(
    outcomes: &OutcomeSet,
    listed: &[TopToken],
    facts: Option<&OutcomeFacts>,
) -> Vec<usize> {
    let mut count = vec![0usize; outcomes.len()];
    match facts {
        Some(facts) => {
            let (remaining, _) = facts.unlisted(listed);
            for v in remaining {
                if let Some(n) = single_token_outcome(outcomes, &v.text) {
                    count[n] += 1;
                }
            }
        }
        None => {
            for tok in listed {
                if let Some(n) = single_token_outcome(outcomes, &tok.text) {
                    count[n] = usize::MAX;
                }
            }
            for c in &mut count {
                *c = if *c == usize::MAX { 0 } else { 1 };
            }
        }
    }
    count
}

/// Two guaranteed descriptions of the unseen mass, each a superset of what is possible (so
/// both give valid bounds, and so does their intersection): every unlisted token holds at
/// most the smallest listed probability `p_min` (when the list is full, i.e. the true top
/// k), and together they hold at most the unseen mass.
/// * per outcome: outcome N may gain up to `min(c_N · p_min, unseen)`, each independently;
/// * pooled: the outcomes with `c_N > 0` share at most `min(Σ c_N · p_min, unseen)`.
fn rank_bounds(
    outcomes: &OutcomeSet,
    probs: &[(f64, Option<usize>)],
    unlisted: &[usize],
    full_list: bool,
) -> [MassBounds; 2] {
    let mut lower = vec![0.0; outcomes.len()];
    let mut seen = 0.0;
    let mut p_min = f64::INFINITY;
    for &(p, outcome) in probs {
        seen += p;
        p_min = p_min.min(p);
        if let Some(n) = outcome {
            lower[n] += p;
        }
    }
    let unseen = (1.0 - seen).max(0.0);
    let cap = |c: usize| {
        if full_list && p_min.is_finite() {
            (c as f64 * p_min).min(unseen)
        } else {
            unseen
        }
    };
    let per_outcome = unlisted
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(n, &c)| Chunk {
            mass: cap(c),
            reach: vec![n],
        })
        .filter(|c| c.mass > 0.0)
        .collect();
    let total: usize = unlisted.iter().fold(0usize, |a, &c| a.saturating_add(c));
    let reach: Vec<usize> = (0..unlisted.len()).filter(|&n| unlisted[n] > 0).collect();
    let pooled = if reach.is_empty() || cap(total) <= 0.0 {
        Vec::new()
    } else {
        vec![Chunk {
            mass: cap(total),
            reach,
        }]
    };
    [
        MassBounds {
            lower: lower.clone(),
            chunks: per_outcome,
        },
        MassBounds {
            lower,
            chunks: pooled,
        },
    ]
}

/// The outcome a single token decides, if any.
fn single_token_outcome(outcomes: &OutcomeSet, text: &str) -> Option<usize> {
    match outcomes.classify(text) {
        PrefixState::Complete(n) => Some(n),
        PrefixState::Open => outcomes.classify_end(text),
        PrefixState::Dead => None,
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
        let [b, _] = rank_bounds(&outcomes, &probs, &[1; 101], true);
        assert!((b.coverage().point - 0.9).abs() < 1e-12);
        let bar = post_bar(&probs, 0.5, Some(50_257), 101);
        let expected = -(0.7f64 * 0.7f64.ln() + 0.1 * 0.1f64.ln() + 3.0 * 0.05 * 0.05f64.ln())
            - 0.05 * (0.05f64 / 50_252.0).ln();
        assert!((bar.high - expected).abs() < 1e-12);
        assert_eq!(bar.low, 0.5);
    }

    // Synthetic responses (unit test data): the rank bounds contain every distribution the
    // response allows (unlisted outcomes each at most p_min, in total at most the unseen
    // mass) and never exceed ln K, where the post's bar does.
    #[test]
    fn rank_bounds_contain_every_allowed_distribution_and_stay_below_ln_k() {
        use crate::stats::{entropy_nats, normalized};
        let outcomes = OutcomeSet::Choices(crate::spec::ChoiceList {
            texts: vec![" A".into(), " B".into(), " C".into(), " D".into()],
        });
        // Listed: " A" 0.5, " B" 0.2, " the" 0.1 (no outcome); p_min = 0.1, unseen 0.2.
        let probs = vec![(0.5, Some(0)), (0.2, Some(1)), (0.1, None)];
        let unlisted = [0, 0, 1, 1];
        let [a, b] = rank_bounds(&outcomes, &probs, &unlisted, true);
        let ea = a.entropy();
        let eb = b.entropy();
        let (low, high) = (ea.low.max(eb.low), ea.high.min(eb.high));
        assert!(high <= 4f64.ln() + 1e-9 && low <= high, "{low} {high}");
        let mut rng = 1u64;
        for _ in 0..2000 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let c = (rng >> 11) as f64 / (1u64 << 53) as f64 * 0.1;
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let d = ((rng >> 11) as f64 / (1u64 << 53) as f64 * 0.1).min(0.2 - c);
            let p = [0.5, 0.2, c, d];
            let h = entropy_nats(&normalized(&p));
            assert!(
                h >= low - 1e-9 && h <= high + 1e-9,
                "{h} not in [{low}, {high}]"
            );
        }
        let bar = post_bar(&probs, 0.5, Some(262_144), 4);
        assert!(
            bar.high > 4f64.ln(),
            "the post's bar is not a bound: {}",
            bar.high
        );
    }
}
