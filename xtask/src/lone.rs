//! A copy of the repository's files with nothing beside it, where `cargo xtask ci` runs its checks.
//!
//! A user's clone has nothing next to it (no project folder), so CI must not pass only
//! because something outside the repository is there. `ci` copies the files git knows of
//! (tracked, plus new files that are not ignored) into a directory of its own under the system's
//! temporary directory, and runs every step there, building into the original target directory
//! so that nothing is compiled twice. Files keep their modification times, so an unchanged crate
//! is not rebuilt on the next run; files that left the repository leave the copy too.

use std::{
    collections::BTreeSet,
    fs,
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

/// Where the copy of `root` lives: `<tmp>/agentrace-lone-<hash of root>/agentrace`. Its parents
/// hold nothing of the repository's surroundings.
pub(crate) fn location(root: &Path) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    root.hash(&mut hasher);
    std::env::temp_dir()
        .join(format!("agentrace-lone-{:016x}", hasher.finish()))
        .join("agentrace")
}

/// The repository's files, relative to `root`: what git tracks plus new files it does not
/// ignore; without git, every file outside `target/` and `.git/`.
fn files(root: &Path) -> Result<Vec<PathBuf>> {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    if let Ok(out) = listed
        && out.status.success()
    {
        let mut files: Vec<PathBuf> = out
            .stdout
            .split(|b| *b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
            // A tracked file deleted in the work tree is not part of it.
            .filter(|rel| root.join(rel).is_file())
            .collect();
        files.sort();
        files.dedup();
        return Ok(files);
    }
    let mut files = Vec::new();
    walk(root, Path::new(""), &mut files, true)?;
    files.sort();
    Ok(files)
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>, skip_build: bool) -> Result<()> {
    for entry in fs::read_dir(root.join(rel)).with_context(|| format!("read {}", rel.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let child = rel.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if skip_build && rel.as_os_str().is_empty() && (name == "target" || name == ".git") {
                continue;
            }
            walk(root, &child, out, skip_build)?;
        } else if kind.is_file() {
            out.push(child);
        }
    }
    Ok(())
}

/// What a sync did.
#[derive(Debug, Default)]
pub(crate) struct Synced {
    pub(crate) copied: usize,
    pub(crate) unchanged: usize,
    pub(crate) removed: usize,
}

/// Makes `dest` hold exactly the repository files of `root`, with their modification times.
pub(crate) fn sync(root: &Path, dest: &Path) -> Result<Synced> {
    if dest.starts_with(root) {
        bail!(
            "the copy must be outside the repository: {} is inside {}",
            dest.display(),
            root.display()
        );
    }
    let wanted = files(root)?;
    let mut synced = Synced::default();
    fs::create_dir_all(dest).with_context(|| format!("create {}", dest.display()))?;
    for rel in &wanted {
        let from = root.join(rel);
        let to = dest.join(rel);
        let meta = fs::metadata(&from).with_context(|| format!("stat {}", from.display()))?;
        let modified = meta.modified()?;
        if let Ok(have) = fs::metadata(&to)
            && have.len() == meta.len()
            && have.modified().ok() == Some(modified)
        {
            synced.unchanged += 1;
            continue;
        }
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(&from, &to)
            .with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
        fs::File::options()
            .write(true)
            .open(&to)?
            .set_modified(modified)?;
        synced.copied += 1;
    }
    let keep: BTreeSet<&PathBuf> = wanted.iter().collect();
    let mut present = Vec::new();
    walk(dest, Path::new(""), &mut present, false)?;
    for rel in present {
        if !keep.contains(&rel) {
            fs::remove_file(dest.join(&rel))?;
            synced.removed += 1;
        }
    }
    Ok(synced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "xtask-lone-test-{}-{}",
            std::process::id(),
            files.len()
        ));
        let _ = fs::remove_dir_all(&dir);
        for (name, text) in files {
            let path = dir.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn the_copy_holds_the_files_and_loses_what_left_and_never_what_is_beside_it() {
        let root = tree(&[
            ("repo/Cargo.toml", "[workspace]"),
            ("repo/crates/a/src/lib.rs", "//! a"),
            ("repo/target/debug/junk", "built"),
            ("shared/fixtures/case.json", "{}"),
        ]);
        let repo = root.join("repo");
        let dest = root.join("copy/agentrace");
        let first = sync(&repo, &dest).unwrap();
        assert_eq!((first.copied, first.removed), (2, 0));
        assert_eq!(
            fs::read_to_string(dest.join("crates/a/src/lib.rs")).unwrap(),
            "//! a"
        );
        assert!(!dest.join("target").exists(), "build output is not copied");
        assert!(
            !dest.parent().unwrap().join("shared").exists(),
            "nothing beside the repository comes along"
        );
        let again = sync(&repo, &dest).unwrap();
        assert_eq!((again.copied, again.unchanged), (0, 2));
        fs::remove_file(repo.join("crates/a/src/lib.rs")).unwrap();
        let after = sync(&repo, &dest).unwrap();
        assert_eq!(after.removed, 1);
        assert!(!dest.join("crates/a/src/lib.rs").exists());
        assert!(sync(&repo, &repo.join("inner")).is_err());
        fs::remove_dir_all(root).unwrap();
    }
}
