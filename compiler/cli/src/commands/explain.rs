//! `pipe explain CODE`: the documentation of a diagnostic code.

use crate::report::{Failure, Outcome};
use pipe_core::diag::{Code, closest};

pub(crate) fn run(code: &str) -> Outcome {
    match Code::parse(code) {
        Some(c) => {
            print!("{}", c.doc());
            Ok(())
        }
        None => {
            let upper = code.trim().to_uppercase();
            let near = closest(&upper, Code::ALL.iter().map(|c| c.as_str()));
            let hint = near
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_else(|| "; codes look like `E3001` or `W2001`".into());
            Err(Failure::usage(format!("no diagnostic code `{code}`{hint}")))
        }
    }
}
