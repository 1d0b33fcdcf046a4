//! What a suite reports: named numbers, printed as a table and written as one JSON object.

use std::path::Path;

/// Named figures in the order they were added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The suite's name.
    pub suite: String,
    figures: Vec<(String, f64, String)>,
    notes: Vec<String>,
}

impl Report {
    /// An empty report for `suite`.
    pub fn new(suite: &str) -> Report {
        Report {
            suite: suite.to_owned(),
            ..Report::default()
        }
    }

    /// Adds a figure: its JSON key, value and a short description for the table.
    pub fn add(&mut self, key: &str, value: f64, what: &str) {
        self.figures.push((key.to_owned(), value, what.to_owned()));
    }

    /// Adds a line printed under the table (the workload, the offered load, ...).
    pub fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    /// The readable table.
    pub fn table(&self) -> String {
        let width = self
            .figures
            .iter()
            .map(|(k, _, _)| k.len())
            .max()
            .unwrap_or(0);
        let mut out = format!("== {}\n", self.suite);
        for (k, v, what) in &self.figures {
            out.push_str(&format!("{k:<width$}  {:>12}  {what}\n", fmt(*v)));
        }
        for n in &self.notes {
            out.push_str(&format!("  {n}\n"));
        }
        out
    }

    /// The JSON object: `{key: number, ...}`.
    pub fn json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (k, v, _) in &self.figures {
            let n = serde_json::Number::from_f64(*v).map_or(serde_json::Value::Null, Into::into);
            map.insert(k.clone(), n);
        }
        serde_json::Value::Object(map)
    }

    /// Writes [`Report::json`] to `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.json()).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}
