//! Loading experiment files: includes, layering, key and type checks, grid expansion.
//!
//! Layers, lowest first: built-in defaults < the file (after its `include`s) <
//! `COMPMOD_*` environment variables < `--set key=value` < the cell's grid values.
//! figment merges the layers; before that every layer is checked against the schema here,
//! because only here do we still know which file and line a key came from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::Serialized;
use sha2::{Digest, Sha256};
use toml::{Table, Value};

use super::schema::ExperimentConfig;
use super::validate::{validate_ranges, warnings};


/// Where a key was set: a file and line, or another layer.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    File { path: PathBuf, line: usize },
    Env(String),
    Set(String),
    Grid { path: PathBuf, axis: String, line: usize },
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{}", path.display(), line),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Set(arg) => write!(f, "--set {arg}"),
            Origin::Grid { path, axis, line } => write!(f, "{}:{line}: [grid] axis \"{axis}\"", path.display()),
            Origin::Default => write!(f, "built-in defaults"),
        }
    }
}

/// A configuration error that names where the bad key came from and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub origin: Origin,
    /// Dotted key path, e.g. `train.lr` (empty for file-level errors such as TOML syntax).
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: key `{}`: {}", self.origin, self.key, self.message)
        }
    }
}

#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

type Result<T> = std::result::Result<T, ConfigErrors>;

fn one(origin: Origin, key: impl Into<String>, message: impl Into<String>) -> ConfigErrors {
    ConfigErrors(vec![ConfigError { origin, key: key.into(), message: message.into() }])
}

/// One layer of configuration with the origin of every key in it.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub table: Table,
    pub origins: HashMap<String, Origin>,
}

impl Layer {
    fn origin_of(&self, key: &str) -> Option<&Origin> {
        // The key itself, else the nearest enclosing table that was written somewhere.
        let mut k = key;
        loop {
            if let Some(o) = self.origins.get(k) {
                return Some(o);
            }
            k = k.rsplit_once('.')?.0;
        }
    }

    /// Deep-merge `other` over `self`.
    fn merge(&mut self, other: Layer) {
        merge_tables(&mut self.table, other.table);
        self.origins.extend(other.origins);
    }
}

fn merge_tables(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge_tables(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// An experiment file after its includes are resolved, not yet checked.
#[derive(Debug, Clone)]
pub struct ExperimentFile {
    pub path: PathBuf,
    /// Cell keys (everything but `include`, `grid`, `reference`).
    pub layer: Layer,
    /// Grid axes in file order: dotted key, values, line.
    pub grid: Vec<GridAxis>,
    /// The `[reference]` table, kept as written (published numbers per cell).
    pub reference: Table,
}

#[derive(Debug, Clone)]
pub struct GridAxis {
    pub key: String,
    pub values: Vec<Value>,
    pub origin: Origin,
}

/// Read a file and its includes.
pub fn read_experiment_file(path: &Path) -> Result<ExperimentFile> {
    let mut stack = Vec::new();
    let (layer, grid, reference) = read_with_includes(path, &mut stack)?;
    Ok(ExperimentFile { path: path.to_path_buf(), layer, grid, reference })
}

fn read_with_includes(
    path: &Path,
    stack: &mut Vec<PathBuf>,
) -> Result<(Layer, Vec<GridAxis>, Table)> {
    let origin0 = Origin::File { path: path.to_path_buf(), line: 1 };
    let canon = path.canonicalize().map_err(|e| {
        one(origin0.clone(), "", format!("cannot read experiment file: {e}"))
    })?;
    if stack.contains(&canon) {
        return Err(one(origin0, "include", "include cycle: this file includes itself"));
    }
    stack.push(canon);
    let text = std::fs::read_to_string(path)
        .map_err(|e| one(origin0.clone(), "", format!("cannot read experiment file: {e}")))?;
    let (mut table, lines) = parse_toml_with_lines(path, &text)?;
    let line_of = |key: &str| lines.get(key).copied().unwrap_or(1);
    let origin_at = |key: &str| Origin::File { path: path.to_path_buf(), line: line_of(key) };

    // Includes first, so that this file's keys win over them.
    let mut layer = Layer::default();
    let mut grid: Vec<GridAxis> = Vec::new();
    let mut reference = Table::new();
    if let Some(inc) = table.remove("include") {
        let names: Vec<String> = match inc {
            Value::String(s) => vec![s],
            Value::Array(a) if a.iter().all(|v| v.is_str()) => {
                a.into_iter().map(|v| v.as_str().unwrap().to_string()).collect()
            }
            other => {
                return Err(one(
                    origin_at("include"),
                    "include",
                    format!(
                        "expected a file name or a list of file names, found {}",
                        type_name(&other)
                    ),
                ));
            }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        for name in names {
            let inc_path = dir.join(&name);
            if !inc_path.is_file() {
                return Err(one(
                    origin_at("include"),
                    "include",
                    format!("included file {} does not exist", inc_path.display()),
                ));
            }
            let (l, g, r) = read_with_includes(&inc_path, stack)?;
            layer.merge(l);
            for axis in g {
                grid.retain(|a| a.key != axis.key);
                grid.push(axis);
            }
            merge_tables(&mut reference, r);
        }
    }
    if let Some(g) = table.remove("grid") {
        let Value::Table(g) = g else {
            return Err(one(origin_at("grid"), "grid", "expected a table of key = [values]"));
        };
        let mut axes = Vec::new();
        flatten_grid(&g, "", &mut axes, &|k: &str| origin_at(&format!("grid.{k}")))?;
        // Keep file order: sort by line.
        axes.sort_by_key(|a: &GridAxis| match &a.origin {
            Origin::File { line, .. } => *line,
            _ => 0,
        });
        for axis in axes {
            let line = match axis.origin {
                Origin::File { line, .. } => line,
                _ => 1,
            };
            let axis = GridAxis { origin: Origin::Grid { path: path.to_path_buf(), axis: axis.key.clone(), line }, ..axis };
            grid.retain(|a| a.key != axis.key);
            grid.push(axis);
        }
    }
    if let Some(r) = table.remove("reference") {
        if let Value::Table(r) = r {
            merge_tables(&mut reference, r);
        } else {
            return Err(one(origin_at("reference"), "reference", "expected a table"));
        }
    }
    table.remove("description");
    let mut own = Layer::default();
    collect_origins(&table, "", &mut own.origins, &origin_at);
    own.table = table;
    layer.merge(own);
    stack.pop();
    Ok((layer, grid, reference))
}

fn flatten_grid(
    t: &Table,
    prefix: &str,
    out: &mut Vec<GridAxis>,
    origin_at: &dyn Fn(&str) -> Origin,
) -> Result<()> {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            // A list of tables (inline or `[[grid.name]]`) is a linked axis; its entries are
            // checked in `expand_axis`, a mixed list is an error there.
            Value::Array(values) => {
                out.push(GridAxis { key: key.clone(), values: values.clone(), origin: origin_at(&key) })
            }
            Value::Table(sub) => flatten_grid(sub, &key, out, origin_at)?,
            other => {
                return Err(one(
                    origin_at(&key),
                    format!("grid.{key}"),
                    format!("a grid axis must be a list of values, found {}", type_name(other)),
                ));
            }
        }
    }
    Ok(())
}

fn collect_origins(
    t: &Table,
    prefix: &str,
    out: &mut HashMap<String, Origin>,
    origin_at: &dyn Fn(&str) -> Origin,
) {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        out.insert(key.clone(), origin_at(&key));
        if let Value::Table(sub) = v {
            collect_origins(sub, &key, out, origin_at);
        }
    }
}

/// Parse TOML, returning the table and the line (1-based) of every dotted key path.
fn parse_toml_with_lines(path: &Path, text: &str) -> Result<(Table, HashMap<String, usize>)> {
    let line_at = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let spanned = toml::de::DeTable::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_at(s.start)).unwrap_or(1);
        one(
            Origin::File { path: path.to_path_buf(), line },
            "",
            format!("TOML syntax error: {}", e.message()),
        )
    })?;
    let mut lines = HashMap::new();
    fn walk(
        t: &toml::de::DeTable<'_>,
        prefix: &str,
        lines: &mut HashMap<String, usize>,
        line_at: &dyn Fn(usize) -> usize,
    ) {
        for (k, v) in t.iter() {
            let name: &str = k.get_ref();
            let key = if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") };
            lines.entry(key.clone()).or_insert_with(|| line_at(k.span().start));
            if let toml::de::DeValue::Table(sub) = v.get_ref() {
                walk(sub, &key, lines, line_at);
            }
        }
    }
    walk(spanned.get_ref(), "", &mut lines, &line_at);
    let table: Table = toml::from_str(text).map_err(|e| {
        one(Origin::File { path: path.to_path_buf(), line: 1 }, "", format!("TOML error: {e}"))
    })?;
    Ok((table, lines))
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    }
}

/// The schema as a TOML table: every valid key with its default (and so its type).
pub fn schema_table() -> Table {
    Table::try_from(ExperimentConfig::default()).expect("defaults serialise to TOML")
}

/// Every valid dotted key path that holds a value (not a table).
pub fn schema_keys() -> Vec<String> {
    fn walk(t: &Table, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in t {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                Value::Table(sub) => walk(sub, &key, out),
                _ => out.push(key),
            }
        }
    }
    let mut out = Vec::new();
    walk(&schema_table(), "", &mut out);
    out
}

fn nearest_key(key: &str, candidates: &[String]) -> Option<String> {
    let last = key.rsplit('.').next().unwrap_or(key);
    candidates
        .iter()
        .map(|c| {
            let c_last = c.rsplit('.').next().unwrap_or(c);
            let score = strsim::normalized_levenshtein(key, c)
                .max(strsim::jaro_winkler(last, c_last) - 0.05);
            (score, c)
        })
        .filter(|(s, _)| *s > 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.clone())
}

/// Look a dotted key up in the schema, returning its default value.
fn schema_lookup<'a>(schema: &'a Table, key: &str) -> Option<&'a Value> {
    let mut cur: Option<&Value> = None;
    let mut table = schema;
    for part in key.split('.') {
        let v = table.get(part)?;
        cur = Some(v);
        if let Value::Table(t) = v {
            table = t;
        }
    }
    cur
}

/// Check `user` against the default `schema_value`, converting integers where floats are
/// meant. Returns the (possibly converted) value or the expected form.
fn check_value(
    key: &str,
    schema_value: &Value,
    user: &Value,
    keys: &[String],
    errs: &mut Vec<(String, String)>,
) -> Option<Value> {
    match (schema_value, user) {
        (Value::Float(_), Value::Integer(i)) => Some(Value::Float(*i as f64)),
        (Value::Integer(_), Value::Float(x)) => {
            errs.push((key.into(), format!("expected an integer, found the float {x}")));
            None
        }
        (Value::Integer(_), Value::Integer(i)) if *i < 0 => {
            errs.push((key.into(), format!("expected a non-negative integer, found {i}")));
            None
        }
        (Value::Table(s), Value::Table(u)) => {
            let mut out = Table::new();
            for (k, v) in u {
                let sub = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
                match s.get(k) {
                    Some(sv) => {
                        if let Some(v) = check_value(&sub, sv, v, keys, errs) {
                            out.insert(k.clone(), v);
                        }
                    }
                    None => errs.push((sub.clone(), unknown_key_message(&sub, keys))),
                }
            }
            Some(Value::Table(out))
        }
        (Value::Array(s), Value::Array(u)) => {
            let Some(elem) = s.first() else { return Some(user.clone()) };
            // Every list of floats in the schema is a [lo, hi] range of fixed length.
            if elem.is_float() && u.len() != s.len() {
                errs.push((key.into(), format!("expected a list of {} numbers [lo, hi], found {} item(s)", s.len(), u.len())));
                return None;
            }
            let mut out = Vec::new();
            for (i, v) in u.iter().enumerate() {
                out.push(check_value(&format!("{key}[{i}]"), elem, v, keys, errs)?);
            }
            Some(Value::Array(out))
        }
        (s, u) if std::mem::discriminant(s) == std::mem::discriminant(u) => Some(u.clone()),
        (s, u) => {
            errs.push((key.into(), format!("expected {}, found {}", type_name(s), type_name(u))));
            None
        }
    }
}

fn unknown_key_message(key: &str, keys: &[String]) -> String {
    // Suggest sections too (`[trian]` → `train`), not only leaf keys.
    let mut candidates = keys.to_vec();
    for k in keys {
        let mut prefix = k.as_str();
        while let Some((head, _)) = prefix.rsplit_once('.') {
            candidates.push(head.to_string());
            prefix = head;
        }
    }
    candidates.sort();
    candidates.dedup();
    match nearest_key(key, &candidates) {
        Some(n) => format!("unknown key; did you mean `{n}`?"),
        None => "unknown key (see README.md for every valid key)".to_string(),
    }
}

/// Check a layer's table against the schema; convert types in place.
fn check_layer(layer: &mut Layer) -> Vec<ConfigError> {
    let schema = schema_table();
    let keys = schema_keys();
    let mut errs = Vec::new();
    let checked = check_value("", &Value::Table(schema), &Value::Table(layer.table.clone()), &keys, &mut errs);
    if let Some(Value::Table(t)) = checked {
        layer.table = t;
    }
    errs.into_iter()
        .map(|(key, message)| {
            let key = key.trim_start_matches('.').to_string();
            let origin = layer.origin_of(&key).cloned().unwrap_or(Origin::Default);
            ConfigError { origin, key, message }
        })
        .collect()
}

/// Build a one-key layer from a dotted key and a textual value (`--set`, env).
fn override_layer(key: &str, raw: &str, origin: Origin) -> Layer {
    let value = parse_scalar(raw);
    let mut table = Table::new();
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = &mut table;
    for p in &parts[..parts.len() - 1] {
        cur = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()))
            .as_table_mut()
            .expect("fresh table");
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    let mut origins = HashMap::new();
    origins.insert(key.to_string(), origin);
    Layer { table, origins }
}

/// A command-line or environment value as TOML (`5`, `0.1`, `true`, `[1, 2]`), else a string.
fn parse_scalar(raw: &str) -> Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<Table>(&doc) {
        Ok(mut t) => t.remove("v").unwrap_or(Value::String(raw.into())),
        Err(_) => Value::String(raw.to_string()),
    }
}

/// Overrides from the command line and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `COMPMOD_*` variables as (name, value).
    pub env: Vec<(String, String)>,
    /// `--set key=value` arguments.
    pub set: Vec<String>,
}

impl Overrides {
    /// Collect `COMPMOD_*` from the process environment plus the given `--set`s.
    /// `COMPMOD_TRAIN__EPOCHS=5` sets `train.epochs` (double underscore separates levels).
    pub fn from_env_and_args(set: Vec<String>) -> Self {
        let env = std::env::vars().filter(|(k, _)| k.starts_with("COMPMOD_")).collect();
        Self { env, set }
    }

    fn layers(&self) -> Result<Vec<Layer>> {
        let mut out = Vec::new();
        for (name, value) in &self.env {
            let key = name["COMPMOD_".len()..].to_lowercase().replace("__", ".");
            out.push(override_layer(&key, value, Origin::Env(name.clone())));
        }
        for arg in &self.set {
            let Some((k, v)) = arg.split_once('=') else {
                return Err(one(
                    Origin::Set(arg.clone()),
                    "",
                    "expected --set key=value, e.g. --set train.epochs=5",
                ));
            };
            out.push(override_layer(k.trim(), v.trim(), Origin::Set(arg.clone())));
        }
        Ok(out)
    }
}

/// One cell of an experiment's grid, fully resolved.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Position in the grid (row-major over the axes in file order).
    pub index: usize,
    /// Hash of the fully resolved config: the cell's identity, folder name and `trial_id`.
    pub id: String,
    pub config: ExperimentConfig,
    /// The grid values that make this cell, as (key, value).
    pub varying: Vec<(String, Value)>,
}

/// Everything `plan`, `run` and `validate` need from one experiment file.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub file: ExperimentFile,
    pub cells: Vec<Cell>,
    /// Legal but suspicious values, one line each (e.g. a low BYOL τ), deduplicated.
    pub warnings: Vec<String>,
}

impl Experiment {
    pub fn name(&self) -> &str {
        self.cells.first().map(|c| c.config.name.as_str()).unwrap_or("experiment")
    }
}

/// Load, check and expand an experiment file. All errors found are returned together.
pub fn load_experiment(path: &Path, overrides: &Overrides) -> Result<Experiment> {
    let mut file = read_experiment_file(path)?;
    let mut errors = check_layer(&mut file.layer);
    let mut layers = overrides.layers()?;
    for l in &mut layers {
        errors.extend(check_layer(l));
    }
    let overridden: Vec<String> = layers.iter().flat_map(|l| l.origins.keys().cloned()).collect();

    // Grid axes: known keys, non-empty, typed like the schema says.
    let schema = schema_table();
    let keys = schema_keys();
    let mut axes: Vec<ExpandedAxis> = Vec::new();
    let mut pinned = Vec::new();
    for axis in &file.grid {
        if let Some(expanded) = expand_axis(axis, &schema, &keys, &overridden, &mut pinned, &mut errors) {
            axes.push(expanded);
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    // Cartesian product, the first axis varying slowest.
    let mut combos: Vec<Vec<(String, Value)>> = vec![vec![]];
    for axis in &axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                axis.entries.iter().map(move |entry| {
                    let mut c = c.clone();
                    c.extend(entry.iter().cloned());
                    c
                })
            })
            .collect();
    }

    let mut cells = Vec::new();
    let mut warning_lines = pinned;
    for (index, varying) in combos.into_iter().enumerate() {
        let mut figment = Figment::from(Serialized::defaults(ExperimentConfig::default()))
            .merge(Serialized::globals(file.layer.table.clone()));
        for l in &layers {
            figment = figment.merge(Serialized::globals(l.table.clone()));
        }
        let mut grid_layer = Layer::default();
        for (k, v) in &varying {
            let mut l = override_layer(k, "0", Origin::Default);
            set_path(&mut l.table, k, v.clone());
            grid_layer.merge(l);
        }
        figment = figment.merge(Serialized::globals(grid_layer.table));
        let origin_of = |key: &str| -> Origin {
            if let Some(axis) = axes.iter().find(|a| a.sets(key)) {
                return axis.origin.clone();
            }
            for l in layers.iter().rev() {
                if let Some(o) = l.origin_of(key) {
                    return o.clone();
                }
            }
            file.layer.origin_of(key).cloned().unwrap_or(Origin::Default)
        };
        let config: ExperimentConfig = figment.extract().map_err(|e| {
            ConfigErrors(
                e.into_iter()
                    .map(|e| {
                        let key = e.path.iter().filter(|p| *p != "default" && *p != "global").cloned().collect::<Vec<_>>().join(".");
                        ConfigError { origin: origin_of(&key), key, message: e.kind.to_string() }
                    })
                    .collect(),
            )
        })?;
        let range_errors: Vec<ConfigError> = validate_ranges(&config)
            .into_iter()
            .map(|(key, message)| ConfigError { origin: origin_of(&key), key, message })
            .collect();
        if !range_errors.is_empty() {
            return Err(ConfigErrors(range_errors));
        }
        for (key, why) in warnings(&config) {
            let line = format!("{}: key `{key}`: {why}", origin_of(&key));
            if !warning_lines.contains(&line) {
                warning_lines.push(line);
            }
        }
        let id = cell_id(&config);
        cells.push(Cell { index, id, config, varying });
    }
    // Two cells with one resolved config would share a trial folder.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cells {
        if let Some(prev) = seen.insert(&c.id, c.index) {
            return Err(one(
                Origin::File { path: file.path.clone(), line: file.grid.first().map_or(1, |a| match a.origin { Origin::Grid { line, .. } => line, _ => 1 }) },
                "grid",
                format!("cells {prev} and {} resolve to the same config; remove the duplicate grid value", c.index),
            ));
        }
    }
    Ok(Experiment { file, cells, warnings: warning_lines })
}

/// A checked grid axis: its entries, each the (dotted key, typed value) pairs it sets.
/// A plain axis `"train.lr" = [0.1, 0.3]` has one pair per entry; a linked axis
/// (`recipe = [{ "method.name" = "byol", "train.lr" = 1.0 }, ...]`) sets several keys together.
struct ExpandedAxis {
    entries: Vec<Vec<(String, Value)>>,
    origin: Origin,
}

impl ExpandedAxis {
    /// Whether this axis sets `key` (or a key under it) in some entry.
    fn sets(&self, key: &str) -> bool {
        self.entries.iter().flatten().any(|(k, _)| k == key || key.starts_with(&format!("{k}.")) || k.starts_with(&format!("{key}.")))
    }
}

/// Check one grid axis against the schema and the overrides. Errors are pushed to `errors`
/// (all of them, not only the first); `None` when the axis contributes nothing.
fn expand_axis(
    axis: &GridAxis,
    schema: &Table,
    keys: &[String],
    overridden: &[String],
    pinned: &mut Vec<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<ExpandedAxis> {
    let err = |key: &str, message: String| ConfigError { origin: axis.origin.clone(), key: key.to_string(), message };
    if axis.values.is_empty() {
        errors.push(err(&axis.key, "a grid axis needs at least one value, found an empty list".into()));
        return None;
    }
    let tables = axis.values.iter().filter(|v| v.is_table()).count();
    let target = schema_lookup(schema, &axis.key);
    let linked = tables > 0;
    if linked && tables != axis.values.len() {
        errors.push(err(&axis.key, "a grid axis holds either plain values or tables of linked settings, not both".into()));
        return None;
    }
    if linked && target.is_some_and(|v| !v.is_table()) {
        errors.push(err(&axis.key, format!("`{}` is a single value, so its grid entries must be values, not tables", axis.key)));
        return None;
    }
    if !linked {
        if target.is_some_and(|v| v.is_table()) {
            errors.push(err(&axis.key, format!(
                "a grid axis must name a value, not the table `{}`; name one of its keys, e.g. `{}.{}`, or give tables of linked settings",
                axis.key, axis.key, target.and_then(|v| v.as_table()).and_then(|t| t.keys().next().cloned()).unwrap_or_default()
            )));
            return None;
        }
        if target.is_none() {
            errors.push(err(&axis.key, format!("a grid axis must name a config key; {}", unknown_key_message(&axis.key, keys))));
            return None;
        }
    }
    // Linked entries are relative to the axis when it names a section (`data = [{ dataset = ... }]`);
    // otherwise the axis name is a free label and entries hold full dotted paths.
    let prefix = if linked && target.is_some() { format!("{}.", axis.key) } else { String::new() };
    let mut entries = Vec::new();
    let mut dropped = BTreeSet::new();
    for (i, v) in axis.values.iter().enumerate() {
        let raw: Vec<(String, Value)> = match v {
            Value::Table(t) => {
                let mut flat = Vec::new();
                flatten_table(t, &prefix, &mut flat);
                if flat.is_empty() {
                    errors.push(err(&format!("{}[{i}]", axis.key), "a linked grid entry must set at least one key".into()));
                }
                flat
            }
            other => vec![(axis.key.clone(), other.clone())],
        };
        let mut entry = Vec::new();
        let mut pinned_here = false;
        for (key, value) in raw {
            // An override pins the key: it would otherwise make identical cells. Say so,
            // so that a variable left in a shell never shrinks a grid silently.
            if overridden.contains(&key) {
                dropped.insert(key);
                pinned_here = true;
                continue;
            }
            let Some(default) = schema_lookup(schema, &key).filter(|d| !d.is_table()) else {
                errors.push(err(&format!("{}[{i}].{key}", axis.key), format!("a grid entry must set config keys; {}", unknown_key_message(&key, keys))));
                continue;
            };
            let mut errs = Vec::new();
            let label = if linked { format!("{}[{i}].{key}", axis.key) } else { format!("{key}[{i}]") };
            if let Some(typed) = check_value(&label, default, &value, keys, &mut errs) {
                entry.push((key, typed));
            }
            errors.extend(errs.into_iter().map(|(key, message)| err(&key, message)));
        }
        // Entries that the overrides made identical collapse into one (a duplicate as
        // written stays, and is reported as two cells with one config).
        if !(pinned_here && entries.contains(&entry)) {
            entries.push(entry);
        }
    }
    if !dropped.is_empty() {
        let keys: Vec<_> = dropped.into_iter().map(|k| format!("`{k}`")).collect();
        let effect = if entries.len() == axis.values.len() {
            format!("in every entry; its {} values stay distinct", entries.len())
        } else {
            format!("({} values → {})", axis.values.len(), entries.len())
        };
        pinned.push(format!("{}: the override of {} pins this grid axis {effect}", axis.origin, keys.join(", ")));
    }
    entries.retain(|e| !e.is_empty());
    (!entries.is_empty()).then_some(ExpandedAxis { entries, origin: axis.origin.clone() })
}

/// A table's leaves as (dotted key under `prefix`, value), nested tables walked.
pub fn flatten_table(t: &Table, prefix: &str, out: &mut Vec<(String, Value)>) {
    for (k, v) in t {
        let key = format!("{prefix}{k}");
        match v {
            Value::Table(sub) => flatten_table(sub, &format!("{key}."), out),
            _ => out.push((key, v.clone())),
        }
    }
}

fn set_path(table: &mut Table, key: &str, value: Value) {
    let (head, last) = match key.rsplit_once('.') {
        Some((h, l)) => (Some(h), l),
        None => (None, key),
    };
    let mut cur = table;
    if let Some(h) = head {
        for p in h.split('.') {
            cur = cur
                .entry(p.to_string())
                .or_insert_with(|| Value::Table(Table::new()))
                .as_table_mut()
                .expect("table");
        }
    }
    cur.insert(last.to_string(), value);
}

/// The resolved config as TOML: what is hashed, and what is written beside the results.
pub fn resolved_toml(config: &ExperimentConfig) -> String {
    toml::to_string(config).expect("config serialises to TOML")
}

/// A cell's identity: the first 12 hex digits of SHA-256 over its resolved TOML, with
/// `[tracking]` left out (where a run is mirrored does not change what it computes).
pub fn cell_id(config: &ExperimentConfig) -> String {
    let identity = ExperimentConfig { tracking: Default::default(), ..config.clone() };
    let digest = Sha256::digest(resolved_toml(&identity).as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Flatten a resolved config into (dotted key, value) pairs, in schema order.
pub fn flatten_config(config: &ExperimentConfig) -> Vec<(String, Value)> {
    fn walk(t: &Table, prefix: &str, out: &mut Vec<(String, Value)>) {
        for (k, v) in t {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                Value::Table(sub) => walk(sub, &key, out),
                _ => out.push((key, v.clone())),
            }
        }
    }
    let mut out = Vec::new();
    walk(&Table::try_from(config).expect("serialise"), "", &mut out);
    out
}
