//! The crate's modules in layers: a module may use the ones below it, never one above (so
//! the read and write paths know nothing of HTTP, and the cache nothing of the paths). The
//! store, the query planner and the schema are crates of their own below all of these,
//! which the compiler keeps from seeing this crate.
//! Checked by reading the sources: every `crate::<module>` path outside comments.

use std::path::Path;

/// Lowest first. A module may name only modules earlier in the list.
const LAYERS: &[&str] = &["config", "encoding", "redis_client", "bus", "cache", "app", "service", "http", "serve"];

fn sources(path: &Path, found: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            sources(&entry.unwrap().path(), found);
        }
    } else if path.extension().is_some_and(|extension| extension == "rs") {
        found.push(path.to_owned());
    }
}

/// The top-level modules a source file names through `crate::…`, comments left out.
fn named_modules(text: &str) -> Vec<String> {
    let mut named = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(position) = rest.find("crate::") {
            rest = &rest[position + "crate::".len()..];
            let name: String =
                rest.chars().take_while(|character| character.is_alphanumeric() || *character == '_').collect();
            named.push(name);
        }
    }
    named
}

#[test]
fn no_module_uses_one_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (level, module) in LAYERS.iter().enumerate() {
        let mut files = Vec::new();
        sources(&root.join(module), &mut files);
        let file = root.join(format!("{module}.rs"));
        if file.exists() {
            files.push(file);
        }
        assert!(!files.is_empty(), "the layer list names '{module}', which has no source");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for name in named_modules(&text) {
                match LAYERS.iter().position(|layer| *layer == name) {
                    Some(other) if other > level => {
                        violations.push(format!("{} uses crate::{name}", file.display()));
                    }
                    Some(_) => {}
                    None => violations.push(format!("{} names crate::{name}, which has no layer", file.display())),
                }
            }
        }
    }
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let module = name.trim_end_matches(".rs");
        assert!(
            ["lib", "layering"].contains(&module) || LAYERS.contains(&module),
            "the module '{module}' has no layer: add it to LAYERS"
        );
    }
    assert!(violations.is_empty(), "modules using modules above them:\n{}", violations.join("\n"));
}
