//! Exact multi-token outcomes: expand the tree of token prefixes with top-k log-probabilities.
//!
//! Each node is a continuation of the prompt (token ids where the server takes them, text
//! otherwise) with its absolute probability. A node's top-k children are classified against
//! the outcome set: a child that decides an outcome adds its mass to that outcome; a dead child
//! adds to "no outcome"; an open child (" ", " 9", " 97") is expanded next. A token with no
//! text (a special token such as end of turn) ends generation. The mass top-k does not show,
//! and the mass of children not expanded (`min_mass`, `max_requests`), becomes an unresolved
//! chunk that may become any outcome its prefix still reaches; `MassBounds` turns those into
//! guaranteed bounds.
//!
//! Expansion is breadth-first, each level's nodes concurrently (bounded by the model's
//! `concurrency`), most probable first, and recordings are flushed after every level. On a
//! digit-splitting tokenizer " 0".." 100" takes 1 + 1 + 10 + 90 + 1 = 103 requests.

use super::measurement::{FetchLog, Measurement, MeasurementTarget};
use crate::error::MeasureError;
use crate::request::{LogprobRequest, Request, TopToken};
use crate::source::Source;
use crate::spec::{Api, OutcomeSet, PrefixState, Provider, TokenizerKind, TokenizerSpec};
use crate::stats::{Chunk, MassBounds};
use crate::vocab::OutcomeFacts;
use futures::StreamExt;

pub(super) struct Params {
    pub top_k: u32,
    pub root_top_k: u32,
    pub min_mass: f64,
    pub max_requests: u32,
}

#[derive(Debug, Clone)]
struct Node {
    ids: Vec<u32>,
    text: String,
    mass: f64,
}

pub(super) async fn measure(
    t: &MeasurementTarget<'_>,
    source: &Source,
    p: Params,
) -> Result<Measurement, MeasureError> {
    if t.model.api == Api::Chat {
        return Err(t.unsupported("`enumerate` needs a completions API (a chat prompt cannot be continued by tokens); use `next_token`"));
    }
    let outcomes = &t.spec.outcomes;
    let facts = source.vocabulary_facts(t.model_set, t.model, outcomes)?;
    let unavailable = unavailable_vocabulary(t, facts.is_some());
    // OpenAI's legacy completions take token-array prompts but name top tokens by text: with
    // the model's tiktoken encoding the prompt is encoded here and each child's id is the
    // viable token of its bytes, so prefixes are extended by ids there too.
    let prompt_ids = match (&t.model.provider, &t.model.tokenizer) {
        (
            Provider::Openai,
            Some(TokenizerSpec {
                kind: TokenizerKind::Tiktoken,
                encoding: Some(enc),
                ..
            }),
        ) if facts.is_some() => crate::vocab::encode_tiktoken(enc, &t.prompt.text)
            .ok_or_else(|| t.unsupported(format!("unknown tiktoken encoding `{enc}`")))?,
        (Provider::Vllm, _) => {
            return Err(t.unsupported(
                "`enumerate` on vLLM needs the prompt as token ids, and this build encodes \
                 prompts only for tiktoken encodings; use `next_token` or `sample`",
            ));
        }
        _ => Vec::new(),
    };
    let by_ids = t.model.provider.takes_token_ids() || !prompt_ids.is_empty();
    let mut lower = vec![0.0; outcomes.len()];
    let mut chunks = Vec::new();
    // Mass known to become no outcome; kept so that resolved + no outcome + unresolved = 1
    // can be checked on every real tree.
    let mut dead = 0.0;
    let mut log = FetchLog::default();
    let mut frontier = vec![Node {
        ids: Vec::new(),
        text: String::new(),
        mass: 1.0,
    }];
    let mut requests = 0u32;
    let unresolved = |node: &Node, mass: f64, chunks: &mut Vec<Chunk>, dead: &mut f64| {
        let reach = outcomes.reachable(&node.text);
        if reach.is_empty() {
            *dead += mass;
        } else if mass > 0.0 {
            chunks.push(Chunk { mass, reach });
        }
    };
    while !frontier.is_empty() {
        // Most probable first, so that a request budget cuts the least mass; ties by
        // continuation so that the order (and the recordings) are deterministic.
        frontier.sort_by(|a, b| {
            b.mass
                .total_cmp(&a.mass)
                .then_with(|| a.ids.cmp(&b.ids))
                .then_with(|| a.text.cmp(&b.text))
        });
        let room = (p.max_requests - requests) as usize;
        for node in frontier.split_off(room.min(frontier.len())) {
            unresolved(&node, node.mass, &mut chunks, &mut dead);
        }
        let level: Vec<(Node, Request)> = frontier
            .drain(..)
            .map(|node| {
                // Top-k in proportion to the node's mass: the unseen mass a node leaves is its
                // mass times its tail, so heavy nodes (the root, " ", " 0") get long lists and the
                // ninety light two-digit nodes short ones. Deterministic, so replays match.
                let k = ((f64::from(p.root_top_k) * node.mass).ceil() as u32)
                    .clamp(p.top_k.min(p.root_top_k), p.root_top_k);
                let req = LogprobRequest {
                    api: t.model.api,
                    model: t.model.model.clone(),
                    prompt: t.prompt.text.clone(),
                    prompt_ids: prompt_ids.clone(),
                    continuation_ids: node.ids.clone(),
                    continuation_text: if by_ids {
                        String::new()
                    } else {
                        node.text.clone()
                    },
                    top_k: k
                        .max(t.model.enumerate_min_top_k.unwrap_or(0))
                        .min(t.model.max_top_logprobs),
                    lora: t.model.lora.clone(),
                };
                (node, Request::Logprobs(req))
            })
            .collect();
        requests += level.len() as u32;
        let fetched: Vec<_> = futures::stream::iter(
            level
                .iter()
                .map(|(_, req)| source.fetch(t.model_set, t.model, req)),
        )
        .buffered(t.model.concurrency.max(1) as usize)
        .collect()
        .await;
        source.flush()?;
        let mut next = Vec::new();
        for ((node, req), result) in level.into_iter().zip(fetched) {
            let fetched = result.map_err(|e| t.fail(e))?;
            log.note(&fetched);
            let listed = &fetched.logprobs().tokens;
            let mut seen = 0.0;
            for tok in listed {
                let prob = tok.logprob.exp();
                seen += prob;
                let mass = node.mass * prob;
                // A token that ends generation, or (with a vocabulary) one that is not viable,
                // does what ending here does; an id-only token's text comes from the facts.
                let text = match (tok.ends_generation(), tok.is_id_only(), &facts) {
                    (true, _, _) => None,
                    (false, false, _) => Some(tok.text.clone()),
                    (false, true, Some(f)) => {
                        tok.id.and_then(|id| f.by_id(id)).map(|v| v.text.clone())
                    }
                    (false, true, None) => {
                        return Err(t.unsupported(
                            "the server reports tokens by id only; declare the model's \
                             `tokenizer:` so that their texts are known",
                        ));
                    }
                };
                let Some(text) = text else {
                    match outcomes.classify_end(&node.text) {
                        Some(n) => lower[n] += mass,
                        None => dead += mass,
                    }
                    continue;
                };
                // A child's id: the server's, or that of the viable token of its bytes.
                let id = tok
                    .id
                    .or_else(|| facts.as_ref()?.by_bytes(tok.exact_bytes()?).map(|v| v.id));
                let child = Node {
                    ids: if by_ids {
                        [node.ids.as_slice(), &[id.unwrap_or_default()]].concat()
                    } else {
                        Vec::new()
                    },
                    text: format!("{}{text}", node.text),
                    mass,
                };
                match outcomes.classify(&child.text) {
                    PrefixState::Complete(n) => lower[n] += mass,
                    PrefixState::Dead => dead += mass,
                    PrefixState::Open if mass > 0.0 && mass >= p.min_mass => next.push(child),
                    PrefixState::Open => unresolved(&child, mass, &mut chunks, &mut dead),
                }
            }
            let unseen = (1.0 - seen).max(0.0) * node.mass;
            let Some(facts) = &facts else {
                unresolved(&node, unseen, &mut chunks, &mut dead);
                continue;
            };
            let asked = match &req {
                Request::Logprobs(r) => r.top_k as usize,
                Request::Sample(_) => unreachable!("enumerate asks for logprobs"),
            };
            let split = split_unseen(
                outcomes, &node.text, listed, asked, facts, node.mass, unseen,
            );
            match outcomes.classify_end(&node.text) {
                Some(n) => lower[n] += split.ends,
                None => dead += split.ends,
            }
            if split.reach.is_empty() {
                dead += split.capped;
            } else if split.capped > 0.0 {
                chunks.push(Chunk {
                    mass: split.capped,
                    reach: split.reach,
                });
            }
        }
        frontier = next;
    }
    let bounds = MassBounds { lower, chunks };
    let mut m = Measurement::from_bounds("enumerate", &bounds, dead, &log);
    m.warnings.extend(unavailable);
    Ok(m)
}

/// The warning for a model that declares a tokenizer whose facts are neither recorded nor
/// loadable here (its path variable unset): the figures are the bounds without a vocabulary.
pub(super) fn unavailable_vocabulary(
    t: &MeasurementTarget<'_>,
    have_facts: bool,
) -> Option<String> {
    let spec = t.model.tokenizer.as_ref().filter(|_| !have_facts)?;
    Some(match &spec.path_env {
        Some(var) => format!(
            "the declared tokenizer is not available (`{var}` is not set) and no facts are \
             recorded: bounds without the vocabulary, wider than they need be"
        ),
        None => "the declared tokenizer is not available: bounds without the vocabulary".into(),
    })
}

/// How a node's unseen mass divides once the vocabulary is known.
#[derive(Debug, Clone, PartialEq)]
struct UnseenSplit {
    /// Mass that provably does what ending generation at the node would (every unlisted
    /// token but the viable ones has that effect).
    ends: f64,
    /// Mass that may be on unlisted viable tokens: at most their count times the smallest
    /// listed probability (a token outside the top-k is no more probable than any inside it).
    capped: f64,
    /// What the capped mass may become: the node's own outcome if it ends there, and whatever
    /// the unlisted viable tokens reach. It may also become no outcome.
    reach: Vec<usize>,
}

/// Splits the `unseen` mass (absolute) of the node with text `text`, whose response listed
/// `listed` where `asked` tokens were asked for, given the vocabulary's `viable` tokens.
///
/// Why it is sound: every unlisted token is viable, a killer of this prefix (counted in the
/// facts, sent to no outcome), or inert at the node (its effect is that of ending generation:
/// [`crate::vocab::Vocabulary::viable`]); each
/// unlisted token has probability at most the smallest listed one, `p_min`, when the server
/// lists the true top tokens. So the unlisted viable tokens hold at most `c · p_min` of the
/// node's probability (`c` their count) and the rest of the unseen mass ends. Without ids
/// (servers that extend prefixes by text), a listed text removes one viable token of those
/// bytes from the count, never more, so `c` can only be over-counted. When the server lists
/// fewer tokens than asked the list may not be the top tokens of the whole vocabulary, so no
/// cap is taken and every unlisted viable token may hold all of the unseen mass.
fn split_unseen(
    outcomes: &OutcomeSet,
    text: &str,
    listed: &[TopToken],
    asked: usize,
    facts: &OutcomeFacts,
    node_mass: f64,
    unseen: f64,
) -> UnseenSplit {
    let end = outcomes.classify_end(text);
    let (remaining, not_viable) = facts.unlisted(listed);
    // Tokens that kill this prefix (not viable): their number, less those listed here.
    let listed_killers = not_viable
        .iter()
        .filter(|tok| {
            end.is_some()
                && !tok.ends_generation()
                && !tok.is_id_only()
                && outcomes.classify(&format!("{text}{}", tok.text)) == PrefixState::Dead
        })
        .count();
    let killers = facts
        .killers
        .get(text)
        .copied()
        .unwrap_or(0)
        .saturating_sub(listed_killers);
    // Only the unlisted viable tokens that are not inert at this node matter here.
    let mut reach: Vec<usize> = end.into_iter().collect();
    let mut count = 0usize;
    for v in remaining {
        let state = outcomes.classify(&format!("{text}{}", v.text));
        let inert = match end {
            Some(n) => state == PrefixState::Complete(n),
            None => state == PrefixState::Dead,
        };
        if inert {
            continue;
        }
        count += 1;
        match state {
            PrefixState::Complete(n) => reach.push(n),
            PrefixState::Open => reach.extend(outcomes.reachable(&format!("{text}{}", v.text))),
            PrefixState::Dead => {}
        }
    }
    count += killers;
    reach.sort_unstable();
    reach.dedup();
    let p_min = listed
        .iter()
        .map(|t| t.logprob.exp())
        .fold(f64::INFINITY, f64::min);
    let capped = if count == 0 {
        0.0
    } else if listed.len() < asked || !p_min.is_finite() {
        unseen
    } else {
        // Each unlisted token holds at most p_min of the node's mass.
        (count as f64 * p_min * node_mass).min(unseen)
    };
    UnseenSplit {
        ends: (unseen - capped).max(0.0),
        capped,
        reach,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::IntegerRange;
    use crate::stats::{entropy_nats, normalized};
    use crate::vocab::{TokenBytes, Vocabulary, VocabularySource};

    /// A synthetic full-vocabulary model (unit test data, not a real model): every token has a
    /// probability at every context, from a seeded hash of the context, skewed so that some
    /// viable tokens rank low (as gemma's byte-fallback digits do).
    struct Synthetic {
        tokens: Vec<&'static str>,
        seed: u64,
    }

    impl Synthetic {
        fn probs(&self, context: &str) -> Vec<f64> {
            let mut h = self.seed ^ 0x9e37_79b9_7f4a_7c15;
            for b in context.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            let w: Vec<f64> = (0..self.tokens.len())
                .map(|i| {
                    h = h
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let u = (h >> 11) as f64 / (1u64 << 53) as f64;
                    // Later tokens (the duplicates) are rarer.
                    (4.0 * u - 0.4 * i as f64).exp()
                })
                .collect();
            let z: f64 = w.iter().sum();
            w.into_iter().map(|x| x / z).collect()
        }
    }

    /// The exact P(N) by full recursion over every token (the empty token ends generation).
    fn exact(m: &Synthetic, o: &OutcomeSet, text: &str, mass: f64, p: &mut [f64]) {
        for (t, q) in m.tokens.iter().zip(m.probs(text)) {
            let mass = mass * q;
            if t.is_empty() {
                if let Some(n) = o.classify_end(text) {
                    p[n] += mass;
                }
                continue;
            }
            let child = format!("{text}{t}");
            match o.classify(&child) {
                PrefixState::Complete(n) => p[n] += mass,
                PrefixState::Dead => {}
                PrefixState::Open => exact(m, o, &child, mass, p),
            }
        }
    }

    /// The enumeration's fold with a top-k responder and the vocabulary's facts.
    fn enumerate_synthetic(
        m: &Synthetic,
        o: &OutcomeSet,
        facts: &OutcomeFacts,
        k: usize,
    ) -> MassBounds {
        let mut lower = vec![0.0; o.len()];
        let mut chunks = Vec::new();
        let mut frontier = vec![(String::new(), 1.0)];
        while let Some((text, mass)) = frontier.pop() {
            let mut ranked: Vec<(usize, f64)> = m.probs(&text).into_iter().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
            ranked.truncate(k);
            let listed: Vec<TopToken> = ranked
                .iter()
                .map(|&(i, q)| TopToken::new(Some(i as u32), m.tokens[i], q.ln()))
                .collect();
            let mut seen = 0.0;
            for tok in &listed {
                let q = tok.logprob.exp();
                seen += q;
                if tok.ends_generation() {
                    if let Some(n) = o.classify_end(&text) {
                        lower[n] += mass * q;
                    }
                    continue;
                }
                let child = format!("{text}{}", tok.text);
                match o.classify(&child) {
                    PrefixState::Complete(n) => lower[n] += mass * q,
                    PrefixState::Dead => {}
                    PrefixState::Open => frontier.push((child, mass * q)),
                }
            }
            let unseen = (1.0 - seen).max(0.0) * mass;
            let split = split_unseen(o, &text, &listed, k, facts, mass, unseen);
            if let Some(n) = o.classify_end(&text) {
                lower[n] += split.ends;
            }
            if !split.reach.is_empty() && split.capped > 0.0 {
                chunks.push(Chunk {
                    mass: split.capped,
                    reach: split.reach,
                });
            }
        }
        MassBounds { lower, chunks }
    }

    #[test]
    fn vocabulary_bounds_contain_the_truth_of_synthetic_full_vocabulary_models() {
        let o = OutcomeSet::Integers(IntegerRange {
            prefix: " ".into(),
            lo: 0,
            hi: 20,
        });
        // "", " ", digits, words, and rare duplicates of digits (like byte-fallback tokens).
        let tokens = vec![
            "", " ", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ".", " the", "x", " 1",
            "  ", "2", "7", "1",
        ];
        let vocab = Vocabulary::new(
            VocabularySource::HfJson,
            tokens
                .iter()
                .map(|t| {
                    if t.is_empty() {
                        TokenBytes::Special
                    } else {
                        TokenBytes::Bytes(t.as_bytes().to_vec())
                    }
                })
                .collect(),
        );
        let facts = vocab.viable(&o);
        let mut widths = Vec::new();
        for seed in 0..60 {
            let m = Synthetic {
                tokens: tokens.clone(),
                seed,
            };
            let mut truth = vec![0.0; o.len()];
            exact(&m, &o, "", 1.0, &mut truth);
            let h = entropy_nats(&normalized(&truth));
            let cov: f64 = truth.iter().sum();
            for k in [4, 8, 14, 20] {
                let b = enumerate_synthetic(&m, &o, &facts, k);
                let (e, c) = (b.entropy(), b.coverage());
                assert!(
                    e.low - 1e-9 <= h && h <= e.high + 1e-9,
                    "seed {seed} k {k}: H {h} not in {e:?}"
                );
                assert!(
                    c.low - 1e-12 <= cov && cov <= c.high + 1e-12,
                    "seed {seed} k {k}: {cov} {c:?}"
                );
                for (n, s) in b.shares().iter().enumerate() {
                    let q = truth[n] / cov;
                    assert!(
                        s.low - 1e-9 <= q && q <= s.high + 1e-9,
                        "seed {seed} k {k} outcome {n}"
                    );
                }
                if k == tokens.len() {
                    // Every token listed: the figures are exact.
                    assert!(e.high - e.low < 1e-8, "seed {seed}: {e:?}");
                }
                widths.push((k, e.high - e.low));
            }
        }
        // The bounds tighten as the lists lengthen (on average over the models).
        let mean = |k| {
            let w: Vec<f64> = widths
                .iter()
                .filter(|(kk, _)| *kk == k)
                .map(|(_, w)| *w)
                .collect();
            w.iter().sum::<f64>() / w.len() as f64
        };
        assert!(
            mean(4) >= mean(14) && mean(14) >= mean(20),
            "{} {} {}",
            mean(4),
            mean(14),
            mean(20)
        );
    }
}
