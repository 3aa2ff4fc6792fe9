//! A fold's state as a partition file's footer holds it: the state reached over all of
//! the file's rows, and how many rows that was (a summary made over another row count
//! than the file's is refused).

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A fold's state and the rows folded.
#[derive(Serialize, Deserialize)]
struct Summary<T> {
    rows: u64,
    state: T,
}

/// The footer entry `key` for a fold `state` reached over `rows` rows.
pub fn encode<T: Serialize>(key: &str, rows: usize, state: &T) -> (String, String) {
    let json = serde_json::to_string(&Summary {
        rows: rows as u64,
        state,
    })
    .expect("a fold state of integers and strings");
    (key.to_string(), json)
}

/// The state of the footer entry `key` (its text `json`) for a file of `rows` rows; the
/// reason it cannot be used otherwise (said of the file by the caller).
pub fn decode<T: DeserializeOwned>(key: &str, json: &str, rows: u64) -> Result<T, String> {
    let s: Summary<T> =
        serde_json::from_str(json).map_err(|e| format!("(`{key}`) cannot be read: {e}"))?;
    if s.rows != rows {
        return Err(format!(
            "(`{key}`) were made over {} rows but the file holds {rows} rows",
            s.rows
        ));
    }
    Ok(s.state)
}
