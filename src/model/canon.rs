//! The canonical byte encoding of an action and its content hash: a fixed format, so a
//! hash computed by any version of halo-billing (any compiler, any hashing crate) means
//! the same thing. Stores record which encoding their `content_hash` column holds
//! ([`HASH_SCHEME`]); a store of another scheme is recomputed once at the next write.
//!
//! Encoding, scheme v2 (all integers big-endian):
//!
//! ```text
//! "halo-billing action v2\n"
//! then, for every field of the field table (`for_each_action_field!`), in its order,
//! the value:  absent           b'n'
//!             integer          b'i' + i64 (ids, dates as UTC nanoseconds, hours in ms,
//!                                        cents, mileage in 1/10,000)
//!             text             b's' + u32 byte length + UTF-8 bytes
//!             flag             b'b' + 0 or 1
//! ```
//!
//! The content hash is the first 8 bytes of the SHA-256 of that encoding, read as a
//! big-endian `i64`. The fields are known by their place in the table (61 fields, `id`
//! first, `actioncompletiondate` last), so a field added, removed or moved is a new
//! scheme (the pinned hashes below then change).
//!
//! Scheme v1 (`sha256-canonical-v1`) put each field's name (a length byte and its
//! bytes) before its value: 832 bytes of names in every encoding, two thirds of what
//! an import hashed. Stores of v1 are rehashed to v2 by their next writer.

use sha2::{Digest, Sha256};

/// The encoding and hash the `content_hash` column holds, as named in the manifest.
pub const HASH_SCHEME: &str = "sha256-canonical-v2";

/// The first bytes of every encoding.
pub const HEADER: &[u8] = b"halo-billing action v2\n";

/// A field value's canonical bytes.
pub trait Canonical {
    /// Appends the value's encoding.
    fn encode(&self, out: &mut Vec<u8>);
}

impl Canonical for i64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'i');
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Canonical for Option<i64> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(b'n'),
            Some(v) => v.encode(out),
        }
    }
}

fn encode_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.push(b'n'),
        Some(s) => {
            out.push(b's');
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

impl Canonical for Option<String> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_text(out, self.as_deref());
    }
}

impl Canonical for Option<std::borrow::Cow<'_, str>> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_text(out, self.as_deref());
    }
}

impl Canonical for Option<bool> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(b'n'),
            Some(b) => out.extend_from_slice(&[b'b', u8::from(*b)]),
        }
    }
}

/// The content hash of an encoding.
pub fn hash(encoding: &[u8]) -> i64 {
    let d = Sha256::digest(encoding);
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use crate::model::{Action, RawAction};

    fn action(json: &str) -> Action {
        let raw: RawAction = serde_json::from_str(json).unwrap();
        Action::from_raw(&raw, None).unwrap()
    }

    /// Pinned: a change to the encoding, the field table or the hash changes these, and
    /// then stores must be migrated (a new `HASH_SCHEME`), never silently misread.
    #[test]
    fn content_hashes_of_fixture_actions_are_pinned() {
        let a = action(r#"{"id":1,"ticket_id":2}"#);
        let b = action(
            r#"{"id":3,"ticket_id":10,"timetaken":0.3333333333333333,"actionchargeamount":41.666666666666664,
                "action_contract_id":9,"action_contract_ref":"C-9","actioninvoicenumber":"INV-1",
                "datetime":"2026-10-01T10:00:00Z","actisbillable":true,"note":"Fixed the printer ✓"}"#,
        );
        let c = action(r#"{"id":3,"ticket_id":10,"actisbillable":false}"#);
        let got = [a.content_hash(), b.content_hash(), c.content_hash()];
        assert_eq!(got, PINNED, "{got:?}");
        assert!(a.canonical_bytes().starts_with(super::HEADER));
    }

    /// Scheme v2. The first and third were also computed by a separate Python script
    /// written from the encoding as documented above (not from this code), and agree.
    const PINNED: [i64; 3] = [
        -4_038_660_876_073_089_224,
        3_203_872_386_883_448_942,
        -7_171_312_037_322_235_710,
    ];
}
