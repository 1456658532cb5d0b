//! `cargo xtask fixtures [--check] [--from DIR]`: brings new cases from the project folder beside
//! the repository (`--from DIR`, by default the `shared` folder next to it) into `fixtures/`, and
//! says what changed.
//!
//! Tests read only `fixtures/`: a user's clone has nothing beside it. This command is the one
//! place that reads the folder beside it (the architecture invariants allow this file alone).
//!
//! | from (under the folder) | to |
//! |---|---|
//! | `fixtures/conformance/` | `fixtures/conformance/` |
//! | `fixtures/conformance-pending/CASE/`, for a case already brought in | `fixtures/conformance/CASE/` |
//! | `reference/semconv/` | `fixtures/semconv/` |
//!
//! A pending case (one the implementation does not pass yet) is listed, not copied: it is brought
//! in by hand, with the change that makes it pass. Files that exist only in `fixtures/` are
//! listed and kept. With `--check` nothing is written, and the command fails when a file would be
//! added or changed.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};

/// The folder beside the repository that new cases arrive in.
const DEFAULT_FROM: &str = "../shared"; // Named here only: `cargo xtask fixtures` imports from it.

/// One file to bring in: where it comes from, where it goes (relative to the repository).
#[derive(Debug)]
struct Planned {
    from: PathBuf,
    to: PathBuf,
}

/// What comparing the two trees found.
#[derive(Debug, Default)]
struct Plan {
    added: Vec<Planned>,
    changed: Vec<Planned>,
    unchanged: usize,
    only_here: Vec<PathBuf>,
    pending: Vec<String>,
}

/// Runs the command.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let check = args.iter().any(|a| a == "--check");
    let from = match args.iter().position(|a| a == "--from") {
        Some(i) => PathBuf::from(args.get(i + 1).context(
            "`--from` needs a directory: the folder that holds fixtures/ and reference/",
        )?),
        None => root.join(DEFAULT_FROM),
    };
    if let Some(unknown) = args
        .iter()
        .enumerate()
        .find(|(i, a)| *a != "--check" && *a != "--from" && (*i == 0 || args[*i - 1] != "--from"))
        .map(|(_, a)| a)
    {
        bail!("unknown argument `{unknown}`: usage: cargo xtask fixtures [--check] [--from DIR]");
    }
    if !from.join("fixtures/conformance").is_dir() {
        bail!(
            "{} has no fixtures/conformance: new cases arrive in the project folder beside the \
             repository; pass `--from DIR` to name another",
            from.display()
        );
    }
    let plan = plan(root, &from)?;
    for p in &plan.added {
        println!("    added    {}", p.to.display());
    }
    for p in &plan.changed {
        println!("    changed  {}", p.to.display());
    }
    for p in &plan.only_here {
        println!("    kept     {} (only in the repository)", p.display());
    }
    for case in &plan.pending {
        println!(
            "    pending  {case} (in conformance-pending; bring it into fixtures/conformance with the \
             change that makes it pass)"
        );
    }
    println!(
        "    {} added, {} changed, {} unchanged, {} only in the repository, {} pending",
        plan.added.len(),
        plan.changed.len(),
        plan.unchanged,
        plan.only_here.len(),
        plan.pending.len()
    );
    if check {
        if !plan.added.is_empty() || !plan.changed.is_empty() {
            bail!(
                "fixtures/ is behind {}: run `cargo xtask fixtures`",
                from.display()
            );
        }
        return Ok(());
    }
    for p in plan.added.iter().chain(&plan.changed) {
        let to = root.join(&p.to);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
        }
        fs::copy(&p.from, &to)
            .with_context(|| format!("copy {} to {}", p.from.display(), to.display()))?;
    }
    Ok(())
}

/// Compares every source tree with its place in the repository.
fn plan(root: &Path, from: &Path) -> Result<Plan> {
    let mut plan = Plan::default();
    let fixtures = root.join("fixtures");
    let mut pairs = vec![
        (
            from.join("fixtures/conformance"),
            PathBuf::from("fixtures/conformance"),
        ),
        (
            from.join("reference/semconv"),
            PathBuf::from("fixtures/semconv"),
        ),
    ];
    let pending_dir = from.join("fixtures/conformance-pending");
    if let Ok(entries) = fs::read_dir(&pending_dir) {
        let mut cases: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        cases.sort();
        for case in cases {
            if fixtures.join("conformance").join(&case).is_dir() {
                pairs.push((
                    pending_dir.join(&case),
                    PathBuf::from("fixtures/conformance").join(&case),
                ));
            } else {
                plan.pending.push(case);
            }
        }
    }
    let mut covered = BTreeSet::new();
    for (source, dest) in &pairs {
        let mut files = Vec::new();
        list(source, Path::new(""), &mut files)?;
        for rel in files {
            let from_file = source.join(&rel);
            let to = dest.join(&rel);
            covered.insert(to.clone());
            let wanted =
                fs::read(&from_file).with_context(|| format!("read {}", from_file.display()))?;
            match fs::read(root.join(&to)) {
                Ok(have) if have == wanted => plan.unchanged += 1,
                Ok(_) => plan.changed.push(Planned {
                    from: from_file,
                    to,
                }),
                Err(_) => plan.added.push(Planned {
                    from: from_file,
                    to,
                }),
            }
        }
    }
    let mut here = Vec::new();
    for dest in ["fixtures/conformance", "fixtures/semconv"] {
        let mut files = Vec::new();
        list(&root.join(dest), Path::new(""), &mut files)?;
        here.extend(files.into_iter().map(|rel| Path::new(dest).join(rel)));
    }
    plan.only_here = here.into_iter().filter(|p| !covered.contains(p)).collect();
    Ok(plan)
}

/// Every file under `dir` (relative to it), sorted; a missing directory has none.
fn list(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir.join(rel)) else {
        return Ok(());
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let child = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            list(dir, &child, out)?;
        } else {
            out.push(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn new_and_changed_cases_come_in_pending_ones_wait_and_local_files_stay() {
        let dir = std::env::temp_dir().join(format!("xtask-fixtures-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (repo, shared) = (dir.join("repo"), dir.join("shared"));
        write(&shared.join("fixtures/conformance/a/trace.json"), "{}");
        write(&shared.join("fixtures/conformance/b/trace.json"), "[1]");
        write(
            &shared.join("fixtures/conformance-pending/p/trace.json"),
            "p",
        );
        write(
            &shared.join("fixtures/conformance-pending/q/trace.json"),
            "q2",
        );
        write(&shared.join("reference/semconv/x.json"), "x");
        write(&repo.join("fixtures/conformance/a/trace.json"), "{}");
        write(&repo.join("fixtures/conformance/b/trace.json"), "[0]");
        write(&repo.join("fixtures/conformance/q/trace.json"), "q1");
        write(&repo.join("fixtures/conformance/mine/trace.json"), "m");

        let args = |extra: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
            v.extend(["--from".to_owned(), shared.display().to_string()]);
            v
        };
        assert!(
            run(&repo, &args(&["--check"])).is_err(),
            "behind: check fails"
        );
        let before = plan(&repo, &shared).unwrap();
        let names = |v: &[Planned]| -> Vec<String> {
            v.iter().map(|p| p.to.display().to_string()).collect()
        };
        assert_eq!(names(&before.added), ["fixtures/semconv/x.json"]);
        assert_eq!(
            names(&before.changed),
            [
                "fixtures/conformance/b/trace.json",
                "fixtures/conformance/q/trace.json"
            ]
        );
        assert_eq!(before.pending, ["p"]);
        assert_eq!(
            before.only_here,
            [PathBuf::from("fixtures/conformance/mine/trace.json")]
        );

        run(&repo, &args(&[])).unwrap();
        assert_eq!(
            fs::read_to_string(repo.join("fixtures/conformance/b/trace.json")).unwrap(),
            "[1]"
        );
        assert_eq!(
            fs::read_to_string(repo.join("fixtures/conformance/q/trace.json")).unwrap(),
            "q2"
        );
        assert!(
            !repo.join("fixtures/conformance/p").exists(),
            "a pending case waits"
        );
        assert!(repo.join("fixtures/conformance/mine/trace.json").exists());
        run(&repo, &args(&["--check"])).unwrap();
        assert!(run(&repo, &["--bogus".to_owned()]).is_err());
        fs::remove_dir_all(dir).unwrap();
    }
}
