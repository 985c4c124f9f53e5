//! TTCN-3 verdicts: none < pass < inconc < fail < error, and they only get worse.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A test verdict. The derive order is the severity order.
///
/// `Error` is reserved for harness faults (adapter failure, missing privilege, undefined
/// variable at run time); a suite can never set it, and the server's behaviour never causes it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    #[default]
    None,
    Pass,
    Inconc,
    Fail,
    Error,
}

impl Verdict {
    /// The TTCN-3 overwriting rule: the result is the worse of the two.
    #[must_use]
    pub fn worsen(self, other: Verdict) -> Verdict {
        self.max(other)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::None => "none",
            Verdict::Pass => "pass",
            Verdict::Inconc => "inconc",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }

    /// Parses a verdict a suite may set (`error` is refused).
    pub fn parse_settable(s: &str) -> Option<Verdict> {
        match s {
            "none" => Some(Verdict::None),
            "pass" => Some(Verdict::Pass),
            "inconc" => Some(Verdict::Inconc),
            "fail" => Some(Verdict::Fail),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_verdict() -> impl Strategy<Value = Verdict> {
        prop_oneof![
            Just(Verdict::None),
            Just(Verdict::Pass),
            Just(Verdict::Inconc),
            Just(Verdict::Fail),
            Just(Verdict::Error)
        ]
    }

    #[test]
    fn order_is_ttcn3() {
        assert!(Verdict::None < Verdict::Pass);
        assert!(Verdict::Pass < Verdict::Inconc);
        assert!(Verdict::Inconc < Verdict::Fail);
        assert!(Verdict::Fail < Verdict::Error);
        assert_eq!(Verdict::Fail.worsen(Verdict::Pass), Verdict::Fail);
        assert_eq!(Verdict::parse_settable("error"), None);
    }

    proptest! {
        #[test]
        fn verdicts_never_improve(seq in proptest::collection::vec(any_verdict(), 0..20)) {
            let mut v = Verdict::None;
            for x in seq {
                let before = v;
                v = v.worsen(x);
                prop_assert!(v >= before);
                prop_assert!(v >= x);
            }
        }
    }
}
