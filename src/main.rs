//! The `modecollapse` binary: parses flags, calls the library, maps errors to exit codes
//! (0 ok, 1 a strict claim failed, 2 invalid input, 3 missing recordings or provider failure).

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use modecollapse::ExitCode;
use modecollapse::project::{Project, RunOptions, mode_from_env, models_from_env};
use modecollapse::report::{to_json, to_table};
use modecollapse::source::Mode;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "modecollapse",
    version,
    about = "Keeps claims about language-model output distributions honest"
)]
struct Cli {
    /// Project root holding specs/, models/ and recordings/.
    #[arg(long, global = true, default_value = ".")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate specs on model sets (replaying recordings unless told otherwise).
    Run {
        /// Spec files; every file of specs/ when none is given.
        specs: Vec<PathBuf>,
        /// Model sets to evaluate on (repeatable); when none is given, those MODECOLLAPSE_MODELS
        /// names (comma-separated), else every set.
        #[arg(long = "models")]
        models: Vec<String>,
        /// replay (default; or MODECOLLAPSE_MODE), record, refresh or live.
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Stop after this many live requests, keeping what was recorded.
        #[arg(long)]
        max_requests: Option<u64>,
        /// Per-request timeout in seconds.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
    },
    /// Write an HTML report with SVG figures from the committed recordings (replay).
    Report {
        /// Spec files; every file of specs/ when none is given.
        specs: Vec<PathBuf>,
        /// Model sets to report on (repeatable); when none is given, those MODECOLLAPSE_MODELS
        /// names (comma-separated), else every set.
        #[arg(long = "models", value_name = "SET")]
        models: Vec<String>,
        /// Directory to write index.html and figures/ into (created when missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check specs and model sets; every problem is printed with file:line:column.
    Validate {
        /// Spec files; every file of specs/ when none is given.
        specs: Vec<PathBuf>,
    },
    /// List specs and model sets.
    List,
    /// Every entropy estimator with its intervals for a count vector, e.g. `--counts 5,3,2`.
    Estimate {
        /// Counts per outcome, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        counts: Vec<u64>,
        /// Outcome-set size (default: the number of counts given).
        #[arg(long)]
        k: Option<usize>,
        /// Confidence level.
        #[arg(long, default_value_t = 0.95)]
        level: f64,
        /// Bootstrap resamples.
        #[arg(long, default_value_t = 2000)]
        resamples: usize,
        /// Bootstrap seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write the JSON Schemas of spec and model-set files to `schema/` (or print them).
    Schema {
        /// Print the spec schema to stdout instead of writing files.
        #[arg(long)]
        print: bool,
    },
    /// Compare two recorded versions of a model set (e.g. `local` and `local@2026-11-27`) claim
    /// by claim: verdict changes, figure deltas, and a drift test per (model, prompt).
    Diff {
        /// The first version, `SET` or `SET@VERSION`.
        a: String,
        /// The second version.
        b: String,
        /// Spec files (default: all).
        specs: Vec<PathBuf>,
        /// Output format (table or json).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write `specs/<ID>.yaml`, a commented spec to start from (never overwrites).
    New {
        /// The spec id: lowercase letters, digits, `-` and `_`.
        id: String,
    },
    /// Samples per model each sampled comparison needs, from the recorded pilot.
    Plan {
        /// Spec files (default: every sampled spec under specs/).
        specs: Vec<PathBuf>,
        /// Model sets (default: all).
        #[arg(long = "models", value_name = "SET")]
        models: Vec<String>,
        /// Power to reach.
        #[arg(long, default_value_t = 0.8)]
        power: f64,
        /// One-sided level of each test (the verdicts use (1 - level) / 2 = 0.025).
        #[arg(long, default_value_t = 0.025)]
        alpha: f64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    /// The claim × model set table of the README (`run` only).
    Markdown,
    /// JUnit XML for CI systems (`run` only).
    Junit,
}

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", render(&err));
            err.downcast_ref::<modecollapse::Error>()
                .map(|e| e.exit_code())
                .or_else(|| {
                    err.downcast_ref::<modecollapse::error::SpecError>()
                        .map(|_| ExitCode::InvalidInput)
                })
                .unwrap_or(ExitCode::InvalidInput)
        }
    };
    std::process::exit(code as i32);
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let project = Project::new(&cli.root);
    match cli.command {
        Command::Validate { specs } => {
            let catalog = project.load(&specs, &[])?;
            emit(&format!(
                "ok: {} spec(s), {} not testable, {} model set(s)\n",
                catalog.specs.len(),
                catalog.untestable.len(),
                catalog.model_sets.len()
            ))?;
            Ok(ExitCode::Ok)
        }
        Command::List => {
            let catalog = project.load(&[], &[])?;
            let mut out = String::from("specs:\n");
            for s in &catalog.specs {
                let roles: Vec<_> = s.spec.roles.iter().map(|r| r.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  {:<36} {:<8} roles {:<16} {}",
                    s.spec.id,
                    format!("{:?}", s.spec.status).to_lowercase(),
                    roles.join(","),
                    s.path.display()
                );
            }
            for u in &catalog.untestable {
                let _ = writeln!(
                    out,
                    "  {:<36} {:<8} {:<22} {}",
                    u.spec.id,
                    "not testable",
                    "",
                    u.path.display()
                );
            }
            out.push_str("model sets:\n");
            for m in &catalog.model_sets {
                let models: Vec<_> = m
                    .set
                    .models
                    .iter()
                    .map(|e| format!("{}={} ({:?})", e.role, e.name, e.status).to_lowercase())
                    .collect();
                let _ = writeln!(out, "  {:<14} {}", m.set.id, models.join(", "));
            }
            let versions = modecollapse::spec::recorded_versions(&project.recordings_dir());
            if !versions.is_empty() {
                out.push_str(
                    "recorded versions (use with --models SET@VERSION, compare with diff):\n",
                );
                for v in versions {
                    let _ = writeln!(out, "  {v}");
                }
            }
            emit(&out)?;
            Ok(ExitCode::Ok)
        }
        Command::Diff {
            a,
            b,
            specs,
            format,
        } => {
            let catalog = project.load(&specs, &[a.clone(), b.clone()])?;
            let mut options = RunOptions::new(Mode::Replay);
            // A version may hold only some specs; what it lacks shows as "only in A/B".
            options.missing_is_unavailable = true;
            let result = project.run(&catalog, options)?;
            let diffs = modecollapse::diff::diff(&result, &a, &b);
            match format {
                Format::Json => emit(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&diffs).context("failed to render JSON")?
                ))?,
                _ => emit(&modecollapse::diff::diff_table(&diffs, &a, &b))?,
            }
            Ok(ExitCode::Ok)
        }
        Command::Schema { print } => {
            use modecollapse::spec::schema;
            if print {
                emit(&schema::render(&schema::spec_schema()))?;
                return Ok(ExitCode::Ok);
            }
            let dir = project.root().join("schema");
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
            for (file, value) in [
                (schema::SPEC_SCHEMA_FILE, schema::spec_schema()),
                (schema::MODEL_SET_SCHEMA_FILE, schema::model_set_schema()),
            ] {
                let path = dir.join(file);
                std::fs::write(&path, schema::render(&value))
                    .with_context(|| format!("failed to write {}", path.display()))?;
                emit(&format!("wrote {}\n", path.display()))?;
            }
            Ok(ExitCode::Ok)
        }
        Command::New { id } => {
            if !modecollapse::scaffold::valid_id(&id) {
                anyhow::bail!("invalid id `{id}`: expected lowercase letters, digits, `-` and `_`");
            }
            let path = project.spec_dir().join(format!("{id}.yaml"));
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .with_context(|| format!("failed to create {}", path.display()))?;
            std::io::Write::write_all(
                &mut file,
                modecollapse::scaffold::spec_template(&id).as_bytes(),
            )
            .with_context(|| format!("failed to write {}", path.display()))?;
            emit(&format!(
                "wrote {}; edit it, then `modecollapse validate {}`\n",
                path.display(),
                path.display()
            ))?;
            Ok(ExitCode::Ok)
        }
        Command::Plan {
            specs,
            models,
            power,
            alpha,
            format,
        } => {
            if !(power > 0.0 && power < 1.0 && alpha > 0.0 && alpha < 0.5) {
                anyhow::bail!("--power must be in (0, 1) and --alpha in (0, 0.5)");
            }
            let catalog = project.load(&specs, &models)?;
            let result = project.run(&catalog, RunOptions::new(Mode::Replay))?;
            let rows = modecollapse::plan::plan(&result, alpha, power);
            match format {
                Format::Json => emit(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&rows).context("failed to render JSON")?
                ))?,
                _ => emit(&modecollapse::plan::plan_table(&rows, alpha, power))?,
            }
            Ok(ExitCode::Ok)
        }
        Command::Estimate {
            counts,
            k,
            level,
            resamples,
            seed,
            format,
        } => {
            let k = k.unwrap_or(counts.len());
            if k < counts.len() {
                anyhow::bail!("--k {k} is smaller than the {} counts given", counts.len());
            }
            let options = modecollapse::report::EstimateOptions {
                k,
                level,
                resamples,
                seed,
            };
            let value = modecollapse::report::estimate_json(&counts, options)
                .map_err(anyhow::Error::msg)?;
            match format {
                Format::Table | Format::Markdown | Format::Junit => {
                    emit(&modecollapse::report::estimate_table(&value))?
                }
                Format::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&value)?))?,
            }
            Ok(ExitCode::Ok)
        }
        Command::Report { specs, models, out } => {
            let catalog = project.load(&specs, &or_from_env(models))?;
            let mut options = RunOptions::new(Mode::Replay);
            // As for `diff`: a version may hold only some specs, and the page says "not
            // recorded in this version" rather than failing (`run` is the gate on recordings).
            options.missing_is_unavailable = true;
            let result = project.run(&catalog, options)?;
            let report = modecollapse::report::to_html(&result);
            write_report(&out, &report)?;
            emit(&format!(
                "wrote {} ({} figures in {})\n",
                out.join("index.html").display(),
                report.figures.len(),
                out.join("figures").display()
            ))?;
            // The page shows a strict failure; `run` is the command that gates on it.
            Ok(ExitCode::Ok)
        }
        Command::Run {
            specs,
            models,
            mode,
            format,
            max_requests,
            timeout,
        } => {
            let mode = match mode {
                Some(m) => m,
                None => mode_from_env().map_err(anyhow::Error::msg)?,
            };
            let catalog = project.load(&specs, &or_from_env(models))?;
            let mut options = RunOptions::new(mode);
            options.max_requests = max_requests;
            options.client.timeout = std::time::Duration::from_secs_f64(timeout.max(0.001));
            let bar = (mode != Mode::Replay).then(progress_bar);
            if let Some(bar) = bar.clone() {
                options.on_live_request = Some(Box::new(move || bar.inc(1)));
            }
            let result = project.run(&catalog, options);
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let result = result?;
            match format {
                Format::Table => emit(&to_table(&result))?,
                Format::Markdown => emit(&modecollapse::report::to_markdown(&result))?,
                Format::Junit => emit(&modecollapse::report::to_junit(&result))?,
                Format::Json => emit(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&to_json(&result, mode))
                        .context("failed to render JSON")?
                ))?,
            }
            Ok(if result.strict_failure() {
                ExitCode::StrictFailed
            } else {
                ExitCode::Ok
            })
        }
    }
}

/// Writes `index.html` and `figures/*.svg` into `dir`, removing figures a previous report left
/// in `figures/` that this one no longer has, so the directory matches the page.
fn write_report(
    dir: &std::path::Path,
    report: &modecollapse::report::HtmlReport,
) -> anyhow::Result<()> {
    let figures = dir.join("figures");
    std::fs::create_dir_all(&figures)
        .with_context(|| format!("failed to create {}", figures.display()))?;
    let keep: std::collections::BTreeSet<&str> =
        report.figures.iter().map(|f| f.name.as_str()).collect();
    let existing = std::fs::read_dir(&figures)
        .with_context(|| format!("failed to read {}", figures.display()))?;
    for entry in existing {
        let entry = entry.with_context(|| format!("failed to read {}", figures.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".svg") && !keep.contains(name.as_ref()) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("failed to remove {}", entry.path().display()))?;
        }
    }
    for f in &report.figures {
        let path = figures.join(&f.name);
        std::fs::write(&path, &f.svg)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    let index = dir.join("index.html");
    std::fs::write(&index, &report.index)
        .with_context(|| format!("failed to write {}", index.display()))?;
    Ok(())
}

/// The error and its causes, each cause once: library errors already quote their cause in
/// their message (so that `to_string` alone is complete), and `{:#}` would repeat it.
fn render(err: &anyhow::Error) -> String {
    let mut out = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// Writes to stdout; a closed pipe (`modecollapse run | head`) ends the output quietly, as
/// command-line tools do, rather than panicking.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("failed to write to stdout"),
    }
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos} live requests ({per_sec}) {elapsed}",
        )
        .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// `--models` as given, or, when it is not, the sets `MODECOLLAPSE_MODELS` names (which
/// `cargo test` honours too), so that one variable limits both to the sets at hand.
fn or_from_env(models: Vec<String>) -> Vec<String> {
    if models.is_empty() {
        models_from_env()
    } else {
        models
    }
}
