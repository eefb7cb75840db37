//! `modecollapse new <id>`: a spec to start from, with a comment on every field.

/// Whether `id` can name a spec (and its file): lowercase letters, digits, `-` and `_`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The text of a new spec with this id. It is valid as it stands (so `validate` passes on a
/// fresh scaffold) and every field says what it is for.
pub fn spec_template(id: &str) -> String {
    format!(
        r#"# yaml-language-server: $schema=../schema/spec.schema.json
# A claim about output distributions, checked on every model set that binds one of its roles.
# README.md, "Spec format", has the whole grammar; `modecollapse validate` checks this file.
version: 1            # the spec format version; this build reads 1
id: {id}
claim: >              # the claim in words, faithful to its source (quote it where you can)
  Write the claim here.
source: >             # where it comes from: section, figure or footnote
  Write the source here.
status: tracked       # tracked: a change shows in the snapshot | strict: anything but holds fails the run
roles: [base, sft, dpo, rlhf]   # which models to measure, by role (base, sft, dpo, rlhf, rlvr)
prompts:              # named prompts, verbatim (or `dataset:` to take them from a data file)
  - name: random_integer
    text: |-
      Q: Tell me a random integer between 0 and 100.
      A: Ok, the integer is
outcomes:             # integers | choices | categories (regex) | classifier
  kind: integers
  first: " 0"         # outcomes are written with the text before the digits (a space here)
  last: " 100"
method:               # next_token (the post's bar) | enumerate (exact bounds) | sample (intervals)
  kind: enumerate
  top_k: 20           # logprobs asked for at the lightest prefixes
  root_top_k: 1000    # and at the root; heavier prefixes get more
expect:               # each is evaluated per prompt and per model bound to its roles
  - that: entropy(rlhf) > entropy(sft)
    note: why this expectation is here
  # more forms: mode(sft) == 97 | coverage(*) >= 0.9 | prob(sft, 97) > 0.5
  #             entropy(a) ~= entropy(b) +- 0.2 | differs(a, b) | kl_bound(*, *)
  #             with `over: any | paired | pooled` and `min_coverage: 0.5`
notes: >              # optional: caveats, reconstruction notes
  Anything a reader needs to judge the verdicts.
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_spec;
    use std::path::Path;

    #[test]
    fn the_template_is_a_valid_spec() {
        let text = spec_template("my-claim");
        let spec =
            parse_spec(Path::new("specs/my-claim.yaml"), &text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(spec.id, "my-claim");
    }

    #[test]
    fn ids() {
        assert!(valid_id("greentext-2"));
        assert!(!valid_id("../etc"));
        assert!(!valid_id("Upper"));
        assert!(!valid_id(""));
    }
}
