//! conform-model: the suite language.
//!
//! Suites are YAML files read into a spanned node tree (`node`), validated and compiled by hand
//! (`load`) so every problem in a file is reported at once with file:line:column (`diag`).
//! Templates compile into (field path, matcher) pairs (`template`, `matcher`) against a
//! protocol's field catalogue from conform-codec. `verdict` and `event` are the pure data the
//! runner produces and the reports consume.
#![deny(unsafe_code)]

pub mod diag;
pub mod event;
pub mod load;
pub mod matcher;
pub mod node;
pub mod schema;
pub mod suite;
pub mod template;
pub mod verdict;

pub use diag::Diagnostic;
pub use matcher::{Env, Matcher};
pub use template::{Mismatch, TField, Template};
pub use verdict::Verdict;
