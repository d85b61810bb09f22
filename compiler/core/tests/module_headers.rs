//! Each module's `//!` header names exactly the diagnostic codes the module raises.
//!
//! A header is where a reader looks first to learn which errors come from where; one that names a
//! code raised elsewhere, or misses one raised here, sends them to the wrong file. A code is
//! raised where the source spells `Code::X` (outside tests and `matches!`); a header names codes
//! as `E3001`, ranges `E3006–E3009` or a whole phase `E1xxx`. A `mod.rs` or `lib.rs` speaks for its whole folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The crates whose modules raise diagnostics.
const CRATES: [&str; 5] = ["core", "argo", "torchx", "lsp", "cli"];

fn sources(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("a readable source tree"))
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.into_path())
        .collect()
}

/// The codes `text` names: `E3001`, ranges `E3006–E3009` expanded, and a phase `E1xxx` as every
/// registered code of it.
fn named(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let phase = regex::Regex::new(r"\b([EW]\d)xxx\b").expect("a regex");
    for c in phase.captures_iter(text) {
        let all = pipe_core::diag::Code::ALL.iter().map(|code| code.as_str());
        out.extend(all.filter(|code| code.starts_with(&c[1])).map(str::to_owned));
    }
    let re = regex::Regex::new(r"([EW])(\d{4})(?:\s*[–-]\s*[EW](\d{4}))?").expect("a regex");
    for c in re.captures_iter(text) {
        let first: u32 = c[2].parse().expect("digits");
        let last: u32 = c.get(3).map_or(first, |m| m.as_str().parse().expect("digits"));
        for n in first..=last {
            out.insert(format!("{}{n}", &c[1]));
        }
    }
    out
}

/// The codes a source file raises: `Code::X` outside its tests and outside `matches!`.
fn raised(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).expect("a readable source");
    let body = text.split("#[cfg(test)]").next().unwrap_or_default();
    let re = regex::Regex::new(r"Code::([EW]\d{4})").expect("a regex");
    body.lines()
        .filter(|line| !line.contains("matches!("))
        .flat_map(|line| re.captures_iter(line).map(|c| c[1].to_owned()).collect::<Vec<_>>())
        .collect()
}

fn header(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("a readable source");
    text.lines().filter_map(|l| l.strip_prefix("//!")).collect::<Vec<_>>().join("\n")
}

#[test]
fn each_module_header_names_the_codes_it_raises() {
    let compiler = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut wrong = Vec::new();
    for krate in CRATES {
        let src = compiler.join(krate).join("src");
        for file in sources(&src) {
            if file.ends_with("diag/codes.rs") {
                continue; // the registry names them all
            }
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let speaks_for_folder = name == "mod.rs" || name == "lib.rs";
            let raises: BTreeSet<String> = if speaks_for_folder {
                let folder = file.parent().expect("a folder");
                sources(folder).iter().flat_map(|f| raised(f)).collect()
            } else {
                raised(&file)
            };
            let says = named(&header(&file));
            if raises != says {
                let missing: Vec<_> = raises.difference(&says).collect();
                let extra: Vec<_> = says.difference(&raises).collect();
                let shown = file.strip_prefix(&compiler).unwrap_or(&file).display().to_string();
                wrong.push(format!("{shown}: header misses {missing:?}, names {extra:?} it does not raise"));
            }
        }
    }
    assert!(wrong.is_empty(), "module headers out of date:\n{}", wrong.join("\n"));
}
