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
    /// SFT followed by RL from human feedback with a KL penalty (text-davinci-003; the
    /// ladder's `rlhf` rung: RL against a fixed rater with β = 1).
    Rlhf,
    /// An over-optimised policy: the RL objective with the KL penalty near zero, trained past
    /// where it should stop (the ladder's `overopt` checkpoints, at increasing KL from the base).
    Overopt,
    /// RL with an entropy bonus besides the KL penalty (the post's SAC remark; the ladder's
    /// `entreg` rung).
    Entreg,
    /// Supervised fine-tuning on top-rated samples of an RLHF policy (the post's FeedME
    /// question; the ladder's `sft_on_rlhf` rung).
    SftOnRlhf,
    /// Preference tuning followed by RL with verifiable rewards (OLMo-2-Instruct).
    Rlvr,
}

impl Role {
    /// Every role, in the order reports list them (training order).
    pub const ALL: [Role; 8] = [
        Role::Base,
        Role::Sft,
        Role::Dpo,
        Role::Rlhf,
        Role::Overopt,
        Role::Entreg,
        Role::SftOnRlhf,
        Role::Rlvr,
    ];

    /// The name used in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Base => "base",
            Role::Sft => "sft",
            Role::Dpo => "dpo",
            Role::Rlhf => "rlhf",
            Role::Overopt => "overopt",
            Role::Entreg => "entreg",
            Role::SftOnRlhf => "sft_on_rlhf",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_parses_from_its_name_and_serde_agrees() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let yaml: Role = serde_yaml::from_str(role.as_str()).unwrap();
            assert_eq!(yaml, role);
        }
        assert_eq!(Role::parse("sft-on-rlhf"), None);
    }
}
