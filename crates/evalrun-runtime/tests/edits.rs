//! Each load-time graph edit (`evalrun-graph`) against the graph without it, through ONNX
//! Runtime, on the fixture exports and real WikiText-2 text: the edited graph scores (or
//! decodes) as the unedited one does, bit for bit where the edit changes no arithmetic, and the
//! edit report says the edit was made. The graph-only tests (which nodes each edit writes)
//! live beside the edits in `evalrun-graph`.

use std::path::{Path, PathBuf};

use evalrun_core::lm::{continuation_window, rolling_windows, Window};
use evalrun_graph::{prepare, Blocks, Edit, Edits, Prepared, Role, Status};
use evalrun_runtime::{
    CausalLm, GenerateOptions, Runtime, RuntimeOptions, Scoring, Seq2SeqLm, WindowScore,
};

/// ONNX Runtime allows one environment per process: the tests share it.
fn runtime() -> &'static Runtime {
    static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(RuntimeOptions::cpu(2)).unwrap())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn model(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/models").join(name)
}

/// The first `chars` characters of the WikiText-2 test file (`EVALRUN_DATA_DIR`, default
/// `../shared/data`).
fn wikitext(chars: usize) -> String {
    let dir = std::env::var_os("EVALRUN_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data"));
    let path = dir.join("lm/wikitext-2/wiki.test.tokens");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set EVALRUN_DATA_DIR)", path.display()));
    text.chars().take(chars).collect()
}

fn rel(got: f64, want: f64) -> f64 {
    ((got - want) / want).abs()
}

/// Rolling 200-token windows over the first 5000 characters of WikiText-2 (the last scores
/// only its tail), then four continuations: a short one alone and three candidates sharing a
/// 60-word context.
fn mixed_windows(lm: &CausalLm) -> Vec<Window> {
    let text = wikitext(5000);
    let context = text
        .split_whitespace()
        .skip(40)
        .take(60)
        .collect::<Vec<_>>()
        .join(" ");
    let tokens = lm.encoder().encode_pair(&text, "").unwrap().0;
    let mut windows = rolling_windows(&tokens, lm.eot(), 200);
    assert!(
        windows.last().unwrap().first_target > 1,
        "the last window scores a tail"
    );
    for (context, continuation) in [
        ("The cat sat on the", " mat"),
        (context.as_str(), " the"),
        (context.as_str(), " a ship of the line"),
        (context.as_str(), " 1917"),
    ] {
        let (a, b) = lm.encoder().encode_pair(context, continuation).unwrap();
        windows.push(continuation_window(&a, &b, 200));
    }
    windows
}

/// Two ways of scoring the same windows agree: log-likelihoods to `tolerance` relative (0:
/// bit for bit), and the same token counts, greedy flags and argmax tokens.
fn assert_same_scores(what: &str, a: &[WindowScore], b: &[WindowScore], tolerance: f64) {
    assert_eq!(a.len(), b.len(), "{what}");
    assert!(!a.is_empty(), "{what}");
    for (i, (a, b)) in a.iter().zip(b).enumerate() {
        if tolerance == 0.0 {
            assert_eq!(
                a.loglikelihood.to_bits(),
                b.loglikelihood.to_bits(),
                "{what} window {i}: {} vs {}",
                a.loglikelihood,
                b.loglikelihood
            );
        } else {
            assert!(
                rel(a.loglikelihood, b.loglikelihood) < tolerance,
                "{what} window {i}: {} vs {}",
                a.loglikelihood,
                b.loglikelihood
            );
        }
        assert_eq!(
            (a.tokens, a.greedy, &a.greedy_tokens),
            (b.tokens, b.greedy, &b.greedy_tokens),
            "{what} window {i}"
        );
    }
}

/// Loads `model` with and without `edit` (from `auto`), checks the report says the edit was
/// made on one and not asked for on the other, and scores the mixed windows on both.
fn with_and_without(
    model_name: &str,
    edits: Edits,
    edit: Edit,
    rows: usize,
    tokens: usize,
) -> (Vec<WindowScore>, Vec<WindowScore>) {
    let dir = model(model_name);
    let mut on = CausalLm::load_with(runtime(), &dir, &edits).unwrap();
    let mut off = CausalLm::load_with(runtime(), &dir, &edits.without(edit)).unwrap();
    assert!(
        on.edits().is_applied(edit),
        "{model_name}: {edit} {:?}",
        on.edits()
    );
    assert_eq!(off.edits().status(edit), None, "{model_name}: {edit}");
    let windows = mixed_windows(&on);
    let a = on.score(&windows, rows, tokens, &mut |_| {}).unwrap();
    let b = off.score(&windows, rows, tokens, &mut |_| {}).unwrap();
    (a, b)
}

/// `log_softmax`: the scoring nodes in the graph (float32 log-softmax, summed in f64) against
/// the host path (the whole `logits` tensor, log-softmax in f64), on both fixture exports
/// (plain and with-past), for rolling windows, continuations and shared-context candidates.
#[test]
fn log_softmax_in_the_graph_equals_the_host_path() {
    for name in ["gpt2-tiny", "gpt2-tiny-past"] {
        let dir = model(name);
        let mut graph = CausalLm::load_with(runtime(), &dir, &Edits::auto()).unwrap();
        let host_edits = Edits::auto().without(Edit::LogSoftmax);
        let mut host = CausalLm::load_with(runtime(), &dir, &host_edits).unwrap();
        assert_eq!(graph.scoring(), Scoring::InGraph, "{name}");
        assert_eq!(host.scoring(), Scoring::HostLogits, "{name}");
        // The gathered head ends in the scoring nodes: without them it is not made.
        match host.edits().status(Edit::LmHead) {
            Some(Status::NotApplicable(why)) => assert!(why.contains("log_softmax"), "{why}"),
            other => panic!("{name}: {other:?}"),
        }
        let windows = mixed_windows(&graph);
        let g = graph.score(&windows, 4, 600, &mut |_| {}).unwrap();
        let h = host.score(&windows, 4, 600, &mut |_| {}).unwrap();
        assert_same_scores(name, &g, &h, 1e-5);
    }
}

/// `lm_head`: the LM head run only at the scored positions, in chunks, gives the scores of
/// the export's head run over every position, in batches of up to 1000 scored positions (four
/// chunks filled, the others empty).
#[test]
fn a_head_over_the_scored_positions_alone_scores_the_same() {
    for name in ["gpt2-tiny", "gpt2-tiny-past"] {
        let dir = model(name);
        let mut gathered = CausalLm::load_with(runtime(), &dir, &Edits::auto()).unwrap();
        let without = Edits::auto().without(Edit::LmHead);
        let mut full = CausalLm::load_with(runtime(), &dir, &without).unwrap();
        assert!(gathered.head_gathered(), "{name}");
        assert!(gathered.edits().is_applied(Edit::LmHead));
        assert!(!full.head_gathered(), "{name}");
        assert_eq!(full.scoring(), Scoring::InGraph);
        let windows = mixed_windows(&gathered);
        let g = gathered.score(&windows, 8, 1000, &mut |_| {}).unwrap();
        let f = full.score(&windows, 3, 500, &mut |_| {}).unwrap();
        assert_same_scores(name, &g, &f, 1e-6);
    }
}

/// `attention_blocks`: causal attention in blocks of query rows scores as the export's
/// whole-square attention. The fixture's windows are short, so the thresholds are lowered:
/// rolling windows of 200 tokens and the last window's tail, padded batches, short
/// continuations (the export's branch, or blocks left empty), and candidates scored against a
/// shared context's cache (a past: the export's branch), on both exports (keys transposed by
/// `[0, 2, 3, 1]` and by `[0, 1, 3, 2]`). Reversing the blocks' order fails this test.
#[test]
fn attention_in_blocks_scores_as_the_whole_square() {
    let configs = [
        Blocks {
            min_tokens: 24,
            blocks: 4,
            min_block: 8,
        },
        Blocks {
            min_tokens: 0,
            blocks: 16,
            min_block: 1,
        },
    ];
    for name in ["gpt2-tiny", "gpt2-tiny-past"] {
        for blocks in configs {
            let edits = Edits::auto().with_blocks(blocks);
            let (b, s) = with_and_without(name, edits, Edit::AttentionBlocks, 3, 1000);
            assert_same_scores(&format!("{name} {blocks:?}"), &b, &s, 1e-6);
        }
        let on = CausalLm::load_with(runtime(), &model(name), &Edits::auto()).unwrap();
        assert_eq!(on.attention_blocks(), 2, "{name}: both layers");
        assert_eq!(on.edits().count(Edit::AttentionBlocks), 2);
    }
}

/// `nan_guards`: the `Where(IsNaN(p), 0, p)` after each softmax, taken out, changes no score:
/// bit for bit.
#[test]
fn nan_guards_taken_out_score_bit_for_bit() {
    for name in ["gpt2-tiny", "gpt2-tiny-past"] {
        let (a, b) = with_and_without(name, Edits::auto(), Edit::NanGuards, 4, 600);
        assert_same_scores(name, &a, &b, 0.0);
        let lm = CausalLm::load_with(runtime(), &model(name), &Edits::auto()).unwrap();
        assert_eq!(
            lm.edits().count(Edit::NanGuards),
            2,
            "{name}: one per layer"
        );
    }
}

/// `weights_in_place`: the weights referenced where they lie in the file are the same bytes
/// ONNX Runtime reads itself: bit for bit.
#[test]
fn weights_referenced_in_place_score_bit_for_bit() {
    for name in ["gpt2-tiny", "gpt2-tiny-past"] {
        let (a, b) = with_and_without(name, Edits::auto(), Edit::WeightsInPlace, 4, 600);
        assert_same_scores(name, &a, &b, 0.0);
    }
}

/// `none`: every graph exactly as exported, scored on the host; the report is empty; and the
/// scores equal `auto`'s within the in-graph float32 log-softmax's rounding.
#[test]
fn no_edits_load_the_export_as_it_is() {
    let dir = model("gpt2-tiny");
    let prepared = prepare(&dir.join("model.onnx"), Role::CausalLm, &Edits::none());
    assert!(prepared.bytes.is_none());
    let mut plain = CausalLm::load_with(runtime(), &dir, &Edits::none()).unwrap();
    assert!(plain.edits().outcomes.is_empty());
    assert_eq!(plain.scoring(), Scoring::HostLogits);
    let mut edited = CausalLm::load(runtime(), &dir).unwrap();
    let windows = mixed_windows(&edited);
    let a = plain.score(&windows, 4, 600, &mut |_| {}).unwrap();
    let b = edited.score(&windows, 4, 600, &mut |_| {}).unwrap();
    assert_same_scores("none vs auto", &a, &b, 1e-5);
}

/// A model whose weights live in an external data file (the layout Optimum writes above 2 GB)
/// loads with every edit, and every score equals the fixture's own, bit for bit. The layout is
/// made from the fixture: its `model.onnx`, renamed `model.onnx_data`, holds the bytes that
/// the rewritten `model.onnx` references.
#[test]
fn external_data_models_load_in_place_with_identical_scores() {
    let fixture = model("gpt2-tiny");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        let to = if name == "model.onnx" {
            "model.onnx_data"
        } else {
            name
        };
        std::fs::copy(&path, dir.path().join(to)).unwrap();
    }
    let only_weights = Edits::none().with(Edit::WeightsInPlace);
    let rewritten = prepare(
        &dir.path().join("model.onnx_data"),
        Role::Plain,
        &only_weights,
    );
    assert!(rewritten.report.count(Edit::WeightsInPlace) >= 5);
    let bytes = rewritten.bytes.unwrap();
    let size = std::fs::metadata(fixture.join("model.onnx")).unwrap().len() as usize;
    assert!(bytes.len() * 4 < size, "{} of {size} bytes", bytes.len());
    std::fs::write(dir.path().join("model.onnx"), &bytes).unwrap();

    let mut external = CausalLm::load(runtime(), dir.path()).unwrap();
    assert_eq!(external.scoring(), Scoring::InGraph);
    assert!(external.edits().is_applied(Edit::WeightsInPlace));
    let mut original = CausalLm::load(runtime(), &fixture).unwrap();
    let text = wikitext(3000);
    let tokens = original.encoder().encode_pair(&text, "").unwrap().0;
    let windows = rolling_windows(&tokens, original.eot(), 256);
    let a = external.score(&windows, 4, 600, &mut |_| {}).unwrap();
    let b = original.score(&windows, 4, 600, &mut |_| {}).unwrap();
    assert_same_scores("external data", &a, &b, 0.0);
}

/// When ONNX Runtime refuses an edited graph, the file is loaded unedited, and the report says
/// the edits were refused with ONNX Runtime's message. The refused graph here is a real
/// rejection: a prepared model whose bytes are not a graph ONNX Runtime can load.
#[test]
fn an_edited_graph_that_onnx_runtime_refuses_is_loaded_unedited() {
    let dir = model("gpt2-tiny");
    let path = dir.join("model.onnx");
    let mut prepared: Prepared = prepare(&path, Role::CausalLm, &Edits::auto());
    assert!(prepared.report.is_applied(Edit::LogSoftmax));
    // A ModelProto whose graph has a node reading a name nothing makes.
    let bytes = prepared.bytes.as_mut().unwrap();
    let mut node = Vec::new();
    for (field, text) in [(1u8, "evalrun_nowhere"), (2, "evalrun_out"), (4, "Relu")] {
        node.push(field << 3 | 2);
        node.push(text.len() as u8);
        node.extend_from_slice(text.as_bytes());
    }
    let mut graph = vec![1 << 3 | 2, node.len() as u8];
    graph.extend_from_slice(&node);
    bytes.push(7 << 3 | 2);
    bytes.push(graph.len() as u8);
    bytes.extend_from_slice(&graph);
    let (session, report) = runtime().load_prepared(&path, prepared).unwrap();
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    assert!(
        outputs.contains(&"logits"),
        "the export as it is: {outputs:?}"
    );
    assert_eq!(report.applied().count(), 0);
    for edit in [Edit::WeightsInPlace, Edit::LogSoftmax, Edit::LmHead] {
        match report.status(edit) {
            Some(Status::Refused(message)) => {
                assert!(message.contains("evalrun_nowhere"), "{edit}: {message}")
            }
            other => panic!("{edit}: {other:?}"),
        }
    }
}

/// `cross_attention`: beam search reading one copy of each input's cross-attention keys and
/// values gives the strings of the graphs as exported, whose rows are repeated per beam, in the
/// merged decoder's branch and in the split `-with-past` graph.
#[test]
fn beams_that_share_the_cross_attention_cache_decode_the_same() {
    let fixture = model("t5-tiny");
    // The split pair alone: the fixture's files without the merged decoder.
    let split = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "decoder_model_merged.onnx" {
            std::fs::copy(&path, split.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let text = wikitext(20_000);
    let inputs: Vec<String> = text
        .lines()
        .filter(|l| l.split_whitespace().count() > 20)
        .take(12)
        .map(|l| format!("summarize: {}", l.trim()))
        .collect();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let options = GenerateOptions {
        max_new_tokens: 16,
        batch_size: 5,
        beams: 4,
        length_penalty: 0.6,
        ..GenerateOptions::default()
    };
    let mut reference = None;
    for dir in [fixture.as_path(), split.path()] {
        for edits in [Edits::auto(), Edits::auto().without(Edit::CrossAttention)] {
            let mut lm = Seq2SeqLm::load_with(runtime(), dir, 512, &edits).unwrap();
            let decoder = lm.edits().last().unwrap();
            let shared = edits.contains(Edit::CrossAttention);
            assert_eq!(decoder.is_applied(Edit::CrossAttention), shared, "{dir:?}");
            assert_eq!(lm.shares_cross_attention(), shared, "{dir:?}");
            if shared {
                assert_eq!(
                    decoder.count(Edit::CrossAttention),
                    2,
                    "{dir:?}: both layers"
                );
            }
            let tokens = lm.tokenize(&inputs).unwrap();
            let out = lm.generate(&tokens, &options, &mut |_| {}).unwrap();
            assert!(out.iter().any(|o| !o.is_empty()));
            match &reference {
                None => reference = Some(out),
                Some(want) => assert_eq!(&out, want, "{dir:?} shared={shared}"),
            }
        }
    }
}

/// int8 exports from ONNX Runtime's `quantize_dynamic` (scripts/make_precision_fixtures.py) run
/// with the graph edits that apply to them (the scoring nodes, the NaN-guard removal, the
/// gathered head: the tied LM head shares its weights with the embedding's `Gather`, so
/// `quantize_dynamic` leaves it a float `MatMul`), and score as the quantised export as it is
/// (host log-softmax in f64) does, within the float32 log-softmax's rounding.
#[test]
fn int8_quantised_exports_run_with_their_edits() {
    let dir = model("gpt2-tiny-int8");
    let mut edited = CausalLm::load(runtime(), &dir).unwrap();
    assert_eq!(edited.scoring(), Scoring::InGraph);
    for edit in [Edit::NanGuards, Edit::LogSoftmax, Edit::LmHead] {
        assert!(
            edited.edits().is_applied(edit),
            "{edit}: {:?}",
            edited.edits()
        );
    }
    let mut plain = CausalLm::load_with(runtime(), &dir, &Edits::none()).unwrap();
    let windows = mixed_windows(&edited);
    let a = edited.score(&windows, 4, 600, &mut |_| {}).unwrap();
    let b = plain.score(&windows, 4, 600, &mut |_| {}).unwrap();
    assert_same_scores("int8 auto vs none", &a, &b, 1e-5);
    // And they are another model: the float32 fixture's scores differ.
    let mut float = CausalLm::load(runtime(), &model("gpt2-tiny")).unwrap();
    let f = float.score(&windows, 4, 600, &mut |_| {}).unwrap();
    assert!(a
        .iter()
        .zip(&f)
        .any(|(a, f)| a.loglikelihood != f.loglikelihood));
}

/// A half-precision export is refused when it loads, naming the output and its dtype, with no
/// warning about edits before it.
#[test]
fn half_precision_exports_are_refused_at_load() {
    let error = match CausalLm::load(runtime(), &model("broken-fp16")) {
        Ok(_) => panic!("an fp16 export loaded"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("model output `logits`")
            && error.contains("is float16")
            && error.contains("--dtype fp32"),
        "{error}"
    );
}
