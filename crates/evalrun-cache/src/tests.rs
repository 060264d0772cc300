use super::*;
use evalrun_core::request::{LoglikelihoodResponse, ModelKind};

/// Answers `classify` with the text's length as its one logit, counting the requests it sees.
struct Counting {
    info: ModelInfo,
    seen: usize,
    calls: usize,
}

impl Counting {
    fn new() -> Self {
        Self {
            info: ModelInfo {
                kind: ModelKind::Classifier,
                num_labels: Some(1),
                label_names: None,
                max_length: 8,
                scoring: "logits".into(),
                output: "logits".into(),
                windows: None,
                graphs: vec![("model.onnx".into(), "abc".into())],
                tokenizer_sha256: "def".into(),
                edits: Vec::new(),
            },
            seen: 0,
            calls: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("fake")]
struct Fake;

impl Backend for Counting {
    type Error = Fake;
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn fingerprint(&self) -> Fingerprint {
        [("model".to_string(), "abc".to_string())].into()
    }
    fn run(
        &mut self,
        _: RequestKind,
        requests: &[Request],
        _: &mut dyn Progress,
    ) -> Result<Vec<Response>, Fake> {
        self.seen += requests.len();
        self.calls += 1;
        Ok(requests
            .iter()
            .map(|r| match r {
                Request::Classify { text_a, .. } => Response::Logits {
                    logits: vec![text_a.len() as f32 / 3.0],
                },
                _ => Response::Loglikelihood(LoglikelihoodResponse {
                    loglikelihood: -1.0 / 3.0,
                    tokens: 1,
                    greedy: None,
                    greedy_text: None,
                }),
            })
            .collect())
    }
}

fn requests(n: usize) -> Vec<Request> {
    (0..n)
        .map(|i| Request::Classify {
            text_a: "x".repeat(i + 1),
            text_b: None,
        })
        .collect()
}

#[test]
fn a_warm_cache_makes_no_model_call_and_answers_identically() {
    let dir = tempfile::tempdir().unwrap();
    let reqs = requests(10);
    let cache = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap();
    let mut cold = CachedBackend::new(Counting::new(), Some(cache), 4);
    let first = cold
        .run(RequestKind::Classify, &reqs, &mut NoProgress)
        .unwrap();
    assert_eq!(cold.inner().calls, 3, "10 requests in batches of 4");
    assert_eq!(
        cold.stats(),
        CacheStats {
            hits: 0,
            computed: 10
        }
    );
    drop(cold);

    let cache = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap();
    let mut warm = CachedBackend::new(Counting::new(), Some(cache), 4);
    let second = warm
        .run(RequestKind::Classify, &reqs, &mut NoProgress)
        .unwrap();
    assert_eq!(warm.inner().seen, 0);
    assert_eq!(
        warm.stats(),
        CacheStats {
            hits: 10,
            computed: 0
        }
    );
    assert_eq!(first, second, "f32 logits round-trip exactly");

    // Only what is missing is computed.
    let more = requests(13);
    let third = warm
        .run(RequestKind::Classify, &more, &mut NoProgress)
        .unwrap();
    assert_eq!(warm.inner().seen, 3);
    assert_eq!(&third[..10], &first[..]);
}

#[test]
fn read_mode_never_writes_and_refresh_recomputes() {
    let dir = tempfile::tempdir().unwrap();
    let reqs = requests(5);
    let cache = Cache::open(dir.path(), CacheMode::Read).unwrap();
    let mut read = CachedBackend::new(Counting::new(), Some(cache), 2);
    read.run(RequestKind::Classify, &reqs, &mut NoProgress)
        .unwrap();
    assert!(
        !dir.path().join(FILE_NAME).exists(),
        "read mode creates nothing"
    );

    let cache = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap();
    let mut rw = CachedBackend::new(Counting::new(), Some(cache), 2);
    rw.run(RequestKind::Classify, &reqs, &mut NoProgress)
        .unwrap();
    drop(rw);
    let cache = Cache::open(dir.path(), CacheMode::Refresh).unwrap();
    let mut refresh = CachedBackend::new(Counting::new(), Some(cache), 2);
    refresh
        .run(RequestKind::Classify, &reqs, &mut NoProgress)
        .unwrap();
    assert_eq!(refresh.inner().seen, 5);
}

#[test]
fn an_interrupt_stops_after_the_current_batch_with_that_batch_stored() {
    let dir = tempfile::tempdir().unwrap();
    let reqs = requests(10);
    let flag = Arc::new(AtomicBool::new(false));
    struct SetFlag<'a>(&'a AtomicBool);
    impl Progress for SetFlag<'_> {
        fn set_total(&mut self, _: u64, _: &'static str) {}
        fn advance(&mut self, _: u64) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let cache = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap();
    let mut backend =
        CachedBackend::new(Counting::new(), Some(cache), 4).with_interrupt(flag.clone());
    let error = backend
        .run(RequestKind::Classify, &reqs, &mut SetFlag(&flag))
        .unwrap_err();
    assert!(matches!(
        error,
        CachedError::Interrupted {
            answered: 4,
            total: 10
        }
    ));
    drop(backend);
    let cache = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap();
    let mut resumed = CachedBackend::new(Counting::new(), Some(cache), 4);
    resumed
        .run(RequestKind::Classify, &reqs, &mut NoProgress)
        .unwrap();
    assert_eq!(
        resumed.stats(),
        CacheStats {
            hits: 4,
            computed: 6
        }
    );
}

#[test]
fn keys_change_with_the_fingerprint_and_every_request_field() {
    let a: Fingerprint = [("model".to_string(), "abc".to_string())].into();
    let b: Fingerprint = [("model".to_string(), "abd".to_string())].into();
    let r = Request::Classify {
        text_a: "x".into(),
        text_b: None,
    };
    let r2 = Request::Classify {
        text_a: "x".into(),
        text_b: Some(String::new()),
    };
    assert_ne!(key(&a, &r), key(&b, &r));
    assert_ne!(key(&a, &r), key(&a, &r2));
    assert_eq!(key(&a, &r), key(&a, &r.clone()));
}

#[test]
fn foreign_truncated_and_other_schema_files_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    fs::write(&path, "not a database at all, just text\n").unwrap();
    let error = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap_err();
    assert!(matches!(error, CacheError::Foreign { .. }), "{error}");
    assert!(error.to_string().contains(FILE_NAME), "{error}");

    // Another program's SQLite database.
    fs::remove_file(&path).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let error = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap_err();
    assert!(matches!(error, CacheError::Foreign { .. }), "{error}");

    // A schema from the future.
    fs::remove_file(&path).unwrap();
    drop(Cache::open(dir.path(), CacheMode::ReadWrite).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let error = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap_err();
    assert!(
        matches!(error, CacheError::Schema { found: 99, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("a newer evalrun"), "{error}");

    // A version 1 cache: its keys did not name the graph edits.
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 1;")
        .unwrap();
    let error = Cache::open(dir.path(), CacheMode::Read).unwrap_err();
    assert!(
        matches!(error, CacheError::Schema { found: 1, .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("an older evalrun") && message.contains("graph edits"),
        "{message}"
    );

    // A cache cut short (a partial copy).
    fs::remove_file(&path).unwrap();
    let cache = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap();
    let mut backend = CachedBackend::new(Counting::new(), Some(cache), 64);
    backend
        .run(RequestKind::Classify, &requests(2000), &mut NoProgress)
        .unwrap();
    drop(backend);
    // Fold the WAL into the main file, then cut the file.
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let bytes = fs::read(&path).unwrap();
    assert!(bytes.len() > 8192, "{}", bytes.len());
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let _ = fs::remove_file(dir.path().join(format!("{FILE_NAME}-wal")));
    let _ = fs::remove_file(dir.path().join(format!("{FILE_NAME}-shm")));
    let error = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap_err();
    assert!(
        matches!(
            error,
            CacheError::Corrupt { .. } | CacheError::Sqlite { .. }
        ),
        "{error}"
    );
    assert!(error.to_string().contains(FILE_NAME), "{error}");

    // A stored response that is not UTF-8 text: "damaged", not SQLite's conversion error.
    fs::remove_file(&path).unwrap();
    let cache = Cache::open(dir.path(), CacheMode::ReadWrite).unwrap();
    let mut backend = CachedBackend::new(Counting::new(), Some(cache), 64);
    backend
        .run(RequestKind::Classify, &requests(10), &mut NoProgress)
        .unwrap();
    drop(backend);
    Connection::open(&path)
        .unwrap()
        .execute_batch("UPDATE responses SET response = CAST(x'ff00fe' AS TEXT);")
        .unwrap();
    let cache = Cache::open(dir.path(), CacheMode::Read).unwrap();
    let mut backend = CachedBackend::new(Counting::new(), Some(cache), 64);
    let error = backend
        .run(RequestKind::Classify, &requests(10), &mut NoProgress)
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, CachedError::Cache(CacheError::Corrupt { .. })),
        "{message}"
    );
    assert!(
        message.contains("is damaged") && message.contains(FILE_NAME),
        "{message}"
    );
}

#[test]
fn replay_answers_kept_responses_and_names_the_first_missing_one() {
    let reqs = requests(6);
    let mut keeping = CachedBackend::new(Counting::new(), None, 4).keeping();
    let answers = keeping
        .run(RequestKind::Classify, &reqs[..4], &mut NoProgress)
        .unwrap();
    let kept: HashMap<String, Response> = keeping.kept().unwrap().clone().into_iter().collect();
    let mut replay = Replay::new(keeping.info().clone(), keeping.fingerprint(), kept);
    assert_eq!(
        replay
            .run(RequestKind::Classify, &reqs[..4], &mut NoProgress)
            .unwrap(),
        answers
    );
    let error = replay
        .run(RequestKind::Classify, &reqs, &mut NoProgress)
        .unwrap_err();
    assert!(matches!(
        error,
        CachedError::Missing {
            index: 4,
            missing: 2,
            total: 6
        }
    ));
}

#[test]
fn many_writers_open_one_new_cache_at_once() {
    // Processes that start together race to create the file and switch it to WAL; none may see
    // "database is locked" (CI saw it once with two `evalrun glue --cache` processes).
    for round in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let path = path.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut cache = Cache::open(&path, CacheMode::ReadWrite)?;
                    let response = Response::Logits {
                        logits: vec![t as f32],
                    };
                    for i in 0..5 {
                        let key = format!("{t}-{i}");
                        cache.get_many(std::slice::from_ref(&key))?;
                        cache.put_many(RequestKind::Classify, &[(key.as_str(), &response)])?;
                    }
                    Ok::<_, CacheError>(())
                })
            })
            .collect();
        for t in threads {
            if let Err(e) = t.join().unwrap() {
                panic!("round {round}: {e}");
            }
        }
    }
}
