//! `--format junit`: the run as JUnit XML for CI systems (JSON stays the machine interface).
//!
//! One `<testsuite>` per claim, one `<testcase>` per (model set, expectation). A strict claim's
//! expectation that is refuted or inconclusive is a `<failure>` (as it fails the run's exit
//! code); not-applicable and unavailable ones are `<skipped>`; a tracked claim's verdict never
//! fails, and every verdict is in the test case's `<system-out>`. Not-testable claims are a
//! suite of skipped cases with their reasons.

use super::markup::esc;
use crate::run::RunResult;
use crate::spec::ClaimStatus;
use crate::verdict::Verdict;
use std::fmt::Write;

/// Renders the run as JUnit XML.
pub fn to_junit(result: &RunResult) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut skipped) = (0usize, 0usize, 0usize);
    for c in &result.claims {
        let strict = c.spec.status == ClaimStatus::Strict;
        let mut cases = String::new();
        let (mut t, mut f, mut s) = (0usize, 0usize, 0usize);
        for set in &c.model_sets {
            for e in &set.expectations {
                t += 1;
                let _ = write!(
                    cases,
                    "    <testcase classname=\"{}.{}\" name=\"{}\">",
                    esc(&c.spec.id),
                    esc(&set.model_set),
                    esc(&e.that)
                );
                let why = e.reason.as_deref().unwrap_or("");
                match e.verdict {
                    Verdict::NotApplicable | Verdict::Unavailable => {
                        s += 1;
                        let _ = write!(
                            cases,
                            "<skipped message=\"{}: {}\"/>",
                            e.verdict.as_str(),
                            esc(why)
                        );
                    }
                    Verdict::Refuted | Verdict::Inconclusive if strict => {
                        f += 1;
                        let rules: Vec<&str> = e
                            .instances
                            .iter()
                            .map(|i| i.evidence.rule.as_str())
                            .collect();
                        let _ = write!(
                            cases,
                            "<failure message=\"strict claim: {}\">{}</failure>",
                            e.verdict.as_str(),
                            esc(&rules.join("\n"))
                        );
                    }
                    _ => {}
                }
                let _ = writeln!(
                    cases,
                    "<system-out>verdict: {}</system-out></testcase>",
                    e.verdict.as_str()
                );
            }
        }
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{f}\" skipped=\"{s}\" errors=\"0\">",
            esc(&c.spec.id)
        );
        suites.push_str(&cases);
        suites.push_str("  </testsuite>\n");
        (tests, failures, skipped) = (tests + t, failures + f, skipped + s);
    }
    if !result.untestable.is_empty() {
        let n = result.untestable.len();
        let _ = writeln!(
            suites,
            "  <testsuite name=\"not-testable\" tests=\"{n}\" failures=\"0\" skipped=\"{n}\" errors=\"0\">"
        );
        for u in &result.untestable {
            let _ = writeln!(
                suites,
                "    <testcase classname=\"not-testable\" name=\"{}\"><skipped message=\"{}\"/></testcase>",
                esc(&u.spec.id),
                esc(u.spec.reason.trim())
            );
        }
        suites.push_str("  </testsuite>\n");
        (tests, skipped) = (tests + n, skipped + n);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"modecollapse\" tests=\"{tests}\" \
         failures=\"{failures}\" skipped=\"{skipped}\" errors=\"0\">\n{suites}</testsuites>\n"
    )
}
