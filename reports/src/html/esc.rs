//! Escaping for text that ends up in the page. Summaries, reasons, logs and mismatch values
//! come from the server under test (or from suites), so every string is escaped here, and
//! nothing from an event is ever placed inside `<script>`, `<style>` or an unquoted attribute.

/// Escapes text for HTML/SVG element content and double-quoted attribute values. C0 control
/// characters (other than tab and newline) and DEL become U+FFFD, so a hostile summary cannot
/// smuggle in characters the XML side of SVG would reject.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(ch),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s` (whole characters), with an ellipsis when cut. Newlines
/// become spaces: a chart label is one line.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        return one_line;
    }
    let keep = max.saturating_sub(1);
    let mut out: String = one_line.chars().take(keep).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\u{0}b\u{1b}c\td"), "a\u{fffd}b\u{fffd}c\td");
    }

    #[test]
    fn truncates_on_characters() {
        assert_eq!(truncate("§§§§§", 3), "§§…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("a\nb", 5), "a b");
    }
}
