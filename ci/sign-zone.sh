#!/bin/sh
# Regenerates the DNSSEC-signed lab zones from their sources and the committed TEST keys:
#
#   profiles/zones/signed.test.zone   -> profiles/zones/signed.test.zone.signed   (NSEC)
#   profiles/zones/signed3.test.zone  -> profiles/zones/signed3.test.zone.signed  (NSEC3)
#
# and rewrites the inline copies in the DNS profiles that serve them (the `signed.test.zone: |`
# and `signed3.test.zone: |` blocks of profiles/{nsd,knot,bind9,pdns,unbound}.yaml), since
# profiles embed their files (docs/profiles.md).
#
# Why signing happens here and not at lab start: the lab then needs no signer, every server
# serves byte-identical RRSIGs, and a run never depends on the clock of the day it signed.
# Validity is fixed (inception 2026-01-01, expiration 2046-01-01) so CI does not hit expiry.
# RSA/SHA-256 (PKCS#1 v1.5) signatures are deterministic, so a rerun with the same keys and
# sources gives the same files; `git diff --exit-code profiles/` after running it checks that.
#
# Needs dnssec-signzone and dnssec-dsfromkey (Debian: bind9-utils, see ci/install-dns-servers.sh).
# The keys in profiles/zones/keys/ are TEST KEYS, published on purpose: never use them for a
# real zone.
set -eu
cd "$(dirname "$0")/.."
Z=profiles/zones
K=$Z/keys
INCEPTION=20260101000000
EXPIRATION=20460101000000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# sign ZONE KSK ZSK [extra dnssec-signzone args...]: ZONE's source plus both DNSKEYs (and, for
# signed.test, the DS of the signed delegation secure.signed.test, from its committed child
# KSK) -> $Z/ZONE.zone.signed. Comments (one holds the signing time) are dropped, runs of
# blanks become one space (the sources have no quoted strings with repeated blanks, so no data
# changes), and the records are sorted after the SOA: dnssec-signzone's output order varies
# from run to run, the records themselves do not.
sign() {
    zone=$1 ksk=$2 zsk=$3
    shift 3
    {
        grep -v '^;' "$Z/$zone.zone"
        grep -hv '^;' "$K/$ksk.key" "$K/$zsk.key"
        if [ "$zone" = signed.test ]; then
            dnssec-dsfromkey -2 "$K/Ksecure.signed.test.+008+26564.key"
        fi
    } > "$tmp/$zone.in"
    dnssec-signzone -q -d "$tmp" -o "$zone." -N keep -s "$INCEPTION" -e "$EXPIRATION" -x -O full \
        -K "$K" -f "$tmp/$zone.out" -k "$ksk" "$@" "$tmp/$zone.in" "$zsk" >/dev/null
    {
        echo "; $zone, signed by ci/sign-zone.sh from profiles/zones/$zone.zone with the TEST"
        echo "; keys in profiles/zones/keys/ (never use them for a real zone). Do not edit."
        grep -v '^;' "$tmp/$zone.out" | sed -E 's/[[:space:]]+/ /g; s/ $//' > "$tmp/$zone.flat"
        grep ' IN SOA ' "$tmp/$zone.flat"
        grep -v ' IN SOA ' "$tmp/$zone.flat" | LC_ALL=C sort
    } > "$Z/$zone.zone.signed"
}

sign signed.test 'Ksigned.test.+008+23704' 'Ksigned.test.+008+33016'
# NSEC3 as RFC 9276 §3.1 recommends: no salt (-3 -), no extra iterations (-H 0), no opt-out.
sign signed3.test 'Ksigned3.test.+008+12346' 'Ksigned3.test.+008+02571' -3 - -H 0

# Inline copies: replace each `  <zone>.zone: |` block (up to the next key at two spaces of
# indent, or a top-level key) with the signed file, indented by four spaces.
for p in nsd knot bind9 pdns unbound; do
    f=profiles/$p.yaml
    for zone in signed.test signed3.test; do
        awk -v key="  $zone.zone: |" -v src="$Z/$zone.zone.signed" '
            $0 == key { print; while ((getline l < src) > 0) print "    " l; close(src); skip = 1; next }
            skip && /^(  )?[^ ]/ { skip = 0 }
            !skip { print }
        ' "$f" > "$tmp/p.yaml"
        cat "$tmp/p.yaml" > "$f"
    done
done
echo "signed: $Z/signed.test.zone.signed $Z/signed3.test.zone.signed (profiles updated)"
