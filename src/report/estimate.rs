//! `modecollapse estimate`: every entropy estimator with its interval for a count vector —
//! for a researcher checking a number by hand, and the form the docs use for examples.

use crate::stats::estimators::{Estimator, nsb};
use crate::stats::intervals::{bootstrap_interval, delta_method_plug_in};
use crate::stats::two_sample::{StandardError, entropy_with_error};
use serde_json::{Value, json};
use statrs::distribution::{ContinuousCDF, Normal};
use std::fmt::Write;

/// Settings of an estimate.
#[derive(Debug, Clone, Copy)]
pub struct EstimateOptions {
    /// Outcome-set size (at least the number of counts given).
    pub k: usize,
    /// Confidence level.
    pub level: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Bootstrap seed.
    pub seed: u64,
}

/// Every estimator with its intervals, as JSON (the `--format json` form).
pub fn estimate_json(counts: &[u64], o: EstimateOptions) -> Result<Value, String> {
    let n: u64 = counts.iter().sum();
    let z = Normal::standard().inverse_cdf(0.5 + o.level / 2.0);
    let ln_k = (o.k as f64).ln();
    // The outcomes not given have count zero: the augmented population needs all k.
    let mut padded = counts.to_vec();
    padded.resize(o.k.max(counts.len()), 0);
    let mut rows = Vec::new();
    for e in Estimator::ALL {
        let stat = |c: &[u64]| e.estimate(c, o.k).unwrap_or(f64::NAN);
        let boot = bootstrap_interval(counts, &stat, o.resamples, o.seed, o.level)
            .map_err(|e| e.to_string())?;
        let mut row = json!({
            "estimator": e.as_str(),
            "estimate": boot.estimate,
            "bca": [boot.bca.0, boot.bca.1],
            "percentile": [boot.percentile.0, boot.percentile.1],
        });
        let with_error = entropy_with_error(
            &padded,
            e,
            StandardError::Augmented {
                resamples: o.resamples,
                seed: o.seed,
            },
        )
        .map_err(|e| e.to_string())?;
        row["standard_error"] = json!(with_error.standard_error);
        row["augmented"] = json!([
            (with_error.estimate - z * with_error.standard_error).max(0.0),
            (with_error.estimate + z * with_error.standard_error).min(ln_k)
        ]);
        if e == Estimator::Nsb {
            let post = nsb(counts, o.k).map_err(|e| e.to_string())?;
            row["posterior_sd"] = json!(post.std);
            row["posterior"] = json!([
                (post.mean - z * post.std).max(0.0),
                (post.mean + z * post.std).min(ln_k)
            ]);
        }
        if e == Estimator::PlugIn {
            let d = delta_method_plug_in(counts, o.level).map_err(|e| e.to_string())?;
            row["delta_method"] = json!([d.interval.0, d.interval.1]);
        }
        rows.push(row);
    }
    Ok(json!({
        "counts": counts,
        "n": n,
        "k": o.k,
        "level": o.level,
        "resamples": o.resamples,
        "seed": o.seed,
        "default_estimator": Estimator::default_for(n, o.k).as_str(),
        "unit": "nats",
        "estimators": rows,
    }))
}

/// The same as a table for people.
pub fn estimate_table(v: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "N = {}, K = {}, {:.0}% intervals, {} bootstrap resamples (seed {}); entropy in nats",
        v["n"],
        v["k"],
        v["level"].as_f64().unwrap_or(0.0) * 100.0,
        v["resamples"],
        v["seed"]
    );
    let _ = writeln!(
        out,
        "{:<14} {:>9}  {:<22} {:<22} {:<22} other",
        "estimator", "estimate", "BCa", "percentile", "augmented"
    );
    let pair = |x: &Value| {
        format!(
            "[{:.4}, {:.4}]",
            x[0].as_f64().unwrap_or(f64::NAN),
            x[1].as_f64().unwrap_or(f64::NAN)
        )
    };
    for r in v["estimators"].as_array().into_iter().flatten() {
        let other = if r.get("posterior").is_some() {
            format!(
                "posterior {} (sd {:.4})",
                pair(&r["posterior"]),
                r["posterior_sd"].as_f64().unwrap_or(f64::NAN)
            )
        } else if r.get("delta_method").is_some() {
            format!("delta method {}", pair(&r["delta_method"]))
        } else {
            String::new()
        };
        let line = format!(
            "{:<14} {:>9.4}  {:<22} {:<22} {:<22} {other}",
            r["estimator"].as_str().unwrap_or("?"),
            r["estimate"].as_f64().unwrap_or(f64::NAN),
            pair(&r["bca"]),
            pair(&r["percentile"]),
            pair(&r["augmented"])
        );
        // Rows without an "other" interval would end in padding.
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "default for this N and K: {}",
        v["default_estimator"].as_str().unwrap_or("?")
    );
    out
}
