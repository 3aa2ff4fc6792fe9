//! What a store remembers about how it is reported: its reporting time zone
//! (`STORE/settings.json`). Set explicitly (`halo-billing timezone ZONE`) or by the
//! store's first close; `report`, `query`, `close`, `export`, `jobs` and the demo read
//! periods in it unless told otherwise, so that a month means the same instants in
//! every command, and a close is never cut by a report asked for in another zone.

use super::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// The settings file in the store folder.
pub const SETTINGS_FILE: &str = "settings.json";

/// The store's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The reporting time zone (IANA name), if one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// How and when it was set (`timezone Europe/London at 2026-12-06T10:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone_set: Option<String>,
}

impl Settings {
    /// The settings of the store folder `root` (the defaults when none were written).
    pub fn read(root: &std::path::Path) -> Result<Settings, StoreError> {
        let path = root.join(SETTINGS_FILE);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| StoreError::Manifest {
                path,
                reason: format!("the store's settings are damaged: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(StoreError::Io {
                action: "cannot read",
                path,
                source,
            }),
        }
    }
}

impl Store {
    /// The store's settings (the defaults when none were written).
    pub fn settings(&self) -> Result<Settings, StoreError> {
        Settings::read(&self.root)
    }

    /// The store's reporting time zone, if set.
    pub fn timezone(&self) -> Result<Option<String>, StoreError> {
        Ok(self.settings()?.timezone)
    }

    /// Sets the store's reporting time zone (`how` says by what, for `status`). The
    /// caller holds the lock and has checked `zone`.
    pub fn set_timezone(&self, zone: &str, how: &str) -> Result<(), StoreError> {
        let mut s = self.settings()?;
        s.timezone = Some(zone.to_string());
        s.timezone_set = Some(format!(
            "{how} at {}",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
        let path = self.root.join(SETTINGS_FILE);
        crate::fsutil::write_atomic(&path, |w| {
            serde_json::to_writer_pretty(&mut *w, &s)?;
            std::io::Write::write_all(w, b"\n")
        })
        .map_err(|source| StoreError::Io {
            action: "cannot write",
            path,
            source,
        })
    }
}
