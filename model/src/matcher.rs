//! TTCN-3 matching mechanisms over decoded values.
//!
//! A `Matcher` is compiled from a suite at load time (literals already parsed into typed
//! `Value`s), so matching at run time does no parsing and allocates nothing on success.

use conform_codec::{Decoded, FieldRef, FieldType, Value};
use regex::Regex;
use std::collections::HashMap;
use std::fmt;

/// Variables visible to a matcher at run time: module parameters, the component's identity
/// (`mac`, `xid`) and captures from earlier steps.
pub trait Env {
    fn var(&self, name: &str) -> Option<&Value>;
}

impl Env for HashMap<String, Value> {
    fn var(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// One bound of a range: a literal or a variable such as `$pool_start`.
#[derive(Clone, Debug)]
pub enum Bound {
    Lit(Value),
    Var(String),
}

/// A range bound with its inclusivity (`!10` in TTCN-3 is exclusive).
#[derive(Clone, Debug)]
pub struct RangeEnd {
    pub bound: Bound,
    pub inclusive: bool,
}

/// All TTCN-3 matching mechanisms (ES 201 873-1 Annex B) that make sense for wire messages.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// `?`: present, any value.
    Any,
    /// `*`: any value or absent. Inside a list: zero or more elements.
    AnyOrNone,
    /// `omit` / `absent`: the field must be absent.
    Omit,
    /// A specific value.
    Value(Value),
    /// A variable, resolved and coerced to the field's type at match time.
    Var(String),
    /// Value list `(a, b, c)`.
    OneOf(Vec<Matcher>),
    /// `complement(a, b)`: matches what none of the alternatives match.
    Complement(Vec<Matcher>),
    /// `(lo .. hi)`; either end may be open.
    Range {
        lo: Option<RangeEnd>,
        hi: Option<RangeEnd>,
    },
    /// `pattern`: a regular expression over the value's text (strings as is, other values as
    /// displayed, bytes as lowercase hex).
    Pattern(Regex),
    /// `length(min .. max)` combined with an inner mechanism (`Any` when alone).
    Length {
        min: usize,
        max: Option<usize>,
        inner: Box<Matcher>,
    },
    /// `ifpresent`: absent is fine, a present value must match.
    IfPresent(Box<Matcher>),
    /// `superset(...)`: the list contains at least these (distinct elements).
    Superset(Vec<Matcher>),
    /// `subset(...)`: every element of the list is one of these (each used once).
    Subset(Vec<Matcher>),
    /// `permutation(...)`: exactly these elements in any order. Inside an ordered list it matches
    /// a run of consecutive elements in any order.
    Permutation(Vec<Matcher>),
    /// An ordered list; elements may be `?` (one element) and `*` (any run).
    List(Vec<Matcher>),
}

impl Matcher {
    /// Matches a field that may be absent.
    pub fn matches_field(&self, actual: Option<&Value>, ty: &FieldType, env: &dyn Env) -> bool {
        match (self, actual) {
            (Matcher::AnyOrNone, _) => true,
            (Matcher::Omit, a) => a.is_none(),
            (Matcher::IfPresent(_), None) => true,
            (Matcher::IfPresent(m), Some(v)) => m.matches_value(v, ty, env),
            (Matcher::Complement(alts), None) => {
                // complement(omit) matches every present value, and an absent field matches
                // a complement unless the complement excludes omit itself.
                !alts.iter().any(|a| a.matches_field(None, ty, env))
            }
            (Matcher::OneOf(alts), None) => alts.iter().any(|a| a.matches_field(None, ty, env)),
            (_, None) => false,
            (m, Some(v)) => m.matches_value(v, ty, env),
        }
    }

    /// Decides a literal or variable match through [`Decoded::field_equals`] when the view
    /// can compare in place (no value built); `None` leaves it to `get` and
    /// [`Matcher::matches_field`], which always agree with an answer given here. A variable
    /// is decided here only when it equals the field as it is (no coercion needed). Views
    /// answer for string fields only, so other fields are not asked (and a variable is not
    /// looked up twice for them).
    pub fn matches_in_place(&self, msg: &dyn Decoded, f: &FieldRef, env: &dyn Env) -> Option<bool> {
        if !matches!(f.ty, FieldType::Str) {
            return None;
        }
        match self {
            Matcher::Value(x) => msg.field_equals(f, x),
            Matcher::Var(n) => match msg.field_equals(f, env.var(n)?) {
                Some(true) => Some(true),
                _ => None,
            },
            _ => None,
        }
    }

    /// Matches a present value.
    pub fn matches_value(&self, v: &Value, ty: &FieldType, env: &dyn Env) -> bool {
        match self {
            Matcher::Any | Matcher::AnyOrNone => true,
            Matcher::Omit => false,
            Matcher::Value(x) => x == v,
            Matcher::Var(name) => match env.var(name) {
                Some(x) if x == v => true,
                Some(x) => ty.coerce(x).as_ref() == Some(v),
                None => false,
            },
            Matcher::OneOf(alts) => alts.iter().any(|m| m.matches_value(v, ty, env)),
            Matcher::Complement(alts) => !alts.iter().any(|m| m.matches_value(v, ty, env)),
            Matcher::Range { lo, hi } => {
                in_bound(v, lo.as_ref(), ty, env, true) && in_bound(v, hi.as_ref(), ty, env, false)
            }
            Matcher::Pattern(re) => match v {
                Value::Str(s) => re.is_match(s),
                Value::Bytes(b) => re.is_match(&conform_codec::value::hex(b)),
                other => re.is_match(&other.to_string()),
            },
            Matcher::Length { min, max, inner } => match v.length() {
                Some(n) => {
                    n >= *min && max.is_none_or(|m| n <= m) && inner.matches_value(v, ty, env)
                }
                None => false,
            },
            Matcher::IfPresent(m) => m.matches_value(v, ty, env),
            Matcher::Superset(ps) => {
                with_list(v, ty, |vals, et| assign(ps, vals, et, env, true, false))
            }
            Matcher::Subset(ps) => {
                with_list(v, ty, |vals, et| assign(ps, vals, et, env, false, true))
            }
            Matcher::Permutation(ps) => with_list(v, ty, |vals, et| {
                let open = ps.iter().any(|p| matches!(p, Matcher::AnyOrNone));
                let fixed: Vec<Matcher> = ps
                    .iter()
                    .filter(|p| !matches!(p, Matcher::AnyOrNone))
                    .cloned()
                    .collect();
                if !open && fixed.len() != vals.len() {
                    return false;
                }
                assign(&fixed, vals, et, env, true, !open)
            }),
            Matcher::List(ps) => with_list(v, ty, |vals, et| seq(ps, vals, et, env)),
        }
    }

    /// Whether the matcher is a concrete value usable in a send template.
    pub fn is_concrete(&self) -> bool {
        match self {
            Matcher::Value(_) | Matcher::Var(_) | Matcher::Omit => true,
            Matcher::List(items) => items
                .iter()
                .all(|m| matches!(m, Matcher::Value(_) | Matcher::Var(_))),
            _ => false,
        }
    }

    /// The mechanism's name, for diagnostics.
    pub fn mechanism(&self) -> &'static str {
        match self {
            Matcher::Any => "? (any value)",
            Matcher::AnyOrNone => "* (any value or none)",
            Matcher::Omit => "omit",
            Matcher::Value(_) => "specific value",
            Matcher::Var(_) => "variable",
            Matcher::OneOf(_) => "one_of",
            Matcher::Complement(_) => "not",
            Matcher::Range { .. } => "range",
            Matcher::Pattern(_) => "pattern",
            Matcher::Length { .. } => "length",
            Matcher::IfPresent(_) => "ifpresent",
            Matcher::Superset(_) => "superset",
            Matcher::Subset(_) => "subset",
            Matcher::Permutation(_) => "permutation",
            Matcher::List(_) => "list",
        }
    }

    /// Renders the matcher TTCN-3 style, with variables shown with their current values.
    pub fn describe(&self, ty: &FieldType, env: &dyn Env) -> String {
        let list = |ms: &[Matcher], ty: &FieldType| -> String {
            ms.iter()
                .map(|m| m.describe(ty, env))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let et = ty.element().cloned().unwrap_or(ty.clone());
        match self {
            Matcher::Any => "?".into(),
            Matcher::AnyOrNone => "*".into(),
            Matcher::Omit => "omit".into(),
            Matcher::Value(v) => ty.render(v),
            Matcher::Var(n) => match env.var(n) {
                Some(v) => format!("${n} (= {})", ty.render(&ty.coerce(v).unwrap_or(v.clone()))),
                None => format!("${n} (undefined)"),
            },
            Matcher::OneOf(ms) => format!("one_of({})", list(ms, ty)),
            Matcher::Complement(ms) => format!("complement({})", list(ms, ty)),
            Matcher::Range { lo, hi } => {
                let end = |e: &Option<RangeEnd>, low: bool| match e {
                    None => {
                        if low {
                            "-infinity".to_string()
                        } else {
                            "infinity".to_string()
                        }
                    }
                    Some(RangeEnd { bound, inclusive }) => {
                        let b = match bound {
                            Bound::Lit(v) => ty.render(v),
                            Bound::Var(n) => match env.var(n) {
                                Some(v) => format!("${n}={v}"),
                                None => format!("${n}"),
                            },
                        };
                        if *inclusive {
                            b
                        } else {
                            format!("!{b}")
                        }
                    }
                };
                format!("({} .. {})", end(lo, true), end(hi, false))
            }
            Matcher::Pattern(re) => format!("pattern {:?}", re.as_str()),
            Matcher::Length { min, max, inner } => {
                let len = match max {
                    Some(m) if m == min => format!("length({min})"),
                    Some(m) => format!("length({min} .. {m})"),
                    None => format!("length({min} .. infinity)"),
                };
                match **inner {
                    Matcher::Any => format!("? {len}"),
                    ref m => format!("{} {len}", m.describe(ty, env)),
                }
            }
            Matcher::IfPresent(m) => format!("{} ifpresent", m.describe(ty, env)),
            Matcher::Superset(ms) => format!("superset({})", list(ms, &et)),
            Matcher::Subset(ms) => format!("subset({})", list(ms, &et)),
            Matcher::Permutation(ms) => format!("permutation({})", list(ms, &et)),
            Matcher::List(ms) => format!("[{}]", list(ms, &et)),
        }
    }
}

fn with_list(v: &Value, ty: &FieldType, f: impl FnOnce(&[Value], &FieldType) -> bool) -> bool {
    match v {
        Value::List(vals) => f(vals, ty.element().unwrap_or(ty)),
        _ => false,
    }
}

fn resolve_bound<'a>(b: &'a Bound, ty: &FieldType, env: &'a dyn Env) -> Option<Value> {
    match b {
        Bound::Lit(v) => Some(v.clone()),
        Bound::Var(n) => env.var(n).and_then(|v| ty.coerce(v)),
    }
}

fn in_bound(v: &Value, end: Option<&RangeEnd>, ty: &FieldType, env: &dyn Env, low: bool) -> bool {
    let Some(end) = end else { return true };
    let b = match &end.bound {
        // Avoid cloning literal bounds on the hot path.
        Bound::Lit(b) => return cmp_bound(v, b, end.inclusive, low),
        Bound::Var(_) => resolve_bound(&end.bound, ty, env),
    };
    match b {
        Some(b) => cmp_bound(v, &b, end.inclusive, low),
        None => false,
    }
}

fn cmp_bound(v: &Value, b: &Value, inclusive: bool, low: bool) -> bool {
    if std::mem::discriminant(v) != std::mem::discriminant(b) {
        return false;
    }
    match (low, inclusive) {
        (true, true) => v >= b,
        (true, false) => v > b,
        (false, true) => v <= b,
        (false, false) => v < b,
    }
}

/// Ordered list matching with `*` runs and embedded permutations (backtracking; lists in
/// protocol messages are short).
fn seq(ps: &[Matcher], vals: &[Value], et: &FieldType, env: &dyn Env) -> bool {
    let Some((first, rest)) = ps.split_first() else {
        return vals.is_empty();
    };
    match first {
        Matcher::AnyOrNone => (0..=vals.len()).any(|k| seq(rest, &vals[k..], et, env)),
        Matcher::Permutation(group) => {
            let open = group.iter().any(|p| matches!(p, Matcher::AnyOrNone));
            let fixed: Vec<Matcher> = group
                .iter()
                .filter(|p| !matches!(p, Matcher::AnyOrNone))
                .cloned()
                .collect();
            let lens: Vec<usize> = if open {
                (fixed.len()..=vals.len()).collect()
            } else {
                vec![fixed.len()]
            };
            lens.into_iter().any(|n| {
                n <= vals.len()
                    && assign(&fixed, &vals[..n], et, env, true, !open)
                    && seq(rest, &vals[n..], et, env)
            })
        }
        m => match vals.split_first() {
            Some((v, vs)) => m.matches_value(v, et, env) && seq(rest, vs, et, env),
            None => false,
        },
    }
}

/// Bipartite assignment of patterns to distinct values (Kuhn's augmenting paths).
/// `all_patterns`: every pattern needs a value. `all_values`: every value needs a pattern.
fn assign(
    ps: &[Matcher],
    vals: &[Value],
    et: &FieldType,
    env: &dyn Env,
    all_patterns: bool,
    all_values: bool,
) -> bool {
    if all_patterns && ps.len() > vals.len() {
        return false;
    }
    if all_values && vals.len() > ps.len() {
        return false;
    }
    // Fast path for small lists: adjacency as bit sets.
    let edges: Vec<Vec<usize>> = ps
        .iter()
        .map(|p| {
            (0..vals.len())
                .filter(|&j| p.matches_value(&vals[j], et, env))
                .collect()
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; vals.len()];
    let mut matched = 0;
    for i in 0..ps.len() {
        let mut seen = vec![false; vals.len()];
        if augment(i, &edges, &mut owner, &mut seen) {
            matched += 1;
        } else if all_patterns {
            return false;
        }
    }
    if all_values && matched < vals.len() {
        return false;
    }
    true
}

fn augment(i: usize, edges: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &j in &edges[i] {
        if seen[j] {
            continue;
        }
        seen[j] = true;
        if owner[j].is_none_or(|k| augment(k, edges, owner, seen)) {
            owner[j] = Some(i);
            return true;
        }
    }
    false
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let empty: HashMap<String, Value> = HashMap::new();
        f.write_str(&self.describe(&FieldType::Bytes, &empty))
    }
}
