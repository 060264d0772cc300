//! The Hub client against the in-process fake Hub (127.0.0.1 only): cache layout, resume,
//! retries, verification, errors, locking, offline mode and Python-written caches.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use evalrun_hub::testing::{
    git_blob_sha1, sha256_hex, FakeRepo, Fault, HubServer, RequestLog, TEST_TOKEN,
};
use evalrun_hub::{Hub, HubConfig, HubError, RepoId, RepoType, Token};

const CONFIG: &[u8] = br#"{"model_type": "bert", "hidden_size": 32}"#;

/// Deterministic pseudo-random bytes (an LCG), big enough that a dropped connection lands
/// mid-file.
fn weights(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

fn tiny_repo() -> FakeRepo {
    FakeRepo::new(RepoType::Model, "org/tiny")
        .file("config.json", CONFIG, false)
        .file("onnx/model.onnx", weights(300_000, 1), true)
}

fn config(endpoint: &str, cache: &Path) -> HubConfig {
    let mut config = HubConfig::new(cache).with_endpoint(endpoint);
    config.max_retries = 3;
    config.backoff_base = Duration::from_millis(5);
    config.backoff_max = Duration::from_millis(20);
    config.connect_timeout = Duration::from_secs(2);
    config.read_timeout = Duration::from_secs(5);
    config.progress = false;
    config
}

fn hub(server: &HubServer, cache: &Path) -> Hub {
    Hub::new(config(&server.endpoint(), cache)).unwrap()
}

fn gets(requests: &[RequestLog], suffix: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(suffix))
        .count()
}

fn repo_dir(cache: &Path, folder: &str) -> PathBuf {
    cache.join(folder)
}

/// Files under `dir`, relative, sorted (empty when `dir` does not exist).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

#[test]
fn downloads_lfs_and_regular_files_into_the_python_layout() {
    let repo_spec = tiny_repo();
    let commit = repo_spec.commit.clone();
    let lfs_bytes = repo_spec.files[1].1.clone();
    let sha256 = sha256_hex(&lfs_bytes);
    let sha1 = git_blob_sha1(CONFIG);
    let server = HubServer::start(vec![repo_spec]);
    let tmp = tempfile::tempdir().unwrap();
    // For a manual check with huggingface_hub (`scripts/check_hf_cache.py`), this variable
    // names a new directory that keeps the cache after the test.
    let kept = std::env::var_os("EVALRUN_HUB_KEEP_CACHE").map(PathBuf::from);
    let cache: &Path = kept.as_deref().unwrap_or(tmp.path());
    let hub = hub(&server, cache);
    let repo = RepoId::model("org/tiny").unwrap();

    let config_path = hub.download(&repo, "config.json").unwrap();
    let model_path = hub.download(&repo, "onnx/model.onnx").unwrap();

    let root = repo_dir(cache, "models--org--tiny");
    assert_eq!(
        config_path,
        root.join("snapshots").join(&commit).join("config.json")
    );
    assert_eq!(
        model_path,
        root.join("snapshots").join(&commit).join("onnx/model.onnx")
    );
    assert_eq!(fs::read(&config_path).unwrap(), CONFIG);
    assert_eq!(fs::read(&model_path).unwrap(), lfs_bytes);

    // blobs/<etag>, relative symlinks, refs/main, one lock file per blob.
    assert_eq!(fs::read(root.join("blobs").join(&sha1)).unwrap(), CONFIG);
    assert_eq!(
        fs::read(root.join("blobs").join(&sha256)).unwrap(),
        lfs_bytes
    );
    assert_eq!(tree(&root.join("blobs")), {
        let mut v = vec![sha1.clone(), sha256.clone()];
        v.sort();
        v
    });
    assert_eq!(
        fs::read_link(&config_path).unwrap(),
        PathBuf::from(format!("../../blobs/{sha1}"))
    );
    assert_eq!(
        fs::read_link(&model_path).unwrap(),
        PathBuf::from(format!("../../../blobs/{sha256}"))
    );
    assert_eq!(fs::read_to_string(root.join("refs/main")).unwrap(), commit);
    assert_eq!(tree(&root.join("refs")), vec!["main"]);
    assert_eq!(tree(&cache.join(".locks/models--org--tiny")), {
        let mut v = vec![format!("{sha1}.lock"), format!("{sha256}.lock")];
        v.sort();
        v
    });

    // The LFS file went through the CDN redirect, without the (absent) token.
    let requests = server.requests();
    assert_eq!(gets(&requests, &format!("/cdn/{sha256}")), 1);
    assert_eq!(gets(&requests, "/resolve/main/config.json"), 1);

    // Second time: straight from the cache, no request at all.
    server.clear_requests();
    assert_eq!(hub.download(&repo, "config.json").unwrap(), config_path);
    assert_eq!(
        hub.download_many(&repo, &["onnx/model.onnx", "config.json"])
            .unwrap(),
        vec![model_path.clone(), config_path.clone()]
    );
    assert_eq!(server.requests(), vec![]);
    assert_eq!(
        hub.snapshot_dir(&repo),
        Some(root.join("snapshots").join(&commit))
    );
    assert_eq!(
        hub.list_cached_files(&repo).unwrap(),
        Some(vec![
            "config.json".to_string(),
            "onnx/model.onnx".to_string()
        ])
    );
}

#[test]
fn a_dropped_connection_is_resumed_with_a_range_request() {
    let repo_spec = tiny_repo();
    let bytes = repo_spec.files[1].1.clone();
    let sha256 = sha256_hex(&bytes);
    let server = HubServer::start(vec![repo_spec]);
    server.inject(&format!("/cdn/{sha256}"), Fault::DropAfter(100_000));
    let cache = tempfile::tempdir().unwrap();
    let hub = hub(&server, cache.path());

    let path = hub
        .download(&RepoId::model("org/tiny").unwrap(), "onnx/model.onnx")
        .unwrap();
    let got = fs::read(&path).unwrap();
    assert_eq!(sha256_hex(&got), sha256);

    let cdn: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(&format!("/cdn/{sha256}")))
        .collect();
    assert_eq!(cdn.len(), 2, "{cdn:?}");
    assert_eq!(cdn[0].range, None);
    let range = cdn[1].range.clone().expect("the retry is a Range request");
    let from: u64 = range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .unwrap()
        .parse()
        .unwrap();
    assert!(from > 0 && from <= 100_000, "{range}");
    assert!(!tree(&cache.path().join("models--org--tiny/blobs"))
        .iter()
        .any(|f| f.ends_with(".incomplete")));
}

#[test]
fn a_partial_download_left_by_an_earlier_run_is_resumed() {
    let repo_spec = tiny_repo();
    let bytes = repo_spec.files[1].1.clone();
    let sha256 = sha256_hex(&bytes);
    let server = HubServer::start(vec![repo_spec]);
    let cache = tempfile::tempdir().unwrap();
    let blobs = cache.path().join("models--org--tiny/blobs");
    fs::create_dir_all(&blobs).unwrap();
    fs::write(blobs.join(format!("{sha256}.incomplete")), &bytes[..12_345]).unwrap();

    let path = hub(&server, cache.path())
        .download(&RepoId::model("org/tiny").unwrap(), "onnx/model.onnx")
        .unwrap();
    assert_eq!(fs::read(path).unwrap(), bytes);
    let ranges: Vec<_> = server
        .requests()
        .into_iter()
        .filter_map(|r| r.range)
        .collect();
    assert_eq!(ranges, vec!["bytes=12345-".to_string()]);
}

#[test]
fn server_errors_are_retried() {
    let repo_spec = tiny_repo();
    let sha256 = repo_spec.etag("onnx/model.onnx").unwrap();
    let server = HubServer::start(vec![repo_spec]);
    server.inject("/resolve/main/config.json", Fault::Status(500));
    server.inject(&format!("/cdn/{sha256}"), Fault::Status(503));
    let cache = tempfile::tempdir().unwrap();
    let hub = hub(&server, cache.path());
    let repo = RepoId::model("org/tiny").unwrap();

    assert_eq!(
        fs::read(hub.download(&repo, "config.json").unwrap()).unwrap(),
        CONFIG
    );
    hub.download(&repo, "onnx/model.onnx").unwrap();
    let requests = server.requests();
    let heads = requests
        .iter()
        .filter(|r| r.method == "HEAD" && r.path.ends_with("/config.json"))
        .count();
    assert_eq!(heads, 2, "{requests:?}");
    assert_eq!(gets(&requests, &format!("/cdn/{sha256}")), 2);

    // A server that keeps failing: a clear error once the retries are spent.
    server.inject_n("/resolve/main/other.json", Fault::Status(502), 100);
    let err = hub.download(&repo, "other.json").unwrap_err();
    assert!(
        matches!(err, HubError::Network { attempts: 4, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("`other.json`") && msg.contains("`org/tiny`") && msg.contains("502"),
        "{msg}"
    );
}

#[test]
fn a_slow_answer_times_out_and_is_retried() {
    let server = HubServer::start(vec![tiny_repo()]);
    server.inject(
        "/resolve/main/config.json",
        Fault::Delay(Duration::from_millis(1500)),
    );
    let cache = tempfile::tempdir().unwrap();
    let mut config = config(&server.endpoint(), cache.path());
    config.read_timeout = Duration::from_millis(300);
    let hub = Hub::new(config).unwrap();
    let path = hub
        .download(&RepoId::model("org/tiny").unwrap(), "config.json")
        .unwrap();
    assert_eq!(fs::read(path).unwrap(), CONFIG);
    let heads = server
        .requests()
        .iter()
        .filter(|r| r.method == "HEAD")
        .count();
    assert_eq!(heads, 2);
}

#[test]
fn wrong_bytes_are_a_checksum_error_and_leave_nothing_behind() {
    let repo_spec = tiny_repo();
    let sha256 = repo_spec.etag("onnx/model.onnx").unwrap();
    let sha1 = repo_spec.etag("config.json").unwrap();
    let server = HubServer::start(vec![repo_spec]);
    server.inject(&format!("/cdn/{sha256}"), Fault::WrongBytes);
    server.inject("/resolve/main/config.json", Fault::WrongBytes);
    let cache = tempfile::tempdir().unwrap();
    let hub = hub(&server, cache.path());
    let repo = RepoId::model("org/tiny").unwrap();
    let root = cache.path().join("models--org--tiny");

    for (file, etag, algorithm) in [
        ("onnx/model.onnx", &sha256, "sha256"),
        ("config.json", &sha1, "git blob sha1"),
    ] {
        let err = hub.download(&repo, file).unwrap_err();
        match &err {
            HubError::Checksum {
                target,
                algorithm: a,
                expected,
                ..
            } => {
                assert_eq!(target.file.as_deref(), Some(file));
                assert_eq!(*a, algorithm);
                assert_eq!(expected, etag);
            }
            other => panic!("expected a checksum error, got {other:?}"),
        }
        assert!(err.to_string().contains(&format!("`{file}`")), "{err}");
        assert_eq!(tree(&root.join("blobs")), Vec::<String>::new(), "{file}");
        assert_eq!(
            tree(&root.join("snapshots")),
            Vec::<String>::new(),
            "{file}"
        );
    }
    // Checksum errors are not retried: one GET each.
    assert_eq!(gets(&server.requests(), &format!("/cdn/{sha256}")), 1);

    // The fault was one-off: the next try stores the right bytes.
    let path = hub.download(&repo, "onnx/model.onnx").unwrap();
    assert_eq!(sha256_hex(&fs::read(path).unwrap()), sha256);
}

#[test]
fn missing_repos_and_files_and_gated_repos_give_clear_errors() {
    let secret = "hf_wrongSecretThatMustNotLeak42";
    let gated = FakeRepo::new(RepoType::Model, "org/gated")
        .file("weights.bin", weights(2_000, 7), true)
        .gated();
    let gated_sha = gated.etag("weights.bin").unwrap();
    let server = HubServer::start(vec![tiny_repo(), gated]);
    let cache = tempfile::tempdir().unwrap();
    let anonymous = hub(&server, cache.path());

    let err = anonymous
        .download(&RepoId::model("org/missing").unwrap(), "config.json")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, HubError::NotFound { status: 404, .. }),
        "{err:?}"
    );
    assert!(
        msg.contains("`org/missing`")
            && msg.contains("`config.json`")
            && msg.contains("RepoNotFound"),
        "{msg}"
    );

    let err = anonymous
        .download(&RepoId::model("org/tiny").unwrap(), "nope.txt")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`org/tiny`") && msg.contains("`nope.txt`") && msg.contains("EntryNotFound"),
        "{msg}"
    );

    let err = anonymous
        .download(&RepoId::model("org/tiny@v9").unwrap(), "config.json")
        .unwrap_err();
    assert!(err.to_string().contains("RevisionNotFound"), "{err}");
    assert!(err.to_string().contains("`v9`"), "{err}");

    let gated_repo = RepoId::model("org/gated").unwrap();
    let err = anonymous.download(&gated_repo, "weights.bin").unwrap_err();
    assert!(
        matches!(
            err,
            HubError::Unauthorized {
                gated: true,
                token_sent: false,
                status: 401,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("`org/gated`") && msg.contains("`weights.bin`") && msg.contains("HF_TOKEN"),
        "{msg}"
    );

    let wrong =
        Hub::new(config(&server.endpoint(), cache.path()).with_token(Some(Token::new(secret))))
            .unwrap();
    let err = wrong.download(&gated_repo, "weights.bin").unwrap_err();
    assert!(
        matches!(
            err,
            HubError::Unauthorized {
                token_sent: true,
                ..
            }
        ),
        "{err:?}"
    );
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{wrong:?}"),
        format!("{:?}", wrong.config()),
    ] {
        assert!(!text.contains(secret), "the token leaked: {text}");
    }

    server.clear_requests();
    let authorized =
        Hub::new(config(&server.endpoint(), cache.path()).with_token(Some(Token::new(TEST_TOKEN))))
            .unwrap();
    let path = authorized.download(&gated_repo, "weights.bin").unwrap();
    assert_eq!(sha256_hex(&fs::read(path).unwrap()), gated_sha);
    assert!(!format!("{authorized:?}").contains(TEST_TOKEN));
    // The token goes to the endpoint's resolve URL, never to the CDN location.
    for r in server.requests() {
        assert_eq!(r.authorization, !r.path.starts_with("/cdn/"), "{r:?}");
    }
}

#[test]
fn concurrent_downloads_of_one_file_fetch_it_once() {
    let repo_spec = tiny_repo();
    let sha256 = repo_spec.etag("onnx/model.onnx").unwrap();
    let server = HubServer::start(vec![repo_spec]);
    // Keep the first download busy while the second one arrives at the lock.
    server.inject(
        &format!("/cdn/{sha256}"),
        Fault::Delay(Duration::from_millis(400)),
    );
    let cache = tempfile::tempdir().unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let hub = hub(&server, cache.path());
            std::thread::spawn(move || {
                barrier.wait();
                hub.download(&RepoId::model("org/tiny").unwrap(), "onnx/model.onnx")
                    .unwrap()
            })
        })
        .collect();
    let paths: Vec<PathBuf> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(paths[0], paths[1]);
    assert_eq!(sha256_hex(&fs::read(&paths[0]).unwrap()), sha256);
    assert_eq!(gets(&server.requests(), &format!("/cdn/{sha256}")), 1);
}

/// Builds, by hand, what huggingface_hub leaves after downloading two files.
fn python_layout(cache: &Path, commit: &str, model: &[u8], config: &[u8]) {
    let root = cache.join("models--org--prebuilt");
    let (sha256, sha1) = (sha256_hex(model), git_blob_sha1(config));
    fs::create_dir_all(root.join("blobs")).unwrap();
    fs::create_dir_all(root.join("refs")).unwrap();
    fs::create_dir_all(root.join("snapshots").join(commit).join("sub")).unwrap();
    fs::write(root.join("blobs").join(&sha256), model).unwrap();
    fs::write(root.join("blobs").join(&sha1), config).unwrap();
    fs::write(root.join("refs/main"), commit).unwrap();
    std::os::unix::fs::symlink(
        format!("../../blobs/{sha256}"),
        root.join("snapshots").join(commit).join("model.onnx"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        format!("../../../blobs/{sha1}"),
        root.join("snapshots").join(commit).join("sub/config.json"),
    )
    .unwrap();
    fs::create_dir_all(cache.join(".locks/models--org--prebuilt")).unwrap();
}

#[test]
fn a_cache_in_python_layout_is_used_without_the_network() {
    let cache = tempfile::tempdir().unwrap();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let model = weights(5_000, 3);
    python_layout(cache.path(), commit, &model, CONFIG);

    let mut server = HubServer::start(vec![]);
    let hub = hub(&server, cache.path());
    server.stop();
    assert!(std::net::TcpStream::connect(server.addr()).is_err());

    let repo = RepoId::model("org/prebuilt").unwrap();
    let snapshot = cache
        .path()
        .join("models--org--prebuilt/snapshots")
        .join(commit);
    assert_eq!(
        hub.download(&repo, "model.onnx").unwrap(),
        snapshot.join("model.onnx")
    );
    assert_eq!(fs::read(snapshot.join("model.onnx")).unwrap(), model);
    assert_eq!(
        fs::read(hub.download(&repo, "sub/config.json").unwrap()).unwrap(),
        CONFIG
    );
    // The commit works as a revision too, and offline listings walk the snapshot.
    let pinned = RepoId::model(&format!("org/prebuilt@{commit}")).unwrap();
    assert!(hub.download(&pinned, "model.onnx").is_ok());
    assert_eq!(
        hub.list_cached_files(&repo).unwrap().unwrap(),
        vec!["model.onnx", "sub/config.json"]
    );
    let offline = Hub::new(config(&server.endpoint(), cache.path()).with_offline(true)).unwrap();
    assert_eq!(
        offline.list_files(&repo).unwrap(),
        vec!["model.onnx", "sub/config.json"]
    );
    // Asking the (stopped) Hub to refresh falls back to the cache after the retries.
    assert_eq!(
        hub.refresh(&repo, "model.onnx").unwrap(),
        snapshot.join("model.onnx")
    );
    assert_eq!(server.requests(), vec![]);
}

#[test]
fn offline_mode_names_the_missing_file_and_the_cache_dir() {
    let server = HubServer::start(vec![tiny_repo()]);
    let cache = tempfile::tempdir().unwrap();
    let online = hub(&server, cache.path());
    let repo = RepoId::model("org/tiny").unwrap();
    online.download(&repo, "config.json").unwrap();
    server.clear_requests();

    let offline = Hub::new(config(&server.endpoint(), cache.path()).with_offline(true)).unwrap();
    assert!(offline.download(&repo, "config.json").is_ok());
    assert!(offline.refresh(&repo, "config.json").is_ok());
    let err = offline.download(&repo, "onnx/model.onnx").unwrap_err();
    assert!(matches!(err, HubError::Offline { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("`onnx/model.onnx`")
            && msg.contains("`org/tiny`")
            && msg.contains("`main`")
            && msg.contains(&cache.path().display().to_string()),
        "{msg}"
    );
    let err = offline
        .list_files(&RepoId::model("org/other").unwrap())
        .unwrap_err();
    assert!(matches!(err, HubError::Offline { .. }), "{err:?}");
    assert_eq!(server.requests(), vec![]);
}

#[test]
fn listings_record_the_ref_and_refuse_names_that_escape_the_cache() {
    let server = HubServer::start(vec![
        tiny_repo(),
        FakeRepo::new(RepoType::Model, "org/evil").file("../evil", "x", false),
        FakeRepo::new(RepoType::Dataset, "org/abs")
            .file("ok.txt", "x", false)
            .file("/abs", "x", false),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let hub = hub(&server, cache.path());

    let repo = RepoId::model("org/tiny").unwrap();
    assert_eq!(
        hub.list_files(&repo).unwrap(),
        vec!["config.json", "onnx/model.onnx"]
    );
    assert_eq!(
        fs::read_to_string(cache.path().join("models--org--tiny/refs/main")).unwrap(),
        tiny_repo().commit
    );
    assert!(hub.file_exists(&repo, "onnx/model.onnx").unwrap());
    assert!(!hub.file_exists(&repo, "model.onnx").unwrap());

    for (repo, name) in [
        (RepoId::model("org/evil").unwrap(), "../evil"),
        (RepoId::dataset("org/abs").unwrap(), "/abs"),
    ] {
        let err = hub.list_files(&repo).unwrap_err();
        assert!(matches!(err, HubError::UnsafePath { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("`{name}`")), "{err}");
    }
    server.clear_requests();
    let err = hub
        .download(&RepoId::model("org/evil").unwrap(), "../evil")
        .unwrap_err();
    assert!(matches!(err, HubError::UnsafePath { .. }), "{err:?}");
    assert_eq!(server.requests(), vec![]);
    assert!(!cache.path().join("evil").exists());
}

#[test]
fn relative_redirects_are_followed_for_renamed_repos() {
    let server = HubServer::start(vec![tiny_repo()]);
    server.inject(
        "/org/old-name/resolve/main/config.json",
        Fault::Redirect("/org/tiny/resolve/main/config.json".into()),
    );
    let cache = tempfile::tempdir().unwrap();
    let path = hub(&server, cache.path())
        .download(&RepoId::model("org/old-name").unwrap(), "config.json")
        .unwrap();
    // Stored under the name that was asked for, as huggingface_hub does.
    assert!(path.starts_with(cache.path().join("models--org--old-name")));
    assert_eq!(fs::read(path).unwrap(), CONFIG);
}

#[test]
fn datasets_and_pinned_commits() {
    let data = FakeRepo::new(RepoType::Dataset, "org/data").file(
        "data/train-00000.parquet",
        weights(1_000, 9),
        true,
    );
    let commit = data.commit.clone();
    let server = HubServer::start(vec![data]);
    let cache = tempfile::tempdir().unwrap();
    let hub = hub(&server, cache.path());

    let pinned = RepoId::dataset(&format!("org/data@{commit}")).unwrap();
    let path = hub.download(&pinned, "data/train-00000.parquet").unwrap();
    let root = cache.path().join("datasets--org--data");
    assert_eq!(
        path,
        root.join("snapshots")
            .join(&commit)
            .join("data/train-00000.parquet")
    );
    assert!(server.requests()[0]
        .path
        .starts_with(&format!("/datasets/org/data/resolve/{commit}/")));
    // A commit revision writes no ref file.
    assert!(!root.join("refs").exists());
    server.clear_requests();
    hub.download(&pinned, "data/train-00000.parquet").unwrap();
    assert_eq!(server.requests(), vec![]);
}

#[test]
fn refresh_follows_a_branch_that_moved() {
    let old = FakeRepo::new(RepoType::Model, "org/moving").file("config.json", "{\"v\": 1}", false);
    let new = FakeRepo::new(RepoType::Model, "org/moving")
        .with_commit("1111111111111111111111111111111111111111")
        .file("config.json", "{\"v\": 2}", false);
    let cache = tempfile::tempdir().unwrap();
    let repo = RepoId::model("org/moving").unwrap();

    let first = HubServer::start(vec![old]);
    let before = hub(&first, cache.path())
        .download(&repo, "config.json")
        .unwrap();
    let second = HubServer::start(vec![new]);
    let hub = hub(&second, cache.path());
    // Cache-first: the old commit's file, no request.
    assert_eq!(hub.download(&repo, "config.json").unwrap(), before);
    assert_eq!(second.requests(), vec![]);
    let after = hub.refresh(&repo, "config.json").unwrap();
    assert_ne!(after, before);
    assert_eq!(fs::read_to_string(&after).unwrap(), "{\"v\": 2}");
    assert_eq!(fs::read_to_string(&before).unwrap(), "{\"v\": 1}");
    assert_eq!(
        fs::read_to_string(cache.path().join("models--org--moving/refs/main")).unwrap(),
        "1111111111111111111111111111111111111111"
    );
}

/// Copies a directory tree, keeping symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `tests/fixtures/hf-cache` was written by huggingface_hub's own `hf_hub_download`
/// (`scripts/make_hf_cache_fixture.py`, against `examples/serve.rs`).
#[test]
fn a_cache_written_by_huggingface_hub_is_read_with_no_server() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf-cache");
    let cache = tempfile::tempdir().unwrap();
    copy_tree(&fixture, cache.path());
    // An endpoint where nothing listens: any request would fail.
    let mut server = HubServer::start(vec![]);
    server.stop();
    let hub = hub(&server, cache.path());

    let repo = RepoId::model("evalrun-test/tiny-model").unwrap();
    let config = hub.download(&repo, "config.json").unwrap();
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.contains("\"model_type\""), "{text}");
    let weights_path = hub.download(&repo, "onnx/model.onnx").unwrap();
    let bytes = fs::read(&weights_path).unwrap();
    let etag = fs::read_link(&weights_path).unwrap();
    assert_eq!(
        etag.file_name().unwrap().to_str().unwrap(),
        sha256_hex(&bytes)
    );
    assert_eq!(
        hub.list_cached_files(&repo).unwrap().unwrap(),
        vec!["config.json", "onnx/model.onnx"]
    );
}

/// Original-URL files pinned by sha256: downloaded once (resuming a dropped connection),
/// refused on a wrong checksum, and named when missing offline.
#[test]
fn url_files_are_pinned_by_sha256() {
    let text = weights(120_000, 7);
    let server = HubServer::start(vec![FakeRepo::new(RepoType::Dataset, "org/plain").file(
        "ptb.test.txt",
        text.clone(),
        false,
    )]);
    let url = format!(
        "{}/datasets/org/plain/resolve/main/ptb.test.txt",
        server.endpoint()
    );
    let sha = sha256_hex(&text);
    let cache = tempfile::tempdir().unwrap();
    let hub = hub(&server, cache.path());
    server.inject("ptb.test.txt", Fault::DropAfter(50_000));
    let path = hub.download_url(&url, &sha).unwrap();
    assert_eq!(fs::read(&path).unwrap(), text);
    assert!(
        server.requests().iter().any(|r| r.range.is_some()),
        "resumed with Range"
    );
    server.clear_requests();
    assert_eq!(hub.download_url(&url, &sha).unwrap(), path);
    assert!(server.requests().is_empty(), "cached: no request");

    let wrong = "0".repeat(64);
    let err = hub.download_url(&url, &wrong).unwrap_err();
    assert!(matches!(err, HubError::Checksum { .. }), "{err}");
    assert!(!cache.path().join(".evalrun-urls").join(&wrong).exists());
    assert!(!cache
        .path()
        .join(".evalrun-urls")
        .join(format!("{wrong}.incomplete"))
        .exists());

    let offline = Hub::new(config(&server.endpoint(), cache.path()).with_offline(true)).unwrap();
    let err = offline.download_url(&url, &"1".repeat(64)).unwrap_err();
    assert!(matches!(err, HubError::Offline { .. }), "{err}");
    assert!(err.to_string().contains("ptb.test.txt"), "{err}");
}

/// Issue 11, defect 3: a server that truncates every body and ignores `Range` used to loop for
/// ever (bytes received reset the attempt count). Now each attempt that does not pass the
/// high-water mark counts.
#[test]
fn a_server_that_truncates_every_body_and_ignores_range_runs_out_of_retries() {
    let repo_spec = tiny_repo();
    let sha256 = repo_spec.etag("onnx/model.onnx").unwrap();
    let server = HubServer::start(vec![repo_spec]);
    server.inject_n(
        &format!("/cdn/{sha256}"),
        Fault::TruncateIgnoringRange(1000),
        usize::MAX,
    );
    let cache = tempfile::tempdir().unwrap();
    let hub = hub(&server, cache.path());
    let err = hub
        .download(&RepoId::model("org/tiny").unwrap(), "onnx/model.onnx")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("after 4 attempts") && err.contains("after 1000 bytes"),
        "{err}"
    );
    assert_eq!(gets(&server.requests(), &sha256), 4);
}

/// Defect 4: a server that drips one byte at a time is cut by the stall rule, and a server that
/// never answers is given up at the no-progress deadline, each within a bounded time.
#[test]
fn dripping_and_hanging_servers_end_in_bounded_time() {
    let repo_spec = tiny_repo();
    let sha256 = repo_spec.etag("onnx/model.onnx").unwrap();
    let server = HubServer::start(vec![repo_spec]);
    server.inject_n(
        &format!("/cdn/{sha256}"),
        Fault::Drip(Duration::from_millis(20)),
        usize::MAX,
    );
    let cache = tempfile::tempdir().unwrap();
    let mut config = config(&server.endpoint(), cache.path());
    config.stall_window = Duration::from_millis(500);
    config.stall_bytes = 1024;
    let hub = Hub::new(config.clone()).unwrap();
    let started = std::time::Instant::now();
    let err = hub
        .download(&RepoId::model("org/tiny").unwrap(), "onnx/model.onnx")
        .unwrap_err()
        .to_string();
    assert!(err.contains("stalled"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    let server = HubServer::start(vec![tiny_repo()]);
    server.inject_n(
        "/resolve/main/config.json",
        Fault::Hang(Duration::from_secs(30)),
        usize::MAX,
    );
    let cache = tempfile::tempdir().unwrap();
    let mut config = config.clone().with_endpoint(&server.endpoint());
    config.cache_dir = cache.path().to_path_buf();
    config.read_timeout = Duration::from_millis(300);
    config.max_retries = 1000;
    config.no_progress_deadline = Duration::from_secs(2);
    let hub = Hub::new(config).unwrap();
    let started = std::time::Instant::now();
    let err = hub
        .download(&RepoId::model("org/tiny").unwrap(), "config.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("gave up after"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A host name that does not resolve is not retried: one attempt, and the message says what to
/// do without network.
#[test]
fn an_unresolvable_host_fails_at_once_and_suggests_offline() {
    let cache = tempfile::tempdir().unwrap();
    let mut config = config("http://no-such-host.invalid", cache.path());
    config.max_retries = 5;
    config.backoff_base = Duration::from_secs(2);
    let hub = Hub::new(config).unwrap();
    let started = std::time::Instant::now();
    let err = hub
        .download(&RepoId::model("org/tiny").unwrap(), "config.json")
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains("does not resolve") && err.contains("--offline"),
        "{err}"
    );
}
