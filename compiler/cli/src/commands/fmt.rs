//! `pipe fmt`: rewrite files canonically, or with `--check` list those that are not.

use crate::files::{display_name, pipeline_files, read};
use crate::report::{self, Failure, Outcome};
use pipe_core::source::SourceMap;
use std::io::Read;
use std::path::PathBuf;

pub(crate) fn run(named: &[PathBuf], check: bool) -> Outcome {
    if named.len() == 1 && named[0].as_os_str() == "-" {
        return stdin();
    }
    let files = pipeline_files(named).map_err(Failure::Usage)?;
    let mut worst = 0;
    for path in &files {
        let name = display_name(path);
        let text = match read(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                worst = 2;
                continue;
            }
        };
        match pipe_core::format::format(&text) {
            Ok(formatted) if formatted == text => {}
            Ok(_) if check => {
                println!("{name}");
                worst = worst.max(1);
            }
            Ok(formatted) => {
                if let Err(e) = std::fs::write(path, formatted) {
                    eprintln!("error: cannot write `{name}`: {e}");
                    worst = 2;
                }
            }
            Err(diags) => {
                let mut sources = SourceMap::default();
                sources.add(name.clone(), text);
                report::print(&diags, &sources);
                eprintln!("error: `{name}` has syntax errors and was not formatted");
                worst = worst.max(1);
            }
        }
    }
    match worst {
        0 => Ok(()),
        1 if check => Err(Failure::error("the files above are not formatted; run `pipe fmt` to format them")),
        1 => Err(Failure::Shown),
        _ => Err(Failure::UsageShown),
    }
}

fn stdin() -> Outcome {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
    match pipe_core::format::format(&text) {
        Ok(formatted) => {
            print!("{formatted}");
            Ok(())
        }
        Err(diags) => {
            let mut sources = SourceMap::default();
            sources.add("<stdin>", text);
            report::print(&diags, &sources);
            Err(Failure::Shown)
        }
    }
}
