//! Suite diagnostics: every problem in a file, each with file:line:column and a hint.

use crate::node::Pos;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One problem found while loading or validating a suite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: Arc<PathBuf>,
    pub pos: Pos,
    /// A stable short code for documentation and tests (`unknown-field`).
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    /// Renders the diagnostic with the offending source line and a caret under the column.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = format!(
            "{}:{}:{}: error[{}]: {}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            self.code,
            self.message
        );
        if let Some(src) = source {
            if self.pos.line > 0 {
                if let Some(line) = src.lines().nth(self.pos.line as usize - 1) {
                    let n = self.pos.line.to_string();
                    let pad = " ".repeat(n.len());
                    let caret_col = (self.pos.col.max(1) - 1) as usize;
                    let lead: String = line
                        .chars()
                        .take(caret_col)
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    out.push_str(&format!("\n{pad} |\n{n} | {line}\n{pad} | {lead}^"));
                }
            }
        }
        if let Some(h) = &self.hint {
            out.push_str(&format!("\n  = hint: {h}"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(None))
    }
}

/// Collects diagnostics for one file.
#[derive(Debug)]
pub struct Diags {
    pub file: Arc<PathBuf>,
    pub list: Vec<Diagnostic>,
}

impl Diags {
    pub fn new(file: &Path) -> Self {
        Diags {
            file: Arc::new(file.to_path_buf()),
            list: Vec::new(),
        }
    }

    pub fn error(&mut self, pos: Pos, code: &'static str, message: impl Into<String>) {
        self.push(pos, code, message.into(), None);
    }

    pub fn error_hint(
        &mut self,
        pos: Pos,
        code: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(pos, code, message.into(), Some(hint.into()));
    }

    fn push(&mut self, pos: Pos, code: &'static str, message: String, hint: Option<String>) {
        self.list.push(Diagnostic {
            file: self.file.clone(),
            pos,
            code,
            message,
            hint,
        });
    }
}

/// The closest candidate by edit distance, for "did you mean" hints.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = levenshtein(word, c);
        let limit = (word.len().max(c.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance counting a swap of two neighbours as one edit (optimal string alignment), so
/// `rnage` is one edit from `range`.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("templtes", ["templates", "cases"]),
            Some("templates")
        );
        assert_eq!(did_you_mean("zzz", ["templates", "cases"]), None);
        assert_eq!(did_you_mean("rnage", ["range", "one_of"]), Some("range"));
    }
}
