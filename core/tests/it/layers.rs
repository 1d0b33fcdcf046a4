//! The core's layers depend one way: `sync → store → model → doc`, with `kind`, `ids`,
//! `error`, `limits`, `retry`, `clock`, `names` and `photo` below them all. The compiler
//! cannot see this inside one crate, so this test reads the sources: a module may name only
//! the layers below it. Unit tests at the bottom of a file (after `#[cfg(test)]`), and a
//! folder's `tests.rs` (a kind's `model/<kind>/tests.rs`), may use any layer (a rule's tests
//! drive whole stores).

use std::path::{Path, PathBuf};

/// The layers, lowest first, and the source paths (relative to `src/`) each holds.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &[
            "error.rs",
            "ids.rs",
            "kind.rs",
            "limits.rs",
            "retry.rs",
            "clock.rs",
            "names.rs",
            "photo/",
        ],
    ),
    ("doc", &["doc.rs", "forge.rs"]),
    // Each kind is a folder (`model/task/`: types, entry, ops, derive, fields, tests).
    ("model", &["model/", "validate.rs", "validate/"]),
    ("store", &["store/"]),
    ("sync", &["sync/"]),
    // The unit tests' shared helpers drive whole stores.
    ("testing", &["testing.rs"]),
];

/// The module paths that reach into each layer, as `crate::…` would name them.
const PREFIXES: &[(&str, &[&str])] = &[
    ("doc", &["crate::doc"]),
    (
        "model",
        &["crate::model", "crate::audience", "crate::validate"],
    ),
    ("store", &["crate::store", "crate::Store"]),
    ("sync", &["crate::sync"]),
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    Ok(())
}

#[test]
fn core_modules_name_only_the_layers_below_them() -> std::io::Result<()> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all)?;
    let mut wrong = Vec::new();
    let mut placed = 0;
    for path in &all {
        let rel = path
            .strip_prefix(&src)
            .map_err(std::io::Error::other)?
            .to_string_lossy()
            .replace('\\', "/");
        let Some(level) = LAYERS.iter().position(|(_, paths)| {
            paths
                .iter()
                .any(|p| rel == *p || (p.ends_with('/') && rel.starts_with(p)))
        }) else {
            continue; // lib.rs: re-exports every layer
        };
        placed += 1;
        let text = std::fs::read_to_string(path)?;
        // A folder's `tests.rs` (declared `#[cfg(test)] mod tests;`) is unit tests throughout.
        let code = if rel.ends_with("/tests.rs") {
            ""
        } else {
            text.split("#[cfg(test)]").next().unwrap_or_default()
        };
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue; // docs may link anywhere
            }
            for (layer, prefixes) in PREFIXES {
                let above = LAYERS.iter().position(|(l, _)| l == layer).unwrap_or(0) > level;
                if above && prefixes.iter().any(|p| line.contains(p)) {
                    wrong.push(format!("src/{rel}:{}: names `{layer}`: {line}", n + 1));
                }
            }
        }
    }
    assert!(
        placed > 40,
        "only {placed} files were checked: is LAYERS out of date?"
    );
    assert!(
        wrong.is_empty(),
        "upward dependencies:\n{}",
        wrong.join("\n")
    );
    Ok(())
}

#[test]
fn every_core_source_file_has_a_layer() -> std::io::Result<()> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all)?;
    for path in all {
        let rel = path
            .strip_prefix(&src)
            .map_err(std::io::Error::other)?
            .to_string_lossy()
            .replace('\\', "/");
        let placed = rel == "lib.rs"
            || LAYERS.iter().any(|(_, paths)| {
                paths
                    .iter()
                    .any(|p| rel == *p || (p.ends_with('/') && rel.starts_with(p)))
            });
        assert!(placed, "src/{rel} is in no layer: add it to LAYERS");
    }
    Ok(())
}
