//! Published reference tables (`results/reference/*.toml`): every number with its source,
//! split, metric and protocol. Values are stored as published (×100 where the source prints
//! percentages, `scale = 100` by default); [`Entry::raw`] gives the raw fraction.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::write::ReportError;

/// The reference files shipped with evalrun.
pub const EMBEDDED_REFERENCES: [(&str, &str); 4] = [
    (
        "bert-base-glue",
        include_str!("../../../results/reference/bert-base-glue.toml"),
    ),
    (
        "gpt2-zero-shot",
        include_str!("../../../results/reference/gpt2-zero-shot.toml"),
    ),
    (
        "minilm-sts",
        include_str!("../../../results/reference/minilm-sts.toml"),
    ),
    (
        "t5-base",
        include_str!("../../../results/reference/t5-base.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceFile {
    pub name: String,
    pub version: u32,
    pub title: String,
    pub tables: Vec<ReferenceTable>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceTable {
    pub id: String,
    pub title: String,
    pub source: String,
    /// `test` (test server), `dev`/`validation`.
    pub split: String,
    pub protocol: String,
    /// How the published numbers were scored (`logits`, `embedding cosine`), when it matters.
    #[serde(default)]
    pub scoring: Option<String>,
    pub entries: Vec<Entry>,
    #[serde(default)]
    pub averages: Vec<AverageEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub task: String,
    pub metric: String,
    pub value: f64,
    #[serde(default)]
    pub scale: Option<f64>,
    /// Overrides the table's split for this entry (CBT is reported on validation).
    #[serde(default)]
    pub split: Option<String>,
    /// Measurements under a different protocol that may stand in, each shown with a marker.
    #[serde(default)]
    pub alternates: Vec<Alternate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternate {
    pub task: String,
    pub metric: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AverageEntry {
    pub name: String,
    pub value: f64,
    #[serde(default)]
    pub scale: Option<f64>,
}

impl Entry {
    pub fn scale(&self) -> f64 {
        self.scale.unwrap_or(100.0)
    }

    pub fn raw(&self) -> f64 {
        self.value / self.scale()
    }
}

impl AverageEntry {
    pub fn raw(&self) -> f64 {
        self.value / self.scale.unwrap_or(100.0)
    }
}

fn parse(label: &str, text: &str) -> Result<ReferenceFile, ReportError> {
    toml::from_str(text).map_err(|e| ReportError::Reference {
        name: label.to_string(),
        message: e.to_string(),
    })
}

/// Resolves `--reference`: `NAME` (an embedded file), `NAME/TABLE` (one of its tables), or a
/// path to a TOML file in the same format. Returns the selected tables.
pub fn resolve(spec: &str) -> Result<Vec<ReferenceTable>, ReportError> {
    let path = Path::new(spec);
    if path.extension().is_some_and(|e| e == "toml") {
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        return Ok(parse(spec, &text)?.tables);
    }
    let (name, table) = spec
        .split_once('/')
        .map_or((spec, None), |(n, t)| (n, Some(t)));
    let Some((_, text)) = EMBEDDED_REFERENCES.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = EMBEDDED_REFERENCES.iter().map(|(n, _)| *n).collect();
        return Err(ReportError::Reference {
            name: spec.to_string(),
            message: format!("unknown reference; known: {}", known.join(", ")),
        });
    };
    let file = parse(name, text)?;
    match table {
        None => Ok(file.tables),
        Some(id) => {
            let ids: Vec<String> = file.tables.iter().map(|t| t.id.clone()).collect();
            file.tables
                .into_iter()
                .find(|t| t.id == id)
                .map(|t| vec![t])
                .ok_or_else(|| ReportError::Reference {
                    name: spec.to_string(),
                    message: format!("no table `{id}`; tables: {}", ids.join(", ")),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_references_parse_and_bert_average_is_consistent() {
        for (name, text) in EMBEDDED_REFERENCES {
            let file = parse(name, text).unwrap();
            assert_eq!(file.name, name);
            assert!(!file.tables.is_empty());
        }
        let card = &resolve("bert-base-glue/model-card").unwrap()[0];
        let mean = card.entries.iter().map(|e| e.value).sum::<f64>() / card.entries.len() as f64;
        assert!((mean - card.averages[0].value).abs() < 0.05, "{mean}");
        assert!((card.entries[0].raw() - 0.846).abs() < 1e-12);
    }

    #[test]
    fn unknown_names_and_tables_are_explained() {
        assert!(resolve("nope")
            .unwrap_err()
            .to_string()
            .contains("bert-base-glue"));
        assert!(resolve("bert-base-glue/nope")
            .unwrap_err()
            .to_string()
            .contains("model-card"));
    }
}
