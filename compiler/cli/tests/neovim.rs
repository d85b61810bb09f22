//! `pipe lsp` in a real editor: headless Neovim opens a file with errors, receives the
//! diagnostics, applies an edit that fixes them and sees them cleared, then asks for a hover.
//! Needs Neovim (Debian package `neovim`; `scripts/test.sh` installs it).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn neovim_shows_and_clears_diagnostics() {
    let nvim = Command::new("nvim").arg("--version").output();
    assert!(
        nvim.as_ref().is_ok_and(|o| o.status.success()),
        "this test needs Neovim: install it with `apt-get install -y neovim` (scripts/test.sh does)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("pipeline.pipe");
    std::fs::write(&file, "use torchx\n\n## Passes over the data.\nparam epochs: int = 3\n\nstage train: torchx.ddp {\n  image  = \"ghcr.io/acme/train:1\"\n  script = \"train.py\"\n  args   = [\"${epochs}\"]\n  gpus   = 8\n}\n").expect("write");
    let out = dir.path().join("result.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nvim/e2e.lua");
    let mut child = Command::new("nvim")
        .args(["--headless", "--clean", "-n", "-c"])
        .arg(format!("luafile {}", script.display()))
        .env("PIPE_BIN", env!("CARGO_BIN_EXE_pipe"))
        .env("PIPE_FILE", &file)
        .env("PIPE_OUT", &out)
        .spawn()
        .expect("nvim starts");
    let until = Instant::now() + Duration::from_secs(90);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("Neovim did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("the script wrote its result")).expect("JSON");
    assert_eq!(result["log"], serde_json::json!([]), "the script failed: {result}");
    let initial = result["initial"].as_array().expect("diagnostics");
    assert_eq!(initial.len(), 1, "{result}");
    assert_eq!(initial[0]["code"], "E3002");
    assert_eq!((initial[0]["lnum"].as_u64(), initial[0]["col"].as_u64()), (Some(9), Some(2)));
    assert!(initial[0]["message"].as_str().is_some_and(|m| m.contains("did you mean `gpu`?")), "{result}");
    assert_eq!(result["cleared"], true, "fixing the field clears the diagnostics: {result}");
    assert!(result["hover"].as_str().is_some_and(|h| h.contains("template ddp")), "{result}");
}
