//! # modecollapse
//!
//! A regression suite for claims about language-model output distributions, starting with the
//! claims of "RLHF does not appear to differentially cause mode-collapse": on random-number
//! prompts text-davinci-002 (SFT) collapses onto " 97", text-davinci-003 (RLHF) does not, and
//! base models sometimes have the lowest entropy.
//!
//! ## Reading guide
//!
//! A claim is a YAML file ([`spec::ClaimSpec`]): prompts, an outcome set (" 0".." 100"), a
//! measurement method, the roles it compares (`base`, `sft`, `rlhf`, …) and expectations such
//! as `entropy(rlhf) > entropy(sft) + 0.5`. Model sets ([`spec::ModelSet`]) bind roles to
//! models behind OpenAI-compatible servers. The data flows
//!
//! ```text
//! spec ──► requests ──► recordings ──► measurements ──► verdicts ──► snapshots / reports
//! (spec)   (request,    (record,       (measure,        (verdict,    (report)
//!           client)      source)        stats)           run)
//! ```
//!
//! * [`spec`] parses and validates specs and model sets, with file:line:column errors.
//! * [`request`] is the canonical request (what is hashed and recorded) and response.
//! * [`client`] is the only module that speaks HTTP and wire JSON.
//! * [`record`] keeps responses on disk, atomically, one JSON-lines file per model.
//! * [`source`] decides per mode (replay, record, refresh, live) where a response comes from.
//! * [`measure`] runs the methods (`next_token`, `enumerate`, `sample`) into figures with
//!   bounds or intervals, and tests the difference of two sampled figures.
//! * [`stats`] holds the pure statistics (bounds, estimators, intervals, tests, divergences).
//! * [`verdict`] turns intervals and p-values into holds / refuted / inconclusive.
//! * [`across`] tests expectations across prompts (`over: paired` / `over: pooled`).
//! * [`run`] orchestrates specs × model sets; [`project`] is the entry point.
//! * [`diff`] compares two recorded versions of a model set claim by claim.
//! * [`evaluate`] decides each expectation on a model set's measurements, with its evidence.
//! * [`plan`] computes the samples a sampled claim needs, from a pilot recording;
//!   [`scaffold`] writes a commented spec to start from.
//! * [`report`] renders the JSON contract, the table, and snapshot content.
//!
//! ## Quick use
//!
//! ```no_run
//! use modecollapse::{project::{Project, RunOptions}, source::Mode};
//! let project = Project::new(".");
//! let catalog = project.load(&[], &["local".to_string()]).unwrap();
//! let result = project.run(&catalog, RunOptions::new(Mode::Replay)).unwrap();
//! println!("{}", modecollapse::report::to_table(&result));
//! ```
#![warn(missing_docs)]

pub mod across;
pub mod client;
pub mod diff;
pub mod error;
pub mod evaluate;
pub mod measure;
pub mod plan;
pub mod project;
pub mod record;
pub mod report;
pub mod request;
pub mod run;
pub mod scaffold;
pub mod source;
pub mod spec;
pub mod stats;
pub mod verdict;
pub mod vocab;

pub use error::{Error, ExitCode};
