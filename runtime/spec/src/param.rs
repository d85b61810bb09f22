//! `--param NAME=VALUE`, as every binary reads it (`pipe run`, `pipe compile`, `pipe-shim`).
//!
//! Takes the argument's text; gives the name (trimmed) and the value (as written, `=` and all),
//! or the sentence to show when the argument has no `=`.

/// The name and value of one `--param` argument.
pub fn parse_param(given: &str) -> Result<(String, String), String> {
    match given.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_owned(), value.to_owned())),
        _ => Err(format!("`--param {given}` needs the form NAME=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_param_is_name_equals_value() {
        assert_eq!(parse_param(" lr =0.1"), Ok(("lr".into(), "0.1".into())));
        assert_eq!(parse_param("q=a=b"), Ok(("q".into(), "a=b".into())), "the value keeps its `=`");
        assert_eq!(parse_param("x="), Ok(("x".into(), String::new())));
        for bad in ["lr", "=3", " =3"] {
            assert!(parse_param(bad).expect_err(bad).contains("NAME=VALUE"));
        }
    }
}
