//! Criterion benches for the runtime's hot paths, with throughput in examples:
//!
//! * `tokenize_and_batch`: tokenizing SST-2 dev (pairs for RTE) and planning/padding batches;
//! * `session_run`: one ORT call on a padded batch of 32, fixture classifier and the real
//!   all-MiniLM-L6-v2;
//! * `end_to_end`: `Model::classify` / `Model::embed` over a whole dev file.
//!
//! Needs the ONNX Runtime wheel in `.venv` (`scripts/setup-ort.sh`) and the data under
//! `EVALRUN_DATA_DIR` (default `../shared/data`). Run: `cargo bench -p evalrun-runtime`.

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use evalrun_runtime::batch::{pad, plan};
use evalrun_runtime::{Model, Runtime, RuntimeOptions, TextEncoder};
use evalrun_tasks::{load_split, Catalog, Task};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data_dir() -> PathBuf {
    std::env::var_os("EVALRUN_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/data"))
}

fn examples(task: &str) -> Vec<(String, Option<String>)> {
    let catalog = Catalog::embedded().unwrap();
    let Some(Task::Head(spec)) = catalog.get(&format!("glue/{task}")) else {
        panic!("head task `{task}`")
    };
    let dataset = load_split(spec, "dev", &data_dir()).unwrap();
    dataset
        .examples
        .into_iter()
        .map(|e| (e.text_a, e.text_b))
        .collect()
}

fn as_inputs(examples: &[(String, Option<String>)]) -> Vec<(&str, Option<&str>)> {
    examples
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_deref()))
        .collect()
}

fn tokenize_and_batch(c: &mut Criterion) {
    let encoder = TextEncoder::load(
        &root().join("tests/fixtures/models/bert-tiny-cls2/tokenizer.json"),
        512,
        None,
    )
    .unwrap();
    let mut group = c.benchmark_group("tokenize_and_batch");
    for task in ["sst2", "rte"] {
        let examples = examples(task);
        let inputs = as_inputs(&examples);
        group.throughput(Throughput::Elements(inputs.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(task), &inputs, |b, inputs| {
            b.iter(|| {
                let encoded = encoder.encode(inputs).unwrap();
                let lengths: Vec<usize> = encoded.iter().map(|e| e.len()).collect();
                let mut cells = 0;
                for batch in plan(&lengths, 32) {
                    let rows: Vec<_> = batch.iter().map(|&i| &encoded[i]).collect();
                    cells += pad(&rows, 0).input_ids.len();
                }
                cells
            })
        });
    }
    group.finish();
}

fn models(c: &mut Criterion) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = Runtime::new(RuntimeOptions::cpu(threads))
        .expect("ONNX Runtime (run scripts/setup-ort.sh)");
    let sst2 = examples("sst2");
    let sst2_inputs = as_inputs(&sst2);
    let first_batch: Vec<(&str, Option<&str>)> = sst2_inputs[..32].to_vec();

    let mut group = c.benchmark_group("session_run");
    group.throughput(Throughput::Elements(32));
    let mut fixture = Model::load(
        &runtime,
        &root().join("tests/fixtures/models/bert-tiny-cls2"),
        None,
    )
    .unwrap();
    group.bench_function("fixture_cls2_batch32", |b| {
        b.iter(|| fixture.classify(&first_batch, 32, &mut |_| {}).unwrap())
    });
    let minilm_dir = root().join("../shared/models/all-MiniLM-L6-v2");
    let mut minilm = Model::load(&runtime, &minilm_dir, None).unwrap();
    let texts: Vec<&str> = first_batch.iter().map(|(a, _)| *a).collect();
    group.sample_size(20);
    group.bench_function("minilm_batch32", |b| {
        b.iter(|| minilm.embed(&texts, 32, &mut |_| {}).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("end_to_end");
    group.sample_size(10);
    let all_texts: Vec<&str> = sst2_inputs.iter().map(|(a, _)| *a).collect();
    group.throughput(Throughput::Elements(all_texts.len() as u64));
    group.bench_function("minilm_embed_sst2_dev", |b| {
        b.iter(|| minilm.embed(&all_texts, 32, &mut |_| {}).unwrap())
    });
    group.throughput(Throughput::Elements(sst2_inputs.len() as u64));
    group.bench_function("fixture_classify_sst2_dev", |b| {
        b.iter(|| fixture.classify(&sst2_inputs, 32, &mut |_| {}).unwrap())
    });
    group.finish();
}

criterion_group!(benches, tokenize_and_batch, models);
criterion_main!(benches);
