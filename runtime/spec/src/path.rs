//! The rule every path in a manifest obeys: relative, `/`-separated, and unable to leave the folder
//! it is written into.

/// Why a path cannot be stored or materialised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the path is absolute")]
    Absolute,
    #[error("the path contains a NUL byte")]
    Nul,
    #[error("the path contains a backslash, which other systems read as a separator")]
    Backslash,
    #[error("the path has a `{0}` component")]
    Component(String),
    #[error("the path is not valid UTF-8")]
    NotUtf8,
    #[error(
        "the path goes through a `.pipe` folder, where pipe keeps a store and its state; `put` never stores one, so pipe did not write this"
    )]
    StoreFolder,
}

/// The folder name pipe keeps a local store and its state under.
pub const STORE_FOLDER: &str = ".pipe";

/// Checks that `path` is a relative path that stays inside the folder it is joined to: no leading
/// `/`, no `.`, `..` or empty components, no NUL and no backslash; and that it could have come
/// from `put`: no `.pipe` component, so that a commit from a store someone else wrote can never
/// write into a store or its state when it is read.
pub fn check_path(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash);
    }
    match path.split('/').find(|c| c.is_empty() || *c == "." || *c == ".." || *c == STORE_FOLDER) {
        Some(STORE_FOLDER) => Err(PathError::StoreFolder),
        Some(bad) => Err(PathError::Component(if bad.is_empty() { "empty".into() } else { bad.into() })),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_relative_paths_and_rejects_escapes() {
        for ok in ["a", "a/b.txt", "x/.hidden", "..a/b..", "ünï/cödé"] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a/", "a\0b", "a\\..\\b", ".."] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
