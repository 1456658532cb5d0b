//! The architecture invariants of `docs/ARCHITECTURE.md`, checked from `cargo metadata` and the
//! sources.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Which workspace crates each library may depend on (normal and build dependencies).
/// An arrow in the architecture ("is used by") becomes an entry here.
const ALLOWED: &[(&str, &[&str])] = &[
    ("agentrace-semconv", &[]),
    ("agentrace-sdk", &["agentrace-semconv"]),
    ("agentrace-stream", &["agentrace-semconv", "agentrace-sdk"]),
    ("agentrace-loader", &["agentrace-semconv"]),
    ("agentrace-eval", &["agentrace-semconv", "agentrace-loader"]),
    (
        "agentrace-server",
        &["agentrace-semconv", "agentrace-loader", "agentrace-eval"],
    ),
    (
        "agentrace",
        &[
            "agentrace-semconv",
            "agentrace-loader",
            "agentrace-eval",
            "agentrace-server",
        ],
    ),
];

/// External crates a workspace crate must not use (normal dependencies), with the reason.
const FORBIDDEN_EXTERNAL: &[(&str, &[&str], &str)] = &[
    (
        "agentrace-semconv",
        &[
            "tokio",
            "futures",
            "futures-core",
            "async-std",
            "opentelemetry",
            "opentelemetry_sdk",
        ],
        "semconv is the vocabulary: no I/O, nothing async, no SDK",
    ),
    (
        "agentrace-loader",
        &["tokio", "axum", "futures", "tonic", "hyper"],
        "the loader is synchronous and knows nothing of tokio or axum",
    ),
    (
        "agentrace-eval",
        &["tokio", "axum", "futures", "tonic", "hyper"],
        "eval is synchronous and knows nothing of tokio or axum",
    ),
];

/// Only these packages may depend on axum (in any dependency kind).
const AXUM_USERS: &[&str] = &["agentrace-server", "agentrace"];

/// What `cargo metadata` says about the workspace.
#[derive(Debug)]
pub(crate) struct Metadata {
    packages: Vec<Package>,
}

#[derive(Debug)]
struct Package {
    name: String,
    version: String,
    publish: bool,
    manifest_dir: PathBuf,
    /// (dependency name, kind: "normal" | "dev" | "build", is a workspace path dependency)
    deps: Vec<(String, String, bool)>,
}

impl Metadata {
    pub(crate) fn load() -> Result<Self> {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .output()
            .context("cannot run cargo metadata")?;
        if !out.status.success() {
            bail!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let json: Value = serde_json::from_slice(&out.stdout).context("cargo metadata output")?;
        let mut packages = Vec::new();
        for p in json["packages"]
            .as_array()
            .context("metadata has no packages")?
        {
            let name = p["name"].as_str().unwrap_or_default().to_owned();
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
            let deps = p["dependencies"]
                .as_array()
                .map(|deps| {
                    deps.iter()
                        .map(|d| {
                            (
                                d["name"].as_str().unwrap_or_default().to_owned(),
                                d["kind"].as_str().unwrap_or("normal").to_owned(),
                                d.get("path").is_some_and(|p| !p.is_null()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            packages.push(Package {
                name,
                version: p["version"].as_str().unwrap_or_default().to_owned(),
                // `publish: []` means "never"; null means "anywhere".
                publish: !p["publish"].as_array().is_some_and(Vec::is_empty),
                manifest_dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
                deps,
            });
        }
        Ok(Self { packages })
    }

    /// Every workspace member shares one version; returns it.
    pub(crate) fn check_versions_agree(&self) -> Result<String> {
        let versions: BTreeSet<&str> = self
            .packages
            .iter()
            .filter(|p| p.publish)
            .map(|p| p.version.as_str())
            .collect();
        match versions.len() {
            1 => Ok(versions.into_iter().next().unwrap_or_default().to_owned()),
            0 => bail!("no publishable crate in the workspace"),
            _ => bail!("publishable crates disagree on the version: {versions:?}"),
        }
    }

    /// Names of the members that are not published (xtask, examples).
    pub(crate) fn unpublished(&self) -> Vec<String> {
        self.packages
            .iter()
            .filter(|p| !p.publish)
            .map(|p| p.name.clone())
            .collect()
    }
}

/// Runs every invariant and reports all violations at once.
pub(crate) fn check(root: &Path) -> Result<()> {
    let metadata = Metadata::load()?;
    let mut problems = Vec::new();
    dependency_direction(&metadata, &mut problems);
    scan_sources(root, &mut problems)?;
    inside_the_repository(root, &mut problems)?;
    if problems.is_empty() {
        println!(
            "    {} packages, dependency direction and source rules hold",
            metadata.packages.len()
        );
        return Ok(());
    }
    for p in &problems {
        println!("    violation: {p}");
    }
    bail!("{} architecture invariant violation(s)", problems.len())
}

fn dependency_direction(metadata: &Metadata, problems: &mut Vec<String>) {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let members: BTreeSet<&str> = metadata.packages.iter().map(|p| p.name.as_str()).collect();
    for package in &metadata.packages {
        let name = package.name.as_str();
        for (dep, kind, _is_path) in &package.deps {
            let dep = dep.as_str();
            if kind != "dev" && members.contains(dep) {
                match allowed.get(name) {
                    Some(ok) if ok.contains(&dep) => {}
                    Some(_) => problems.push(format!(
                        "{name} depends on {dep}, against the dependency direction"
                    )),
                    None if name.starts_with("agentrace") => problems.push(format!(
                        "{name} is a new library: add it to the dependency table in xtask and docs/ARCHITECTURE.md"
                    )),
                    None => {}
                }
            }
            if dep == "axum" && !AXUM_USERS.contains(&name) && !name.starts_with("example-") {
                problems.push(format!(
                    "{name} depends on axum; only agentrace-server knows axum"
                ));
            }
            for (crate_name, forbidden, why) in FORBIDDEN_EXTERNAL {
                if name == *crate_name && kind == "normal" && forbidden.contains(&dep) {
                    problems.push(format!("{name} depends on {dep}: {why}"));
                }
            }
        }
        if !package.manifest_dir.join("Cargo.toml").exists() {
            problems.push(format!("{name}: manifest not found"));
        }
    }
}

/// Source rules: no gen_ai key spelled as a string literal outside agentrace-semconv's sources
/// (tests, benches and fixtures may spell raw telemetry), and no ignored test anywhere.
fn scan_sources(root: &Path, problems: &mut Vec<String>) -> Result<()> {
    // Built by concatenation so that this file does not trip its own rules.
    let gen_ai_literal = ["\"gen", "_ai."].concat();
    let ignore_attr = ["#[", "ignore"].concat();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "examples"] {
        collect_rs(&root.join(dir), &mut files)?;
    }
    for file in files {
        let text = fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
        let rel = file.strip_prefix(root).unwrap_or(&file);
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        let in_semconv = rel_str.starts_with("crates/agentrace-semconv/");
        let is_test_code = rel_str.contains("/tests/")
            || rel_str.contains("/benches/")
            || rel_str.contains("/testkit");
        for (n, line) in text.lines().enumerate() {
            if line.contains(&ignore_attr) {
                problems.push(format!(
                    "{rel_str}:{}: an ignored test proves nothing",
                    n + 1
                ));
            }
            if !in_semconv && !is_test_code && line.contains(&gen_ai_literal) {
                problems.push(format!(
                    "{rel_str}:{}: a gen_ai key written as a string; use agentrace_semconv::attr",
                    n + 1
                ));
            }
        }
    }
    Ok(())
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    collect(
        dir,
        &|name| name != "target" && !name.starts_with('.'),
        &|name| name.ends_with(".rs"),
        out,
    )
}

/// Every file below `dir` whose name `keep_file` accepts, in the directories whose name
/// `enter` accepts; a missing directory has none.
fn collect(
    dir: &Path,
    enter: &dyn Fn(&str) -> bool,
    keep_file: &dyn Fn(&str) -> bool,
    out: &mut Vec<PathBuf>,
) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if enter(name) {
                collect(&path, enter, keep_file, out)?;
            }
        } else if keep_file(name) {
            out.push(path);
        }
    }
    Ok(())
}

/// The one file that may name the project folder beside the repository: `cargo xtask fixtures`,
/// which imports new cases from there into `fixtures/`. No test or CI step runs it.
const FIXTURE_IMPORTER: &str = "xtask/src/fixtures.rs";

/// Directories whose text files are checked for paths outside the repository (with every text
/// file at the top level). `fixtures/` is data and is not checked.
const CHECKED_DIRS: &[&str] = &[
    "crates", "xtask", "examples", "docs", ".ci", ".config", ".cargo",
];

/// File name endings read as text by [`inside_the_repository`]; files without an extension are
/// read too.
const TEXT_ENDINGS: &[&str] = &[
    ".rs", ".toml", ".md", ".py", ".sh", ".js", ".html", ".css", ".yml", ".yaml", ".txt", ".json",
];

/// Nothing in the repository refers to a path outside it: a user's clone has nothing beside it.
///
/// Two rules, over the text files of [`CHECKED_DIRS`] and the top level:
/// - a relative path whose leading `../` steps climb above the repository root, counted from the
///   file's package (Rust sources: `CARGO_MANIFEST_DIR` and `include_str!` are at least that
///   deep), from the file's own directory for a module's `#[path]`, or else from the file's own
///   directory;
/// - any reference to the `shared/` folder one level above a directory, since the project folder
///   beside the repository is where such paths pointed (only [`FIXTURE_IMPORTER`] may name it).
pub(crate) fn inside_the_repository(root: &Path, problems: &mut Vec<String>) -> Result<()> {
    let mut files = Vec::new();
    for dir in CHECKED_DIRS {
        collect_text(&root.join(dir), &mut files)?;
    }
    if let Ok(entries) = fs::read_dir(root) {
        for entry in entries {
            let path = entry?.path();
            if path.is_file() && is_text(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    let shared = ["../", "shared/"].concat();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let rel = file.strip_prefix(root).unwrap_or(&file);
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        if rel_str == FIXTURE_IMPORTER {
            continue;
        }
        let depth = base_depth(root, rel);
        // A module's `#[path]` is relative to the directory of the file that declares it.
        let own_depth = rel.parent().map_or(0, |p| p.components().count());
        for (n, line) in text.lines().enumerate() {
            if line.contains(&shared) {
                problems.push(format!(
                    "{rel_str}:{}: refers to the shared folder beside the repository, which a user's clone does not have; \
                     read the copy under fixtures/ (`cargo xtask fixtures` brings new cases in)",
                    n + 1
                ));
                continue;
            }
            let depth = if line.trim_start().starts_with("#[path") {
                own_depth.max(depth)
            } else {
                depth
            };
            if let Some(climb) = climbs_out(line, depth) {
                problems.push(format!(
                    "{rel_str}:{}: `{climb}` climbs out of the repository, which a user's clone does not have",
                    n + 1
                ));
            }
        }
    }
    Ok(())
}

/// How many directories below the root relative paths in `rel` start from: its package's
/// directory for a Rust source, else its own directory.
fn base_depth(root: &Path, rel: &Path) -> usize {
    let dir_depth = |p: &Path| p.components().count();
    let parent = rel.parent().unwrap_or(Path::new(""));
    if rel.extension().is_some_and(|e| e == "rs") {
        let mut dir = parent;
        loop {
            if root.join(dir).join("Cargo.toml").is_file() {
                return dir_depth(dir);
            }
            match dir.parent() {
                Some(up) => dir = up,
                None => return 0,
            }
        }
    }
    dir_depth(parent)
}

/// The first relative path in `line` whose leading `../` steps outnumber `depth`.
fn climbs_out(line: &str, depth: usize) -> Option<&str> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(found) = line.get(i..).and_then(|rest| rest.find("../")) {
        let start = i + found;
        let starts_path = start == 0
            || (!matches!(bytes[start - 1], b'.' | b'/' | b'\\' | b'_' | b'-')
                && !bytes[start - 1].is_ascii_alphanumeric());
        let mut end = start;
        let mut steps = 0;
        while line.get(end..).is_some_and(|rest| rest.starts_with("../")) {
            steps += 1;
            end += 3;
        }
        if starts_path && steps > depth {
            let tail = line.get(end..).unwrap_or_default();
            let name_len = tail
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ')' | ']' | '\\')
                })
                .unwrap_or(tail.len());
            return line.get(start..end + name_len);
        }
        i = end.max(start + 1);
    }
    None
}

fn is_text(path: &Path) -> bool {
    is_text_name(
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default(),
    )
}

fn is_text_name(name: &str) -> bool {
    TEXT_ENDINGS.iter().any(|end| name.ends_with(end)) || !name.contains('.')
}

fn collect_text(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    collect(
        dir,
        &|name| name != "target" && name != "__pycache__" && name != ".venv",
        &is_text_name,
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway repository: a workspace with one crate, and `shared/` beside it.
    fn repository(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-inv-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let repo = dir.join("repo");
        for (path, text) in [
            ("Cargo.toml", "[workspace]\nmembers = [\"crates/a\"]\n"),
            (
                "crates/a/Cargo.toml",
                concat!(
                    "[package]\nname = \"a\"\nreadme = \"..",
                    "/..",
                    "/README.md\"\n"
                ),
            ),
            (
                "crates/a/src/lib.rs",
                concat!(
                    "//! a\nconst PAGE: &str = include_str!(\"..",
                    "/assets/page.html\");\n"
                ),
            ),
            (
                "docs/guide.md",
                concat!("See [the README](..", "/README.md).\n"),
            ),
        ]
        .iter()
        .chain(files)
        {
            let file = repo.join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        }
        fs::create_dir_all(dir.join("shared/fixtures")).unwrap();
        repo
    }

    fn problems(repo: &Path) -> Vec<String> {
        let mut problems = Vec::new();
        inside_the_repository(repo, &mut problems).unwrap();
        fs::remove_dir_all(repo.parent().unwrap()).unwrap();
        problems
    }

    #[test]
    fn paths_inside_the_repository_pass() {
        assert_eq!(problems(&repository("clean", &[])), Vec::<String>::new());
    }

    #[test]
    fn a_planted_shared_reference_fails() {
        let repo = repository(
            "planted",
            &[(
                "crates/a/tests/it/corpus.rs",
                concat!(
                    "fn dir() -> PathBuf {\n    Path::new(env!(\"CARGO_MANIFEST_DIR\")).join(\"..",
                    "/..",
                    "/..",
                    "/shared/fixtures/conformance\")\n}\n"
                ),
            )],
        );
        let found = problems(&repo);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "crates/a/tests/it/corpus.rs:2: refers to the shared folder beside the repository"
            ),
            "{found:?}"
        );
    }

    #[test]
    fn a_path_that_climbs_out_fails_and_the_importer_may_name_shared() {
        let repo = repository(
            "climb",
            &[
                (
                    "crates/a/src/data.rs",
                    concat!(
                        "const D: &str = \"..",
                        "/..",
                        "/..",
                        "/elsewhere/data.json\";\n"
                    ),
                ),
                (
                    "docs/more.md",
                    concat!(
                        "[out](..",
                        "/..",
                        "/outside.md) and [in](..",
                        "/README.md)\n"
                    ),
                ),
                (
                    "xtask/src/fixtures.rs",
                    concat!("const FROM: &str = \"..", "/shared/fixtures\";\n"),
                ),
                (
                    "crates/a/examples/load.rs",
                    concat!(
                        "#[path = \"..",
                        "/..",
                        "/..",
                        "/xtask/src/vocab.rs\"]\nmod vocab;\n#[path = \"..",
                        "/..",
                        "/..",
                        "/..",
                        "/vocab.rs\"]\nmod outside;\n"
                    ),
                ),
            ],
        );
        let found = problems(&repo);
        assert_eq!(
            found,
            vec![
                concat!(
                    "crates/a/examples/load.rs:3: `..",
                    "/..",
                    "/..",
                    "/..",
                    "/vocab.rs` climbs out of the repository, which a user's clone does not have"
                )
                .to_owned(),
                concat!(
                    "crates/a/src/data.rs:1: `..",
                    "/..",
                    "/..",
                    "/elsewhere/data.json` climbs out of the repository, which a user's clone does not have"
                )
                .to_owned(),
                concat!(
                    "docs/more.md:1: `..",
                    "/..",
                    "/outside.md` climbs out of the repository, which a user's clone does not have"
                )
                .to_owned(),
            ]
        );
    }
}
