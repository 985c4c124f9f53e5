//! Readable messages and diffs: a message as one line per header field and per option entry
//! (in wire order, with the length octet as sent), and a line diff of a finding's minimal
//! message against the clean message of its kind.

use crate::oracle::hex;
use conform_codec::dhcp::catalogue::{message_type_name, name_of};
use conform_codec::dhcp::raw::{Entry, OptionArea, Repr, MAGIC_COOKIE};

fn area_lines(prefix: &str, a: &OptionArea, out: &mut Vec<String>) {
    for e in &a.entries {
        out.push(match e {
            Entry::Pad(n) => format!("{prefix}PAD x{n}"),
            Entry::Option(o) => {
                let name = name_of(o.code).map(|n| format!(" {n}")).unwrap_or_default();
                let lie = if usize::from(o.len) != o.data.len() {
                    format!(
                        " (length octet {} but {} octets follow)",
                        o.len,
                        o.data.len()
                    )
                } else {
                    String::new()
                };
                let mt = if o.code == 53 && o.data.len() == 1 {
                    message_type_name(o.data[0])
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                format!(
                    "{prefix}{}{name} len {}: {}{mt}{lie}",
                    o.code,
                    o.len,
                    hex(&o.data)
                )
            }
            Entry::Truncated { code, len, data } => match len {
                None => format!("{prefix}{code} with no length octet (end of area)"),
                Some(l) => format!(
                    "{prefix}{code} claims {l} octets but only {} remain: {}",
                    data.len(),
                    hex(data)
                ),
            },
        });
    }
    if a.end {
        out.push(format!("{prefix}END"));
        if !a.after_end.is_empty() {
            out.push(format!("{prefix}after END: {}", hex(&a.after_end)));
        }
    } else {
        out.push(format!("{prefix}(no END)"));
    }
}

/// The message as lines. The xid is left out (it differs per execution).
pub fn describe(bytes: &[u8]) -> Vec<String> {
    let r = Repr::parse(bytes);
    let mut v = Vec::new();
    if let Some(n) = r.short_len {
        v.push(format!(
            "truncated to {n} octets (header and cookie need 240)"
        ));
    }
    v.push(format!(
        "op {} htype {} hlen {} hops {}",
        r.op, r.htype, r.hlen, r.hops
    ));
    v.push(format!("secs {} flags 0x{:04x}", r.secs, r.flags));
    v.push(format!(
        "ciaddr {} yiaddr {} siaddr {} giaddr {}",
        r.ciaddr, r.yiaddr, r.siaddr, r.giaddr
    ));
    let n = usize::from(r.hlen).clamp(6, 16);
    let rest = &r.chaddr[n..];
    v.push(format!(
        "chaddr {}{}",
        hex(&r.chaddr[..n]).replace(' ', ":"),
        if rest.iter().any(|b| *b != 0) {
            format!(" + {}", hex(rest))
        } else {
            String::new()
        }
    ));
    let ov = r.overload();
    for (name, bytes, holds) in [
        ("sname", &r.sname[..], ov & 2 != 0),
        ("file", &r.file[..], ov & 1 != 0),
    ] {
        if holds {
            v.push(format!("{name} holds options:"));
            area_lines(&format!("  {name}: "), &OptionArea::parse(bytes), &mut v);
        } else if bytes.iter().any(|b| *b != 0) {
            v.push(format!("{name} {}", hex(bytes)));
        }
    }
    if r.short_len.is_none() {
        if r.cookie != MAGIC_COOKIE {
            v.push(format!("cookie {} (not 63 82 53 63)", hex(&r.cookie)));
        }
        area_lines("  ", &r.options, &mut v);
        v.push(format!("{} octets", bytes.len()));
    }
    v
}

/// A line diff (longest common subsequence): unchanged lines start with two spaces, removed
/// ones with `- `, added ones with `+ `.
pub fn diff_lines(old: &[String], new: &[String]) -> Vec<String> {
    let (n, m) = (old.len(), new.len());
    let mut l = vec![vec![0u16; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if old[i] == new[j] {
                l[i + 1][j + 1] + 1
            } else {
                l[i + 1][j].max(l[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            out.push(format!("  {}", old[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || l[i][j + 1] > l[i + 1][j]) {
            out.push(format!("+ {}", new[j]));
            j += 1;
        } else {
            out.push(format!("- {}", old[i]));
            i += 1;
        }
    }
    out
}

/// The diff of `bytes` against `clean`, as text lines.
pub fn diff(clean: &[u8], bytes: &[u8]) -> Vec<String> {
    diff_lines(&describe(clean), &describe(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Addr;
    use crate::case::{Env, FuzzCase, Kind, Opt, Val};

    #[test]
    fn pr97_diff_reads_well() {
        let c = FuzzCase {
            kind: Kind::Discover,
            chaddr: [2, 0, 0, 0, 0, 0],
            broadcast: true,
            mbz: 0,
            secs: 0,
            ciaddr: Addr::Zero,
            relay: None,
            options: vec![
                Opt::bytes(53, vec![1]),
                Opt {
                    code: 61,
                    val: Val::CidChaddr,
                },
            ],
            mutations: vec![],
        };
        let env = Env::default();
        let d = diff(&c.clean().encode(&env, 1).bytes, &c.encode(&env, 1).bytes);
        let changed: Vec<&String> = d.iter().filter(|l| !l.starts_with("  ")).collect();
        assert_eq!(
            changed,
            vec![
                "+   61 client_id len 7: 01 02 00 00 00 00 00",
                "- 244 octets",
                "+ 253 octets"
            ]
        );
        assert!(
            d.contains(&"    53 message_type len 1: 01 (DISCOVER)".to_string()),
            "{d:#?}"
        );
    }
}
