//! `modecollapse report`: the page and its figures from the committed recordings, byte-stable.

use std::path::Path;

fn report(out: &Path) -> std::process::Output {
    crate::modecollapse(&[
        "report",
        "--models",
        "local",
        "--out",
        out.to_str().expect("a UTF-8 temporary path"),
    ])
}

/// The report over the current recordings and the committed version `local@parallel2`.
fn report_two_versions(out: &Path) -> std::process::Output {
    crate::modecollapse(&[
        "report",
        "--models",
        "local",
        "--models",
        "local@parallel2",
        "--out",
        out.to_str().expect("a UTF-8 temporary path"),
    ])
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn report_writes_the_page_and_its_figures_byte_stable() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        let out = report(dir.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let index = std::fs::read_to_string(a.path().join("index.html")).unwrap();
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(&index, options).expect("the page is well-formed");
    // Every claim of the catalog, testable or not, appears by id.
    let json = crate::modecollapse(&["run", "--models", "local", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let ids: Vec<&str> = json["claims"]
        .as_array()
        .unwrap()
        .iter()
        .chain(json["not_testable"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.len() >= 15, "{ids:?}");
    for id in &ids {
        assert!(index.contains(id), "the page lacks claim {id}");
    }
    let figures: Vec<(String, Vec<u8>)> = files(a.path())
        .into_iter()
        .filter(|(p, _)| p.starts_with("figures"))
        .collect();
    assert!(figures.len() > 20, "{} figures", figures.len());
    for (path, svg) in &figures {
        assert!(path.ends_with(".svg"), "{path}");
        let name = path.trim_start_matches("figures/");
        assert!(
            index.contains(&format!("href=\"figures/{name}\"")),
            "the page links {name}"
        );
        let svg = String::from_utf8(svg.clone()).unwrap();
        roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            index.contains(svg.trim_end()),
            "{path} is inline in the page"
        );
    }
    // Self-contained: nothing is loaded (no src, no stylesheet link, no CSS url or import).
    for loader in ["src=", "<link", "url(", "@import", "<script"] {
        assert!(
            !index.contains(loader),
            "the page loads something: {loader}"
        );
    }
    assert_eq!(
        files(a.path()),
        files(b.path()),
        "two runs write the same bytes"
    );
}

#[test]
fn report_over_two_versions_draws_the_trend_byte_stable() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        let out = report_two_versions(dir.path());
        // `local@parallel2` holds three specs only: the others are "not recorded", no failure.
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let index = std::fs::read_to_string(a.path().join("index.html")).unwrap();
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(&index, options).expect("the page is well-formed");
    let trend = a
        .path()
        .join("figures")
        .join("footnote1-bash--local--trend.svg");
    let svg = std::fs::read_to_string(&trend).expect("a trend figure for footnote1-bash");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(
        index.contains(svg.trim_end()),
        "the trend is inline in the page"
    );
    // Between the claim's heading and the next claim's.
    let claim = index.find("id=\"claim-footnote1-bash\"").unwrap();
    let figure = index
        .find("href=\"figures/footnote1-bash--local--trend.svg\"")
        .unwrap();
    let next = index[claim..]
        .find("</section>\n<section class=\"claim\"")
        .unwrap()
        + claim;
    assert!(
        claim < figure && figure < next,
        "the trend sits in the claim's section"
    );
    let ticks: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("tick"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(
        ticks,
        ["local@parallel2", "local"],
        "the current recordings last"
    );
    for version in ["local@parallel2", "local"] {
        for model in ["gemma-3-270m (base)", "smollm2-135m-instruct (dpo)"] {
            let tip = format!("{model} · bash_shuf · {version}: ");
            assert!(svg.contains(&tip), "{tip} missing");
        }
    }
    assert!(index.contains("Not recorded in this version"));
    assert!(!index.contains("not tracked yet"));
    assert_eq!(
        files(a.path()),
        files(b.path()),
        "two runs write the same bytes"
    );
}

#[test]
fn report_removes_figures_a_previous_report_left() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("figures").join("stale.svg");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, "<svg/>").unwrap();
    let keep = dir.path().join("figures").join("notes.txt");
    std::fs::write(&keep, "mine").unwrap();
    let out = report(dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(!stale.exists(), "a stale figure is removed");
    assert!(keep.exists(), "only SVG files in figures/ are the report's");
}

#[test]
fn report_needs_an_output_directory() {
    let out = crate::modecollapse(&["report", "--models", "local"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
}

#[test]
fn report_draws_the_ladder_entropy_against_kl_from_the_base() {
    // Footnote 3's claim on the ladder: one point per rung, inside the band the bound allows,
    // and the table beside it with every rung of models/ladder.yaml.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let run = crate::modecollapse(&[
        "report",
        "--models",
        "ladder",
        "--out",
        out.to_str().expect("a UTF-8 temporary path"),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let svg = std::fs::read_to_string(
        out.join("figures/footnote3-kl-bounds-entropy--ladder--entropy-vs-kl.svg"),
    )
    .expect("the ladder figure is written");
    let ladder = std::fs::read_to_string(crate::root().join("models/ladder.yaml")).unwrap();
    let rungs = ladder.matches("\n  - name: ").count();
    assert_eq!(
        svg.matches("class=\"point\"").count(),
        rungs,
        "one point per rung"
    );
    assert_eq!(svg.matches("class=\"band\"").count(), 1);
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    let table = &page[page
        .find("<table class=\"ladder\">")
        .expect("the ladder table")..];
    let table = &table[..table.find("</table>").unwrap()];
    // Every row: mean entropy (with or without its bounds), mean KL, [low, high] allowed.
    let mut rows = 0;
    for row in table.split("<tr><td>").skip(1) {
        let cells: Vec<&str> = row
            .split("<td class=\"num\">")
            .skip(1)
            .map(|c| c.split('<').next().unwrap())
            .collect();
        let entropy: f64 = cells[0].split(' ').next().unwrap().parse().unwrap();
        let kl: f64 = cells[1].parse().unwrap();
        let (low, high) = cells[2]
            .trim_matches(|c| c == '[' || c == ']')
            .split_once(", ")
            .unwrap();
        let (low, high): (f64, f64) = (low.parse().unwrap(), high.parse().unwrap());
        assert!(kl >= 0.0 && low <= entropy && entropy <= high, "{row}");
        rows += 1;
    }
    assert_eq!(rows, rungs);
}
