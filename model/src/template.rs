//! Templates: compiled from suite YAML into (field path, matcher) pairs, matched against decoded
//! messages, or turned into concrete values for sending.

use crate::diag::{did_you_mean, Diags};
use crate::matcher::{Bound, Env, Matcher, RangeEnd};
use crate::node::{Node, NodeKind, Pos};
use conform_codec::field::Scalar;
use conform_codec::{Decoded, FieldRef, FieldType, Protocol, Value};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Keys of a mapping that make it a matching mechanism rather than a record of sub-fields.
pub const MECHANISMS: &[&str] = &[
    "value",
    "one_of",
    "not",
    "range",
    "pattern",
    "length",
    "ifpresent",
    "superset",
    "subset",
    "permutation",
];

/// One constrained field of a template.
#[derive(Clone, Debug)]
pub struct TField {
    pub field: FieldRef,
    pub matcher: Matcher,
    pub pos: Pos,
}

/// A compiled template: an ordered list of constrained fields. Fields not listed are
/// unconstrained (TTCN-3 `*` on everything else), which is what makes templates pleasant for
/// protocols where servers add options freely.
#[derive(Clone, Debug, Default)]
pub struct Template {
    /// Shared, so that events naming the template do not copy it on a case's path.
    pub name: std::sync::Arc<str>,
    pub fields: Vec<TField>,
}

/// One field that did not match: packetdrill-style path, expected template, actual value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl Template {
    /// Whether the message matches every field. Allocation-free on the success path.
    pub fn matches(&self, msg: &dyn Decoded, env: &dyn Env) -> bool {
        self.fields.iter().all(|f| {
            if let Some(m) = f.matcher.matches_in_place(msg, &f.field, env) {
                return m;
            }
            let v = msg.get(&f.field);
            f.matcher.matches_field(v.as_deref(), &f.field.ty, env)
        })
    }

    /// Every field that does not match, in template order.
    pub fn explain(&self, msg: &dyn Decoded, env: &dyn Env) -> Vec<Mismatch> {
        let mut out = Vec::new();
        for f in &self.fields {
            let v = msg.get(&f.field);
            if !f.matcher.matches_field(v.as_deref(), &f.field.ty, env) {
                out.push(Mismatch {
                    path: f.field.path.to_string(),
                    expected: f.matcher.describe(&f.field.ty, env),
                    actual: match v {
                        Some(v) => f.field.ty.render(&v),
                        None => "absent".into(),
                    },
                });
            }
        }
        out
    }

    /// Resolves a send template to concrete values (`None` = omit the field).
    pub fn to_send(&self, env: &dyn Env) -> Result<Vec<(FieldRef, Option<Value>)>, String> {
        let mut out = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let v = concrete(&f.matcher, &f.field.ty, env)
                .map_err(|e| format!("field `{}`: {e}", f.field.path))?;
            out.push((f.field.clone(), v));
        }
        Ok(out)
    }

    /// Overrides fields by path, as TTCN-3 modified templates do: a field replaces the base
    /// field with the same path in place (so option order is kept for sending) and removes the
    /// base's sub-fields of that path.
    pub fn merge(&mut self, over: Vec<TField>) {
        for f in over {
            let p: &str = &f.field.path;
            let prefix = format!("{p}.");
            let at = self.fields.iter().position(|g| &*g.field.path == p);
            self.fields.retain(|g| !g.field.path.starts_with(&prefix));
            match at.and_then(|_| self.fields.iter().position(|g| &*g.field.path == p)) {
                Some(i) => self.fields[i] = f,
                None => self.fields.push(f),
            }
        }
    }
}

fn concrete(m: &Matcher, ty: &FieldType, env: &dyn Env) -> Result<Option<Value>, String> {
    match m {
        Matcher::Omit => Ok(None),
        Matcher::Value(v) => Ok(Some(v.clone())),
        Matcher::Var(n) => {
            let v = env
                .var(n)
                .ok_or_else(|| format!("variable `${n}` is not defined"))?;
            ty.coerce(v).map(Some).ok_or_else(|| {
                format!(
                    "variable `${n}` holds {} ({v}), expected {}",
                    v.kind(),
                    ty.describe()
                )
            })
        }
        Matcher::List(items) => {
            let et = ty.element().unwrap_or(ty);
            let mut out = Vec::new();
            for i in items {
                match concrete(i, et, env)? {
                    Some(v) => out.push(v),
                    None => return Err("`omit` inside a list".into()),
                }
            }
            Ok(Some(Value::List(out)))
        }
        other => Err(format!(
            "a send template needs a concrete value, found the matching mechanism {}",
            other.mechanism()
        )),
    }
}

/// Compiles template YAML. Collects every problem into `diags`; variable references are
/// reported in `vars` so the loader can check that each is defined where it is used.
pub struct Compiler<'a> {
    pub proto: &'a dyn Protocol,
    /// Template parameters bound at this instantiation: `$name` expands to the argument.
    pub args: &'a HashMap<String, Node>,
    pub vars: Vec<(String, Pos)>,
}

impl<'a> Compiler<'a> {
    pub fn new(proto: &'a dyn Protocol, args: &'a HashMap<String, Node>) -> Self {
        Compiler {
            proto,
            args,
            vars: Vec::new(),
        }
    }

    /// Compiles a mapping of fields (possibly nested by groups) under `prefix`.
    pub fn fields(
        &mut self,
        node: &Node,
        prefix: &str,
        skip: &[&str],
        d: &mut Diags,
    ) -> Vec<TField> {
        let mut out = Vec::new();
        self.fields_into(node, prefix, skip, d, &mut out);
        out
    }

    fn fields_into(
        &mut self,
        node: &Node,
        prefix: &str,
        skip: &[&str],
        d: &mut Diags,
        out: &mut Vec<TField>,
    ) {
        let Some(map) = node.as_map() else {
            d.error(
                node.pos,
                "wrong-type",
                format!(
                    "expected a mapping of field paths to templates, found {}",
                    node.type_name()
                ),
            );
            return;
        };
        for (k, v) in map {
            if prefix.is_empty() && skip.contains(&k.name.as_str()) {
                continue;
            }
            let path = if prefix.is_empty() {
                k.name.clone()
            } else {
                format!("{prefix}.{}", k.name)
            };
            let is_mech = is_mechanism_map(v);
            if matches!(v.kind, NodeKind::Map(_)) && !is_mech {
                let keys: Vec<&str> = v
                    .as_map()
                    .unwrap_or_default()
                    .iter()
                    .map(|(k, _)| k.name.as_str())
                    .collect();
                let field = self.proto.resolve(&path);
                // A mapping under a field is a mechanism with a mistake in it when it names a
                // mechanism, or when none of its keys is a sub-field (`{rnage: ...}` on an
                // option): report the mechanism problems, not unknown sub-field paths.
                let sub_fields = keys.iter().any(|k| {
                    let p = format!("{path}.{k}");
                    self.proto.resolve(&p).is_some() || self.proto.is_group(&p)
                });
                let mech_like = keys.iter().any(|k| {
                    MECHANISMS.contains(k) || did_you_mean(k, MECHANISMS.iter().copied()).is_some()
                });
                if self.proto.is_group(&path) && (field.is_none() || sub_fields || !mech_like) {
                    self.fields_into(v, &path, &[], d, out);
                } else if let Some(f) = field {
                    if keys.iter().any(|k| MECHANISMS.contains(k)) || mech_like {
                        // Each unknown key gets its own diagnostic with its own hint.
                        let _ = self.matcher(v, &f.ty, d);
                    } else {
                        d.error_hint(
                            v.pos,
                            "unknown-mechanism",
                            format!(
                                "`{}` is a single field ({}); a mapping here must be a matching mechanism, found keys {}",
                                f.path,
                                f.ty.describe(),
                                keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                            ),
                            format!("matching mechanisms are: {}", MECHANISMS.join(", ")),
                        );
                    }
                } else {
                    self.unknown_path(&path, k.pos, d);
                }
                continue;
            }
            let Some(f) = self.proto.resolve(&path) else {
                self.unknown_path(&path, k.pos, d);
                continue;
            };
            if let Some(m) = self.matcher(v, &f.ty, d) {
                out.push(TField {
                    field: f,
                    matcher: m,
                    pos: k.pos,
                });
            }
        }
    }

    fn unknown_path(&self, path: &str, pos: Pos, d: &mut Diags) {
        let paths = self.proto.paths();
        let hint = match did_you_mean(path, paths.iter().map(|s| s.as_str())) {
            Some(s) => format!("did you mean `{s}`?"),
            None => {
                let top: Vec<&str> = paths
                    .iter()
                    .filter(|p| !p.contains('.'))
                    .map(|s| s.as_str())
                    .collect();
                format!("{} fields include: {}", self.proto.name(), top.join(", "))
            }
        };
        d.error_hint(
            pos,
            "unknown-field-path",
            format!(
                "unknown field path `{path}` for protocol {}",
                self.proto.name()
            ),
            hint,
        );
    }

    /// Compiles one matcher for a field of type `ty`.
    pub fn matcher(&mut self, n: &Node, ty: &FieldType, d: &mut Diags) -> Option<Matcher> {
        match &n.kind {
            NodeKind::Null => Some(Matcher::Omit),
            NodeKind::Str(s) => match s.as_str() {
                "?" => Some(Matcher::Any),
                "*" => Some(Matcher::AnyOrNone),
                "omit" | "absent" => Some(Matcher::Omit),
                _ if s.starts_with('$') => self.var(&s[1..], n.pos, ty, d),
                _ => self.literal(n, ty, d).map(Matcher::Value),
            },
            NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Float(_) => {
                self.literal(n, ty, d).map(Matcher::Value)
            }
            NodeKind::Seq(items) => {
                let Some(et) = ty.element() else {
                    d.error_hint(
                        n.pos,
                        "wrong-type",
                        format!("a list is not valid here: the field is {}", ty.describe()),
                        "for a list of allowed values write `one_of: [...]`",
                    );
                    return None;
                };
                let et = et.clone();
                let ms: Vec<Option<Matcher>> =
                    items.iter().map(|i| self.element(i, &et, d)).collect();
                ms.into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(Matcher::List)
            }
            NodeKind::Map(_) => self.mechanism(n, ty, d),
        }
    }

    /// A list element: like a matcher, but `permutation` is allowed as a run of elements.
    fn element(&mut self, n: &Node, et: &FieldType, d: &mut Diags) -> Option<Matcher> {
        if let Some(p) = n.get("permutation") {
            if n.as_map().is_some_and(|m| m.len() == 1) {
                return self.items(p, et, d).map(Matcher::Permutation);
            }
        }
        self.matcher(n, et, d)
    }

    fn var(&mut self, name: &str, pos: Pos, ty: &FieldType, d: &mut Diags) -> Option<Matcher> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            d.error_hint(
                pos,
                "bad-variable",
                format!("`${name}` is not a valid variable name"),
                "variable names use letters, digits and `_`; write `{value: \"$...\"}` for a literal string",
            );
            return None;
        }
        if let Some(arg) = self.args.get(name) {
            // Template parameter: the argument itself is compiled against this field's type,
            // so arguments may be matching mechanisms (TTCN-3 template parameters).
            let empty = HashMap::new();
            let mut inner = Compiler::new(self.proto, &empty);
            let m = inner.matcher(arg, ty, d);
            self.vars.extend(inner.vars);
            return m;
        }
        self.vars.push((name.to_string(), pos));
        Some(Matcher::Var(name.to_string()))
    }

    fn literal(&mut self, n: &Node, ty: &FieldType, d: &mut Diags) -> Option<Value> {
        let s = match &n.kind {
            NodeKind::Bool(b) => Scalar::Bool(*b),
            NodeKind::Int(i) => Scalar::Int(*i),
            NodeKind::Float(f) => Scalar::Float(*f),
            NodeKind::Str(s) => Scalar::Str(s.clone()),
            NodeKind::Seq(items) => {
                let et = ty.element()?.clone();
                let vals: Option<Vec<Value>> =
                    items.iter().map(|i| self.literal(i, &et, d)).collect();
                return vals.map(Value::List);
            }
            _ => {
                d.error(
                    n.pos,
                    "wrong-type",
                    format!("expected {}, found {}", ty.describe(), n.type_name()),
                );
                return None;
            }
        };
        match ty.parse(&s) {
            Ok(v) => Some(v),
            Err(e) if matches!((&s, ty), (Scalar::Int(_), FieldType::Bytes)) => {
                d.error_hint(n.pos, "bad-value", e, "YAML reads an unquoted 0x... as a number: quote byte strings, e.g. \"0x63825363\"");
                None
            }
            Err(e) => {
                d.error(n.pos, "bad-value", e);
                None
            }
        }
    }

    fn items(&mut self, n: &Node, et: &FieldType, d: &mut Diags) -> Option<Vec<Matcher>> {
        match n.as_seq() {
            Some(items) => items.iter().map(|i| self.matcher(i, et, d)).collect(),
            None => {
                d.error(
                    n.pos,
                    "wrong-type",
                    format!("expected a list, found {}", n.type_name()),
                );
                None
            }
        }
    }

    fn mechanism(&mut self, n: &Node, ty: &FieldType, d: &mut Diags) -> Option<Matcher> {
        let map = n.as_map().unwrap_or_default();
        if map.is_empty() {
            d.error(
                n.pos,
                "empty-mechanism",
                "an empty mapping is not a template",
            );
            return None;
        }
        let mut core: Option<Matcher> = None;
        let mut core_key: Option<&str> = None;
        let mut length: Option<(usize, Option<usize>)> = None;
        let mut ifpresent = false;
        let mut ok = true;
        for (k, v) in map {
            let key = k.name.as_str();
            if !MECHANISMS.contains(&key) {
                let hint = match did_you_mean(key, MECHANISMS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("matching mechanisms are: {}", MECHANISMS.join(", ")),
                };
                d.error_hint(
                    k.pos,
                    "unknown-mechanism",
                    format!("unknown matching mechanism `{key}`"),
                    hint,
                );
                ok = false;
                continue;
            }
            let is_core = !matches!(key, "length" | "ifpresent");
            if is_core {
                if let Some(prev) = core_key {
                    d.error_hint(
                        k.pos,
                        "conflicting-mechanisms",
                        format!("`{key}` cannot be combined with `{prev}` in one template"),
                        "only `length` and `ifpresent` combine with another mechanism; use `one_of` for alternatives",
                    );
                    ok = false;
                    continue;
                }
                core_key = Some(key);
            }
            let list_ty = || ty.element().cloned();
            let m = match key {
                "value" => match &v.kind {
                    // `value:` escapes the special strings: {value: "?"} is a literal "?".
                    NodeKind::Str(_)
                    | NodeKind::Int(_)
                    | NodeKind::Bool(_)
                    | NodeKind::Float(_) => self.literal(v, ty, d).map(Matcher::Value),
                    _ => self.matcher(v, ty, d),
                },
                "one_of" => self.items(v, ty, d).map(Matcher::OneOf),
                "not" => match &v.kind {
                    NodeKind::Seq(_) => self.items(v, ty, d).map(Matcher::Complement),
                    _ => self.matcher(v, ty, d).map(|m| Matcher::Complement(vec![m])),
                },
                "range" => self.range(v, ty, d),
                "pattern" => match v.as_str() {
                    Some(p) => match Regex::new(p) {
                        Ok(re) => Some(Matcher::Pattern(re)),
                        Err(e) => {
                            d.error(
                                v.pos,
                                "bad-pattern",
                                format!(
                                    "invalid regular expression: {}",
                                    first_line(&e.to_string())
                                ),
                            );
                            None
                        }
                    },
                    None => {
                        d.error(
                            v.pos,
                            "wrong-type",
                            format!("`pattern` takes a string, found {}", v.type_name()),
                        );
                        None
                    }
                },
                "superset" | "subset" | "permutation" => match list_ty() {
                    Some(et) => self.items(v, &et, d).map(|ms| match key {
                        "superset" => Matcher::Superset(ms),
                        "subset" => Matcher::Subset(ms),
                        _ => Matcher::Permutation(ms),
                    }),
                    None => {
                        d.error_hint(
                            k.pos,
                            "wrong-type",
                            format!(
                                "`{key}` applies to list fields; this field is {}",
                                ty.describe()
                            ),
                            "use `one_of` for a list of allowed values",
                        );
                        None
                    }
                },
                "length" => {
                    length = self.length(v, d);
                    if length.is_none() {
                        ok = false;
                    }
                    continue;
                }
                "ifpresent" => {
                    match &v.kind {
                        NodeKind::Bool(true) => ifpresent = true,
                        NodeKind::Bool(false) => {}
                        _ => {
                            // `ifpresent: X` is shorthand for X ifpresent.
                            ifpresent = true;
                            core_key = Some("ifpresent");
                            match self.matcher(v, ty, d) {
                                Some(m) => core = Some(m),
                                None => ok = false,
                            }
                        }
                    }
                    continue;
                }
                other => {
                    let hint = match did_you_mean(other, MECHANISMS.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("matching mechanisms are: {}", MECHANISMS.join(", ")),
                    };
                    d.error_hint(
                        k.pos,
                        "unknown-mechanism",
                        format!("unknown matching mechanism `{other}`"),
                        hint,
                    );
                    ok = false;
                    continue;
                }
            };
            match m {
                Some(m) => core = Some(m),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let mut m = core.unwrap_or(Matcher::Any);
        if let Some((min, max)) = length {
            if ty.element().is_none()
                && !matches!(
                    ty,
                    FieldType::Str
                        | FieldType::Bytes
                        | FieldType::Mac
                        | FieldType::Ipv4
                        | FieldType::Ipv6
                )
            {
                d.error(
                    n.pos,
                    "wrong-type",
                    format!("`length` does not apply to {}", ty.describe()),
                );
                return None;
            }
            m = Matcher::Length {
                min,
                max,
                inner: Box::new(m),
            };
        }
        if ifpresent {
            m = Matcher::IfPresent(Box::new(m));
        }
        Some(m)
    }

    fn range(&mut self, v: &Node, ty: &FieldType, d: &mut Diags) -> Option<Matcher> {
        if !ty.is_ordered() {
            d.error(
                v.pos,
                "wrong-type",
                format!(
                    "`range` needs an ordered field (integers, addresses); this field is {}",
                    ty.describe()
                ),
            );
            return None;
        }
        let (lo, hi): (Node, Node) = match &v.kind {
            NodeKind::Str(s) => match s.split_once("..") {
                Some((a, b)) => (
                    Node {
                        pos: v.pos,
                        kind: NodeKind::Str(a.trim().to_string()),
                    },
                    Node {
                        pos: v.pos,
                        kind: NodeKind::Str(b.trim().to_string()),
                    },
                ),
                None => {
                    d.error_hint(
                        v.pos,
                        "bad-range",
                        format!("`{s}` is not a range"),
                        "write `lo..hi`, `!lo..!hi` for exclusive bounds, or `[lo, hi]`",
                    );
                    return None;
                }
            },
            NodeKind::Seq(items) if items.len() == 2 => (items[0].clone(), items[1].clone()),
            _ => {
                d.error_hint(
                    v.pos,
                    "bad-range",
                    format!(
                        "a range must be a string or a two-element list, found {}",
                        v.type_name()
                    ),
                    "write `lo..hi` or `[lo, hi]`",
                );
                return None;
            }
        };
        let lo_end = self.range_end(&lo, ty, d)?;
        let hi_end = self.range_end(&hi, ty, d)?;
        if let (
            Some(RangeEnd {
                bound: Bound::Lit(a),
                ..
            }),
            Some(RangeEnd {
                bound: Bound::Lit(b),
                ..
            }),
        ) = (&lo_end, &hi_end)
        {
            if a > b {
                d.error(
                    v.pos,
                    "bad-range",
                    format!(
                        "empty range: lower bound {} is above upper bound {}",
                        ty.render(a),
                        ty.render(b)
                    ),
                );
                return None;
            }
        }
        Some(Matcher::Range {
            lo: lo_end,
            hi: hi_end,
        })
    }

    /// Returns `Some(None)` for an open end (`infinity`, empty).
    fn range_end(&mut self, n: &Node, ty: &FieldType, d: &mut Diags) -> Option<Option<RangeEnd>> {
        let (text, inclusive) = match &n.kind {
            NodeKind::Str(s) => match s.strip_prefix('!') {
                Some(rest) => (Some(rest.to_string()), false),
                None => (Some(s.clone()), true),
            },
            _ => (None, true),
        };
        if let Some(t) = &text {
            if t.is_empty() || t == "infinity" || t == "-infinity" {
                return Some(None);
            }
            if let Some(var) = t.strip_prefix('$') {
                if let Some(arg) = self.args.get(var) {
                    // A template parameter as a bound: the argument is a literal or a variable.
                    let arg = arg.clone();
                    if matches!(arg.as_str(), Some("?" | "*")) {
                        // An unbound parameter (the definition check binds `?`): no bound.
                        return Some(None);
                    }
                    return match arg.as_str().and_then(|a| a.strip_prefix('$')) {
                        Some(v) => {
                            self.vars.push((v.to_string(), arg.pos));
                            Some(Some(RangeEnd {
                                bound: Bound::Var(v.to_string()),
                                inclusive,
                            }))
                        }
                        None => {
                            let v = self.literal(&arg, ty, d)?;
                            Some(Some(RangeEnd {
                                bound: Bound::Lit(v),
                                inclusive,
                            }))
                        }
                    };
                }
                self.vars.push((var.to_string(), n.pos));
                return Some(Some(RangeEnd {
                    bound: Bound::Var(var.to_string()),
                    inclusive,
                }));
            }
        }
        let lit = match text {
            Some(t) => Node {
                pos: n.pos,
                kind: NodeKind::Str(t),
            },
            None => n.clone(),
        };
        let v = self.literal(&lit, ty, d)?;
        Some(Some(RangeEnd {
            bound: Bound::Lit(v),
            inclusive,
        }))
    }

    fn length(&mut self, v: &Node, d: &mut Diags) -> Option<(usize, Option<usize>)> {
        let parse = |s: &str| -> Option<Option<usize>> {
            match s.trim() {
                "" | "infinity" => Some(None),
                t => t.parse().ok().map(Some),
            }
        };
        let r = match &v.kind {
            NodeKind::Int(i) if *i >= 0 => Some((*i as usize, Some(*i as usize))),
            NodeKind::Str(s) => s
                .split_once("..")
                .and_then(|(a, b)| Some((parse(a)?.unwrap_or(0), parse(b)?))),
            NodeKind::Seq(items) if items.len() == 2 => match (&items[0].kind, &items[1].kind) {
                (NodeKind::Int(a), NodeKind::Int(b)) if *a >= 0 && *b >= *a => {
                    Some((*a as usize, Some(*b as usize)))
                }
                _ => None,
            },
            _ => None,
        };
        if r.is_none() {
            d.error_hint(
                v.pos,
                "bad-length",
                "invalid length restriction",
                "write `length: 7`, `length: 1..255` or `length: [1, 255]`",
            );
        }
        r
    }
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_string()
}

/// Whether a mapping node is a matching mechanism (all keys are mechanism keywords).
pub fn is_mechanism_map(n: &Node) -> bool {
    match n.as_map() {
        Some(m) if !m.is_empty() => m.iter().all(|(k, _)| MECHANISMS.contains(&k.name.as_str())),
        _ => false,
    }
}
