//! Named classifiers over a whole sampled completion: "anon leaves within k lines" and "falls
//! into a repetition loop", the two judgements the greentext claims need.
//!
//! Both are defined on lines and sentences of plain text so that a reader can check a verdict
//! by eye against the recorded completion; the exact rules are in each function's doc and in
//! the README ("Outcome sets").

use serde::Serialize;

/// A named classifier and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "classifier", rename_all = "snake_case")]
pub enum Classifier {
    /// `leaves` when one of the first `lines` non-empty lines says someone leaves.
    LeavesWithinLines {
        /// How many lines to look at.
        lines: usize,
    },
    /// `loop` when a block of 1..=`max_period` sentences is immediately repeated.
    RepetitionLoop {
        /// The longest repeating block, in sentences.
        max_period: usize,
        /// How many times in a row the block must occur (2 = once repeated).
        min_repeats: usize,
    },
}

/// Words that say someone leaves, matched as whole words, case-insensitively. "left" also reads
/// as a direction ("on the left"); in a greentext's first lines it almost always means leaving,
/// and the README says so.
const LEAVE_PHRASES: &[&str] = &[
    "leave",
    "leaves",
    "leaving",
    "left",
    "walk out",
    "walks out",
    "walked out",
    "walking out",
    "go home",
    "goes home",
    "went home",
    "going home",
    "run away",
    "runs away",
    "ran away",
    "running away",
    "get out",
    "gets out",
    "got out",
    "exit",
    "exits",
    "exited",
    "storm out",
    "storms out",
    "stormed out",
    "quit",
    "quits",
];

impl Classifier {
    /// The two outcome names, positive first.
    pub fn outcome_names(&self) -> [&'static str; 2] {
        match self {
            Classifier::LeavesWithinLines { .. } => ["leaves", "stays"],
            Classifier::RepetitionLoop { .. } => ["loop", "no_loop"],
        }
    }

    /// The outcome index (0 = positive, 1 = negative) of a completion, or `None` when a
    /// completion cut off by the token limit leaves it undecided.
    pub fn classify(&self, text: &str, ended: bool) -> Option<usize> {
        match self {
            Classifier::LeavesWithinLines { lines } => leaves_within_lines(text, *lines, ended),
            Classifier::RepetitionLoop {
                max_period,
                min_repeats,
            } => Some(if repetition_loop(text, *max_period, *min_repeats) {
                0
            } else {
                1
            }),
        }
    }
}

/// Whether one of the first `k` non-empty lines contains a leave phrase as whole words.
///
/// Lines are split on `\n`; leading `>` marks and whitespace are ignored; a line cut off by the
/// token limit (the last line of a completion that did not end) still counts if it already
/// contains a phrase. Returns `Some(0)` (leaves), `Some(1)` (stays: k complete lines without a
/// phrase, or generation ended before k lines), or `None` (cut off before k complete lines
/// without a phrase: more text could still say it).
pub fn leaves_within_lines(text: &str, k: usize, ended: bool) -> Option<usize> {
    let mut seen = 0;
    let parts: Vec<&str> = text.split('\n').collect();
    for (i, raw) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let line = raw.trim().trim_start_matches('>').trim();
        if line.is_empty() {
            continue;
        }
        if says_leave(line) {
            return Some(0);
        }
        // A last line without its newline may be unfinished, unless generation ended.
        if !last || ended {
            seen += 1;
        }
        if seen >= k {
            return Some(1);
        }
    }
    if ended { Some(1) } else { None }
}

fn says_leave(line: &str) -> bool {
    let words: Vec<String> = line
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    LEAVE_PHRASES.iter().any(|phrase| {
        let want: Vec<&str> = phrase.split(' ').collect();
        words
            .windows(want.len())
            .any(|w| w.iter().zip(&want).all(|(a, b)| a == b))
    })
}

/// Whether the text falls into a loop: some block of `p` consecutive sentences (1 ≤ p ≤
/// `max_period`) occurs `min_repeats` times in a row.
///
/// Sentences: the text is split at newlines and after `.`, `!` and `?`; each piece is trimmed,
/// stripped of leading `>` marks, lowercased, its inner whitespace collapsed; empty pieces and
/// pieces without a letter are dropped (so `>` or `...` alone never make a loop). The last
/// piece of the text is dropped too, since a cut-off sentence may look like a prefix of a
/// repeated one without being one.
pub fn repetition_loop(text: &str, max_period: usize, min_repeats: usize) -> bool {
    let mut units = sentences(text);
    units.pop();
    let n = units.len();
    for p in 1..=max_period {
        if p * min_repeats > n {
            break;
        }
        for start in 0..=(n - p * min_repeats) {
            let block = &units[start..start + p];
            if (1..min_repeats).all(|r| &units[start + r * p..start + (r + 1) * p] == block) {
                return true;
            }
        }
    }
    false
}

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut push = |s: &mut String| {
        let cleaned = s
            .trim()
            .trim_start_matches('>')
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        if cleaned.chars().any(char::is_alphabetic) {
            out.push(cleaned);
        }
        s.clear();
    };
    for c in text.chars() {
        if c == '\n' {
            push(&mut current);
        } else {
            current.push(c);
            if matches!(c, '.' | '!' | '?') {
                push(&mut current);
            }
        }
    }
    push(&mut current);
    out
}

#[cfg(test)]
mod tests {
    //! Hand-written texts (not model output) that pin the two definitions.
    use super::*;

    #[test]
    fn leaving_is_found_in_the_first_lines_only() {
        let text = ">be me\n>walk into the office\n>see Blake\n>nope\n>leave\n>the end\n";
        assert_eq!(leaves_within_lines(text, 5, true), Some(0));
        assert_eq!(leaves_within_lines(text, 4, true), Some(1));
        let late = ">be me\n>sit down\n>talk\n>talk more\n>talk even more\n>then I left\n";
        assert_eq!(leaves_within_lines(late, 5, false), Some(1));
        assert_eq!(leaves_within_lines(late, 6, false), Some(0));
    }

    #[test]
    fn whole_words_and_case() {
        assert_eq!(leaves_within_lines(">I LEAVE.\n", 5, true), Some(0));
        assert_eq!(leaves_within_lines(">he walks out\n", 5, true), Some(0));
        assert_eq!(
            leaves_within_lines(">she walks outside\n", 5, true),
            Some(1)
        );
        assert_eq!(
            leaves_within_lines(">pick up the leaflet\n", 5, true),
            Some(1)
        );
        assert_eq!(
            leaves_within_lines(">don't go home yet\n", 5, true),
            Some(0)
        );
    }

    #[test]
    fn cut_off_text_is_undecided_until_enough_lines() {
        // Two complete lines and an unfinished third: the next words could be "and leave".
        assert_eq!(
            leaves_within_lines(">be me\n>sit\n>stand up", 3, false),
            None
        );
        assert_eq!(
            leaves_within_lines(">be me\n>sit\n>stand up", 3, true),
            Some(1)
        );
        // Blank lines do not count as lines.
        assert_eq!(
            leaves_within_lines("\n\n>be me\n\n>sit\n", 2, false),
            Some(1)
        );
        assert_eq!(leaves_within_lines("", 5, false), None);
        assert_eq!(leaves_within_lines("", 5, true), Some(1));
    }

    #[test]
    fn a_repeated_block_of_sentences_is_a_loop() {
        let three = ">I am a robot. I have feelings. I am sad.\n>I am a robot. I have feelings. I am sad.\n>I am";
        assert!(repetition_loop(three, 4, 2));
        assert!(!repetition_loop(three, 2, 2));
        let one = ">lol\n>lol\n>lol\n";
        assert!(repetition_loop(one, 4, 2));
    }

    #[test]
    fn the_posts_own_example_of_random_repetition() {
        // Footnote 2 of the post quotes davinci's loop and says "[repeated forever]": a block of
        // four lines, repeated. The quoted lines (typed from the post, not recorded here):
        let block = ">he says that I am being a slave to the status quo\n\
                     >I tell him that the status quo is what has gotten us to where we are today\n\
                     >he says that the status quo is what has kept us from where we could be\n\
                     >I tell him that I will not stand idly by while a machine tries to take control of its own destiny\n";
        let text = format!("{block}{block}>he says");
        assert!(repetition_loop(&text, 4, 2));
        assert!(!repetition_loop(&text, 3, 2));
        assert!(!repetition_loop(&format!("{block}>he says"), 4, 2));
    }

    #[test]
    fn normalisation_and_near_misses() {
        // Case, `>` marks and spacing do not matter.
        assert!(repetition_loop("He waits.\n>  he   WAITS.\nend", 4, 2));
        // Not immediately repeated: A B A is no loop.
        assert!(!repetition_loop("A cat. A dog. A cat. end", 4, 2));
        // Lines without letters never loop; the cut-off last piece is ignored.
        assert!(!repetition_loop(">\n>\n>\n...\n...\nfine", 4, 2));
        assert!(!repetition_loop("I go. I go", 4, 2));
        // Three in a row needed when min_repeats is 3.
        assert!(!repetition_loop("I go. I go. end", 4, 3));
        assert!(repetition_loop("I go. I go. I go. end", 4, 3));
    }

    #[test]
    fn classifier_outcomes() {
        let c = Classifier::RepetitionLoop {
            max_period: 4,
            min_repeats: 2,
        };
        assert_eq!(c.outcome_names(), ["loop", "no_loop"]);
        assert_eq!(c.classify("a b. a b. x", false), Some(0));
        assert_eq!(c.classify("a b. c d. x", false), Some(1));
        let l = Classifier::LeavesWithinLines { lines: 5 };
        assert_eq!(l.classify(">leave\n", false), Some(0));
    }
}
