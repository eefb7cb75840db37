//! Loading spec and model-set files: every problem found, each with file:line:column.
//!
//! Invariant: nothing here panics on any input; every rejection is a [`SpecProblem`] with a
//! location. Serde errors carry their own line and column; checks that span fields (a role an
//! expectation uses but the spec does not list, a duplicate id) locate the offending text in
//! the source.

use super::dataset::{MAX_DATASET_BYTES, prompts_from, resolve};
use super::{
    ClaimSpec, Condition, Dataset, Method, ModelEntry, ModelSet, OutcomeRef, Over, PromptSpec,
    Provider, Selector, UntestableSpec,
};
use crate::error::{Location, SpecError, SpecProblem};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The largest spec or model-set file accepted, in bytes: a claim is a page, not a dataset.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The deepest nesting of flow collections (`[…]`, `{…}`) accepted; a spec needs two or three.
/// Checked before parsing because the YAML parser's time grows with the square of this depth:
/// measured, 20 000 levels (40 kB) took 4 s, so a 1 MiB file of brackets would take most of
/// an hour. (Block nesting by indentation and aliases cost linear time: the parser keeps an
/// alias as a reference, and typed fields stop at the first value of the wrong kind.)
pub const MAX_FLOW_DEPTH: usize = 64;

/// A spec and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The file.
    pub path: PathBuf,
    /// The parsed spec.
    pub spec: ClaimSpec,
}

/// A not-testable claim and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedUntestable {
    /// The file.
    pub path: PathBuf,
    /// The parsed spec.
    pub spec: UntestableSpec,
}

/// A spec file's content: a claim to evaluate or one that cannot be tested.
#[derive(Debug, Clone)]
pub enum ParsedSpec {
    /// A claim with prompts, outcomes, method and expectations.
    Testable(Box<ClaimSpec>),
    /// `status: not_testable` with its reason.
    NotTestable(UntestableSpec),
}

/// A model set and the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedModelSet {
    /// The file.
    pub path: PathBuf,
    /// The parsed model set.
    pub set: ModelSet,
}

/// All specs and model sets of a project, validated together.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Specs, sorted by id.
    pub specs: Vec<LoadedSpec>,
    /// Claims that cannot be tested through an API, sorted by id.
    pub untestable: Vec<LoadedUntestable>,
    /// Model sets, sorted by id.
    pub model_sets: Vec<LoadedModelSet>,
}

fn problem(path: &Path, line: usize, column: usize, message: impl Into<String>) -> SpecProblem {
    SpecProblem {
        location: Location {
            path: path.to_path_buf(),
            line,
            column,
        },
        message: message.into(),
    }
}

/// Reads a file as UTF-8, turning every failure into a located problem.
fn read_text(path: &Path) -> Result<String, SpecProblem> {
    use std::io::Read;
    let failed = |e: std::io::Error| problem(path, 1, 1, format!("failed to read the file: {e}"));
    let meta = std::fs::metadata(path).map_err(failed)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(path, meta.len()));
    }
    // Read at most one byte past the cap: a device or pipe (`/dev/zero`) reports no size.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(failed)?;
    check_text(path, bytes)
}

fn too_large(path: &Path, len: u64) -> SpecProblem {
    problem(
        path,
        1,
        1,
        format!("file is {len} bytes; at most {MAX_FILE_BYTES} are accepted"),
    )
}

/// The checks of a file's bytes before YAML parsing: the size cap, UTF-8 and the flow nesting
/// limit, each failure located.
pub fn check_text(path: &Path, bytes: Vec<u8>) -> Result<String, SpecProblem> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(problem(
            path,
            1,
            1,
            format!("file holds more than {MAX_FILE_BYTES} bytes, the most accepted"),
        ));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(problem(
            path,
            1,
            1,
            "file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let valid = std::str::from_utf8(valid).unwrap_or_default();
        let (line, column) = line_col(valid, valid.len());
        problem(path, line, column + 1, "file is not valid UTF-8")
    })?;
    // YAML allows no control characters but tab and line breaks; the parser says so with a
    // byte offset only, so they are located here.
    if let Some((offset, c)) = text.char_indices().find(|&(_, c)| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}'))
            || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    }) {
        let (line, column) = line_col(&text, offset);
        return Err(problem(
            path,
            line,
            column + 1,
            format!(
                "control character U+{:04X} is not allowed in YAML",
                u32::from(c)
            ),
        ));
    }
    if let Some((line, column)) = too_deep(&text) {
        return Err(problem(
            path,
            line,
            column,
            format!("flow collections (`[…]`, `{{…}}`) are nested more than {MAX_FLOW_DEPTH} deep"),
        ));
    }
    Ok(text)
}

/// Where a flow collection opens more than [`MAX_FLOW_DEPTH`] deep, as 1-based (line, column).
///
/// A scan of YAML's lexical structure, enough to tell a flow bracket from one inside a quoted
/// scalar, a comment, a block scalar or a plain scalar. Where unsure it counts a bracket (a
/// count too high only matters past the limit, which no real spec nears); it must never
/// count too low, or a crafted file would reach the slow parser.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    deeper_than(text, MAX_FLOW_DEPTH)
}

fn deeper_than(text: &str, limit: usize) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    // A quoted scalar open across lines: its quote character.
    let mut quote: Option<char> = None;
    // A block scalar (`|`, `>`) whose lines are being skipped: the least indentation of its
    // content, and the indentation of its first line once seen.
    let mut block: Option<(usize, Option<usize>)> = None;
    for (n, line) in text.split('\n').enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some((min, found)) = block {
            if line.trim().is_empty() {
                continue;
            }
            match found {
                None if indent >= min => {
                    block = Some((min, Some(indent)));
                    continue;
                }
                Some(d) if indent >= d => continue,
                _ => block = None,
            }
        }
        if quote.is_none() && depth == 0 && line.starts_with('%') {
            continue; // a directive
        }
        let chars: Vec<char> = line.chars().collect();
        let blank = |i: usize| chars.get(i).is_none_or(|c| *c == ' ' || *c == '\t');
        // Whether a token may start here (a flow collection, a quoted scalar, a block scalar).
        let mut token_start = quote.is_none();
        // The column of the node that owns what follows (for a block scalar's indentation).
        let mut owner = indent;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if let Some(q) = quote {
                if q == '"' && c == '\\' {
                    i += 2;
                    continue;
                }
                if c == q {
                    if q == '\'' && chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    quote = None;
                }
                i += 1;
                continue;
            }
            match c {
                ' ' | '\t' | '\u{feff}' => {
                    i += 1;
                    continue;
                }
                '#' if i == 0 || blank(i - 1) => break,
                '[' | '{' if depth > 0 || token_start => {
                    depth += 1;
                    if depth > limit {
                        return Some((n + 1, i + 1));
                    }
                    token_start = true;
                }
                ']' | '}' if depth > 0 => {
                    depth -= 1;
                    token_start = false;
                }
                ',' if depth > 0 => token_start = true,
                '"' | '\'' if token_start => {
                    quote = Some(c);
                    token_start = false;
                }
                '|' | '>' if depth == 0 && token_start => {
                    let explicit = chars[i + 1..]
                        .iter()
                        .take_while(|c| !c.is_whitespace())
                        .find_map(|c| c.to_digit(10));
                    let min = match explicit {
                        Some(d) if d > 0 => owner + d as usize,
                        _ => owner + 1,
                    };
                    block = Some((min, explicit.map(|_| min)));
                    break;
                }
                '-' if depth == 0 && i == 0 && chars.get(1..3) == Some(&['-', '-']) && blank(3) => {
                    i += 3; // a document start marker; a node may follow
                    token_start = true;
                    continue;
                }
                '-' | '?' | ':' if depth == 0 && blank(i + 1) => {
                    if c != ':' {
                        owner = i;
                    }
                    token_start = true;
                }
                ':' | '?' if depth > 0 && blank(i + 1) => token_start = true,
                '&' | '!' if token_start => {
                    // An anchor or a tag: a node still follows it.
                    while i < chars.len() && !blank(i) {
                        i += 1;
                    }
                    continue;
                }
                _ => {
                    if token_start && depth == 0 {
                        owner = i; // perhaps a key; its value's block scalar is indented past it
                    }
                    token_start = false;
                }
            }
            i += 1;
        }
    }
    None
}

/// 1-based line and 0-based column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    (line, column)
}

/// Where `needle` first occurs in the source, as (line, column), falling back to 1:1.
fn locate(text: &str, needle: &str) -> (usize, usize) {
    match text.find(needle) {
        Some(offset) => {
            let (line, column) = line_col(text, offset);
            (line, column + 1)
        }
        None => (1, 1),
    }
}

/// Turns a YAML error into a located problem, without repeating the location in the message.
///
/// Errors raised by our own validation inside nested values come back from the YAML library
/// located at the document start (1:1); their message starts with the top-level key they
/// belong to (`outcomes: …`), so the key's line is found in the text instead.
fn yaml_problem(path: &Path, text: &str, err: serde_yaml::Error) -> SpecProblem {
    let (mut line, mut column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
    let mut message = err.to_string();
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    if (line, column) == (1, 1) {
        let key: String = message
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !key.is_empty()
            && message[key.len()..].starts_with([':', '.', '['])
            && let Some(offset) = top_level_key(text, &key)
        {
            (line, column) = line_col(text, offset);
            column += 1;
        }
    }
    problem(path, line, column, message)
}

/// The byte offset of a top-level `key:` in YAML text.
fn top_level_key(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        if l.strip_prefix(key)
            .is_some_and(|rest| rest.starts_with(':'))
        {
            return Some(offset);
        }
        offset += l.len();
    }
    None
}

/// Parses one spec file's text. Cross-field checks are included; cross-file ones are not.
pub fn parse_spec(path: &Path, text: &str) -> Result<ClaimSpec, Vec<SpecProblem>> {
    let mut spec: ClaimSpec =
        serde_yaml::from_str(text).map_err(|e| vec![yaml_problem(path, text, e)])?;
    let mut problems = Vec::new();
    let at = |needle: &str, message: String| {
        let (line, column) = locate(text, needle);
        problem(path, line, column, message)
    };
    if let Some(dataset) = &spec.dataset {
        if !spec.prompts.is_empty() {
            return Err(vec![at(
                "dataset:",
                "a spec lists `prompts` or takes them from a `dataset`, not both".into(),
            )]);
        }
        spec.prompts = load_dataset(dataset, path).map_err(|m| vec![at("dataset:", m)])?;
    }
    if !valid_id(&spec.id) {
        problems.push(at(
            "id:",
            format!(
                "invalid id `{}`: expected lowercase letters, digits, `-` and `_`",
                spec.id
            ),
        ));
    }
    if spec.prompts.is_empty() {
        problems.push(at(
            "prompts:",
            "a spec needs at least one prompt (or a `dataset`)".into(),
        ));
    }
    if spec.roles.is_empty() {
        problems.push(at("roles:", "a spec needs at least one role".into()));
    }
    let mut names = BTreeMap::new();
    for p in &spec.prompts {
        if names.insert(p.name.as_str(), ()).is_some() {
            problems.push(at(
                &format!("name: {}", p.name),
                format!("duplicate prompt name `{}`", p.name),
            ));
        }
        if p.text.is_empty() {
            problems.push(at(
                &format!("name: {}", p.name),
                format!("prompt `{}` has an empty text", p.name),
            ));
        }
    }
    if !spec.outcomes.decided_by_prefix() && !matches!(spec.method, Method::Sample { .. }) {
        problems.push(at(
            "method:",
            format!(
                "outcomes of kind `{}` judge a whole completion, so they need `kind: sample`; \
                 `next_token` and `enumerate` measure integers and choices",
                spec.outcomes.kind()
            ),
        ));
    }
    if spec.expect.is_empty() {
        problems.push(at(
            "expect:",
            "a spec needs at least one expectation".into(),
        ));
    }
    for e in &spec.expect {
        let here = |m: String| at(&e.that, m);
        for sel in e.condition.selectors() {
            if let Selector::Role(role) = sel
                && !spec.roles.contains(&role)
            {
                problems.push(here(format!(
                    "expectation `{}` uses role `{role}`, which is not in the spec's `roles`",
                    e.that
                )));
            }
        }
        for n in e.condition.outcomes() {
            if spec.outcomes.index_of(&n).is_none() {
                problems.push(here(format!(
                    "expectation `{}` names outcome {n}, which is not in the outcome set",
                    e.that
                )));
            }
        }
        let mut metrics = e.condition.metrics();
        metrics.dedup();
        for m in metrics {
            if m.across_prompts_only() && e.over != Over::Pooled {
                problems.push(here(format!(
                    "expectation `{}`: `{m}` exists only across prompts; add `over: pooled`",
                    e.that
                )));
            }
            if m.across_prompts_only() {
                for p in spec.prompts_of(e) {
                    let known = p
                        .answer
                        .as_deref()
                        .and_then(|a| spec.outcomes.index_of(&outcome_ref(a)));
                    if known.is_none() {
                        problems.push(here(format!(
                            "expectation `{}`: `{m}` needs every prompt's `answer` in the \
                             outcome set; prompt `{}` has {}",
                            e.that,
                            p.name,
                            p.answer
                                .as_deref()
                                .map_or("none".to_string(), |a| format!("`{a}`"))
                        )));
                        break;
                    }
                }
            }
        }
        if matches!(e.over, Over::Paired | Over::Pooled)
            && !matches!(e.condition, Condition::Compare { .. })
        {
            problems.push(here(format!(
                "expectation `{}`: `over: {}` compares metrics such as entropy, not modes",
                e.that,
                if e.over == Over::Paired {
                    "paired"
                } else {
                    "pooled"
                }
            )));
        }
        if let Some(c) = e.min_coverage
            && !(0.0..=1.0).contains(&c)
        {
            problems.push(here(format!(
                "expectation `{}`: min_coverage {c} is not a probability in [0, 1]",
                e.that
            )));
        }
        for name in e.prompts.iter().flatten() {
            if !spec.prompts.iter().any(|p| &p.name == name) {
                problems.push(here(format!(
                    "expectation `{}` names prompt `{name}`, which the spec does not define",
                    e.that
                )));
            }
        }
    }
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(problems)
    }
}

/// An answer as an outcome: a number for integer sets, else a name.
pub(crate) fn outcome_ref(answer: &str) -> OutcomeRef {
    match answer.parse::<u64>() {
        Ok(n) => OutcomeRef::Integer(n),
        Err(_) => OutcomeRef::Name(answer.to_string()),
    }
}

/// Reads a spec's data file; the project is the directory above the spec's folder.
fn load_dataset(dataset: &Dataset, spec_path: &Path) -> Result<Vec<PromptSpec>, String> {
    let spec_dir = spec_path.parent().unwrap_or(Path::new("."));
    let spec_dir = if spec_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        spec_dir
    };
    let root = spec_dir.join("..");
    let real = resolve(dataset, spec_path, &root)?;
    let meta = std::fs::metadata(&real)
        .map_err(|e| format!("failed to read dataset file `{}`: {e}", dataset.file))?;
    if meta.len() > MAX_DATASET_BYTES {
        return Err(format!(
            "dataset file `{}` is {} bytes; at most {MAX_DATASET_BYTES} are accepted",
            dataset.file,
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(&real)
        .map_err(|e| format!("failed to read dataset file `{}`: {e}", dataset.file))?;
    prompts_from(dataset, &dataset.file, &text)
}

/// Parses a spec file of either kind: `status: not_testable` files are read as
/// [`UntestableSpec`], every other as [`ClaimSpec`].
pub fn parse_any_spec(path: &Path, text: &str) -> Result<ParsedSpec, Vec<SpecProblem>> {
    #[derive(serde::Deserialize)]
    struct Probe {
        status: Option<serde_yaml::Value>,
    }
    let untestable = serde_yaml::from_str::<Probe>(text)
        .ok()
        .and_then(|p| p.status)
        .is_some_and(|s| matches!(s.as_str(), Some("not_testable" | "not-testable")));
    if !untestable {
        return parse_spec(path, text).map(|s| ParsedSpec::Testable(Box::new(s)));
    }
    let spec: UntestableSpec =
        serde_yaml::from_str(text).map_err(|e| vec![yaml_problem(path, text, e)])?;
    if !valid_id(&spec.id) {
        let (line, column) = locate(text, "id:");
        return Err(vec![problem(
            path,
            line,
            column,
            format!(
                "invalid id `{}`: expected lowercase letters, digits, `-` and `_`",
                spec.id
            ),
        )]);
    }
    Ok(ParsedSpec::NotTestable(spec))
}

/// Parses one model-set file's text.
pub fn parse_model_set(path: &Path, text: &str) -> Result<ModelSet, Vec<SpecProblem>> {
    let set: ModelSet =
        serde_yaml::from_str(text).map_err(|e| vec![yaml_problem(path, text, e)])?;
    let mut problems = Vec::new();
    let at = |needle: &str, message: String| {
        let (line, column) = locate(text, needle);
        problem(path, line, column, message)
    };
    if !valid_id(&set.id) {
        problems.push(at(
            "id:",
            format!(
                "invalid id `{}`: expected lowercase letters, digits, `-` and `_`",
                set.id
            ),
        ));
    }
    if set.models.is_empty() {
        problems.push(at("models:", "a model set needs at least one model".into()));
    }
    let mut names = BTreeMap::new();
    for m in &set.models {
        // The name becomes a file name under recordings/: no separators, never empty.
        if m.name.is_empty()
            || !m
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            problems.push(at(
                &format!("name: {}", m.name),
                format!(
                    "invalid model name `{}`: expected letters, digits, `-`, `_` and `.`",
                    m.name
                ),
            ));
        }
        if names.insert(m.name.as_str(), ()).is_some() {
            problems.push(at(
                &format!("name: {}", m.name),
                format!("duplicate model name `{}`", m.name),
            ));
        }
        if !(m.base_url.starts_with("http://") || m.base_url.starts_with("https://")) {
            problems.push(at(
                &m.base_url,
                format!(
                    "base_url `{}` must start with http:// or https://",
                    m.base_url
                ),
            ));
        }
        if m.max_top_logprobs == 0 || m.concurrency == 0 || m.max_n == 0 {
            problems.push(at(
                &format!("name: {}", m.name),
                "`max_top_logprobs`, `concurrency` and `max_n` must be at least 1".into(),
            ));
        }
        if let Some(Err(message)) = m.tokenizer.as_ref().map(|t| t.check()) {
            problems.push(at("tokenizer:", message));
        }
        if let Err(message) = check_lora(m) {
            problems.push(at(&format!("name: {}", m.name), message));
        }
    }
    for n in &set.not_recorded {
        if !valid_id(&n.spec) || n.reason.trim().is_empty() {
            problems.push(at(
                &format!("spec: {}", n.spec),
                format!(
                    "`not_recorded:` entry `{}` needs a spec id and a reason",
                    n.spec
                ),
            ));
        }
    }
    // A server with adapters applies its own scales to a request that names none, so every
    // model it serves must say which it applies (the base: one at scale 0).
    for m in set.models.iter().filter(|m| m.lora.is_empty()) {
        if let Some(other) = set
            .models
            .iter()
            .find(|o| !o.lora.is_empty() && same_server(o, m))
        {
            problems.push(at(
                &format!("name: {}", m.name),
                format!(
                    "model `{}` shares its server with `{}`, which names LoRA adapters, but \
                     names none: without `lora:` llama.cpp applies the server's own scales \
                     (list one adapter at scale 0 for the base)",
                    m.name, other.name
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(set)
    } else {
        Err(problems)
    }
}

/// A model's `lora:` list: only llama.cpp takes it; ids unique, scales finite.
fn check_lora(m: &ModelEntry) -> Result<(), String> {
    if m.lora.is_empty() {
        return Ok(());
    }
    if m.provider != Provider::LlamaCpp {
        return Err(format!(
            "model `{}` names LoRA adapters (`lora:`), which only a `llama_cpp` server takes \
             per request",
            m.name
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    for l in &m.lora {
        if !ids.insert(l.id) {
            return Err(format!(
                "model `{}` names LoRA adapter {} twice",
                m.name, l.id
            ));
        }
        if !l.scale.is_finite() {
            return Err(format!(
                "model `{}`: the scale of LoRA adapter {} must be a finite number",
                m.name, l.id
            ));
        }
    }
    Ok(())
}

/// Whether two models are served by one server (the same URL and the same override).
fn same_server(a: &ModelEntry, b: &ModelEntry) -> bool {
    a.base_url == b.base_url && a.base_url_env == b.base_url_env
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// YAML files of a directory, sorted by name so that problems are reported in a stable order.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, SpecError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SpecError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Loads specs (from the files given, or every YAML file of `spec_dir`) and every model set of
/// `models_dir`, and validates them together. Reports every problem found, not just the first.
pub fn load_catalog(
    spec_files: &[PathBuf],
    spec_dir: &Path,
    models_dir: &Path,
) -> Result<Catalog, SpecError> {
    let spec_paths = if spec_files.is_empty() {
        yaml_files(spec_dir)?
    } else {
        spec_files.to_vec()
    };
    let mut problems = Vec::new();
    let mut specs = Vec::new();
    let mut untestable = Vec::new();
    let mut texts = BTreeMap::new();
    for path in spec_paths {
        match read_text(&path) {
            Err(p) => problems.push(p),
            Ok(text) => match parse_any_spec(&path, &text) {
                Ok(ParsedSpec::Testable(spec)) => {
                    texts.insert(path.clone(), text);
                    specs.push(LoadedSpec { path, spec: *spec });
                }
                Ok(ParsedSpec::NotTestable(spec)) => {
                    texts.insert(path.clone(), text);
                    untestable.push(LoadedUntestable { path, spec });
                }
                Err(ps) => problems.extend(ps),
            },
        }
    }
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let ids = specs
        .iter()
        .map(|s| (&s.spec.id, &s.path))
        .chain(untestable.iter().map(|s| (&s.spec.id, &s.path)));
    for (id, path) in ids {
        if let Some(first) = seen.get(id) {
            let (line, column) = locate(&texts[path], "id:");
            problems.push(problem(
                path,
                line,
                column,
                format!(
                    "duplicate spec id `{id}`, first defined in {}",
                    first.display()
                ),
            ));
        } else {
            seen.insert(id.clone(), path.clone());
        }
    }
    let mut model_sets = Vec::new();
    let mut set_ids: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in yaml_files(models_dir)? {
        match read_text(&path) {
            Err(p) => problems.push(p),
            Ok(text) => match parse_model_set(&path, &text) {
                Ok(set) => {
                    if let Some(first) = set_ids.get(&set.id) {
                        let (line, column) = locate(&text, "id:");
                        problems.push(problem(
                            &path,
                            line,
                            column,
                            format!(
                                "duplicate model set id `{}`, first defined in {}",
                                set.id,
                                first.display()
                            ),
                        ));
                    } else {
                        set_ids.insert(set.id.clone(), path.clone());
                        model_sets.push(LoadedModelSet { path, set });
                    }
                }
                Err(ps) => problems.extend(ps),
            },
        }
    }
    if !problems.is_empty() {
        return Err(SpecError::Invalid(problems));
    }
    specs.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
    untestable.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
    model_sets.sort_by(|a, b| a.set.id.cmp(&b.set.id));
    Ok(Catalog {
        specs,
        untestable,
        model_sets,
    })
}

impl Catalog {
    /// Keeps only the named model sets; an unknown name is an error listing the known ones.
    ///
    /// `SET@VERSION` names a recorded version of a set: the same models, with recordings under
    /// `recordings/SET@VERSION/` (a set recorded again keeps its old versions; `SET` alone is
    /// the current recordings). The version is letters, digits, `-`, `_` and `.`.
    pub fn select_model_sets(&mut self, names: &[String]) -> Result<(), SpecError> {
        if names.is_empty() {
            return Ok(());
        }
        let mut selected = Vec::new();
        for n in names {
            let (base, version) = match n.split_once('@') {
                Some((b, v)) => (b, Some(v)),
                None => (n.as_str(), None),
            };
            let Some(found) = self.model_sets.iter().find(|m| m.set.id == base) else {
                let known: Vec<_> = self.model_sets.iter().map(|m| m.set.id.as_str()).collect();
                return Err(SpecError::UnknownName {
                    kind: "model set",
                    name: n.clone(),
                    known: known.join(", "),
                });
            };
            if let Some(v) = version
                && !valid_version(v)
            {
                return Err(SpecError::UnknownName {
                    kind: "model-set version",
                    name: n.clone(),
                    known: "versions are letters, digits, `-`, `_` and `.`, as in local@2026-11-27"
                        .into(),
                });
            }
            let mut set = found.clone();
            set.set.id = n.clone();
            if !selected
                .iter()
                .any(|s: &LoadedModelSet| s.set.id == set.set.id)
            {
                selected.push(set);
            }
        }
        selected.sort_by(|a, b| a.set.id.cmp(&b.set.id));
        self.model_sets = selected;
        Ok(())
    }
}

/// A version label: non-empty, letters, digits, `-`, `_`, `.` (it names a directory).
pub fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v != "."
        && v != ".."
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The recorded versions of every set: `recordings/SET@VERSION/` directories, sorted.
pub fn recorded_versions(recordings: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(recordings) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.split_once('@').is_some_and(|(_, v)| valid_version(v)))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_set_with(models: &str) -> Result<ModelSet, Vec<SpecProblem>> {
        let text = format!("version: 1\nid: s\ndescription: d\nmodels:\n{models}");
        parse_model_set(Path::new("models/s.yaml"), &text)
    }

    fn model(name: &str, provider: &str, lora: &str) -> String {
        format!(
            "  - name: {name}\n    role: base\n    provider: {provider}\n    \
             base_url: http://127.0.0.1:8094/v1\n    model: m\n    api: completions\n    \
             status: live\n    max_top_logprobs: 200\n{lora}"
        )
    }

    #[test]
    fn lora_lists_are_checked_where_they_are_written() {
        let on = |id: u32, scale: &str| format!("    lora: [{{id: {id}, scale: {scale}}}]\n");
        let ok = model_set_with(
            &(model("b", "llama_cpp", &on(0, "0")) + &model("s", "llama_cpp", &on(0, "1.0"))),
        )
        .unwrap();
        assert_eq!(ok.models[1].lora[0].id, 0);
        assert_eq!(ok.models[1].lora[0].scale, 1.0);
        let message = |models: String| {
            let problems = model_set_with(&models).unwrap_err();
            assert_eq!(problems.len(), 1, "{problems:?}");
            (problems[0].message.clone(), problems[0].location.line)
        };
        let (m, _) = message(model("s", "vllm", &on(0, "1")));
        assert!(m.contains("only a `llama_cpp` server"), "{m}");
        let (m, _) = message(model(
            "s",
            "llama_cpp",
            "    lora: [{id: 1, scale: 1}, {id: 1, scale: 0}]\n",
        ));
        assert!(m.contains("adapter 1 twice"), "{m}");
        let (m, _) = message(model("s", "llama_cpp", &on(0, ".nan")));
        assert!(m.contains("finite"), "{m}");
        // The base beside an adapter on one server must say it applies none.
        let (m, p) = message(model("s", "llama_cpp", &on(0, "1")) + &model("b", "llama_cpp", ""));
        assert!(m.contains("shares its server with `s`"), "{m}");
        assert_eq!(p, 14, "the second model's `name:` line");
        // A spec the set does not record needs a reason.
        let not_recorded = |reason: &str| {
            model_set_with(&format!(
                "{}not_recorded:\n  - spec: greentext-leaves\n    reason: \"{reason}\"\n",
                model("s", "llama_cpp", "")
            ))
        };
        assert_eq!(
            not_recorded("hours of samples")
                .unwrap()
                .not_recorded("greentext-leaves"),
            Some("hours of samples")
        );
        let problems = not_recorded(" ").unwrap_err();
        assert!(problems[0].message.contains("a reason"), "{problems:?}");
        // Unknown fields of an entry are refused.
        assert!(
            model_set_with(&model(
                "s",
                "llama_cpp",
                "    lora: [{id: 0, scale: 1, name: x}]\n"
            ))
            .is_err()
        );
    }

    #[test]
    fn flow_nesting_is_counted_outside_strings_comments_and_block_scalars() {
        let deep = |n: usize| format!("notes: {}{}\n", "[".repeat(n), "]".repeat(n));
        assert_eq!(too_deep(&deep(MAX_FLOW_DEPTH)), None);
        assert_eq!(
            too_deep(&deep(MAX_FLOW_DEPTH + 1)),
            Some((1, 8 + MAX_FLOW_DEPTH))
        );
        let many = "[".repeat(500);
        for quiet in [
            format!("text: \"{many}\"\n"),
            format!("text: '{many}'\n"),
            format!("text: \"a\\\"{many}\"\n"),
            format!("text: 'it''s {many}'\n"),
            format!("# {many}\nid: x\n"),
            format!("id: x # {many}\n"),
            format!("text: a{many}\n"),
            format!("text: |-\n  {many}\n  {many}\n\n  more\nid: x\n"),
            format!("- name: n\n  text: >\n   {many}\n"),
            format!("text: \"first line\n  {many}\"\n"),
        ] {
            assert_eq!(too_deep(&quiet), None, "{quiet}");
        }
        for loud in [
            format!("text: {many}\n"),
            format!("- {many}\n"),
            format!("--- {many}\n"),
            format!("key: &anchor !!seq {many}\n"),
            format!("text: |\nid: {many}\n"),
            format!("a: [\"]]]]\", {many}\n"),
            format!("a: ['x'']]]', {many}\n"),
            format!("- - |2\n  x\n {many}\n"),
            format!("text: |\n  x\n {many}\n"),
        ] {
            assert!(too_deep(&loud).is_some(), "{loud}");
        }
    }

    /// A flow value of known depth, with quoted scalars full of brackets, quotes and `#`.
    fn flow_value() -> impl proptest::strategy::Strategy<Value = (String, usize)> {
        use proptest::prelude::*;
        let tricky = "[a-z\\[\\]{},#:' \"|>&*!-]{0,12}";
        let leaf = prop_oneof![
            "[a-z][a-z0-9]{0,6}".prop_map(|s| (s, 0)),
            tricky.prop_map(|s| (format!("'{}'", s.replace('\'', "''")), 0)),
            tricky.prop_map(|s| (
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
                0
            )),
        ];
        leaf.prop_recursive(6, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|items| {
                    let depth = 1 + items.iter().map(|i| i.1).max().unwrap_or(0);
                    let body: Vec<String> = items.into_iter().map(|i| i.0).collect();
                    (format!("[{}]", body.join(", ")), depth)
                }),
                prop::collection::vec(inner, 0..4).prop_map(|values| {
                    let depth = 1 + values.iter().map(|v| v.1).max().unwrap_or(0);
                    let body: Vec<String> = values
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| format!("k{i}: {}", v.0))
                        .collect();
                    (format!("{{{}}}", body.join(", ")), depth)
                }),
            ]
        })
    }

    proptest::proptest! {
        /// The scan agrees with the YAML parser on the depth of every generated document.
        #[test]
        fn the_scan_counts_flow_depth_exactly(
            (value, depth) in flow_value(),
            comment in "[\\[{'\" ]{0,6}",
            prefix in proptest::prop_oneof!["notes: ", "- ", "key: &a ", "--- "],
        ) {
            let text = format!("{prefix}{value} # {comment}\n");
            let parsed: Result<serde_yaml::Value, _> = serde_yaml::from_str(&text);
            proptest::prop_assert!(parsed.is_ok(), "{}: {:?}", text, parsed);
            proptest::prop_assert_eq!(deeper_than(&text, depth), None, "{}", text);
            if depth > 0 {
                proptest::prop_assert!(deeper_than(&text, depth - 1).is_some(), "{}", text);
            }
        }
    }

    #[test]
    fn locations_are_one_based() {
        assert_eq!(locate("a: 1\nid: x\n", "id:"), (2, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 1));
    }
}
