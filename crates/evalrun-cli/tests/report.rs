//! `evalrun report` for papers: named columns (`--label NAME=FILE`), LaTeX, and an HTML page
//! grouped by reference table that never prints a local path, on committed records.

mod common;

use std::path::PathBuf;

use common::*;

fn baseline(name: &str) -> PathBuf {
    repo_root().join("results/baselines").join(name)
}

/// The record copied to an absolute temporary path, so a leaked path would be visible.
fn copied(dir: &std::path::Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::copy(baseline(name), &path).unwrap();
    path
}

#[test]
fn labels_name_columns_and_latex_is_booktabs() {
    let dir = tempfile::tempdir().unwrap();
    let record = copied(dir.path(), "glue-fixtures.json");
    let label = format!("second run={}", record.display());
    let output = evalrun(&[
        "report",
        path_str(&record),
        "--label",
        &label,
        "--reference",
        "bert-base-glue/model-card",
        "--format",
        "latex",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let tex = stdout(&output);
    assert!(
        tex.contains(r"\multicolumn{2}{c}{glue-fixtures} & \multicolumn{2}{c}{second run}"),
        "{tex}"
    );
    for rule in [
        r"\toprule",
        r"\midrule",
        r"\bottomrule",
        r"\caption{BERT paper Table 1",
    ] {
        assert!(tex.contains(rule), "{rule} missing:\n{tex}");
    }
    assert!(tex.contains(r"\texttt{MNLI/dev\_matched.tsv}"), "{tex}");
    assert!(!tex.contains(&dir.path().display().to_string()) && !tex.contains("../"));

    // Columns given only with --label; a name used twice is refused.
    let only = evalrun(&["report", "--label", &label, "--format", "md"]);
    assert!(only.status.success(), "{}", stderr(&only));
    assert!(stdout(&only).contains("| Task | Metric | second run | Notes |"));
    let twice = evalrun(&["report", "--label", &label, "--label", &label]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(stderr(&twice).contains("two columns are named `second run`"));
    let none = evalrun(&["report", "--reference", "bert-base-glue"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no result records"),
        "{}",
        stderr(&none)
    );
    let malformed = evalrun(&["report", "--label", "nofile"]);
    assert!(!malformed.status.success());
    assert!(stderr(&malformed).contains("is not NAME=FILE"));
}

#[test]
fn html_groups_by_reference_table_with_a_header_and_no_local_paths() {
    let dir = tempfile::tempdir().unwrap();
    let glue = copied(dir.path(), "glue-fixtures.json");
    let lm = copied(dir.path(), "lm-fixture.json");
    let html_path = dir.path().join("r.html");
    let output = evalrun(&[
        "report",
        path_str(&glue),
        path_str(&lm),
        "--reference",
        "bert-base-glue",
        "--reference",
        "gpt2-zero-shot/117M",
        "--format",
        "html",
        "--output",
        path_str(&html_path),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(!html.contains(&dir.path().display().to_string()));
    assert!(!html.contains("../shared"), "a relative data path leaked");
    assert!(html.contains("<dt>evalrun</dt><dd>0.1.0 (commit "));
    assert!(
        html.contains("<code>glue-tiny/{task}</code>"),
        "model names"
    );
    // One section per reference table, each label once per section.
    let sections: Vec<&str> = html.split("<section id=\"table-").skip(1).collect();
    assert_eq!(
        sections.len(),
        5,
        "3 BERT tables, GPT-2 117M, measured only"
    );
    for section in &sections {
        let labels: Vec<&str> = section
            .split("<text class=\"row-label\"")
            .skip(1)
            .map(|s| &s[s.find('>').unwrap() + 1..s.find("</text>").unwrap()])
            .collect();
        assert!(!labels.is_empty());
        for (i, l) in labels.iter().enumerate() {
            assert!(!labels[..i].contains(l), "`{l}` twice in one section");
        }
    }
    // GPT-2: scores and perplexities on separate axes.
    let gpt2 = sections[3];
    assert!(gpt2.contains("score (×100)") && gpt2.contains("perplexity (lower is better"));
}
