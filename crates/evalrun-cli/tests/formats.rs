//! Readers for data that is not present here (MNLI, QQP, GLUE test files), exercised on small
//! files written in the exact published formats, and GLUE test-server submission files.

mod common;

use std::path::Path;

use common::*;

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const MNLI_HEADER: &str = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n";

fn mnli_row(i: usize, s1: &str, s2: &str, gold: &str) -> String {
    format!("{i}\t{}\t{i}e\tfiction\t( {s1} )\t( {s2} )\t(ROOT {s1})\t(ROOT {s2})\t{s1}\t{s2}\t{gold}\t{gold}\tneutral\t{gold}\t{gold}\t{gold}\n", 1000 + i)
}

#[test]
fn mnli_and_qqp_in_their_published_layouts() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let matched = [
        ("The cat sat on the mat.", "A cat is sitting.", "entailment"),
        ("He left early.", "He stayed all night.", "contradiction"),
        ("She reads \"books\".", "She likes novels.", "neutral"),
    ];
    write(
        d,
        "glue/MNLI/dev_matched.tsv",
        &format!(
            "{MNLI_HEADER}{}",
            matched
                .iter()
                .enumerate()
                .map(|(i, (a, b, g))| mnli_row(i, a, b, g))
                .collect::<String>()
        ),
    );
    write(
        d,
        "glue/MNLI/dev_mismatched.tsv",
        &format!(
            "{MNLI_HEADER}{}",
            mnli_row(0, "Rain fell.", "It was dry.", "contradiction")
        ),
    );
    write(
        d,
        "glue/QQP/dev.tsv",
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n\
         40\t81\t82\tHow do I learn Rust?\tWhat is the best way to learn Rust?\t1\n\
         41\t83\t84\tWhy is the sky blue?\tHow tall is Everest?\t0\n",
    );
    let tmp = tempfile::tempdir().unwrap();
    let (record_path, predictions_path) = (tmp.path().join("r.json"), tmp.path().join("p.jsonl"));
    let output = evalrun(&[
        "glue",
        "--model",
        "tests/fixtures/models/glue-tiny/{task}",
        "--task",
        "mnli,qqp",
        "--data-dir",
        path_str(d),
        "--output",
        path_str(&record_path),
        "--predictions",
        path_str(&predictions_path),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let record = read_json(&record_path);
    assert_eq!(record["results"]["mnli_matched"]["n"], 3);
    assert_eq!(record["results"]["mnli_mismatched"]["n"], 1);
    assert_eq!(record["results"]["qqp"]["n"], 2);
    assert!(record["results"]["qqp"]["metrics"]["f1"].is_number());
    let lines = read_jsonl(&predictions_path);
    let golds: Vec<&str> = lines
        .iter()
        .filter(|l| l["task"] == "mnli_matched")
        .map(|l| l["label"].as_str().unwrap())
        .collect();
    assert_eq!(golds, ["entailment", "contradiction", "neutral"]);
    for line in &lines {
        if line["task"] == "mnli_matched" {
            assert!(["entailment", "neutral", "contradiction"]
                .contains(&line["prediction"].as_str().unwrap()));
            assert_eq!(line["logits"].as_array().unwrap().len(), 3);
        }
    }
    let table = stdout(&output);
    assert!(
        table.contains("| mnli_matched | dev | 3 | accuracy |"),
        "{table}"
    );
}

#[test]
fn test_split_writes_glue_server_files() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    write(d, "glue/RTE/test.tsv", "index\tsentence1\tsentence2\n0\tA dog barks.\tAn animal makes noise.\n1\tIt rains.\tThe ground is dry.\n");
    write(
        d,
        "glue/CoLA/test.tsv",
        "index\tsentence\n0\tThe book was read by John.\n1\tBook the John read.\n",
    );
    write(
        d,
        "glue/STS-B/test.tsv",
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n0\tmain-news\theadlines\t2015\t0001\tnone\tnone\tA plane lands.\tAn aircraft touches down.\n",
    );
    write(
        d,
        "glue/AX/diagnostic.tsv",
        "index\tsentence1\tsentence2\n0\tThe cat sat on the mat.\tThe cat did not sit on the mat.",
    );
    let submission = tempfile::tempdir().unwrap();
    let output = evalrun(&[
        "glue",
        "--model",
        "tests/fixtures/models/glue-tiny/{task}",
        "--task",
        "rte,cola,stsb,ax",
        "--split",
        "test",
        "--data-dir",
        path_str(d),
        "--submission-dir",
        path_str(submission.path()),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let read = |f: &str| std::fs::read_to_string(submission.path().join(f)).unwrap();
    let rte = read("RTE.tsv");
    let rows: Vec<&str> = rte.lines().collect();
    assert_eq!(rows[0], "index\tprediction");
    assert_eq!(rows.len(), 3);
    for row in &rows[1..] {
        let label = row.split('\t').nth(1).unwrap();
        assert!(["entailment", "not_entailment"].contains(&label), "{row}");
    }
    for row in read("CoLA.tsv").lines().skip(1) {
        assert!(row.ends_with("\t0") || row.ends_with("\t1"), "{row}");
    }
    let sts = read("STS-B.tsv");
    let score: f64 = sts
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(score.is_finite());
    // AX is submitted with the MNLI model's own three labels.
    let ax = read("AX.tsv");
    let label = ax.lines().nth(1).unwrap().split('\t').nth(1).unwrap();
    assert!(
        ["entailment", "neutral", "contradiction"].contains(&label),
        "{ax}"
    );
    // Unlabelled: no metrics in the table.
    assert!(
        stdout(&output).contains("| rte | test | 2 |"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn user_task_files_extend_the_registry() {
    let tasks = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_root().join("tasks/glue/sst2.toml"))
        .unwrap()
        .replace("name = \"sst2\"", "name = \"sst2_head\"");
    std::fs::write(tasks.path().join("mine.toml"), text).unwrap();
    let listing = evalrun(&["tasks", "--tasks-dir", path_str(tasks.path())]);
    assert!(
        stdout(&listing).contains("| sst2_head | head | `mine` | glue |"),
        "{}",
        stdout(&listing)
    );
    let output = evalrun(&[
        "run",
        "--model",
        "tests/fixtures/models/bert-tiny-cls2",
        "--task",
        "sst2_head",
        "--data-dir",
        path_str(&data_dir()),
        "--tasks-dir",
        path_str(tasks.path()),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("| sst2_head | dev | 872 | accuracy |"));
}
