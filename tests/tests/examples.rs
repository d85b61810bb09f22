//! Every example, every standard module and every file an example uses: checked clean, already in
//! canonical format, and its graph snapshotted.

use pipe_core::graph::render;
use pipe_core::{format, stdlib};
use pipe_tests::{analyze_files, pipe_files, rendered, repo_root};

#[test]
fn examples_check_clean_and_are_formatted() {
    let examples = repo_root().join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/") {
        let dir = entry.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().and_then(|n| n.to_str()).expect("utf-8 name").to_string();
        assert!(dir.join("README.md").is_file(), "examples/{name} needs a README.md");
        let files = pipe_files(&dir);
        for (path, text) in &files {
            assert_eq!(
                format::format(text).as_deref(),
                Ok(text.as_str()),
                "examples/{name}/{path} is not formatted; run `pipe fmt`"
            );
        }
        let a = analyze_files("pipeline.pipe", files);
        assert!(a.diagnostics.is_empty(), "examples/{name}:\n{}", rendered(&a));
        assert!(a.pipeline().stages.len() >= 3, "examples/{name} should be a realistic pipeline");
        insta::assert_snapshot!(format!("example_{name}"), render::mermaid(a.pipeline()));
        count += 1;
    }
    assert!(count >= 4, "expected at least four examples, found {count}");
}

#[test]
fn stdlib_modules_parse_clean_and_are_formatted() {
    for (name, text) in stdlib::MODULES {
        let (_, diags) = pipe_core::syntax::parse(pipe_core::source::FileId(0), text);
        assert!(diags.is_empty(), "stdlib/{name}.pipe: {diags:?}");
        assert_eq!(format::format(text).as_deref(), Ok(text), "stdlib/{name}.pipe is not formatted");
        let use_it = format!("use {name}\n");
        let a = analyze_files("main.pipe", [("main.pipe".to_string(), use_it)].into());
        assert!(a.diagnostics.iter().all(|d| !d.is_error()), "stdlib/{name}.pipe:\n{}", rendered(&a));
    }
}

#[test]
fn every_stdlib_template_and_field_is_documented() {
    let a = analyze_files("main.pipe", [("main.pipe".to_string(), "use torchx\n".to_string())].into());
    let module = &a.program.modules[1];
    for item in &module.ast.items {
        if let pipe_core::syntax::ast::ItemKind::Template(t) = &item.kind {
            assert!(item.doc.is_some(), "torchx.{} has no `##` doc", t.name.name);
            for m in &t.members {
                if let pipe_core::syntax::ast::Member::Decl(d) = m {
                    assert!(d.doc.is_some(), "torchx.{}.{} has no `##` doc", t.name.name, d.name.name);
                }
            }
        }
    }
}

#[test]
fn samples_in_the_readme_and_the_grammar_check_without_errors() {
    let mut count = 0;
    for doc in ["README.md", "grammar/GRAMMAR.md"] {
        let text = std::fs::read_to_string(repo_root().join(doc)).expect("doc exists");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() != "```pipe" {
                continue;
            }
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            let sample = body.join("\n") + "\n";
            let a = analyze_files("main.pipe", [("main.pipe".to_string(), sample.clone())].into());
            assert!(!a.has_errors(), "a sample in {doc} has errors:\n{sample}\n{}", rendered(&a));
            count += 1;
        }
    }
    assert!(count >= 2, "found only {count} samples");
}
