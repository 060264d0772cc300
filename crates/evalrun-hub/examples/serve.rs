//! Serves the fake Hub on 127.0.0.1 for tools outside Rust (e.g. huggingface_hub, to write
//! a cache fixture: `scripts/make_hf_cache_fixture.py`).
//!
//! `cargo run -p evalrun-hub --example serve --features testing` prints the endpoint on its
//! first stdout line and serves until its standard input is closed.
//!
//! Repos: model `evalrun-test/tiny-model` with `config.json` (a regular git file) and
//! `onnx/model.onnx` (an LFS file, 2 KiB of fixed pseudo-random bytes).

use std::io::{Read, Write};

use evalrun_hub::testing::{FakeRepo, HubServer};
use evalrun_hub::RepoType;

fn main() {
    let config =
        "{\n  \"model_type\": \"bert\",\n  \"hidden_size\": 32,\n  \"num_hidden_layers\": 1\n}\n";
    let mut x: u32 = 2463534242;
    let model: Vec<u8> = (0..2048)
        .map(|_| {
            // xorshift32: fixed bytes, so the fixture is reproducible.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let repo = FakeRepo::new(RepoType::Model, "evalrun-test/tiny-model")
        .file("config.json", config, false)
        .file("onnx/model.onnx", model, true);
    let server = HubServer::start(vec![repo]);
    println!("{}", server.endpoint());
    std::io::stdout().flush().expect("flush stdout");
    // Serve until stdin closes.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    for request in server.requests() {
        eprintln!(
            "{} {} range={:?}",
            request.method, request.path, request.range
        );
    }
}
