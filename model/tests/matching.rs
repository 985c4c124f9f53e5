//! The matching mechanisms, one test each (positive and negative), and properties:
//! a value matches the template made from itself; complement(t) matches exactly what t does
//! not; superset and subset are dual.

use conform_codec::{FieldType, Value};
use conform_model::diag::Diags;
use conform_model::matcher::{Bound, Matcher, RangeEnd};
use conform_model::node::parse_yaml;
use conform_model::template::Compiler;
use proptest::prelude::*;
use std::collections::HashMap;
use std::net::Ipv4Addr;

fn env() -> HashMap<String, Value> {
    let mut e = HashMap::new();
    e.insert("lo".into(), Value::Ipv4(Ipv4Addr::new(192, 0, 2, 100)));
    e.insert("hi".into(), Value::Ipv4(Ipv4Addr::new(192, 0, 2, 200)));
    e.insert("x".into(), Value::Int(7));
    e
}

/// Compiles a YAML matcher for a field type, panicking on diagnostics.
fn m(yaml: &str, ty: &FieldType) -> Matcher {
    let proto = conform_codec::protocol_by_name("dhcp").unwrap();
    let node = parse_yaml(&format!("v: {yaml}\n")).unwrap();
    let v = node.get("v").unwrap();
    let args = HashMap::new();
    let mut c = Compiler::new(proto.as_ref(), &args);
    let mut d = Diags::new(std::path::Path::new("t.yaml"));
    let r = c.matcher(v, ty, &mut d);
    assert!(d.list.is_empty(), "{:?}", d.list);
    r.unwrap()
}

/// Compiles and expects a diagnostic.
fn bad(yaml: &str, ty: &FieldType) -> String {
    let proto = conform_codec::protocol_by_name("dhcp").unwrap();
    let node = parse_yaml(&format!("v: {yaml}\n")).unwrap();
    let args = HashMap::new();
    let mut c = Compiler::new(proto.as_ref(), &args);
    let mut d = Diags::new(std::path::Path::new("t.yaml"));
    let _ = c.matcher(node.get("v").unwrap(), ty, &mut d);
    assert!(!d.list.is_empty(), "expected a diagnostic for {yaml}");
    d.list[0].message.clone()
}

fn yes(mt: &Matcher, v: Option<&Value>, ty: &FieldType) -> bool {
    mt.matches_field(v, ty, &env())
}

const U8: FieldType = FieldType::Int { min: 0, max: 255 };
fn ints() -> FieldType {
    FieldType::List(Box::new(U8))
}
fn list(xs: &[i64]) -> Value {
    Value::List(xs.iter().map(|x| Value::Int(*x)).collect())
}
fn ip(d: u8) -> Value {
    Value::Ipv4(Ipv4Addr::new(192, 0, 2, d))
}

#[test]
fn specific_value() {
    let t = m("5", &U8);
    assert!(yes(&t, Some(&Value::Int(5)), &U8));
    assert!(!yes(&t, Some(&Value::Int(6)), &U8));
    assert!(!yes(&t, None, &U8));
}

#[test]
fn any_value_requires_presence() {
    let t = m("\"?\"", &U8);
    assert!(yes(&t, Some(&Value::Int(0)), &U8));
    assert!(!yes(&t, None, &U8));
}

#[test]
fn any_value_or_none() {
    let t = m("\"*\"", &U8);
    assert!(yes(&t, Some(&Value::Int(0)), &U8));
    assert!(yes(&t, None, &U8));
}

#[test]
fn omit_requires_absence() {
    for y in ["omit", "absent", "~"] {
        let t = m(y, &U8);
        assert!(yes(&t, None, &U8), "{y}");
        assert!(!yes(&t, Some(&Value::Int(1)), &U8), "{y}");
    }
}

#[test]
fn value_list() {
    let t = m("{one_of: [1, 3, 5]}", &U8);
    assert!(yes(&t, Some(&Value::Int(3)), &U8));
    assert!(!yes(&t, Some(&Value::Int(2)), &U8));
    // A value list may include omit.
    let t = m("{one_of: [1, omit]}", &U8);
    assert!(yes(&t, None, &U8));
}

#[test]
fn complemented_list() {
    let t = m("{not: [0, 255]}", &U8);
    assert!(yes(&t, Some(&Value::Int(7)), &U8));
    assert!(!yes(&t, Some(&Value::Int(255)), &U8));
    // complement of a single value, and an absent field matches a complement without omit.
    let t = m("{not: 0}", &U8);
    assert!(!yes(&t, Some(&Value::Int(0)), &U8));
    assert!(yes(&t, None, &U8));
    let t = m("{not: [omit]}", &U8);
    assert!(!yes(&t, None, &U8));
}

#[test]
fn ranges_inclusive_exclusive_open_and_variable_bounds() {
    let t = m("{range: 60..86400}", &FieldType::U32);
    assert!(yes(&t, Some(&Value::Int(60)), &FieldType::U32));
    assert!(yes(&t, Some(&Value::Int(86400)), &FieldType::U32));
    assert!(!yes(&t, Some(&Value::Int(59)), &FieldType::U32));
    let t = m("{range: \"!0..!10\"}", &U8);
    assert!(!yes(&t, Some(&Value::Int(0)), &U8));
    assert!(yes(&t, Some(&Value::Int(9)), &U8));
    assert!(!yes(&t, Some(&Value::Int(10)), &U8));
    let t = m("{range: \"10..\"}", &U8);
    assert!(yes(&t, Some(&Value::Int(255)), &U8));
    assert!(!yes(&t, Some(&Value::Int(9)), &U8));
    let t = m("{range: [$lo, $hi]}", &FieldType::Ipv4);
    assert!(yes(&t, Some(&ip(150)), &FieldType::Ipv4));
    assert!(!yes(&t, Some(&ip(201)), &FieldType::Ipv4));
    let t = m("{range: 192.0.2.100..192.0.2.200}", &FieldType::Ipv4);
    assert!(yes(&t, Some(&ip(100)), &FieldType::Ipv4));
    assert!(!yes(&t, Some(&ip(99)), &FieldType::Ipv4));
    assert!(bad("{range: 10..1}", &U8).contains("empty range"));
    assert!(bad("{range: a..b}", &FieldType::Str).contains("ordered"));
}

#[test]
fn pattern() {
    let t = m("{pattern: \"^host-[0-9]+$\"}", &FieldType::Str);
    assert!(yes(
        &t,
        Some(&Value::Str("host-12".into())),
        &FieldType::Str
    ));
    assert!(!yes(
        &t,
        Some(&Value::Str("host-x".into())),
        &FieldType::Str
    ));
    // Bytes match as lowercase hex: client-id type 1 followed by six octets.
    let t = m("{pattern: \"^01[0-9a-f]{12}$\"}", &FieldType::Bytes);
    assert!(yes(
        &t,
        Some(&Value::Bytes(vec![1, 2, 3, 4, 5, 6, 7])),
        &FieldType::Bytes
    ));
    assert!(!yes(
        &t,
        Some(&Value::Bytes(vec![0xff, 2, 3, 4, 5, 6, 7])),
        &FieldType::Bytes
    ));
    assert!(bad("{pattern: \"(\"}", &FieldType::Str).contains("regular expression"));
}

#[test]
fn length_restriction_alone_and_combined() {
    let t = m("{length: 7}", &FieldType::Bytes);
    assert!(yes(&t, Some(&Value::Bytes(vec![0; 7])), &FieldType::Bytes));
    assert!(!yes(&t, Some(&Value::Bytes(vec![0; 6])), &FieldType::Bytes));
    let t = m("{length: 2..255, pattern: \"^ff\"}", &FieldType::Bytes);
    assert!(yes(
        &t,
        Some(&Value::Bytes(vec![0xff, 1])),
        &FieldType::Bytes
    ));
    assert!(!yes(&t, Some(&Value::Bytes(vec![0xff])), &FieldType::Bytes));
    assert!(!yes(&t, Some(&Value::Bytes(vec![0, 1])), &FieldType::Bytes));
    let t = m("{length: [1, 3]}", &ints());
    assert!(yes(&t, Some(&list(&[1, 2])), &ints()));
    assert!(!yes(&t, Some(&list(&[])), &ints()));
    assert!(bad("{length: 1}", &U8).contains("does not apply"));
}

#[test]
fn superset_subset_permutation() {
    let t = m("{superset: [1, 3, 6]}", &ints());
    assert!(yes(&t, Some(&list(&[6, 1, 51, 3])), &ints()));
    assert!(!yes(&t, Some(&list(&[1, 3])), &ints()));
    let t = m("{subset: [1, 3, 6, 51]}", &ints());
    assert!(yes(&t, Some(&list(&[51, 1])), &ints()));
    assert!(!yes(&t, Some(&list(&[1, 2])), &ints()));
    // Each element of a subset template is used once.
    assert!(!yes(&t, Some(&list(&[1, 1])), &ints()));
    let t = m("{permutation: [1, 3, 6]}", &ints());
    assert!(yes(&t, Some(&list(&[6, 1, 3])), &ints()));
    assert!(!yes(&t, Some(&list(&[6, 1, 3, 3])), &ints()));
    assert!(!yes(&t, Some(&list(&[6, 1])), &ints()));
    assert!(bad("{superset: [1]}", &U8).contains("list fields"));
}

#[test]
fn ordered_lists_with_any_element_and_any_run_and_embedded_permutation() {
    let t = m("[53, \"?\", \"*\", 255]", &ints());
    assert!(yes(&t, Some(&list(&[53, 54, 255])), &ints()));
    assert!(yes(&t, Some(&list(&[53, 54, 1, 3, 255])), &ints()));
    assert!(!yes(&t, Some(&list(&[53, 255])), &ints()));
    assert!(!yes(&t, Some(&list(&[54, 53, 255])), &ints()));
    let t = m("[53, {permutation: [1, 3]}, \"*\"]", &ints());
    assert!(yes(&t, Some(&list(&[53, 3, 1, 6])), &ints()));
    assert!(!yes(&t, Some(&list(&[53, 3, 6, 1])), &ints()));
}

#[test]
fn ifpresent() {
    let t = m("{ifpresent: 3600}", &FieldType::U32);
    assert!(yes(&t, None, &FieldType::U32));
    assert!(yes(&t, Some(&Value::Int(3600)), &FieldType::U32));
    assert!(!yes(&t, Some(&Value::Int(1)), &FieldType::U32));
    let t = m("{range: 1..10, ifpresent: true}", &FieldType::U32);
    assert!(yes(&t, None, &FieldType::U32));
    assert!(!yes(&t, Some(&Value::Int(11)), &FieldType::U32));
}

#[test]
fn variables_are_resolved_and_coerced_at_match_time() {
    let t = m("$x", &U8);
    assert!(yes(&t, Some(&Value::Int(7)), &U8));
    assert!(!yes(&t, Some(&Value::Int(8)), &U8));
    // An undefined variable never matches (the loader rejects it before a run).
    let t = Matcher::Var("nope".into());
    assert!(!yes(&t, Some(&Value::Int(7)), &U8));
}

#[test]
fn escaped_literals_and_enum_names() {
    let t = m("{value: \"?\"}", &FieldType::Str);
    assert!(yes(&t, Some(&Value::Str("?".into())), &FieldType::Str));
    assert!(!yes(&t, Some(&Value::Str("x".into())), &FieldType::Str));
    static N: &[(&str, i64)] = &[("OFFER", 2), ("ACK", 5)];
    let e = FieldType::Enum {
        names: N,
        min: 0,
        max: 255,
    };
    let t = m("{one_of: [OFFER, ACK]}", &e);
    assert!(yes(&t, Some(&Value::Int(5)), &e));
    assert!(!yes(&t, Some(&Value::Int(6)), &e));
    assert!(bad("10.0.0", &FieldType::Ipv4).contains("IPv4"));
    assert!(bad("300", &U8).contains("out of range"));
}

#[test]
fn descriptions_are_ttcn3_like() {
    let e = env();
    let d = |y: &str, ty: &FieldType| m(y, ty).describe(ty, &e);
    assert_eq!(d("{range: 60..86400}", &FieldType::U32), "(60 .. 86400)");
    assert_eq!(d("{not: [0, 255]}", &U8), "complement(0, 255)");
    assert_eq!(d("{superset: [1, 3]}", &ints()), "superset(1, 3)");
    assert_eq!(d("{length: 1..3}", &FieldType::Bytes), "? length(1 .. 3)");
    assert_eq!(d("$x", &U8), "$x (= 7)");
    assert_eq!(d("{ifpresent: 5}", &U8), "5 ifpresent");
}

// ---- properties ----

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..=255).prop_map(Value::Int),
        any::<[u8; 4]>().prop_map(|b| Value::Ipv4(Ipv4Addr::from(b))),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Value::Bytes),
        "[a-z]{0,8}".prop_map(Value::Str),
        proptest::collection::vec((0i64..=255).prop_map(Value::Int), 0..8).prop_map(Value::List),
    ]
}

fn ty_of(v: &Value) -> FieldType {
    match v {
        Value::Int(_) => U8,
        Value::Ipv4(_) => FieldType::Ipv4,
        Value::Bytes(_) => FieldType::Bytes,
        Value::Str(_) => FieldType::Str,
        Value::List(_) => ints(),
        _ => FieldType::Bytes,
    }
}

/// Templates over small integers, to compare complement against the original.
fn int_template() -> impl Strategy<Value = Matcher> {
    let leaf = prop_oneof![
        (0i64..20).prop_map(|i| Matcher::Value(Value::Int(i))),
        Just(Matcher::Any),
        (0i64..20, 0i64..20).prop_map(|(a, b)| Matcher::Range {
            lo: Some(RangeEnd {
                bound: Bound::Lit(Value::Int(a.min(b))),
                inclusive: true
            }),
            hi: Some(RangeEnd {
                bound: Bound::Lit(Value::Int(a.max(b))),
                inclusive: a % 2 == 0
            }),
        }),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Matcher::OneOf),
            proptest::collection::vec(inner, 1..3).prop_map(Matcher::Complement),
        ]
    })
}

proptest! {
    #[test]
    fn a_value_matches_the_template_made_from_itself(v in value_strategy()) {
        let ty = ty_of(&v);
        let t = Matcher::Value(v.clone());
        prop_assert!(t.matches_field(Some(&v), &ty, &env()));
        // As a list template element by element, too.
        if let Value::List(items) = &v {
            let t = Matcher::List(items.iter().cloned().map(Matcher::Value).collect());
            prop_assert!(t.matches_field(Some(&v), &ty, &env()));
            let t = Matcher::Permutation(items.iter().rev().cloned().map(Matcher::Value).collect());
            prop_assert!(t.matches_field(Some(&v), &ty, &env()));
        }
    }

    #[test]
    fn complement_matches_exactly_what_the_template_does_not(t in int_template(), x in 0i64..25) {
        let c = Matcher::Complement(vec![t.clone()]);
        let v = Value::Int(x);
        prop_assert_eq!(c.matches_value(&v, &U8, &env()), !t.matches_value(&v, &U8, &env()));
    }

    #[test]
    fn superset_and_subset_are_dual(a in proptest::collection::vec(0i64..6, 0..6), b in proptest::collection::vec(0i64..6, 0..6)) {
        // superset(A) matches B  <=>  subset(B) matches A  (multiset inclusion A ⊆ B).
        let sup = Matcher::Superset(a.iter().map(|x| Matcher::Value(Value::Int(*x))).collect());
        let sub = Matcher::Subset(b.iter().map(|x| Matcher::Value(Value::Int(*x))).collect());
        prop_assert_eq!(sup.matches_value(&list(&b), &ints(), &env()), sub.matches_value(&list(&a), &ints(), &env()));
        // And a permutation matches exactly when both hold.
        let perm = Matcher::Permutation(a.iter().map(|x| Matcher::Value(Value::Int(*x))).collect());
        let both = sup.matches_value(&list(&b), &ints(), &env())
            && Matcher::Subset(a.iter().map(|x| Matcher::Value(Value::Int(*x))).collect()).matches_value(&list(&b), &ints(), &env());
        prop_assert_eq!(perm.matches_value(&list(&b), &ints(), &env()), both);
    }
}

/// `Template::matches` decides name literals and variables in place (`matches_in_place`);
/// every verdict equals the generic path's (`explain` empty), for literals and variables
/// equal, unequal, undefined or of another type, other mechanisms, absent fields, and
/// non-string fields, which the view is never asked about.
#[test]
fn in_place_name_matches_agree_with_the_generic_path() {
    use conform_codec::{Datagram, FieldRef};
    use conform_model::node::Pos;
    use conform_model::template::{TField, Template};
    let dns = conform_codec::protocol_by_name("dns").unwrap();
    let mut answer = vec![0x12, 0x34, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
    answer.extend_from_slice(b"\x07Example\x04test\x00\x00\x01\x00\x01");
    answer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    let view = dns.decode(&Datagram {
        payload: answer,
        meta: Default::default(),
    });
    let field = |p: &str| -> FieldRef { dns.resolve(p).unwrap() };
    let s = |x: &str| Value::Str(x.into());
    let mut env = HashMap::new();
    env.insert("zone".to_string(), s("Example.test."));
    env.insert("lower".to_string(), s("example.test."));
    env.insert("n".to_string(), Value::Int(1));
    let matchers = [
        Matcher::Value(s("Example.test.")),
        Matcher::Value(s("example.test.")),
        Matcher::Value(s("Example.test")),
        Matcher::Value(Value::Int(1)),
        Matcher::Var("zone".into()),
        Matcher::Var("lower".into()),
        Matcher::Var("undefined".into()),
        Matcher::Var("n".into()),
        Matcher::OneOf(vec![Matcher::Value(s("x.")), Matcher::Var("zone".into())]),
        Matcher::Any,
        Matcher::Omit,
    ];
    let mut decided = 0;
    for path in [
        "question.name",
        "answer.0.name",
        "answer.1.name",
        "answer.0.type",
    ] {
        for mt in &matchers {
            let f = field(path);
            let t = Template {
                name: "t".into(),
                fields: vec![TField {
                    field: f.clone(),
                    matcher: mt.clone(),
                    pos: Pos::default(),
                }],
            };
            let generic = t.explain(view.as_ref(), &env).is_empty();
            assert_eq!(t.matches(view.as_ref(), &env), generic, "{path} {mt:?}");
            if let Some(b) = mt.matches_in_place(view.as_ref(), &f, &env) {
                assert_eq!(b, generic, "{path} {mt:?}");
                decided += 1;
                assert_eq!(
                    f.ty,
                    FieldType::Str,
                    "only string fields are decided in place"
                );
            }
        }
    }
    // Decided in place: the three string literals on each name path (absent: false), and the
    // equal variable on the two present names; an unequal variable, an integer literal and
    // everything on `answer.0.type` went the generic way.
    assert_eq!(decided, 3 * 3 + 2, "{decided}");
}
