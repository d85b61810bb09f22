//! `--param NAME=VALUE`, as every binary reads it (`pipe run`, `pipe compile`, `pipe-shim`).
//!
//! Takes the argument's text; gives the name (trimmed) and the value (as written, `=` and all),
//! or the sentence to show when the argument has no `=`.

/// The name and value of one `--param` argument.
/// The type of a param a spec leaves open (`${name}`), for reading the value a run is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Int,
    Float,
    Bool,
    /// Any other type: the text is the value.
    Text,
}

impl ParamType {
    /// The type's name, as the language spells it.
    pub fn word(self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
            ParamType::Text => "string",
        }
    }

    /// `text` as the one text of its value, which is what a command sees and a datum's key
    /// covers: `2.0`, `2.00` and `2` of a float are `2` (Rust's `f64` display, as the compiler
    /// writes defaults), `+3` of an int is `3`. `None` when `text` is not of this type.
    pub fn canonical(self, text: &str) -> Option<String> {
        match self {
            ParamType::Int => text.trim().parse::<i64>().ok().map(|n| n.to_string()),
            ParamType::Float => text.trim().parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f.to_string()),
            ParamType::Bool => matches!(text, "true" | "false").then(|| text.to_owned()),
            ParamType::Text => Some(text.to_owned()),
        }
    }
}

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
    fn one_value_one_text() {
        assert_eq!(ParamType::Float.canonical("2.0").as_deref(), Some("2"));
        assert_eq!(ParamType::Float.canonical("1e-07").as_deref(), Some("0.0000001"));
        assert_eq!(ParamType::Float.canonical(" 0.10 ").as_deref(), Some("0.1"));
        assert_eq!(ParamType::Int.canonical("+3").as_deref(), Some("3"));
        assert_eq!(ParamType::Text.canonical("2.0").as_deref(), Some("2.0"));
        for (ty, bad) in
            [(ParamType::Float, "inf"), (ParamType::Float, "nan"), (ParamType::Int, "2.5"), (ParamType::Bool, "yes")]
        {
            assert_eq!(ty.canonical(bad), None, "{bad}");
        }
    }

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
