//! Language-model task files (`tasks/lm/*.toml`) and their document readers.
//!
//! ```toml
//! name = "wikitext2"
//! version = 1
//! description = "WikiText-2 test, lm-eval `wikitext` 2.0"
//! protocol = "…"
//! request = "rolling"                 # rolling | last_word | last_token
//! reader = "wikitext_articles"        # wikitext_articles | whole_file | lines | jsonl_text
//! paths = ["lm/wikitext-2/wiki.test.tokens", "lm/wikitext-2/wiki.test.raw"]   # first present wins
//! detokenizer = "wikitext"            # wikitext | ptb | none
//! words = "lm_eval_split"             # lm_eval_split | words_plus_eos
//! metrics = ["word_perplexity", "byte_perplexity", "bits_per_byte", "token_perplexity"]
//! table_metric = "word_perplexity"
//! ```
//!
//! Word and byte counts are taken on the text *before* de-tokenizing (lm-eval's convention,
//! and the GPT-2 paper's "original tokens").

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::hex_sha256;
use crate::error::{DataError, TaskError};
use crate::preprocess::{
    lm_eval_word_count, ptb_detokenizer, wikitext_articles, wikitext_detokenizer, words_plus_eos,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LmRequest {
    /// Rolling log-likelihood of each whole document.
    Rolling,
    /// lm-eval `lambada_openai`: " " + last space-separated word given the rest; accuracy =
    /// every token of it greedy; perplexity = exp(−mean log-likelihood).
    LastWord,
    /// Megatron's non-strict LAMBADA: the last BPE token given all before it.
    LastToken,
    /// Children's Book Test, the GPT-2 paper's way: each candidate fills `XXXXX`; the candidate
    /// plus the rest of the query is scored given the context and the query's start; argmax.
    Cloze,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LmReader {
    /// WikiText test file cut into articles at top-level headings.
    WikitextArticles,
    /// The whole file as one document.
    WholeFile,
    /// One document per non-empty line.
    Lines,
    /// One document per JSON line, its `text` field.
    JsonlText,
    /// The last `tail` bytes of the file (enwik8's test split), cut forward to a character
    /// boundary.
    TailBytes,
    /// The last `tail` characters of the file (text8's test split).
    TailChars,
    /// CBT blocks: 20 numbered context lines, then `21 query<TAB>answer<TAB><TAB>c1|…|c10`.
    Cbt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detokenizer {
    Wikitext,
    Ptb,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordCount {
    /// `len(re.split(r"\s+", text))` (lm-eval wikitext).
    LmEvalSplit,
    /// Whitespace words plus one end-of-line token per line (the GPT-2 paper's counts).
    WordsPlusEos,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmTaskSpec {
    /// The task file's kind (`head`, `lm`, `text_to_text`): which request section follows.
    #[serde(default)]
    pub kind: Option<crate::catalog::TaskKind>,
    pub name: String,
    pub version: u32,
    pub description: String,
    pub protocol: String,
    /// The published number this variant corresponds to, in words.
    pub corresponds_to: String,
    pub request: LmRequest,
    pub reader: LmReader,
    /// Candidate paths relative to the data directory; the first that exists is read.
    pub paths: Vec<String>,
    pub detokenizer: Detokenizer,
    #[serde(default)]
    pub words: Option<WordCount>,
    pub metrics: Vec<String>,
    pub table_metric: String,
    /// For the tail readers: how many bytes / characters.
    #[serde(default)]
    pub tail: Option<usize>,
    /// Suite aliases that run this task (`gpt2-paper`: the ten columns of GPT-2's Table 3).
    #[serde(default)]
    pub suites: Vec<String>,
    /// The original file's URL and sha256, downloaded when no `--data-dir` is given.
    #[serde(default)]
    pub url: Option<UrlSource>,
}

/// A file at its original location, pinned by content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlSource {
    pub url: String,
    pub sha256: String,
}

/// One document (or example) with its original text.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: usize,
    pub text: String,
    /// For cloze tasks: the question.
    pub cloze: Option<Cloze>,
}

/// A CBT question: context sentences, the query with `XXXXX`, the answer, ten candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct Cloze {
    pub context: String,
    pub query: String,
    pub answer: String,
    pub candidates: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct LmDataset {
    pub path: PathBuf,
    pub sha256: String,
    pub documents: Vec<Document>,
}

const KNOWN_METRICS: [&str; 7] = [
    "word_perplexity",
    "byte_perplexity",
    "bits_per_byte",
    "bits_per_character",
    "token_perplexity",
    "accuracy",
    "perplexity",
];

/// Parses and validates one LM task file.
pub fn parse(file: &str, text: &str) -> Result<LmTaskSpec, TaskError> {
    let invalid = |message: String| TaskError::Invalid {
        file: file.to_string(),
        message,
    };
    let spec: LmTaskSpec = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    crate::error::check_metric_names(&spec.metrics, &spec.table_metric, &KNOWN_METRICS)
        .map_err(invalid)?;
    if matches!(spec.reader, LmReader::TailBytes | LmReader::TailChars) && spec.tail.is_none() {
        return Err(invalid("the tail readers need `tail`".into()));
    }
    if (spec.request == LmRequest::Cloze) != (spec.reader == LmReader::Cbt) {
        return Err(invalid(
            "`request = \"cloze\"` and `reader = \"cbt\"` go together".into(),
        ));
    }
    if spec.paths.is_empty() {
        return Err(invalid("`paths` is empty".into()));
    }
    if spec.request == LmRequest::Rolling
        && spec.words.is_none()
        && spec.metrics.iter().any(|m| m == "word_perplexity")
    {
        return Err(invalid("`word_perplexity` needs `words`".into()));
    }
    Ok(spec)
}

impl LmTaskSpec {
    /// The text the model scores.
    pub fn detokenize(&self, text: &str) -> String {
        match self.detokenizer {
            Detokenizer::Wikitext => wikitext_detokenizer(text),
            Detokenizer::Ptb => ptb_detokenizer(text),
            Detokenizer::None => text.to_string(),
        }
    }

    /// The word count normalisation of an original document.
    pub fn word_count(&self, text: &str) -> usize {
        match self.words {
            Some(WordCount::LmEvalSplit) => lm_eval_word_count(text),
            Some(WordCount::WordsPlusEos) => words_plus_eos(text),
            None => text.split_whitespace().count(),
        }
    }

    /// Reads the documents from the first of `paths` that exists under `data_dir`.
    pub fn load(&self, data_dir: &Path) -> Result<LmDataset, DataError> {
        let Some(path) = self
            .paths
            .iter()
            .map(|p| data_dir.join(p))
            .find(|p| p.is_file())
        else {
            return Err(DataError::Missing {
                task: self.name.clone(),
                split: "test".into(),
                path: data_dir.join(&self.paths[0]),
            });
        };
        self.load_file(path)
    }

    /// Reads the documents from `path` (a file in this task's format, e.g. its `url` download).
    pub fn load_file(&self, path: PathBuf) -> Result<LmDataset, DataError> {
        let bytes = std::fs::read(&path).map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
        let sha256 = hex_sha256(&bytes);
        let bytes = match (self.reader, self.tail) {
            (LmReader::TailBytes, Some(n)) => {
                let mut start = bytes.len().saturating_sub(n);
                // Move forward past UTF-8 continuation bytes to a character boundary.
                while start < bytes.len() && (bytes[start] & 0b1100_0000) == 0b1000_0000 {
                    start += 1;
                }
                bytes[start..].to_vec()
            }
            _ => bytes,
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            DataError::Encoding {
                path: path.clone(),
                line,
            }
        })?;
        if self.reader == LmReader::Cbt {
            let documents = read_cbt(&path, &text)?;
            return Ok(LmDataset {
                path,
                sha256,
                documents,
            });
        }
        let documents = match self.reader {
            LmReader::Cbt => unreachable!("handled above"),
            LmReader::TailBytes => vec![text],
            LmReader::TailChars => {
                let n = self.tail.unwrap_or(0);
                let skip = text.chars().count().saturating_sub(n);
                vec![text.chars().skip(skip).collect()]
            }
            LmReader::WikitextArticles => wikitext_articles(&text)
                .into_iter()
                .map(|(_, t)| t)
                .collect(),
            LmReader::WholeFile => vec![text],
            LmReader::Lines => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect(),
            LmReader::JsonlText => {
                let mut docs = Vec::new();
                for (i, line) in text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    let json_error = |message: String| DataError::Json {
                        path: path.clone(),
                        line: i + 1,
                        message,
                    };
                    let value: serde_json::Value =
                        serde_json::from_str(line).map_err(|e| json_error(e.to_string()))?;
                    let text = value.get("text").and_then(|t| t.as_str()).ok_or_else(|| {
                        json_error("field `text` is missing or not a string".into())
                    })?;
                    docs.push(text.to_string());
                }
                docs
            }
        };
        let documents = documents
            .into_iter()
            .enumerate()
            .map(|(id, text)| Document {
                id,
                text,
                cloze: None,
            })
            .collect();
        Ok(LmDataset {
            path,
            sha256,
            documents,
        })
    }
}

/// Reads CBT's format: blocks of 21 numbered lines separated by blank lines.
fn read_cbt(path: &Path, text: &str) -> Result<Vec<Document>, DataError> {
    let malformed = |line: usize, message: String| DataError::Malformed {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut documents = Vec::new();
    let mut context: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            if !context.is_empty() {
                return Err(malformed(
                    line_no,
                    format!(
                        "block ends after {} lines; CBT blocks have 21",
                        context.len()
                    ),
                ));
            }
            continue;
        }
        let (number, rest) = line
            .split_once(' ')
            .ok_or_else(|| malformed(line_no, "expected `N text`".into()))?;
        let number: usize = number
            .parse()
            .map_err(|_| malformed(line_no, format!("`{number}` is not a line number")))?;
        if number != context.len() + 1 {
            return Err(malformed(
                line_no,
                format!("line number {number}, expected {}", context.len() + 1),
            ));
        }
        if number < 21 {
            context.push(rest.to_string());
            continue;
        }
        let fields: Vec<&str> = rest.split('\t').collect();
        let [query, answer, _, candidates] = fields[..] else {
            return Err(malformed(
                line_no,
                format!("the query line needs 4 tab-separated fields (query, answer, empty, candidates), found {}", fields.len()),
            ));
        };
        if !query.contains("XXXXX") {
            return Err(malformed(line_no, "the query has no `XXXXX`".into()));
        }
        let candidates: Vec<String> = candidates.split('|').map(str::to_string).collect();
        if !candidates.iter().any(|c| c == answer) {
            return Err(malformed(
                line_no,
                format!("the answer `{answer}` is not among the candidates"),
            ));
        }
        let cloze = Cloze {
            context: context.join(" "),
            query: query.to_string(),
            answer: answer.to_string(),
            candidates,
        };
        documents.push(Document {
            id: documents.len(),
            text: format!("{} {}", cloze.context, cloze.query),
            cloze: Some(cloze),
        });
        context.clear();
    }
    if !context.is_empty() {
        return Err(malformed(
            text.lines().count(),
            "the file ends inside a block".into(),
        ));
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_lm_tasks_parse() {
        let specs: Vec<LmTaskSpec> = crate::EMBEDDED_TASKS
            .iter()
            .filter(|(f, _)| f.starts_with("lm/"))
            .map(|(f, t)| parse(f, t).unwrap())
            .collect();
        assert!(specs.iter().any(|s| s.name == "wikitext2"));
        assert!(specs.iter().any(|s| s.name == "lambada_openai"));
    }

    #[test]
    fn readers_on_small_files_in_the_published_formats() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lm")).unwrap();
        std::fs::write(
            dir.path().join("lm/l.jsonl"),
            "{\"text\": \"a b c\"}\n{\"text\": \"d e\"}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("lm/x.txt"), " one two \n\n three \n").unwrap();
        let spec = |reader, path: &str| LmTaskSpec {
            kind: None,
            name: "t".into(),
            version: 1,
            description: String::new(),
            protocol: String::new(),
            corresponds_to: String::new(),
            request: LmRequest::Rolling,
            reader,
            paths: vec!["lm/missing.txt".into(), path.into()],
            detokenizer: Detokenizer::None,
            words: Some(WordCount::WordsPlusEos),
            metrics: vec!["token_perplexity".into()],
            table_metric: "token_perplexity".into(),
            tail: Some(4),
            suites: Vec::new(),
            url: None,
        };
        let docs = spec(LmReader::JsonlText, "lm/l.jsonl")
            .load(dir.path())
            .unwrap()
            .documents;
        assert_eq!(
            docs.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
            ["a b c", "d e"]
        );
        let lines = spec(LmReader::Lines, "lm/x.txt")
            .load(dir.path())
            .unwrap()
            .documents;
        assert_eq!(lines.len(), 2);
        let whole = spec(LmReader::WholeFile, "lm/x.txt");
        assert_eq!(whole.load(dir.path()).unwrap().documents.len(), 1);
        assert_eq!(whole.word_count(" one two \n\n three \n"), 6);
        // Tails: the last 4 characters; the last 3 bytes (inside `é`) moved forward to a
        // character boundary.
        std::fs::write(dir.path().join("lm/t.txt"), "abcdéfg").unwrap();
        let chars = spec(LmReader::TailChars, "lm/t.txt")
            .load(dir.path())
            .unwrap()
            .documents;
        assert_eq!(chars[0].text, "défg");
        let bytes = LmTaskSpec {
            tail: Some(3),
            ..spec(LmReader::TailBytes, "lm/t.txt")
        }
        .load(dir.path())
        .unwrap()
        .documents;
        assert_eq!(
            bytes[0].text, "fg",
            "the cut fell inside `é` and moved forward"
        );
        let missing = LmTaskSpec {
            paths: vec!["lm/nope.txt".into()],
            ..whole
        }
        .load(dir.path())
        .unwrap_err()
        .to_string();
        assert!(
            missing.contains("data not present") && missing.contains("lm/nope.txt"),
            "{missing}"
        );
    }
}

#[cfg(test)]
mod cbt_tests {
    use super::*;

    fn block(query: &str) -> String {
        let mut s: String = (1..=20)
            .map(|i| format!("{i} Sentence number {i} .\n"))
            .collect();
        s.push_str(&format!(
            "21 {query}\tcat\t\tdog|cat|mouse|horse|cow|pig|hen|fox|owl|bee\n"
        ));
        s
    }

    #[test]
    fn cbt_blocks_parse_in_the_published_layout() {
        let text = format!(
            "{}\n{}\n",
            block("The XXXXX sat on the mat ."),
            block("A XXXXX ran .")
        );
        let docs = read_cbt(Path::new("cbtest_NE_valid_2000ex.txt"), &text).unwrap();
        assert_eq!(docs.len(), 2);
        let cloze = docs[0].cloze.as_ref().unwrap();
        assert_eq!(cloze.candidates.len(), 10);
        assert_eq!(cloze.answer, "cat");
        assert!(
            cloze.context.starts_with("Sentence number 1 .")
                && cloze.context.ends_with("Sentence number 20 .")
        );
        assert_eq!(cloze.query, "The XXXXX sat on the mat .");
    }

    #[test]
    fn malformed_cbt_names_the_line() {
        let broken = block("no blank here");
        let err = read_cbt(Path::new("c.txt"), &broken)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 21") && err.contains("XXXXX"), "{err}");
        let short: String = (1..=5).map(|i| format!("{i} s .\n")).collect::<String>() + "\n";
        let err = read_cbt(Path::new("c.txt"), &short)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 6") && err.contains("21"), "{err}");
    }
}
