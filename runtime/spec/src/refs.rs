//! What the store records about repos and refs, and the rule for their names.

use crate::manifest::CommitId;
use serde::{Deserialize, Serialize};

/// The format number of [`RefRecord`] and [`RepoRecord`].
pub const REF_FORMAT: u32 = 1;

/// A branch moves; a tag never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    Branch,
    Tag,
}

/// One position of a ref: which commit it names, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefRecord {
    pub format: u32,
    pub kind: RefKind,
    pub commit: CommitId,
    /// RFC 3339, UTC.
    pub time: String,
}

/// The marker that a repo exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoRecord {
    pub format: u32,
    pub name: String,
    /// RFC 3339, UTC.
    pub created: String,
}

/// Checks a repo, branch or tag name: 1–100 characters from `A-Z a-z 0-9 . _ -`, starting with a
/// letter or digit. Names become parts of object keys, so nothing else is allowed.
pub fn check_name(name: &str) -> Result<(), String> {
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && name.len() <= 100 {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid name: use 1–100 letters, digits, `.`, `_` or `-`, starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_key_safe() {
        for ok in ["mnist", "v1.2", "main", "raw_images-2024"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".hidden", "a/b", "a b", "ä", &"x".repeat(101)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}

/// What a pipeline input named by `repo(NAME) @ REF` resolved to when a pipeline was run or
/// compiled: recorded so the run can be reproduced on exactly the same data later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedInput {
    /// The input's name in the pipeline.
    pub name: String,
    pub repo: String,
    /// The branch, tag or commit as written.
    pub reference: String,
    pub commit: CommitId,
}
