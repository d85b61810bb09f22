//! Compiles the committed, generated parser (src/parser.c); no generator is needed.
fn main() {
    let src = std::path::Path::new("src");
    cc::Build::new().std("c11").include(src).file(src.join("parser.c")).warnings(false).compile("tree-sitter-pipe");
    println!("cargo:rerun-if-changed=src/parser.c");
}
