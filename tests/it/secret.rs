//! The secret stays secret: never shown, never saved, never sent anywhere but the token
//! endpoint named, never read from a file other users can read.

use crate::common;
use common::*;
use std::os::unix::fs::PermissionsExt;

const SECRET: &str = "Xk9-s3cret+value/7731";
const DATA: [&str; 8] = [
    "--actions",
    "500",
    "--seed",
    "3",
    "--from",
    "2026-10",
    "--to",
    "2026-10",
];

fn with_sim(sim: &Sim) -> Vec<(&'static str, String)> {
    vec![
        ("HALO_URL", sim.url.clone()),
        ("HALO_CLIENT_ID", "demo".into()),
        ("HALO_CLIENT_SECRET", SECRET.into()),
    ]
}

fn run(env: &Env, args: &[&str], vars: &[(&'static str, String)]) -> Run {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.run_with_env(args, &vars)
}

/// Every file under `dir`, with its content.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p, b));
            }
        }
    }
    out
}

fn shows_secret(text: &str) -> bool {
    let encoded = SECRET.replace('+', "%2B").replace('/', "%2F");
    text.contains(SECRET) || text.contains(&encoded) || text.contains("s3cret")
}

#[test]
fn a_token_endpoint_that_echoes_the_request_never_gets_the_secret_shown_or_saved() {
    let env = Env::new();
    let sim = Sim::start_with(&DATA, &["--client-secret", SECRET, "--token-fault", "echo"]);
    let vars = with_sim(&sim);
    let r = run(&env, &["sync", "--period", "2026-10"], &vars);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("authentication failed"), "{}", r.stderr);
    assert!(
        r.stderr.contains("[secret]"),
        "the echo is shown, scrubbed: {}",
        r.stderr
    );
    assert!(
        !shows_secret(&r.stderr) && !shows_secret(&r.stdout),
        "{}",
        r.stderr
    );
    // Under a job, nothing the run manifest quotes holds it either; the manifest is 0600.
    env.write(
        "jobs.toml",
        "[[job]]\nname = \"n\"\nperiod = \"2026-10\"\nsync = true\nreports = [\"contracts\"]\n",
    );
    let r = run(
        &env,
        &["jobs", "run", "--all", "--jobs", "jobs.toml"],
        &vars,
    );
    assert_ne!(r.code, 0);
    assert!(!shows_secret(&r.stderr), "{}", r.stderr);
    let files = files_under(&env.store());
    let runs: Vec<_> = files
        .iter()
        .filter(|(p, _)| p.to_string_lossy().contains("/runs/"))
        .collect();
    assert_eq!(runs.len(), 1);
    for (p, bytes) in &files {
        assert!(
            !shows_secret(&String::from_utf8_lossy(bytes)),
            "{}",
            p.display()
        );
    }
    let mode = std::fs::metadata(&runs[0].0).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", runs[0].0.display());
}

#[test]
fn the_token_request_follows_no_redirect() {
    let env = Env::new();
    // Another server, where a redirect would send the secret again.
    let elsewhere = Sim::start_with(&DATA, &["--client-secret", SECRET]);
    let target = format!("{}/auth/token", elsewhere.url);
    let sim = Sim::start_with(
        &DATA,
        &[
            "--client-secret",
            SECRET,
            "--token-fault",
            &format!("redirect={target}"),
        ],
    );
    let r = run(&env, &["sync", "--period", "2026-10"], &with_sim(&sim));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("HTTP 307, a redirect to") && r.stderr.contains("not sent on"),
        "{}",
        r.stderr
    );
    assert_eq!(
        elsewhere.stats()["token_requests"],
        0,
        "the secret went nowhere else"
    );
    assert!(!shows_secret(&r.stderr));
}

#[test]
fn a_config_file_holding_the_secret_that_others_can_read_is_refused() {
    let env = Env::new();
    let sim = Sim::start_with(&DATA, &["--client-secret", SECRET]);
    let cfg = env.write(
        "halo.toml",
        &format!(
            "url = \"{}\"\nclient_id = \"demo\"\nclient_secret = \"{SECRET}\"\n",
            sim.url
        ),
    );
    for mode in [0o644, 0o666, 0o640] {
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(mode)).unwrap();
        let r = env.run(["sync", "--period", "2026-10", "--config", "halo.toml"]);
        assert_eq!(r.code, 2, "{mode:o}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("(mode {mode:04o}); run `chmod 600 halo.toml`")),
            "{}",
            r.stderr
        );
        assert!(!shows_secret(&r.stderr));
    }
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.run(["sync", "--period", "2026-10", "--config", "halo.toml"])
        .ok();
}

#[test]
fn a_password_in_the_tenant_url_is_refused_and_never_shown() {
    let env = Env::new();
    let r = env.run_with_env(
        &["sync", "--period", "2026-10"],
        &[
            ("HALO_URL", "https://admin:Pw-in-url-4411@acme.halopsa.com"),
            ("HALO_CLIENT_ID", "demo"),
            ("HALO_CLIENT_SECRET", SECRET),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("https://***@acme.halopsa.com"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("carries a user name or password"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Pw-in-url") && !shows_secret(&r.stderr));
}
