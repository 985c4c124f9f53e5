//! Message sequence charts as inline SVG, drawn from one case's events.
//!
//! One lifeline per test component seen in the case (`mtc` first) and one for the server on
//! the right. Each `Sent` is an arrow component → server and each `Received` an arrow
//! server → component (to every component when the event names none: the case's recorder
//! saw it). Matches, mismatches, timeouts, verdicts, logs and adapter errors are annotations
//! on the lifelines. Every row shows its time offset from the start of the case.
//!
//! Class names are part of the output contract (tests and the browser check count them):
//! `msc` on the `<svg>`, `msc-arrow` on the `<line>` of every message arrow (exactly one per
//! drawn message), `msc-lifeline` on lifelines, `msc-mismatch`, `msc-timeout`, `msc-verdict`,
//! `msc-note`, `msc-match` on the annotation groups, `msc-truncated` on the cap notice.

use super::esc::{esc, truncate};
use conform_model::event::{EventKind, RunEvent};
use conform_model::Verdict;
use std::fmt::Write as _;

/// Gutter on the left for time offsets.
const GUTTER: f64 = 64.0;
/// First component lifeline, relative to the gutter.
const FIRST_LANE: f64 = 84.0;
/// Distance between component lifelines.
const LANE_GAP: f64 = 200.0;
/// Distance from the last component lifeline to the server lifeline: room for message labels.
const SERVER_GAP: f64 = 520.0;
/// Room on the right of the server lifeline.
const RIGHT: f64 = 90.0;
/// Width of one character of the label font (11px monospace), for truncation.
const CHAR_W: f64 = 6.7;
/// Line height of wrapped annotation text.
const LINE: f64 = 13.0;
/// Where the first row starts, below the lifeline heads.
const TOP: f64 = 46.0;
/// Annotations beyond the arrow cap that are still drawn (mismatches, verdicts, timeouts,
/// adapter errors), so a long case still shows why it failed.
const EXTRA_CAP: usize = 100;

/// A rendered chart.
pub(crate) struct Chart {
    pub svg: String,
    /// Message arrows drawn.
    pub arrows: usize,
    /// Messages not drawn because of the cap.
    pub omitted_messages: usize,
    /// Other events not drawn because of the cap.
    pub omitted_other: usize,
}

/// Where a message arrow ends on the component side.
enum Side {
    Lane(usize),
    /// Every component lifeline (a `Received` recorded without a component).
    All,
}

enum Item {
    Sent {
        t: f64,
        lane: usize,
        summary: String,
        template: String,
    },
    Received {
        t: f64,
        side: Side,
        summary: String,
        bad: bool,
    },
    Matched {
        t: f64,
        lane: usize,
        template: String,
        captured: Vec<(String, String)>,
    },
    Mismatch {
        t: f64,
        lane: usize,
        n: usize,
        template: String,
        closest: Option<String>,
    },
    Timeout {
        t: f64,
        lane: usize,
        timer: String,
    },
    Verdict {
        t: f64,
        lane: usize,
        verdict: Verdict,
        reason: Option<String>,
    },
    Log {
        t: f64,
        lane: usize,
        text: String,
    },
    AdapterError {
        t: f64,
        message: String,
    },
    Truncated,
}

impl Item {
    fn height(&self) -> f64 {
        match self {
            Item::Sent { .. } | Item::Received { .. } => 30.0,
            Item::Matched { .. } => 20.0,
            Item::Truncated => 30.0,
            _ => 24.0,
        }
    }
}

/// Draws the chart of one case. `events` are that case's events in order, `t0` the time its
/// `CaseStarted` was emitted, `server` the label of the server lifeline, `max_arrows` the cap.
pub(crate) fn chart(events: &[&RunEvent], t0: f64, server: &str, max_arrows: usize) -> Chart {
    let mut lanes: Vec<String> = vec!["mtc".to_string()];
    let mut lane = |name: &str| -> usize {
        let name = if name.is_empty() { "mtc" } else { name };
        match lanes.iter().position(|l| l == name) {
            Some(i) => i,
            None => {
                lanes.push(name.to_string());
                lanes.len() - 1
            }
        }
    };
    let mut items: Vec<Item> = Vec::new();
    let (mut arrows, mut extra, mut omitted_messages, mut omitted_other) =
        (0usize, 0usize, 0usize, 0usize);
    let mut truncated = false;
    let mut mismatch_no = 0usize;
    for e in events {
        let t = e.t_ms - t0;
        let capped = arrows >= max_arrows;
        match &e.kind {
            EventKind::Sent {
                at,
                template,
                summary,
                ..
            } => {
                if capped {
                    omitted_messages += 1;
                    mark_truncated(&mut items, &mut truncated);
                    continue;
                }
                arrows += 1;
                items.push(Item::Sent {
                    t,
                    lane: lane(&at.component),
                    summary: summary.clone(),
                    template: template.clone(),
                });
            }
            EventKind::Received { at, summary, .. } => {
                if capped {
                    omitted_messages += 1;
                    mark_truncated(&mut items, &mut truncated);
                    continue;
                }
                arrows += 1;
                let side = if at.component.is_empty() {
                    Side::All
                } else {
                    Side::Lane(lane(&at.component))
                };
                items.push(Item::Received {
                    t,
                    side,
                    summary: summary.clone(),
                    bad: false,
                });
            }
            EventKind::Matched {
                at,
                template,
                captured,
                ..
            } => {
                if capped {
                    omitted_other += 1;
                    mark_truncated(&mut items, &mut truncated);
                    continue;
                }
                items.push(Item::Matched {
                    t,
                    lane: lane(&at.component),
                    template: template.clone(),
                    captured: captured.clone(),
                });
            }
            EventKind::Log { at, text } => {
                if capped {
                    omitted_other += 1;
                    mark_truncated(&mut items, &mut truncated);
                    continue;
                }
                items.push(Item::Log {
                    t,
                    lane: lane(&at.component),
                    text: text.clone(),
                });
            }
            EventKind::Mismatch {
                at,
                template,
                closest,
                ..
            } => {
                mismatch_no += 1;
                if capped {
                    if extra >= EXTRA_CAP {
                        omitted_other += 1;
                        mark_truncated(&mut items, &mut truncated);
                        continue;
                    }
                    extra += 1;
                }
                // The closest message, when it is drawn, turns red.
                if let Some(cl) = closest {
                    if let Some(Item::Received { bad, .. }) = items
                        .iter_mut()
                        .rev()
                        .find(|i| matches!(i, Item::Received { summary, .. } if summary == cl))
                    {
                        *bad = true;
                    }
                }
                items.push(Item::Mismatch {
                    t,
                    lane: lane(&at.component),
                    n: mismatch_no,
                    template: template.clone(),
                    closest: closest.clone(),
                });
            }
            EventKind::Timeout { at, timer } => {
                if capped {
                    if extra >= EXTRA_CAP {
                        omitted_other += 1;
                        mark_truncated(&mut items, &mut truncated);
                        continue;
                    }
                    extra += 1;
                }
                items.push(Item::Timeout {
                    t,
                    lane: lane(&at.component),
                    timer: timer.clone(),
                });
            }
            EventKind::VerdictSet {
                at,
                verdict,
                reason,
            } => {
                if capped {
                    if extra >= EXTRA_CAP {
                        omitted_other += 1;
                        mark_truncated(&mut items, &mut truncated);
                        continue;
                    }
                    extra += 1;
                }
                items.push(Item::Verdict {
                    t,
                    lane: lane(&at.component),
                    verdict: *verdict,
                    reason: reason.clone(),
                });
            }
            EventKind::AdapterError { message, .. } => {
                if capped {
                    if extra >= EXTRA_CAP {
                        omitted_other += 1;
                        mark_truncated(&mut items, &mut truncated);
                        continue;
                    }
                    extra += 1;
                }
                items.push(Item::AdapterError {
                    t,
                    message: message.clone(),
                });
            }
            EventKind::RunStarted { .. }
            | EventKind::CaseStarted { .. }
            | EventKind::CaseFinished { .. }
            | EventKind::RunFinished { .. } => {}
        }
    }
    let svg = draw(
        &lanes,
        server,
        &items,
        max_arrows,
        omitted_messages,
        omitted_other,
    );
    Chart {
        svg,
        arrows,
        omitted_messages,
        omitted_other,
    }
}

/// Puts the cap notice where the first event was left out.
fn mark_truncated(items: &mut Vec<Item>, truncated: &mut bool) {
    if !*truncated {
        *truncated = true;
        items.push(Item::Truncated);
    }
}

fn lane_x(i: usize) -> f64 {
    GUTTER + FIRST_LANE + i as f64 * LANE_GAP
}

/// Characters that fit in `px` pixels of label font.
fn fit(px: f64) -> usize {
    ((px / CHAR_W).floor() as usize).max(8)
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::None => "v-none",
        Verdict::Pass => "v-pass",
        Verdict::Inconc => "v-inconc",
        Verdict::Fail => "v-fail",
        Verdict::Error => "v-error",
    }
}

fn time_label(t: f64) -> String {
    if t.abs() >= 100_000.0 {
        format!("{:.1}s", t / 1000.0)
    } else {
        format!("{t:.1}")
    }
}

fn draw(
    lanes: &[String],
    server: &str,
    items: &[Item],
    cap: usize,
    omitted_messages: usize,
    omitted_other: usize,
) -> String {
    let server_x = lane_x(lanes.len() - 1) + SERVER_GAP;
    let width = server_x + RIGHT;
    // Annotations wrap onto up to three lines; their rows grow accordingly.
    let texts: Vec<(String, Vec<String>)> =
        items.iter().map(|it| annotation(it, server_x)).collect();
    let heights: Vec<f64> = items
        .iter()
        .zip(&texts)
        .map(|(it, (_, l))| it.height() + l.len().saturating_sub(1) as f64 * LINE)
        .collect();
    let body: f64 = heights.iter().sum();
    let bottom = TOP + body + 8.0;
    let height = bottom + 8.0;
    let mut s = String::with_capacity(512 + items.len() * 300);
    let _ = write!(
        s,
        r#"<svg class="msc" xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="message sequence chart">"#
    );
    // Time gutter heading.
    let _ = write!(
        s,
        r#"<text class="msc-t" x="{:.0}" y="26">ms</text>"#,
        GUTTER - 8.0
    );
    // Lifelines and their heads.
    let mut heads: Vec<(f64, String, &str)> = lanes
        .iter()
        .enumerate()
        .map(|(i, l)| (lane_x(i), l.clone(), "msc-comp"))
        .collect();
    heads.push((server_x, format!("server: {server}"), "msc-server"));
    for (x, name, class) in &heads {
        let _ = write!(
            s,
            r#"<g class="msc-head {class}"><title>{title}</title><line class="msc-lifeline" x1="{x:.0}" y1="34" x2="{x:.0}" y2="{bottom:.0}"/><rect x="{rx:.0}" y="8" width="160" height="26" rx="4"/><text x="{x:.0}" y="25">{label}</text></g>"#,
            title = esc(name),
            rx = x - 80.0,
            label = esc(&truncate(name, 22)),
        );
    }
    let mut y = TOP;
    for ((it, h), (full, wrapped)) in items.iter().zip(&heights).zip(&texts) {
        let h = *h;
        let mid = y + it.height() - 9.0;
        if !matches!(it, Item::Truncated) {
            let t = match it {
                Item::Sent { t, .. }
                | Item::Received { t, .. }
                | Item::Matched { t, .. }
                | Item::Mismatch { t, .. }
                | Item::Timeout { t, .. }
                | Item::Verdict { t, .. }
                | Item::Log { t, .. }
                | Item::AdapterError { t, .. } => *t,
                Item::Truncated => 0.0,
            };
            let _ = write!(
                s,
                r#"<text class="msc-t" x="{:.0}" y="{:.0}">{}</text>"#,
                GUTTER - 8.0,
                mid + 4.0,
                time_label(t)
            );
        }
        match it {
            Item::Sent {
                lane,
                summary,
                template,
                ..
            } => {
                let x1 = lane_x(*lane);
                let label_px = server_x - x1 - 20.0;
                let _ = write!(
                    s,
                    r#"<g class="msc-msg msc-sent"><title>{title}</title><line class="msc-arrow" x1="{x1:.0}" y1="{mid:.0}" x2="{x2:.0}" y2="{mid:.0}"/>{head}<text class="msc-label" x="{lx:.0}" y="{ly:.0}">{label}</text></g>"#,
                    title = esc(&format!("send {template}: {summary}")),
                    x2 = server_x - 1.0,
                    head = arrow_head(server_x, mid, true),
                    lx = x1 + 10.0,
                    ly = mid - 5.0,
                    label = esc(&truncate(summary, fit(label_px))),
                );
            }
            Item::Received {
                side, summary, bad, ..
            } => {
                let (x2, targets): (f64, Vec<f64>) = match side {
                    Side::Lane(l) => (lane_x(*l), vec![lane_x(*l)]),
                    Side::All => (lane_x(0), (0..lanes.len()).map(lane_x).collect()),
                };
                let extra = if *bad { " msc-bad" } else { "" };
                let bcast = if matches!(side, Side::All) && lanes.len() > 1 {
                    " msc-bcast"
                } else {
                    ""
                };
                let heads: String = targets.iter().map(|&x| arrow_head(x, mid, false)).collect();
                let lx = match side {
                    Side::Lane(l) => lane_x(*l),
                    Side::All => lane_x(lanes.len() - 1),
                } + 10.0;
                let label_px = server_x - lx - 10.0;
                let _ = write!(
                    s,
                    r#"<g class="msc-msg msc-recv{extra}{bcast}"><title>{title}</title><line class="msc-arrow" x1="{x1:.0}" y1="{mid:.0}" x2="{x2e:.0}" y2="{mid:.0}"/>{heads}<text class="msc-label" x="{lx:.0}" y="{ly:.0}">{label}</text></g>"#,
                    title = esc(&format!(
                        "received{}: {summary}",
                        if *bad {
                            " (closest to a failed match)"
                        } else {
                            ""
                        }
                    )),
                    x1 = server_x,
                    x2e = x2 + 1.0,
                    ly = mid - 5.0,
                    label = esc(&truncate(summary, fit(label_px))),
                );
            }
            Item::Matched { lane, .. } => {
                let x = lane_x(*lane);
                let _ = write!(
                    s,
                    r#"<g class="msc-match"><title>{title}</title><path class="msc-check" d="M{a:.0} {b:.0} L{c:.0} {d:.0} L{e:.0} {f:.0}"/>{text}</g>"#,
                    title = esc(full),
                    a = x - 5.0,
                    b = mid - 4.0,
                    c = x - 1.0,
                    d = mid,
                    e = x + 6.0,
                    f = mid - 8.0,
                    text = text_block(x + 12.0, mid, wrapped, false),
                );
            }
            Item::Mismatch { lane, .. } => {
                let x = lane_x(*lane);
                let _ = write!(
                    s,
                    r##"<g class="msc-mismatch"><title>{title}</title><path class="msc-cross" d="M{a:.0} {b:.0} L{c:.0} {d:.0} M{a:.0} {d:.0} L{c:.0} {b:.0}"/>{text}</g>"##,
                    title = esc(full),
                    a = x - 5.0,
                    b = mid - 9.0,
                    c = x + 5.0,
                    d = mid + 1.0,
                    text = text_block(x + 12.0, mid, wrapped, false),
                );
            }
            Item::Timeout { lane, .. } => {
                let x = lane_x(*lane);
                // An hourglass, the MSC symbol for a timer.
                let _ = write!(
                    s,
                    r#"<g class="msc-timeout"><title>{title}</title><path class="msc-hourglass" d="M{a:.0} {b:.0} L{c:.0} {b:.0} L{a:.0} {d:.0} L{c:.0} {d:.0} Z"/>{text}</g>"#,
                    title = esc(full),
                    a = x - 6.0,
                    b = mid - 11.0,
                    c = x + 6.0,
                    d = mid + 3.0,
                    text = text_block(x + 12.0, mid, wrapped, false),
                );
            }
            Item::Verdict { lane, verdict, .. } => {
                let x = lane_x(*lane);
                // A hexagon, the TTCN-3 graphical format's symbol for setverdict.
                let _ = write!(
                    s,
                    r#"<g class="msc-verdict {vc}"><title>{title}</title><path class="msc-hex" d="M{a:.0} {m:.0} L{b:.0} {top:.0} L{c:.0} {top:.0} L{d:.0} {m:.0} L{c:.0} {bot:.0} L{b:.0} {bot:.0} Z"/>{text}</g>"#,
                    vc = verdict_class(*verdict),
                    title = esc(full),
                    a = x - 10.0,
                    b = x - 5.0,
                    c = x + 5.0,
                    d = x + 10.0,
                    m = mid - 4.0,
                    top = mid - 11.0,
                    bot = mid + 3.0,
                    text = text_block(x + 14.0, mid, wrapped, false),
                );
            }
            Item::Log { lane, .. } => {
                let x = lane_x(*lane);
                let w = widest(wrapped) + 16.0;
                let extra = (wrapped.len().max(1) - 1) as f64 * LINE;
                let _ = write!(
                    s,
                    r#"<g class="msc-note"><title>{title}</title><path d="M{l:.0} {t:.0} L{r1:.0} {t:.0} L{r:.0} {t1:.0} L{r:.0} {b:.0} L{l:.0} {b:.0} Z"/>{text}</g>"#,
                    title = esc(full),
                    l = x + 8.0,
                    r = x + 8.0 + w,
                    r1 = x + 8.0 + w - 6.0,
                    t = mid - 13.0,
                    t1 = mid - 7.0,
                    b = mid + 5.0 + extra,
                    text = text_block(x + 16.0, mid, wrapped, false),
                );
            }
            Item::AdapterError { .. } => {
                let w = widest(wrapped) + 16.0;
                let extra = (wrapped.len().max(1) - 1) as f64 * LINE;
                let _ = write!(
                    s,
                    r#"<g class="msc-note msc-adapter-error"><title>{title}</title><rect x="{l:.0}" y="{t:.0}" width="{w:.0}" height="{h:.0}"/>{text}</g>"#,
                    title = esc(full),
                    l = server_x - 8.0 - w,
                    t = mid - 13.0,
                    h = 18.0 + extra,
                    text = text_block(server_x - 16.0, mid, wrapped, true),
                );
            }
            Item::Truncated => {
                let others = if omitted_other > 0 {
                    format!(" and {omitted_other} other event(s)")
                } else {
                    String::new()
                };
                let text = format!("capped at {cap} messages: {omitted_messages} more message(s){others} not drawn (see the event log)");
                let _ = write!(
                    s,
                    r#"<g class="msc-truncated"><rect x="{l:.0}" y="{t:.0}" width="{w:.0}" height="20"/><text x="{lx:.0}" y="{ly:.0}">{label}</text></g>"#,
                    l = GUTTER,
                    t = mid - 14.0,
                    w = width - GUTTER - 8.0,
                    lx = GUTTER + 10.0,
                    ly = mid,
                    label = esc(&truncate(&text, fit(width - GUTTER - 28.0))),
                );
            }
        }
        y += h;
    }
    s.push_str("</svg>");
    s
}

/// The full text of an annotation (for its tooltip) and its wrapped lines; empty for arrows.
fn annotation(it: &Item, server_x: f64) -> (String, Vec<String>) {
    let room = |lane: usize, pad: f64| fit(server_x - lane_x(lane) - pad);
    let (full, chars, max_lines) = match it {
        Item::Matched {
            lane,
            template,
            captured,
            ..
        } => {
            let caps = if captured.is_empty() {
                String::new()
            } else {
                format!(
                    "  capture {}",
                    captured
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            };
            (format!("matched {template}{caps}"), room(*lane, 24.0), 2)
        }
        Item::Mismatch {
            lane,
            n,
            template,
            closest,
            ..
        } => {
            let text = match closest {
                Some(c) => format!("#{n} no match for {template}; closest: {c}"),
                None => format!("#{n} no match for {template}; no message arrived"),
            };
            (text, room(*lane, 24.0), 3)
        }
        Item::Timeout { lane, timer, .. } => (format!("timeout {timer}"), room(*lane, 24.0), 1),
        Item::Verdict {
            lane,
            verdict,
            reason,
            ..
        } => {
            let text = match reason {
                Some(r) => format!("setverdict({verdict}): {r}"),
                None => format!("setverdict({verdict})"),
            };
            (text, room(*lane, 26.0), 3)
        }
        Item::Log { lane, text, .. } => (format!("log: {text}"), room(*lane, 40.0), 3),
        Item::AdapterError { message, .. } => {
            (format!("adapter error: {message}"), room(0, 40.0), 3)
        }
        Item::Sent { .. } | Item::Received { .. } | Item::Truncated => {
            return (String::new(), Vec::new())
        }
    };
    let shown = match it {
        // The note itself says it is a log line.
        Item::Log { text, .. } => text.as_str(),
        _ => full.as_str(),
    };
    let wrapped = wrap(shown, chars, max_lines);
    (full, wrapped)
}

/// Greedy word wrap to `width` characters, at most `max_lines` lines (the last one cut with
/// an ellipsis when the text is longer). Words longer than a line are split.
fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    for word in flat.split(' ').filter(|w| !w.is_empty()) {
        let mut word: &str = word;
        loop {
            let cur_len = cur.chars().count();
            let wlen = word.chars().count();
            let sep = usize::from(cur_len > 0);
            if cur_len + sep + wlen <= width {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.push_str(word);
                break;
            }
            if cur_len > 0 {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            // A word longer than a line: split it.
            let cut = word
                .char_indices()
                .nth(width)
                .map(|(i, _)| i)
                .unwrap_or(word.len());
            lines.push(word[..cut].to_string());
            word = &word[cut..];
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    if lines.len() > max_lines {
        let rest = lines[max_lines - 1..].join(" ");
        lines.truncate(max_lines - 1);
        lines.push(truncate(&rest, width));
    }
    lines
}

/// Pixel width of the widest line.
fn widest(lines: &[String]) -> f64 {
    lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * CHAR_W
}

/// A `<text>` with one `<tspan>` per line, the first line's baseline at `y`.
fn text_block(x: f64, y: f64, lines: &[String], anchor_end: bool) -> String {
    let anchor = if anchor_end {
        r#" text-anchor="end""#
    } else {
        ""
    };
    let mut out = format!(r#"<text x="{x:.0}" y="{y:.0}"{anchor}>"#);
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            let _ = write!(out, "{}", esc(l));
        } else {
            let _ = write!(
                out,
                r#"<tspan x="{x:.0}" dy="{LINE:.0}">{}</tspan>"#,
                esc(l)
            );
        }
    }
    out.push_str("</text>");
    out
}

/// A filled arrow head with its tip at (`x`, `y`), pointing right or left.
fn arrow_head(x: f64, y: f64, right: bool) -> String {
    let back = if right { x - 9.0 } else { x + 9.0 };
    format!(
        r#"<path class="msc-arrowhead" d="M{x:.0} {y:.0} L{back:.0} {a:.0} L{back:.0} {b:.0} Z"/>"#,
        a = y - 4.0,
        b = y + 4.0
    )
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_words_and_cuts_long_text() {
        assert_eq!(
            wrap("setverdict(fail): the server answered", 20, 3),
            ["setverdict(fail):", "the server answered"]
        );
        assert_eq!(wrap("aaaaaaaaaaaa", 8, 3), ["aaaaaaaa", "aaaa"]);
        assert_eq!(
            wrap("one two three four five six", 9, 2),
            ["one two", "three fo…"]
        );
        assert_eq!(wrap("", 10, 3), [""]);
    }
}
