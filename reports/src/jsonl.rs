//! JSON lines: one `RunEvent` per line, the format every other report can be rebuilt from.

use conform_model::event::RunEvent;
use std::io::{BufRead, Write};

/// Writes one event as a line.
pub fn write_event(w: &mut impl Write, e: &RunEvent) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, e).map_err(std::io::Error::other)?;
    w.write_all(b"\n")
}

/// Reads an events file. Errors name the line that could not be read.
pub fn read_events(r: impl BufRead) -> Result<Vec<RunEvent>, String> {
    let mut out = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let e: RunEvent = serde_json::from_str(&line)
            .map_err(|e| format!("line {}: not a conform event: {e}", i + 1))?;
        out.push(e);
    }
    Ok(out)
}
