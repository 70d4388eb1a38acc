//! Running the `ventral` binary from a test, and fresh scratch folders.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the binary with `args` to completion.
pub fn ventral(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ventral"))
        .args(args)
        .output()
        .expect("binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An empty folder `ventral-<suite>-<pid>-<name>` under the temporary directory.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ventral-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
