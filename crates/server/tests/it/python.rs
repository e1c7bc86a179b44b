//! The Python venv tests use for outside clients (Trust Payments' SDK, the example merchant's
//! `standardwebhooks`, schemathesis): `$OVERTURE_TEST_PYTHON`, else `<repo>/.venv/bin/python`,
//! made by `.ci/run` from `tests/python/requirements.txt`. A missing interpreter or package
//! fails the test with the command that makes it, never skips it.

use std::path::PathBuf;
use std::process::Command;

/// How to make the venv.
pub const SETUP_HINT: &str = "create it at the repository root with `python3 -m venv .venv && \
    .venv/bin/pip install -r tests/python/requirements.txt` (what .ci/run does), or set \
    OVERTURE_TEST_PYTHON to an interpreter that has the packages of that file";

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The interpreter, checked to import `module` at `version`; `purpose` names the test in the
/// panic message.
pub fn python(module: &str, version: &str, purpose: &str) -> PathBuf {
    let path = std::env::var_os("OVERTURE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{purpose} needs a Python interpreter at {}: {SETUP_HINT}",
        path.display()
    );
    let probe = Command::new(&path)
        .args([
            "-c",
            &format!("import sys, {module}; sys.stdout.write({module}.__version__)"),
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {SETUP_HINT}", path.display()));
    assert!(
        probe.status.success(),
        "{} cannot import {module} ({}): {SETUP_HINT}",
        path.display(),
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout),
        version,
        "{module} {version} is required: {SETUP_HINT}"
    );
    path
}
