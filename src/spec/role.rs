//! Model roles: the training stage a model stands for in a claim.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The training stage a model stands for. A closed set, so that a typo in a spec is an error
/// rather than a role no model set ever binds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A pretrained model with no instruction tuning (davinci, code-davinci-002, gemma-3-270m).
    Base,
    /// Supervised fine-tuning, including FeedME-style tuning on highly rated samples
    /// (text-davinci-002).
    Sft,
    /// SFT followed by direct preference optimisation (SmolLM2-Instruct, OLMo-2-DPO).
    Dpo,
    /// SFT followed by RL from human feedback with a KL penalty (text-davinci-003).
    Rlhf,
    /// Preference tuning followed by RL with verifiable rewards (OLMo-2-Instruct).
    Rlvr,
}

impl Role {
    /// Every role, in the order reports list them (training order).
    pub const ALL: [Role; 5] = [Role::Base, Role::Sft, Role::Dpo, Role::Rlhf, Role::Rlvr];

    /// The name used in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Base => "base",
            Role::Sft => "sft",
            Role::Dpo => "dpo",
            Role::Rlhf => "rlhf",
            Role::Rlvr => "rlvr",
        }
    }

    /// Parses a role name as written in an expectation.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
