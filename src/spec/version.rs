//! The format version every spec and model-set file carries.

use serde::{Deserialize, Serialize};

/// The only format version this build reads.
pub const CURRENT_VERSION: u32 = 1;

/// `version: 1`. Any other number is rejected with a message that says which version this build
/// reads, so that a newer spec fails clearly on an older modecollapse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Version(pub u32);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        if v != CURRENT_VERSION {
            return Err(serde::de::Error::custom(format!(
                "version: unsupported format version {v}; this build of modecollapse reads version {CURRENT_VERSION}"
            )));
        }
        Ok(Version(v))
    }
}

impl schemars::JsonSchema for Version {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Version".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The format version; this build reads 1.",
            "const": CURRENT_VERSION,
        })
    }
}
