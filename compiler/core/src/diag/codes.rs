//! The registry of diagnostic codes.
//!
//! Every code the compiler can raise is listed here exactly once, with its title and its
//! documentation (`docs/<CODE>.md`, embedded at build time). `E` codes are errors, `W` codes
//! warnings; the first digit is the phase that raises them: 1 syntax, 2 names, 3 types,
//! 4 graph, 5 target limits. Codes are never reused or renumbered.

use serde::{Serialize, Serializer};

macro_rules! codes {
    ($($code:ident => $title:literal,)*) => {
        /// A diagnostic code such as `E3001`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($code),* }

        impl Code {
            /// Every code, in numeric order within each phase.
            pub const ALL: &'static [Code] = &[$(Code::$code),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$code => stringify!($code)),* }
            }

            /// A short lowercase title, e.g. "undefined name".
            pub fn title(self) -> &'static str {
                match self { $(Code::$code => $title),* }
            }

            /// The markdown documentation: what raises it, a failing example, the fix.
            pub fn doc(self) -> &'static str {
                match self { $(Code::$code => include_str!(concat!("docs/", stringify!($code), ".md"))),* }
            }
        }
    };
}

codes! {
    E1001 => "unexpected character",
    E1002 => "unterminated string",
    E1003 => "expected an item",
    E1004 => "unexpected token",
    E1005 => "unclosed delimiter",
    E1006 => "malformed number or unit literal",
    E1007 => "invalid escape sequence",
    E1008 => "malformed interpolation",
    E1009 => "values nested too deeply",
    E2001 => "undefined name",
    E2002 => "duplicate definition",
    E2003 => "unknown standard library module",
    E2004 => "cannot load a used file",
    E2005 => "unknown template",
    E2006 => "duplicate field",
    E2007 => "unknown function",
    E2008 => "interpolation of an undefined param",
    E2009 => "a used file may only define templates",
    E2010 => "unknown type",
    E2011 => "wrong kind of name",
    W2001 => "unused param",
    W2002 => "unused input",
    W2003 => "unused use",
    E3001 => "type mismatch",
    E3002 => "unknown field",
    E3003 => "missing required field",
    E3004 => "unit does not fit the type",
    E3005 => "wrong arguments",
    E3006 => "invalid glob pattern",
    E3007 => "glob pattern can never match",
    E3008 => "join or group keys do not line up",
    E3009 => "group or join key names a missing capture",
    E3010 => "value out of range",
    E3011 => "value is not one of the allowed values",
    E3012 => "invalid cron schedule",
    E3013 => "invalid input source",
    E3014 => "secret outside `env`",
    E3015 => "template field declared twice",
    E3016 => "invalid image reference",
    E3017 => "param in a structural field",
    E3018 => "invalid metrics path",
    E3019 => "invalid sweep",
    E3020 => "invalid input role",
    E3021 => "invalid trigger",
    W3001 => "`gpu_type` without a GPU",
    W3002 => "more processes than GPUs",
    W3003 => "memory without a unit",
    W3004 => "more CPU cores than any node has",
    E4001 => "cycle between stages",
    E4002 => "stage reads its own output",
    E4003 => "template inherits from itself",
    E4004 => "files use each other in a cycle",
    E5001 => "names collide on Kubernetes",
    E5002 => "name too long for Kubernetes",
    E5003 => "invalid Kubernetes label",
    E5004 => "invalid environment variable name",
    E5005 => "invalid secret reference",
    E5006 => "invalid pipeline name",
    E5007 => "manifest too large for Kubernetes",
    E5008 => "text Argo would substitute",
    W5001 => "placement TorchX's Kubernetes scheduler drops",
}

/// How bad a diagnostic is; derived from the code's first letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Code {
    pub fn severity(self) -> Severity {
        if self.as_str().starts_with('W') { Severity::Warning } else { Severity::Error }
    }

    /// Looks a code up by its text, ignoring case (`e3001` finds `E3001`).
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
