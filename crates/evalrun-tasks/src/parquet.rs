//! Splits from the Hugging Face Hub's Parquet files (`nyu-mll/glue`, `aps/super_glue`, …), read
//! with polars: lazily, only the columns the task needs. The caller downloads the file (the Hub
//! client lives in the CLI); this module turns it into the same examples as the original files.
//!
//! Label columns hold `ClassLabel` indices in the dataset's own order, which is the order of the
//! task's `names` (the HF `glue`/`super_glue` order); −1 marks unlabelled rows.

use std::collections::BTreeMap;
use std::path::Path;

use evalrun_core::{Example, Gold};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{hex_sha256, Dataset};
use crate::error::DataError;
use crate::spec::{LabelSpec, TaskSpec};
use crate::t2t::{self, Preprocess, T2tDataset, T2tGold, T2tRow, T2tTaskSpec};

/// Where a split lives on the Hub, and which columns are which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSplit {
    /// `org/name[@revision]` of a dataset repository.
    pub dataset: String,
    /// The Parquet file inside it.
    pub path: String,
    /// Heads: the first and second text columns.
    #[serde(default)]
    pub text_a: Option<String>,
    #[serde(default)]
    pub text_b: Option<String>,
    /// Text-to-text: T5 feature key → column.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub label: Option<String>,
    /// A struct field holding the group (`idx.question` for MultiRC).
    #[serde(default)]
    pub group: Option<String>,
}

fn malformed(path: &Path, message: String) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        line: 0,
        message,
    }
}

/// Reads `columns` of a Parquet file (projection pushed down to the reader).
pub fn read_columns(path: &Path, columns: &[String]) -> Result<DataFrame, DataError> {
    let fail = |e: PolarsError| malformed(path, format!("cannot read as Parquet: {e}"));
    let mut seen: Vec<&str> = Vec::new();
    for c in columns {
        let root = c.split('.').next().unwrap_or(c);
        if !seen.contains(&root) {
            seen.push(root);
        }
    }
    let pl_path = PlRefPath::try_from_path(path).map_err(fail)?;
    let frame = LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default())
        .map_err(fail)?
        .select(seen.iter().map(|c| col(*c)).collect::<Vec<_>>())
        .collect()
        .map_err(|e| {
            malformed(
                path,
                format!("cannot read columns {}: {e}", seen.join(", ")),
            )
        })?;
    Ok(frame)
}

fn column(frame: &DataFrame, path: &Path, name: &str) -> Result<Series, DataError> {
    let mut parts = name.split('.');
    let root = parts.next().unwrap_or(name);
    let mut series = frame
        .column(root)
        .map_err(|_| malformed(path, format!("no column `{root}`")))?
        .as_materialized_series()
        .clone();
    for field in parts {
        series = series
            .struct_()
            .map_err(|_| malformed(path, format!("column `{root}` is not a struct")))?
            .field_by_name(field)
            .map_err(|_| {
                malformed(
                    path,
                    format!("struct column `{root}` has no field `{field}`"),
                )
            })?;
    }
    Ok(series)
}

fn strings(frame: &DataFrame, path: &Path, name: &str) -> Result<Vec<String>, DataError> {
    let series = column(frame, path, name)?;
    let ca = series
        .str()
        .map_err(|_| malformed(path, format!("column `{name}` is not text")))?;
    (0..ca.len())
        .map(|row| (row, ca.get(row)))
        .map(|(row, v)| {
            v.map(str::to_string)
                .ok_or_else(|| malformed(path, format!("row {row}: `{name}` is null")))
        })
        .collect()
}

fn numbers(frame: &DataFrame, path: &Path, name: &str) -> Result<Vec<f64>, DataError> {
    let series = column(frame, path, name)?
        .cast(&DataType::Float64)
        .map_err(|_| malformed(path, format!("column `{name}` is not numeric")))?;
    let ca = series
        .f64()
        .map_err(|_| malformed(path, format!("column `{name}` is not numeric")))?;
    Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or(-1.0)).collect())
}

fn class(
    value: f64,
    names: usize,
    path: &Path,
    row: usize,
    field: &str,
) -> Result<Option<usize>, DataError> {
    if value < 0.0 {
        return Ok(None);
    }
    let index = value as usize;
    if value.fract() != 0.0 || index >= names {
        return Err(DataError::UnknownLabel {
            path: path.to_path_buf(),
            line: row + 1,
            field: field.to_string(),
            value: value.to_string(),
            expected: format!("a class index below {names}"),
        });
    }
    Ok(Some(index))
}

/// A head task's split from a Hub Parquet file.
pub fn load_split(
    task: &TaskSpec,
    split: &str,
    hub: &HubSplit,
    path: &Path,
) -> Result<Dataset, DataError> {
    let bytes_sha = sha_of(path)?;
    let text_a = hub.text_a.clone().ok_or_else(|| {
        malformed(
            path,
            format!(
                "task `{}`: the hub source names no `text_a` column",
                task.name
            ),
        )
    })?;
    let mut wanted = vec![text_a.clone()];
    wanted.extend(hub.text_b.clone());
    wanted.extend(hub.label.clone());
    let frame = read_columns(path, &wanted)?;
    let a = strings(&frame, path, &text_a)?;
    let b = match &hub.text_b {
        Some(c) => Some(strings(&frame, path, c)?),
        None => None,
    };
    let labels = match &hub.label {
        Some(c) => Some(numbers(&frame, path, c)?),
        None => None,
    };
    let mut examples = Vec::with_capacity(a.len());
    for (i, text_a) in a.into_iter().enumerate() {
        let gold = match (&labels, &task.labels) {
            (Some(l), LabelSpec::Regression {}) => (l[i] >= 0.0).then_some(Gold::Score(l[i])),
            (Some(l), LabelSpec::Classification { names, .. }) => class(
                l[i],
                names.len(),
                path,
                i,
                hub.label.as_deref().unwrap_or("label"),
            )?
            .map(Gold::Class),
            (None, _) => None,
        };
        examples.push(Example {
            id: i,
            text_a,
            text_b: b.as_ref().map(|b| b[i].clone()),
            gold,
            index: Some(i.to_string()),
        });
    }
    Ok(Dataset {
        split: split.to_string(),
        path: path.to_path_buf(),
        sha256: bytes_sha,
        labels_sha256: None,
        examples,
    })
}

/// A text-to-text task's split from a Hub Parquet file.
pub fn load_t2t_split(
    task: &T2tTaskSpec,
    split: &str,
    hub: &HubSplit,
    path: &Path,
) -> Result<T2tDataset, DataError> {
    let sha256 = sha_of(path)?;
    let mut wanted: Vec<String> = hub.fields.values().cloned().collect();
    wanted.extend(hub.label.clone());
    wanted.extend(hub.group.clone());
    let frame = read_columns(path, &wanted)?;
    let mut fields: Vec<(String, Vec<String>)> = Vec::new();
    for (key, c) in &hub.fields {
        fields.push((key.clone(), strings(&frame, path, c)?));
    }
    let n = frame.height();
    let labels = match &hub.label {
        Some(c) => Some(numbers(&frame, path, c)?),
        None => None,
    };
    let groups = match &hub.group {
        Some(c) => Some(numbers(&frame, path, c)?),
        None => None,
    };
    let mut examples = Vec::with_capacity(n);
    for i in 0..n {
        let gold = match &labels {
            None => None,
            Some(l) if matches!(task.preprocess, Preprocess::Stsb) => {
                (l[i] >= 0.0).then_some(T2tGold::Score(l[i] as f32))
            }
            Some(l) => class(
                l[i],
                task.labels.len(),
                path,
                i,
                hub.label.as_deref().unwrap_or("label"),
            )?
            .map(T2tGold::Class),
        };
        let row = T2tRow {
            id: i,
            line: i + 1,
            fields: fields
                .iter()
                .map(|(k, v)| (k.clone(), v[i].clone()))
                .collect(),
            gold,
            group: groups.as_ref().map(|g| g[i] as u64),
            idx: None,
        };
        examples.push(t2t::preprocess(task, row).map_err(|(line, message)| {
            DataError::Malformed {
                path: path.to_path_buf(),
                line,
                message,
            }
        })?);
    }
    Ok(T2tDataset {
        split: split.to_string(),
        path: path.to_path_buf(),
        sha256,
        examples,
    })
}

fn sha_of(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(hex_sha256(&bytes))
}

/// Writes a DataFrame as Parquet (used by the tests' round trip and the fixture script twin).
pub fn write_parquet(frame: &mut DataFrame, path: &Path) -> Result<(), DataError> {
    let file = std::fs::File::create(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    ParquetWriter::new(file)
        .finish(frame)
        .map_err(|e| malformed(path, format!("cannot write Parquet: {e}")))?;
    Ok(())
}
