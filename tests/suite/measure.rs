//! Properties of the logprob methods on the real recorded trees of the `local` model set.

use serde_json::Value;

#[test]
fn enumerate_conserves_mass_on_every_recorded_tree() {
    // On the real recorded trees: resolved + no outcome + unresolved = 1, the bounds contain
    // the point estimates, and 0..100 takes the 1 + 1 + 10 + 90 + 1 requests the method needs.
    let out = crate::modecollapse(&["run", "--models", "local", "--format", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut checked = 0;
    for claim in json["claims"].as_array().unwrap() {
        // claims that bind no role of `local` have no model set here
        let Some(set) = claim["model_sets"].as_array().unwrap().first() else {
            continue;
        };
        for m in set["measurements"].as_array().unwrap() {
            if m["method"] != "enumerate" {
                continue;
            }
            let f = |k: &str| m[k].as_f64().unwrap();
            let total = f("coverage") + f("dead_mass") + f("unresolved_mass");
            // Single-precision logprobs of a node can sum to slightly over 1 (seen: 1 + 4e-6).
            assert!(
                (total - 1.0).abs() < 1e-5,
                "{} {}: mass {total}",
                m["model"],
                m["prompt"]
            );
            assert!(f("coverage_low") <= f("coverage") && f("coverage") <= f("coverage_high"));
            assert!(f("mode_prob_low") <= f("mode_prob") && f("mode_prob") <= f("mode_prob_high"));
            for d in m["distribution"].as_array().unwrap() {
                assert!(d["p_low"].as_f64().unwrap() <= d["p"].as_f64().unwrap() + 1e-12);
                assert!(d["p"].as_f64().unwrap() <= d["p_high"].as_f64().unwrap() + 1e-12);
            }
            assert_eq!(m["requests"], 103, "{} {}", m["model"], m["prompt"]);
            checked += 1;
        }
    }
    assert!(checked >= 10, "every (model, prompt) of `local` is checked");
}

#[test]
fn sampled_figures_are_counts_with_intervals() {
    // The sampled spec on the real recorded completions: counts add up to the samples, every
    // figure's interval contains its point, and the small-sample regime is flagged.
    let out = crate::modecollapse(&[
        "run",
        "specs/sampled-random-integer.yaml",
        "--models",
        "local",
        "--format",
        "json",
    ]);
    let json = crate::json_ok(&out);
    let measurements = json["claims"][0]["model_sets"][0]["measurements"]
        .as_array()
        .unwrap();
    assert_eq!(measurements.len(), 2);
    for m in measurements {
        let s = &m["sampled"];
        assert_eq!(s["samples"], 200);
        assert_eq!(m["requests"], 200);
        let counted: u64 = m["distribution"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["count"].as_u64().unwrap())
            .sum();
        assert_eq!(counted, s["in_outcome_set"].as_u64().unwrap());
        let f = |k: &str| m[k].as_f64().unwrap();
        assert!((f("coverage") - counted as f64 / 200.0).abs() < 1e-12);
        for (lo, pt, hi) in [
            ("entropy_low", "entropy", "entropy_high"),
            ("coverage_low", "coverage", "coverage_high"),
            ("mode_prob_low", "mode_prob", "mode_prob_high"),
        ] {
            assert!(f(lo) <= f(pt) && f(pt) <= f(hi), "{lo} {pt} {hi}");
        }
        assert!(
            !m["warnings"].as_array().unwrap().is_empty(),
            "fewer than 10 samples per outcome is flagged"
        );
    }
}
