//! What a command prints: text for people, JSON for scripts.

use noaber_core::Error;
use serde::Serialize;

use crate::time;

/// What a command prints: text for people or JSON for scripts.
pub(crate) struct Out {
    pub(crate) json: bool,
}

impl Out {
    /// Prints `value` as JSON, or `text()` for people.
    pub(crate) fn print<T: Serialize>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        if self.json {
            let s = serde_json::to_string_pretty(value).map_err(|e| Error::Other(e.to_string()))?;
            say(&s)
        } else {
            let t = text();
            if t.is_empty() { Ok(()) } else { say(&t) }
        }
    }

    /// Prints a new id.
    pub(crate) fn id(&self, id: &str) -> Result<(), Error> {
        self.print(&serde_json::json!({ "id": id }), || id.to_owned())
    }

    /// Prints "ok" (or `{"ok": true}`).
    pub(crate) fn ok(&self) -> Result<(), Error> {
        self.print(&serde_json::json!({ "ok": true }), || "ok".to_owned())
    }

    /// Prints a derived view: JSON, or its fields one per line.
    pub(crate) fn view<T: Serialize>(&self, value: &T) -> Result<(), Error> {
        let v = serde_json::to_value(value).map_err(|e| Error::Other(e.to_string()))?;
        self.print(&v, || render_text(&v, 0))
    }
}

/// Writes a line to stdout. A closed pipe (`noaber list all | head`) is not an error: the
/// reader has what it wanted.
pub(crate) fn say(line: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Other(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Renders a JSON value as indented `key: value` lines.
fn render_text(v: &serde_json::Value, indent: usize) -> String {
    use serde_json::Value;
    let pad = "  ".repeat(indent);
    let mut out = String::new();
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                match val {
                    Value::Null => {}
                    Value::Array(a) if a.is_empty() => {}
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{pad}{k}:\n{}", render_text(val, indent + 1)));
                    }
                    _ => {
                        let is_time = k.ends_with("_at")
                            || matches!(
                                k.as_str(),
                                "at" | "since" | "start" | "end" | "window_start" | "window_end"
                            );
                        let shown = match (is_time, val.as_i64()) {
                            (true, Some(ms)) => time::show(ms),
                            _ => scalar(val),
                        };
                        out.push_str(&format!("{pad}{k}: {shown}\n"));
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        let inner = render_text(item, indent + 1);
                        let inner = inner.trim_start();
                        out.push_str(&format!("{pad}- {inner}"));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
    out
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
