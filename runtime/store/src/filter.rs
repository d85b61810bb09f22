//! Which paths of a commit a command applies to: glob patterns, where a pattern that matches a
//! folder selects everything under it (`train` and `train/*` both select `train/a/b.png`).

use crate::error::{Result, StoreError};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// A set of patterns; no patterns select everything.
#[derive(Debug, Clone)]
pub struct Filter {
    set: Option<GlobSet>,
}

impl Filter {
    /// All paths.
    pub fn all() -> Filter {
        Filter { set: None }
    }

    /// The paths matching any of `patterns`. `*` stays within one folder; `**` crosses folders.
    pub fn new(patterns: &[String]) -> Result<Filter> {
        if patterns.is_empty() {
            return Ok(Filter::all());
        }
        let mut set = GlobSetBuilder::new();
        for p in patterns {
            let trimmed = p.trim_start_matches('/').trim_end_matches('/');
            let glob = GlobBuilder::new(trimmed).literal_separator(true).build();
            set.add(glob.map_err(|e| StoreError::Glob { pattern: p.clone(), reason: e.kind().to_string() })?);
        }
        let set = set.build().map_err(|e| StoreError::Glob { pattern: patterns.join(" "), reason: e.to_string() })?;
        Ok(Filter { set: Some(set) })
    }

    /// Whether `path`, or a folder it is in, matches.
    pub fn matches(&self, path: &str) -> bool {
        let Some(set) = &self.set else { return true };
        let mut prefix = path;
        loop {
            if set.is_match(prefix) {
                return true;
            }
            match prefix.rfind('/') {
                Some(i) => prefix = &prefix[..i],
                None => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_select_their_contents_and_star_stays_in_one_folder() {
        let f = Filter::new(&["train".into(), "test/*.png".into()]).expect("valid");
        assert!(f.matches("train/a/b.png"));
        assert!(f.matches("test/x.png"));
        assert!(!f.matches("test/deep/x.png"));
        assert!(!f.matches("trainer.txt"));
        assert!(Filter::new(&["a[".into()]).is_err());
        assert!(Filter::all().matches("anything"));
    }
}
