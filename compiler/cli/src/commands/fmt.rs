//! `pipe fmt`: rewrite files canonically, or with `--check` list those that are not.

use crate::files::{display_name, pipeline_files, read};
use crate::report;
use pipe_core::source::SourceMap;
use std::io::Read;
use std::path::PathBuf;

pub(crate) fn run(named: &[PathBuf], check: bool) -> u8 {
    if named.len() == 1 && named[0].as_os_str() == "-" {
        return stdin();
    }
    let files = match pipeline_files(named) {
        Ok(f) => f,
        Err(e) => return report::usage_error(&e),
    };
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
    if check && worst == 1 {
        eprintln!("error: the files above are not formatted; run `pipe fmt` to format them");
    }
    worst
}

fn stdin() -> u8 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        return report::usage_error(&format!("cannot read standard input: {e}"));
    }
    match pipe_core::format::format(&text) {
        Ok(formatted) => {
            print!("{formatted}");
            0
        }
        Err(diags) => {
            let mut sources = SourceMap::default();
            sources.add("<stdin>", text);
            report::print(&diags, &sources);
            1
        }
    }
}
