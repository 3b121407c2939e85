//! Reference values (for example a paper's published numbers) shown beside a report's own.
//!
//! An experiment file carries them in `[reference]`; the runner copies that table to
//! `results/<experiment>/reference.toml`, so a report finds it beside the results, and
//! `compmod report --reference FILE` reads one from any experiment file instead:
//!
//! ```toml
//! [reference]
//! source = "Guo et al., AAAI 2024, Table 1"
//! cells = [
//!   { "method.name" = "simclr", "compmod.enabled" = false, linear = 91.2, knn5 = 88.9 },
//! ]
//! ```
//!
//! In each entry, keys that are metric names (`knn5`, `knn200`, `linear`, with `_best` or
//! `_epoch0`) hold values in %; every other key is a config key the cells must match.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use toml::{Table, Value};

use super::SummaryRow;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reference {
    /// Where the numbers come from (shown in the caption).
    pub source: String,
    pub entries: Vec<ReferenceEntry>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceEntry {
    /// Config key → value as text, which a cell must match.
    pub conditions: BTreeMap<String, String>,
    /// Metric name → value in %.
    pub values: BTreeMap<String, f64>,
}

/// Whether `name` is a report metric name: `knn<k>` or `linear`, optionally `_best`/`_epoch0`.
pub fn is_metric_name(name: &str) -> bool {
    let base = name.strip_suffix("_best").or_else(|| name.strip_suffix("_epoch0")).unwrap_or(name);
    base == "linear" || base.strip_prefix("knn").is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
}

/// A TOML value as the report shows config values (floats as polars prints them).
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Float(x) => format!("{x:?}"),
        other => other.to_string(),
    }
}

impl Reference {
    /// Parse a `[reference]` table; `origin` names it in errors (a file path).
    pub fn from_table(table: &Table, origin: &str) -> Result<Self> {
        let mut reference = Reference::default();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("source", Value::String(s)) => reference.source = s.clone(),
                ("cells", Value::Array(cells)) => {
                    for (i, cell) in cells.iter().enumerate() {
                        let Value::Table(cell) = cell else {
                            bail!("{origin}: reference.cells[{i}]: expected a table of config keys and metric values, found {}", cell.type_str());
                        };
                        let mut flat = Vec::new();
                        crate::config::load::flatten_table(cell, "", &mut flat);
                        let mut entry = ReferenceEntry::default();
                        for (k, v) in flat {
                            if is_metric_name(&k) {
                                let x = v.as_float().or_else(|| v.as_integer().map(|i| i as f64)).with_context(|| {
                                    format!("{origin}: reference.cells[{i}].{k}: expected a number (top-1 in %), found {}", v.type_str())
                                })?;
                                entry.values.insert(k, x);
                            } else {
                                entry.conditions.insert(k, value_text(&v));
                            }
                        }
                        if entry.values.is_empty() {
                            bail!("{origin}: reference.cells[{i}] holds no metric value (knn5, knn200, linear, ...)");
                        }
                        reference.entries.push(entry);
                    }
                }
                ("source", other) | ("cells", other) => bail!("{origin}: reference.{key}: expected {}, found {}", if key == "source" { "a string" } else { "a list of tables" }, other.type_str()),
                _ => bail!("{origin}: reference.{key}: unknown key; `[reference]` holds `source` and `cells`"),
            }
        }
        Ok(reference)
    }

    /// The `[reference]` of an experiment file (after its includes), or of a
    /// `reference.toml` that the runner wrote.
    pub fn from_file(path: &Path) -> Result<Self> {
        let file = crate::config::load::read_experiment_file(path)?;
        Self::from_table(&file.reference, &path.display().to_string())
    }

    /// Check every condition key against the results' config keys, naming the nearest.
    pub fn check_keys(&self, rows: &[SummaryRow], origin: &str) -> Result<()> {
        for (i, e) in self.entries.iter().enumerate() {
            let keys: Vec<String> = e.conditions.keys().cloned().collect();
            super::check_keys(rows, &keys).with_context(|| format!("{origin}: reference.cells[{i}]"))?;
        }
        Ok(())
    }

    /// The reference value of `metric` for a group of cells: from the first entry whose
    /// conditions every member meets (numbers compared as numbers).
    pub fn value(&self, members: &[&SummaryRow], metric: &str) -> Option<f64> {
        let same = |a: &str, b: &str| a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y);
        self.entries
            .iter()
            .filter(|e| e.values.contains_key(metric))
            .find(|e| {
                !members.is_empty()
                    && members.iter().all(|r| e.conditions.iter().all(|(k, v)| r.config.get(k).is_some_and(|c| same(c, v))))
            })
            .map(|e| e.values[metric])
    }

    /// Whether any entry gives `metric`.
    pub fn has(&self, metric: &str) -> bool {
        self.entries.iter().any(|e| e.values.contains_key(metric))
    }
}
