//! Connection settings for a Halo tenant, from environment variables and an optional
//! TOML file, each remembering where it came from so that `--help` and errors can say so
//! without ever showing the secret.
//!
//! | setting | environment | file key | default |
//! |---|---|---|---|
//! | tenant base URL | `HALO_URL` | `url` | (required) |
//! | token endpoint base | `HALO_AUTH_URL` | `auth_url` | `{url}/auth` |
//! | tenant name (hosted) | `HALO_TENANT` | `tenant` | none |
//! | client id | `HALO_CLIENT_ID` | `client_id` | (required) |
//! | client secret | `HALO_CLIENT_SECRET` | `client_secret` | (required) |
//! | scope | `HALO_SCOPE` | `scope` | `all` |
//!
//! Environment wins over the file. The file is `--config FILE`, else `$HALO_CONFIG`,
//! else `$XDG_CONFIG_HOME/halo-billing/config.toml` (`~/.config/halo-billing/config.toml`)
//! when it exists.

use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An environment variable.
    Env(&'static str),
    /// A key of the config file.
    File(PathBuf, &'static str),
    /// Built in.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env(v) => write!(f, "environment variable {v}"),
            Source::File(p, k) => write!(f, "`{k}` in {}", p.display()),
            Source::Default => write!(f, "the default"),
        }
    }
}

/// A value and where it came from.
#[derive(Clone)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub source: Source,
}

/// The client secret. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: String) -> Secret {
        Secret(s)
    }

    /// The secret itself, for the token request body only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Settings could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Required settings are missing everywhere (all of them named at once).
    #[error("{} not set: {} (config file: {file})", if .missing.len() == 1 { "a required setting is" } else { "required settings are" }, .missing.iter().map(|(what, env, key)| format!("{what}: set {env}, or `{key}` in the config file")).collect::<Vec<_>>().join("; "))]
    Missing {
        /// What is missing: description, environment variable, file key.
        missing: Vec<(&'static str, &'static str, &'static str)>,
        /// Which file was (or would be) read.
        file: String,
    },
    /// The config file could not be read or parsed.
    #[error("config file `{path}`: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong (never its content).
        reason: String,
    },
    /// A URL is unusable.
    #[error("{what} `{url}` (from {origin}): {reason}")]
    Url {
        /// Which setting.
        what: &'static str,
        /// The URL (URLs carry no secrets).
        url: String,
        /// Where it came from.
        origin: Source,
        /// Why.
        reason: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    url: Option<String>,
    auth_url: Option<String>,
    tenant: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// Everything needed to talk to one tenant.
#[derive(Clone)]
pub struct HaloConfig {
    /// Base of the API: `{url}/api`.
    pub url: Setting<String>,
    /// Base of the token endpoint: `{auth_url}/token`.
    pub auth_url: Setting<String>,
    /// Hosted tenant name, sent as `?tenant=`.
    pub tenant: Option<Setting<String>>,
    /// OAuth client id.
    pub client_id: Setting<String>,
    /// OAuth client secret.
    pub client_secret: Setting<Secret>,
    /// OAuth scope.
    pub scope: Setting<String>,
}

impl fmt::Debug for HaloConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HaloConfig")
            .field("url", &self.url.value)
            .field("auth_url", &self.auth_url.value)
            .field("client_id", &self.client_id.value)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// The config file used when none is named: `$HALO_CONFIG`, else the platform's config
/// folder.
pub fn default_config_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HALO_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let base = crate::fsutil::xdg_dir("XDG_CONFIG_HOME", ".config")?;
    Some(base.join("halo-billing").join("config.toml"))
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h == "::1"
        || h.parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `url` with anything between `://` and an `@` of its authority (a user name and
/// password) replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Checks a base URL: https anywhere, plain http only on loopback. Returns it without a
/// trailing slash.
pub fn check_url(what: &'static str, s: &Setting<String>) -> Result<String, ConfigError> {
    let err = |reason: &str| ConfigError::Url {
        what,
        url: redact_url(&s.value),
        origin: s.source.clone(),
        reason: reason.into(),
    };
    let url = s.value.trim().trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| err("not a URL (expected https://TENANT.halopsa.com)"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(err(
            "carries a user name or password before `@`, which would be sent and shown with every request; \
             give the credentials as HALO_CLIENT_ID and HALO_CLIENT_SECRET instead",
        ));
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => authority,
    };
    if host.is_empty() {
        return Err(err("has no host"));
    }
    match scheme {
        "https" => Ok(url.to_string()),
        "http" if is_loopback(host) => Ok(url.to_string()),
        "http" => Err(err(
            "plain http is accepted only for loopback addresses (127.0.0.1, ::1, localhost); use https",
        )),
        _ => Err(err("must start with https://")),
    }
}

/// A config file holding the secret must be readable by its owner alone, as ssh wants
/// of a private key: one that other users can read is refused, with the fix.
#[cfg(unix)]
fn private_enough(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| ConfigError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(ConfigError::File {
            path: path.to_path_buf(),
            reason: format!(
                "it holds the client secret and other users can read or change it (mode {:04o}); run `chmod 600 {}`",
                mode & 0o7777,
                path.display()
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_enough(_: &Path) -> Result<(), ConfigError> {
    Ok(())
}

impl HaloConfig {
    /// Assembles the settings: environment first, then `file` (if it exists; a named
    /// file that does not exist is an error).
    pub fn load(file: Option<&Path>, file_named: bool) -> Result<HaloConfig, ConfigError> {
        let (fs, fpath) = match file {
            Some(p) if p.exists() || file_named => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::File {
                    path: p.to_path_buf(),
                    reason: e.to_string(),
                })?;
                let fs: FileSettings = toml::from_str(&text).map_err(|e| ConfigError::File {
                    path: p.to_path_buf(),
                    // toml's message quotes the offending line, which could be the secret.
                    reason: format!("not valid settings: {}", e.message()),
                })?;
                if fs.client_secret.is_some() {
                    private_enough(p)?;
                }
                (fs, Some(p.to_path_buf()))
            }
            _ => (FileSettings::default(), None),
        };
        let file_label = fpath
            .as_deref()
            .or(file)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "none found".into());
        let pick = |env: &'static str,
                    key: &'static str,
                    from_file: &Option<String>|
         -> Option<Setting<String>> {
            if let Ok(v) = std::env::var(env)
                && !v.is_empty()
            {
                return Some(Setting {
                    value: v,
                    source: Source::Env(env),
                });
            }
            match (from_file, &fpath) {
                (Some(v), Some(p)) if !v.is_empty() => Some(Setting {
                    value: v.clone(),
                    source: Source::File(p.clone(), key),
                }),
                _ => None,
            }
        };
        let url = pick("HALO_URL", "url", &fs.url);
        let client_id = pick("HALO_CLIENT_ID", "client_id", &fs.client_id);
        let secret = pick("HALO_CLIENT_SECRET", "client_secret", &fs.client_secret);
        let mut missing = Vec::new();
        if url.is_none() {
            missing.push(("the tenant URL", "HALO_URL", "url"));
        }
        if client_id.is_none() {
            missing.push(("the client id", "HALO_CLIENT_ID", "client_id"));
        }
        if secret.is_none() {
            missing.push(("the client secret", "HALO_CLIENT_SECRET", "client_secret"));
        }
        let (Some(url), Some(client_id), Some(secret)) = (url, client_id, secret) else {
            return Err(ConfigError::Missing {
                missing,
                file: file_label,
            });
        };
        let url = Setting {
            value: check_url("HALO_URL", &url)?,
            source: url.source,
        };
        let auth_url = match pick("HALO_AUTH_URL", "auth_url", &fs.auth_url) {
            Some(a) => Setting {
                value: check_url("HALO_AUTH_URL", &a)?,
                source: a.source,
            },
            None => Setting {
                value: format!("{}/auth", url.value),
                source: Source::Default,
            },
        };
        let scope = pick("HALO_SCOPE", "scope", &fs.scope).unwrap_or(Setting {
            value: "all".into(),
            source: Source::Default,
        });
        Ok(HaloConfig {
            url,
            auth_url,
            tenant: pick("HALO_TENANT", "tenant", &fs.tenant),
            client_id,
            client_secret: Setting {
                value: Secret(secret.value),
                source: secret.source,
            },
            scope,
        })
    }

    /// One line per setting: where it came from, never the secret's value.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "tenant URL {} (from {}); token endpoint {}/token (from {}); client id from {}; client secret from {}; scope `{}` (from {})",
            self.url.value,
            self.url.source,
            self.auth_url.value,
            self.auth_url.source,
            self.client_id.source,
            self.client_secret.source,
            self.scope.value,
            self.scope.source
        );
        if let Some(t) = &self.tenant {
            s.push_str(&format!("; tenant `{}` (from {})", t.value, t.source));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Setting<String> {
        Setting {
            value: v.into(),
            source: Source::Default,
        }
    }

    #[test]
    fn http_only_on_loopback() {
        assert_eq!(
            check_url("u", &s("https://acme.halopsa.com/")).unwrap(),
            "https://acme.halopsa.com"
        );
        assert!(check_url("u", &s("http://127.0.0.1:8080")).is_ok());
        assert!(check_url("u", &s("http://[::1]:8080")).is_ok());
        assert!(check_url("u", &s("http://localhost:9")).is_ok());
        let e = check_url("u", &s("http://acme.halopsa.com"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("only for loopback"), "{e}");
        assert!(check_url("u", &s("acme.halopsa.com")).is_err());
        assert!(check_url("u", &s("ftp://127.0.0.1")).is_err());
    }

    #[test]
    fn secret_is_never_formatted() {
        let sec = Secret("hunter2".into());
        assert!(!format!("{sec:?}").contains("hunter2"));
    }
}
