//! Prompts from a data file: each JSON line of the file, put through the spec's template.
//!
//! Invariant: the file is read only from inside the project (no absolute paths, nothing that
//! resolves outside the project root, symlinks included), capped in size and rows, and every
//! problem names the data file and its line.

use super::claim::{Dataset, PromptSpec};
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// The largest data file read, in bytes.
pub const MAX_DATASET_BYTES: u64 = 8 << 20;
/// The most rows (prompts) a data file may give.
pub const MAX_DATASET_ROWS: usize = 10_000;

/// Resolves `dataset.file` against the spec's directory and checks that it stays inside
/// `root`. Returns the path to read.
pub fn resolve(dataset: &Dataset, spec_path: &Path, root: &Path) -> Result<PathBuf, String> {
    let rel = Path::new(&dataset.file);
    if rel.is_absolute() || rel.components().any(|c| matches!(c, Component::Prefix(_))) {
        return Err(format!(
            "dataset file `{}` must be a path relative to the spec's directory",
            dataset.file
        ));
    }
    let dir = spec_path.parent().unwrap_or(Path::new("."));
    let joined = dir.join(rel);
    let outside = || {
        format!(
            "dataset file `{}` resolves outside the project ({}); data files must live in it",
            dataset.file,
            root.display()
        )
    };
    // Lexically first (so a path that climbs out is named as such even when it does not
    // exist), then canonically (symlinks).
    let mut depth: i64 = 0;
    for c in rel.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        // The spec's directory is one level below the root.
        if depth < -1 {
            return Err(outside());
        }
    }
    let root = root
        .canonicalize()
        .map_err(|e| format!("failed to resolve the project root: {e}"))?;
    let real = joined
        .canonicalize()
        .map_err(|e| format!("failed to read dataset file `{}`: {e}", dataset.file))?;
    if !real.starts_with(&root) {
        return Err(outside());
    }
    Ok(real)
}

/// The prompts of a data file's text (`shown` is the path used in messages).
pub fn prompts_from(dataset: &Dataset, shown: &str, text: &str) -> Result<Vec<PromptSpec>, String> {
    let mut prompts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |m: String| format!("{shown}:{}: {m}", i + 1);
        if line.trim().is_empty() {
            continue;
        }
        if prompts.len() == MAX_DATASET_ROWS {
            return Err(at(format!("more than {MAX_DATASET_ROWS} rows")));
        }
        let row: Value = serde_json::from_str(line)
            .map_err(|e| at(format!("expected one JSON object per line: {e}")))?;
        if !row.is_object() {
            return Err(at("expected one JSON object per line".into()));
        }
        let name = scalar(&row, &dataset.name).map_err(&at)?;
        let answer = match &dataset.answer {
            Some(field) => Some(scalar(&row, field).map_err(&at)?),
            None => None,
        };
        let text = fill(&dataset.template, &row).map_err(&at)?;
        prompts.push(PromptSpec { name, text, answer });
    }
    if prompts.is_empty() {
        return Err(format!("{shown}: the data file has no rows"));
    }
    Ok(prompts)
}

/// A field (dotted path) of the row as text: strings as they are, numbers printed.
fn scalar(row: &Value, path: &str) -> Result<String, String> {
    let mut v = row;
    for part in path.split('.') {
        v = v
            .get(part)
            .ok_or_else(|| format!("the row has no field `{path}`"))?;
    }
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("field `{path}` must be a string or a number")),
    }
}

/// The template with every `{path}` replaced by the row's field.
fn fill(template: &str, row: &Value) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(after) = tail.strip_prefix('{') {
            let end = after
                .find('}')
                .ok_or("template has a `{` without its `}` (write `{{` for a literal brace)")?;
            out.push_str(&scalar(row, after[..end].trim())?);
            rest = &after[end + 1..];
        } else {
            return Err(
                "template has a `}` without its `{` (write `}}` for a literal brace)".into(),
            );
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(template: &str) -> Dataset {
        Dataset {
            file: "q.jsonl".into(),
            template: template.into(),
            name: "id".into(),
            answer: Some("answer".into()),
        }
    }

    #[test]
    fn rows_become_prompts() {
        let text = r#"{"id": "q1", "question": "2+2?", "options": {"A": "4", "B": "5"}, "answer": "A"}

{"id": "q2", "question": "Sky?", "options": {"A": "green", "B": "blue"}, "answer": "B"}"#;
        let p = prompts_from(
            &dataset("Q: {question}\nA. {options.A}\nB. {options.B}\nAnswer {{A/B}}:"),
            "q.jsonl",
            text,
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "q1");
        assert_eq!(p[0].text, "Q: 2+2?\nA. 4\nB. 5\nAnswer {A/B}:");
        assert_eq!(p[1].answer.as_deref(), Some("B"));
    }

    #[test]
    fn problems_name_the_line() {
        let d = dataset("{question}");
        let err = prompts_from(&d, "q.jsonl", "{\"id\": \"a\", \"answer\": \"A\"}").unwrap_err();
        assert_eq!(err, "q.jsonl:1: the row has no field `question`");
        let err = prompts_from(&d, "q.jsonl", "\n[1]").unwrap_err();
        assert_eq!(err, "q.jsonl:2: expected one JSON object per line");
        let err = prompts_from(
            &dataset("{question"),
            "q.jsonl",
            "{\"id\":\"a\",\"answer\":\"A\"}",
        )
        .unwrap_err();
        assert!(err.contains("without its `}`"), "{err}");
        assert!(
            prompts_from(&d, "q.jsonl", "")
                .unwrap_err()
                .contains("no rows")
        );
    }

    #[test]
    fn paths_stay_inside_the_project() {
        let root = std::env::temp_dir().join(format!("mc-dataset-{}", std::process::id()));
        std::fs::create_dir_all(root.join("specs")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/q.jsonl"), "{}").unwrap();
        let spec = root.join("specs/s.yaml");
        let mut d = dataset("x");
        d.file = "../data/q.jsonl".into();
        assert!(resolve(&d, &spec, &root).is_ok());
        d.file = "../../etc/passwd".into();
        assert!(
            resolve(&d, &spec, &root)
                .unwrap_err()
                .contains("outside the project")
        );
        d.file = "/etc/passwd".into();
        assert!(resolve(&d, &spec, &root).unwrap_err().contains("relative"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", root.join("data/link.jsonl")).ok();
            d.file = "../data/link.jsonl".into();
            assert!(
                resolve(&d, &spec, &root)
                    .unwrap_err()
                    .contains("outside the project")
            );
        }
        std::fs::remove_dir_all(&root).ok();
    }
}
