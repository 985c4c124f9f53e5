//! DNS: the lenient wire reader ([`wire`]), the field catalogue ([`catalogue`]), the matchable
//! view of received messages ([`view`]), the query encoder ([`encode`]) and the
//! [`Protocol`](crate::protocol::Protocol) implementation [`Dns`].
//!
//! # Field paths
//!
//! Types in parentheses; "enum" fields accept names or numbers in templates and show names in
//! reports. A field is absent when the message does not contain it (no header: every header
//! field is absent; no OPT: every `edns.*` field but `edns.present`/`edns.count` is absent).
//!
//! **Header** (RFC 1035 §4.1.1): `id` (integer; see *Identifiers* below), `qr`, `aa`, `tc`,
//! `rd`, `ra`, `z` (the reserved bit, 0x40 of byte 3), `ad`, `cd` (booleans), `opcode` (enum
//! QUERY IQUERY STATUS NOTIFY UPDATE DSO, 0..15), `rcode` (enum, the 4 header bits),
//! `ext_rcode` (enum, the 12-bit extended RCODE: header bits plus the first OPT's upper 8 bits,
//! so `BADVERS` is 16), `flags` (u16, the whole second header word), `qdcount`, `ancount`,
//! `nscount`, `arcount` (u16, as sent, whatever the data holds).
//!
//! **Question** (the first entry): `question.name` (string, presentation form with a final
//! dot, case as sent, `\DDD` escapes), `question.type` (enum of RR types, genreport's names,
//! 0..65535), `question.class` (enum IN CH HS NONE ANY), `question.name_raw` (bytes, the
//! name's in-place wire bytes), `question.count` (entries actually read).
//!
//! **Sections** `answer`, `authority`, `additional` (OPT records are never listed here, they
//! are under `edns`): `<s>.count` (records read), list-valued `<s>.names`, `<s>.types` (enum),
//! `<s>.classes` (enum), `<s>.ttls`, `<s>.rdata`, and per record `<s>.<i>.name`, `.type`,
//! `.class`, `.ttl`, `.rdata`, `.rdlength`, `.rdata_raw` (bytes). RDATA text: A/AAAA address,
//! NS/CNAME/PTR/DNAME name, MX `pref name`, SOA `mname rname serial refresh retry expire
//! minimum`, TXT/SPF quoted strings, SRV `prio weight port target`, everything else (and a
//! known type whose RDATA does not parse) RFC 3597 `\# len hex`.
//!
//! **EDNS** (RFC 6891), from the first OPT record wherever it is: `edns.present` (bool, never
//! absent when there is a header), `edns.count` (number of OPT records anywhere), `edns.version`
//! (u8), `edns.do` (bool), `edns.flags` (u16, all 16 flag bits), `edns.z` (u16, the flags
//! without DO), `edns.payload` (u16, the CLASS as sent, not clamped to 512), `edns.ext_rcode`
//! (u8, upper RCODE bits), `edns.options` (list of option codes, enum NSID ECS EXPIRE COOKIE
//! ...), `edns.option.<name|code>` (bytes of the first option with that code) and
//! `edns.option.<name|code>.len` (its length field as sent), `edns.section` (enum ANSWER
//! AUTHORITY ADDITIONAL), `edns.owner` (string), `edns.rdlength`.
//!
//! **Message facts**: `trailing` (bytes after the last counted record; absent when reading
//! stopped early), `malformed` (string, the first problem the lenient reader found with its
//! offset: a short header, a name or record running past the end, a bad compression pointer,
//! an extended label type, an RDATA overrun, an EDNS option overrunning the OPT RDATA, a known
//! type's RDATA that does not parse; absent when well-formed; trailing bytes and extra OPT
//! records are *not* malformations here, see `trailing` and `edns.count`), `size` (payload
//! length).
//!
//! **Lower layers** from `Datagram::meta`: `transport` (`udp` or `tcp`), `tcp.connection`
//! (integer key of the TCP connection), `tcp.closed` (true on the empty pseudo-message the TCP
//! adapter delivers when the server closed a connection), `ip.src`, `ip.dst`, `udp.src`,
//! `udp.dst` (ports, for TCP too).
//!
//! # Sending
//!
//! Every header and question field above can be set; unset ones take the defaults of
//! [`encode`] (id 0, QUERY, all flags clear, no question, no OPT). Any `edns.*` field adds an
//! OPT (version 0, payload 1232); `edns.present: false` or `edns: omit` removes it.
//! `edns.options: [100]` adds empty options; `edns.option.cookie: 0x0102030405060708` adds one
//! with data (options in template order). Malformations: `z`, `qdcount`..`arcount` (lying
//! counts), `edns.payload` below 512, `edns.ext_rcode`, `edns.count: 2` (the OPT repeated at
//! the end), `edns.section: ANSWER|AUTHORITY`, `edns.owner`, `edns.rdlength`,
//! `edns.option.<x>.len`, `question.name` with labels over 63 octets (written as asked),
//! `question.name_raw` (the question's name bytes verbatim: `0xc00c` is a pointer to itself),
//! `trailing`, `patch` (list of `"OFFSET=HEX"` overwrites, applied after everything else;
//! the message grows if needed), `size` (cut or zero-pad to this length), `raw` (the whole
//! message; `id`, `trailing`, `patch` and `size` still apply). `transport: tcp` sends over TCP
//! (also implied by any `tcp.*` field), `tcp.connection: N` picks a connection (queries with
//! the same key share one, pipelined; by default each query id gets its own), `tcp.framing:
//! false` writes the payload without the two-byte length (so a template can write any prefix
//! itself), `tcp.close: true` half-closes the connection after writing. `ip.dst`/`udp.dst`
//! override the adapter's server address.
//!
//! # Identifiers
//!
//! DNS ids are 16 bits and a component's `$xid` is 32. On send, `id` accepts 0..2^32-1 and the
//! low 16 bits are sent, so `id: $xid` works in send templates. A receive template cannot
//! compare a 16-bit id against the 32-bit `$xid` (the matcher compares values as they are), so
//! the DNS suites give each case its own literal id (template parameter `qid`), unique across
//! `suites/dns`; a runner-provided `$id = $xid & 0xffff` would replace them (see
//! docs/conformance/dns.md).

pub mod catalogue;
pub mod encode;
mod proto;
pub mod view;
pub mod wire;

pub use proto::Dns;
pub use view::DnsView;
