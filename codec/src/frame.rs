//! Ethernet / IPv4 / UDP framing (placeholder: being replaced).
