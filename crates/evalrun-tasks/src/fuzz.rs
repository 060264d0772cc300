//! Property tests that feed every data reader arbitrary bytes and structure-aware mutations
//! of real files: no input may panic, and every rejection names the file.
//!
//! Seeds are the first lines of each task's real file under `EVALRUN_DATA_DIR` (default
//! `../shared/data`), or a small file in the same layout when the data is absent. The case
//! count is proptest's (`PROPTEST_CASES`); `scripts/fuzz.sh` runs them for longer.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use crate::catalog::{Catalog, Task};
use crate::t2t::T2tSplit;

/// One file a reader reads, with a seed in its layout.
#[derive(Debug, Clone)]
struct Target {
    task: usize,
    split: String,
    /// Relative paths the task reads and their seeds; the first is mutated.
    files: Vec<(String, Vec<u8>)>,
}

fn data_dir() -> PathBuf {
    std::env::var_os("EVALRUN_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

fn fixture_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/data")
}

/// The first `lines` lines of a real file (at most 8 KiB), or `fallback`.
fn head_of(path: &Path, lines: usize, fallback: &str) -> Vec<u8> {
    let Ok(bytes) = std::fs::read(path) else {
        return fallback.as_bytes().to_vec();
    };
    let mut end = 0;
    for _ in 0..lines {
        match bytes[end..].iter().position(|b| *b == b'\n') {
            Some(i) if end + i < 8192 => end += i + 1,
            _ => break,
        }
    }
    if end == 0 {
        bytes[..bytes.len().min(8192)].to_vec()
    } else {
        bytes[..end].to_vec()
    }
}

fn fallback_for(path: &str) -> &'static str {
    if path.ends_with(".jsonl") {
        "{\"idx\": 0, \"premise\": \"a\", \"hypothesis\": \"b\", \"label\": \"entailment\", \"question\": \"q\", \"passage\": \"p\", \"text\": \"t\", \"answer\": \"x\"}\n"
    } else if path.ends_with(".json") {
        "{\"data\": [{\"title\": \"t\", \"paragraphs\": [{\"context\": \"c d\", \"qas\": [{\"id\": \"1\", \"question\": \"q\", \"answers\": [{\"text\": \"c\", \"answer_start\": 0}]}]}]}]}\n"
    } else {
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\t1\n1\tc\td\t0\n"
    }
}

fn targets() -> (Catalog, Vec<Target>) {
    let catalog = Catalog::embedded().expect("embedded task files parse");
    let dir = data_dir();
    let mut targets = Vec::new();
    for (task, entry) in catalog.entries().enumerate() {
        let mut push = |split: &str, paths: Vec<String>| {
            let files = paths
                .into_iter()
                .map(|p| {
                    // Files absent from the data directory (test-server layouts, ReCoRD) have
                    // small copies in their published layout under tests/fixtures/data.
                    let real = dir.join(&p);
                    let path = if real.is_file() {
                        real
                    } else {
                        fixture_data().join(&p)
                    };
                    let seed = head_of(&path, 12, fallback_for(&p));
                    (p, seed)
                })
                .collect();
            targets.push(Target {
                task,
                split: split.to_string(),
                files,
            });
        };
        match &entry.task {
            Task::Head(spec) => {
                for (split, s) in &spec.splits {
                    let mut paths = vec![s.path.clone()];
                    paths.extend(s.labels_from.as_ref().map(|l| l.path.clone()));
                    push(split, paths);
                }
            }
            Task::TextToText(spec) => {
                for (split, s) in &spec.splits {
                    let paths = match s {
                        T2tSplit::Parallel { source, target } => {
                            vec![source.clone(), target.clone()]
                        }
                        other => vec![other.path().to_string()],
                    };
                    push(split, paths);
                }
            }
            Task::Lm(spec) => push("test", spec.paths.iter().take(1).cloned().collect()),
        }
    }
    (catalog, targets)
}

/// Edits that keep a file almost valid: the inputs that reach deep into a reader.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Replace(usize, u8),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn structural_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b'\t'),
        Just(b'\n'),
        Just(b'\r'),
        Just(b'"'),
        Just(b'{'),
        Just(b'}'),
        Just(b'['),
        Just(b']'),
        Just(b':'),
        Just(b','),
        Just(b'\\'),
        Just(0u8),
        Just(0xFFu8),
        Just(0xC3u8),
        Just(b'-'),
        Just(b'.'),
        Just(b'e'),
        Just(b'9'),
        Just(b'@'),
        Just(b'X'),
        any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0usize..64).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (
            any::<usize>(),
            prop::collection::vec(structural_byte(), 1..8)
        )
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), structural_byte()).prop_map(|(a, b)| Mutation::Replace(a, b)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in mutations {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match m {
            Mutation::Truncate(i) => {
                let n = at(*i, bytes.len());
                bytes.truncate(n);
            }
            Mutation::Delete(i, n) => {
                let start = at(*i, bytes.len());
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Insert(i, b) => {
                let start = at(*i, bytes.len());
                bytes.splice(start..start, b.iter().copied());
            }
            Mutation::Replace(i, b) => {
                if !bytes.is_empty() {
                    let n = bytes.len();
                    bytes[i % n] = *b;
                }
            }
            Mutation::DuplicateLine(i) | Mutation::SwapLines(i, _) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let n = lines.len();
                match m {
                    Mutation::DuplicateLine(_) => {
                        let line = lines[i % n].clone();
                        lines.insert(i % n, line);
                    }
                    Mutation::SwapLines(_, j) => lines.swap(i % n, j % n),
                    _ => unreachable!(),
                }
                bytes = lines.join(&b'\n');
            }
        }
    }
    bytes
}

/// Writes the files and runs the task's reader; the error, if any, as text.
fn read(catalog: &Catalog, target: &Target, first: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    for (i, (rel, seed)) in target.files.iter().enumerate() {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, if i == 0 { first } else { seed }).unwrap();
    }
    let entry = catalog.entries().nth(target.task).unwrap();
    let result = match &entry.task {
        Task::Head(spec) => crate::data::load_split(spec, &target.split, dir.path()).map(|_| ()),
        Task::TextToText(spec) => crate::t2t::load(spec, &target.split, dir.path()).map(|_| ()),
        Task::Lm(spec) => spec.load(dir.path()).map(|_| ()),
    };
    result.map_err(|e| e.to_string())
}

fn check(catalog: &Catalog, target: &Target, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(message) = read(catalog, target, bytes) {
        // Every rejection names a file the reader was given.
        let named = target.files.iter().any(|(rel, _)| {
            let name = Path::new(rel).file_name().unwrap().to_string_lossy();
            message.contains(name.as_ref())
        });
        prop_assert!(
            named,
            "the error for {} does not name the file: {message}",
            target.files[0].0
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn every_reader_survives_mutated_real_files(
        pick in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let (catalog, targets) = &*TARGETS;
        let target = &targets[pick % targets.len()];
        let bytes = apply(&target.files[0].1, &mutations);
        check(catalog, target, &bytes)?;
    }

    #[test]
    fn every_reader_survives_arbitrary_bytes(
        pick in any::<usize>(),
        bytes in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let (catalog, targets) = &*TARGETS;
        let target = &targets[pick % targets.len()];
        check(catalog, target, &bytes)?;
    }

    #[test]
    fn task_files_never_panic(
        pick in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let (catalog, _) = &*TARGETS;
        let entry = catalog.entries().nth(pick % catalog.entries().count()).unwrap();
        let text = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tasks").join(&entry.file))
            .or_else(|_| std::fs::read(&entry.file))
            .unwrap_or_default();
        let mutated = apply(&text, &mutations);
        let text = String::from_utf8_lossy(&mutated);
        if let Err(e) = crate::catalog::parse_task(&entry.key, &entry.file, &text) {
            prop_assert!(e.to_string().contains(&entry.file), "{e}");
        }
    }
}

static TARGETS: std::sync::LazyLock<(Catalog, Vec<Target>)> = std::sync::LazyLock::new(targets);

#[test]
fn every_task_has_a_fuzz_target_with_a_seed() {
    let (catalog, targets) = &*TARGETS;
    assert!(targets.len() >= catalog.entries().count());
    let mut rejected = Vec::new();
    for t in targets {
        // The unmutated seed reads, or is rejected naming its file.
        check(catalog, t, &t.files[0].1).unwrap();
        if let Err(e) = read(catalog, t, &t.files[0].1) {
            rejected.push(format!("{}: {e}", t.files[0].0));
        }
    }
    // The seeds are real files (or files in their layout): most must read, or the mutations
    // would only ever exercise the first check of each reader.
    assert!(
        rejected.len() * 4 <= targets.len(),
        "{} of {} seeds rejected:\n{}",
        rejected.len(),
        targets.len(),
        rejected.join("\n")
    );
}
