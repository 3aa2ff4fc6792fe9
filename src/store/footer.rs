//! How the store keeps its own values (report summaries, the contract index) in a
//! partition file's Parquet footer: zstd-compressed and base64-encoded behind the
//! prefix [`PACKED`], since a key-value value must be UTF-8 text. Every reader of a file
//! parses its whole footer (polars reads the key-value pairs with the row groups), and
//! the summaries are JSON lists of integers: packed they are about a third of the size,
//! which every report pays for once per file. A value without the prefix (files
//! written before packing) is read as it is.

use base64::Engine as _;
use std::io::Read;

/// The prefix of a packed value; JSON never starts with it.
const PACKED: &str = "zstd+base64:";

/// The most a packed value may unpack to: a file's summaries are a few hundred KB, so
/// anything near this is damage, not data.
const MAX_UNPACKED: u64 = 256 << 20;

/// `value` packed for the footer.
pub fn pack(value: &str) -> String {
    let squeezed = zstd::bulk::compress(value.as_bytes(), 0).expect("zstd compresses any bytes");
    let mut out = String::with_capacity(PACKED.len() + squeezed.len() * 4 / 3 + 4);
    out.push_str(PACKED);
    base64::engine::general_purpose::STANDARD.encode_string(&squeezed, &mut out);
    out
}

/// A footer value as it was before [`pack`]; a value without the prefix as it is.
/// Why not, when a packed value does not unpack to UTF-8 text.
pub fn unpack(value: String) -> Result<String, String> {
    let Some(b64) = value.strip_prefix(PACKED) else {
        return Ok(value);
    };
    let squeezed = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("is not base64: {e}"))?;
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(&squeezed[..])
        .and_then(|d| d.take(MAX_UNPACKED + 1).read_to_end(&mut out))
        .map_err(|e| format!("does not decompress: {e}"))?;
    if out.len() as u64 > MAX_UNPACKED {
        return Err(format!("unpacks to more than {MAX_UNPACKED} bytes"));
    }
    String::from_utf8(out).map_err(|e| format!("does not unpack to text: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_value_unpacks_to_itself_and_a_plain_one_is_read_as_it_is() {
        // Like a summary: contract, reference, count, sums.
        let entries: Vec<(i64, String, i64, [i64; 2])> = (100..600)
            .map(|i| (i, format!("C-{i}-MSP"), i % 37, [i * 3_600_000, i * 1_234]))
            .collect();
        let json = serde_json::to_string(&entries).unwrap();
        let packed = pack(&json);
        assert!(packed.starts_with(PACKED));
        assert!(
            packed.len() * 2 < json.len(),
            "{} -> {}",
            json.len(),
            packed.len()
        );
        assert_eq!(unpack(packed).unwrap(), json);
        assert_eq!(unpack(json.clone()).unwrap(), json);
        assert_eq!(unpack(String::new()).unwrap(), "");
    }

    #[test]
    fn a_damaged_packed_value_is_an_error_saying_why() {
        let e = unpack(format!("{PACKED}not base64!")).unwrap_err();
        assert!(e.contains("is not base64"), "{e}");
        let e = unpack(format!("{PACKED}AAAA")).unwrap_err();
        assert!(e.contains("does not decompress"), "{e}");
        let mut packed = pack("[1,2,3,4,5,6,7,8,9,10,11,12]");
        packed.truncate(packed.len() - 8);
        assert!(unpack(packed).is_err());
    }
}
