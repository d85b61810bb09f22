//! Writing Python source: lines, string literals, identifiers.

/// Python source built line by line.
#[derive(Debug, Default)]
pub(crate) struct Py {
    text: String,
}

impl Py {
    pub(crate) fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    pub(crate) fn finish(self) -> String {
        self.text
    }
}

/// A Python string literal for `s`. A JSON string literal is one: Python reads the same escapes.
pub(crate) fn string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// Python's keywords and the names the module imports.
const RESERVED: [&str; 38] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "specs", "macros", "Dict",
];

/// Public names of `torchx.specs.finder`: TorchX loads a component file by `exec`-ing it in that
/// module's globals, so a component named `validate` would replace the finder's linter (and
/// break every later lookup in the process).
const TORCHX_FINDER: [&str; 29] = [
    "AppDef",
    "Callable",
    "ComponentNotFoundException",
    "ComponentValidationException",
    "ComponentsFinder",
    "CustomComponentsFinder",
    "Generator",
    "List",
    "ModuleComponentsFinder",
    "ModuleType",
    "Optional",
    "Path",
    "Union",
    "abc",
    "dataclass",
    "entrypoints",
    "get_builtin_source",
    "get_component",
    "get_components",
    "get_fn_docstring",
    "getmembers",
    "importlib",
    "inspect",
    "is_namespace_package",
    "is_package",
    "isfunction",
    "logger",
    "logging",
    "validate",
];

/// A pipe identifier as a Python one: unchanged unless it is reserved (a keyword, an import, a
/// name TorchX's finder relies on) or starts with `_`, which get a trailing `_`.
pub(crate) fn ident(name: &str) -> String {
    let more = ["module_relname", "none_throws", "os", "pkgutil", "read_conf_file"];
    if RESERVED.contains(&name) || TORCHX_FINDER.contains(&name) || more.contains(&name) || name.starts_with('_') {
        format!("{name}_")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_names_are_valid_python() {
        assert_eq!(string("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(ident("train"), "train");
        assert_eq!(ident("class"), "class_");
        assert_eq!(ident("specs"), "specs_");
        assert_eq!(ident("validate"), "validate_");
    }
}
