//! Reports as files: the SQL twins of contracts and invoices, the built-in file reports,
//! user reports from a folder, and the errors of a broken one.

use crate::common;
use common::*;

/// Whole months, ranges cutting them, another time zone: what each engine comparison runs.
const PERIODS: [&[&str]; 4] = [
    &["--period", "2026-10"],
    &["--from", "2026-09-01", "--to", "2026-12-01"],
    &["--period", "2026-10", "--timezone", "Pacific/Auckland"],
    &["--from", "2026-09-15", "--to", "2026-10-20"],
];

/// Both engines' CSV (with the TOTAL row) of `kind` for `period`.
fn both(env: &Env, kind: &str, period: &[&str]) -> (String, String) {
    let mut a = vec!["report", kind, "--totals"];
    a.extend(period);
    let rayon = env.run(&a).ok().stdout;
    a.extend(["--engine", "sql"]);
    let sql = env.run(&a).ok().stdout;
    (rayon, sql)
}

#[test]
fn sql_twins_of_contracts_and_invoices_equal_the_rayon_reports_on_generated_data() {
    let env = Env::new();
    env.generated("4000", "31");
    let mut compared = 0;
    for kind in ["contracts", "invoices"] {
        for p in PERIODS {
            let (rayon, sql) = both(&env, kind, p);
            let rows = parse_csv(&rayon);
            assert!(rows.len() > 5, "{kind} {p:?}: {rayon}");
            assert_eq!(rayon, sql, "{kind} {p:?}");
            compared += rows.len();
        }
    }
    // After a close, both read the frozen copy: still equal, also in a range holding it.
    env.run(["close", "--period", "2026-09"]).ok();
    for kind in ["contracts", "invoices"] {
        for p in [
            &["--period", "2026-09"][..],
            &["--from", "2026-09-01", "--to", "2026-11-01"],
        ] {
            let (rayon, sql) = both(&env, kind, p);
            assert_eq!(rayon, sql, "{kind} {p:?} after the close");
        }
    }
    assert!(compared > 100, "{compared} rows compared");
}

#[test]
fn charge_rates_split_each_contracts_chargeable_amount_into_invoiced_and_unbilled() {
    let env = Env::new();
    env.generated("3000", "32");
    let period = ["--period", "2026-10"];
    let rates = env.report_csv("charge-rates", &period);
    assert_eq!(
        rates[0].join(","),
        "contract_id,contract_ref,charge_rate,actions,chargeable_hours,chargeable_amount,invoiced_amount,unbilled_amount"
    );
    let contracts = env.report_csv("contracts", &period);
    let unbilled = env.report_csv("unbilled", &period);
    let money = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
    let mut seen = 0;
    for r in &contracts[1..] {
        let id = &r[0];
        let mine: Vec<&Vec<String>> = rates[1..].iter().filter(|x| &x[0] == id).collect();
        let sum = |name: &str| -> rust_decimal::Decimal {
            mine.iter().map(|x| money(cell(&rates, x, name))).sum()
        };
        // Chargeable amount per contract: the contracts report's, split across rates.
        assert_eq!(
            sum("chargeable_amount"),
            money(cell(&contracts, r, "chargeable_amount")),
            "contract {id}"
        );
        for x in &mine {
            assert_eq!(
                money(cell(&rates, x, "invoiced_amount"))
                    + money(cell(&rates, x, "unbilled_amount")),
                money(cell(&rates, x, "chargeable_amount")),
                "{x:?}"
            );
        }
        // The unbilled part per contract is the unbilled report's.
        let u = unbilled[1..]
            .iter()
            .find(|x| &x[0] == id)
            .map(|x| money(cell(&unbilled, x, "chargeable_amount")))
            .unwrap_or_default();
        assert_eq!(sum("unbilled_amount"), u, "contract {id}");
        seen += mine.len();
    }
    assert!(seen > 10, "{seen} rate rows");
    // The parameter narrows to one contract.
    let one = env.report_csv(
        "charge-rates",
        &["--period", "2026-10", "--param", "contract=101"],
    );
    assert!(
        one.len() > 1 && one[1..].iter().all(|r| r[0] == "101"),
        "{one:?}"
    );
    let bad = env
        .run([
            "report",
            "charge-rates",
            "--period",
            "2026-10",
            "--param",
            "contract=x",
        ])
        .expect_code(2);
    assert!(
        bad.stderr
            .contains("parameter `contract` takes a whole number"),
        "{}",
        bad.stderr
    );
}

#[test]
fn charge_rates_by_the_parallel_fold_equal_its_sql_file_run_by_polars() {
    let env = Env::new();
    env.generated("4000", "33");
    let params: [&[&str]; 3] = [
        &[],
        &["--param", "contract=101"],
        &["--param", "contract=0"],
    ];
    let compare = |env: &Env, p: &[&str], q: &[&str]| -> usize {
        let mut a = vec!["report", "charge-rates", "--totals"];
        a.extend(p);
        a.extend(q);
        let fold = env.run(&a).ok().stdout;
        a.extend(["--engine", "sql"]);
        let sql = env.run(&a).ok().stdout;
        assert_eq!(fold, sql, "{p:?} {q:?}");
        parse_csv(&fold).len()
    };
    let mut compared = 0;
    for p in PERIODS {
        for q in params {
            compared += compare(&env, p, q);
        }
    }
    // After a close, both read the frozen copy (no footers): still equal.
    env.run(["close", "--period", "2026-09"]).ok();
    for p in [
        &["--period", "2026-09"][..],
        &["--from", "2026-09-01", "--to", "2026-11-01"],
    ] {
        compared += compare(&env, p, &[]);
    }
    assert!(compared > 150, "{compared} rows compared");
}

const AGENT_SQL: &str = "SELECT who_agentid AS agent_id, COUNT(*) AS actions, \
    SUM(actionchargehours_ms) AS chargeable_hours, SUM(actionchargeamount_cents) AS chargeable_amount \
    FROM actions CROSS JOIN params WHERE who_agentid IS NOT NULL \
    GROUP BY who_agentid HAVING COUNT(*) >= MAX(params.min_actions)";

const AGENT_DEF: &str = r#"
title = "Chargeable work per agent"
sort = ["agent_id"]
parameters = [{ name = "min_actions", type = "integer", default = 1, help = "leave out agents with fewer actions" }]
columns = [
  { name = "agent_id", type = "integer" },
  { name = "actions", type = "integer", total = true },
  { name = "chargeable_hours", type = "hours" },
  { name = "chargeable_amount", type = "money" },
]
"#;

#[test]
fn a_user_report_from_a_folder_is_listed_and_matches_the_agents_report() {
    let env = Env::new();
    env.generated("3000", "33");
    let dir = env.path("my-reports");
    env.write("my-reports/agent-charges.toml", AGENT_DEF);
    env.write("my-reports/agent-charges.sql", AGENT_SQL);
    let dir_s = dir.to_str().unwrap();
    let list = env
        .run(["report", "--list", "--reports-dir", dir_s])
        .ok()
        .stdout;
    assert!(list.contains("agent-charges"), "{list}");
    assert!(list.contains("charge-rates"), "{list}");
    assert!(list.contains("--param min_actions"), "{list}");
    let period = ["--period", "2026-10"];
    let mine = env.report_csv_of(&[
        "report",
        "agent-charges",
        "--period",
        "2026-10",
        "--reports-dir",
        dir_s,
    ]);
    assert_eq!(
        mine[0].join(","),
        "agent_id,actions,chargeable_hours,chargeable_amount"
    );
    let agents = env.report_csv("agents", &period);
    assert_eq!(
        mine.len(),
        agents.len() - agents.iter().filter(|r| r[0].is_empty()).count()
    );
    for r in &mine[1..] {
        let a = row(&agents, &r[0]);
        assert_eq!(r[1], cell(&agents, a, "actions"), "agent {}", r[0]);
        assert_eq!(r[2], cell(&agents, a, "chargeable_hours"), "agent {}", r[0]);
        assert_eq!(
            r[3],
            cell(&agents, a, "chargeable_amount"),
            "agent {}",
            r[0]
        );
    }
    // The default folder is the config folder's reports/; a parameter filters.
    env.write("config/halo-billing/reports/agent-charges.toml", AGENT_DEF);
    env.write("config/halo-billing/reports/agent-charges.sql", AGENT_SQL);
    let most = env
        .run([
            "report",
            "agent-charges",
            "--period",
            "2026-10",
            "--param",
            "min_actions=100000",
        ])
        .ok();
    assert_eq!(
        parse_csv(&most.stdout).len(),
        1,
        "only the header: {}",
        most.stdout
    );
}

#[test]
fn a_broken_user_report_exits_2_naming_its_file_and_the_fault() {
    let env = Env::new();
    env.generated("500", "34");
    let dir = env.path("r");
    let dir_s = dir.to_str().unwrap();
    let run = |name: &str| {
        env.run([
            "report",
            name,
            "--period",
            "2026-10",
            "--reports-dir",
            dir_s,
        ])
        .expect_code(2)
        .stderr
    };
    // SQL polars refuses: the file and polars' message.
    env.write(
        "r/broken.toml",
        "title = \"x\"\ncolumns = [{ name = \"n\", type = \"integer\" }]\n",
    );
    env.write("r/broken.sql", "SELECT nosuchcolumn AS n FROM actions");
    let e = run("broken");
    assert!(e.contains("broken.sql"), "{e}");
    assert!(e.contains("the query failed"), "{e}");
    assert!(e.contains("nosuchcolumn"), "{e}");
    std::fs::remove_file(dir.join("broken.toml")).unwrap();
    // A result that is not what the definition declares: both column lists.
    env.write(
        "r/shape.toml",
        "title = \"x\"\ncolumns = [{ name = \"n\", type = \"integer\" }]\n",
    );
    env.write("r/shape.sql", "SELECT COUNT(*) AS actions FROM actions");
    let e = run("shape");
    assert!(
        e.contains("gives the columns actions but its definition declares n"),
        "{e}"
    );
    std::fs::remove_file(dir.join("shape.toml")).unwrap();
    // A money column computed in floating point is refused, not rounded.
    env.write(
        "r/avg.toml",
        "title = \"x\"\ncolumns = [{ name = \"a\", type = \"money\" }]\n",
    );
    env.write(
        "r/avg.sql",
        "SELECT AVG(actionchargeamount_cents) AS a FROM actions",
    );
    let e = run("avg");
    assert!(e.contains("column `a` is declared Money"), "{e}");
    std::fs::remove_file(dir.join("avg.toml")).unwrap();
    // A definition that does not parse, and one that takes a built-in name.
    env.write("r/typo.toml", "title = \"x\"\ncolums = []\n");
    let e = run("typo");
    assert!(e.contains("typo.toml"), "{e}");
    assert!(e.contains("colums"), "{e}");
    std::fs::remove_file(dir.join("typo.toml")).unwrap();
    env.write(
        "r/agents.toml",
        "title = \"x\"\ncolumns = [{ name = \"n\", type = \"integer\" }]\n",
    );
    let e = run("whatever");
    assert!(
        e.contains("`agents` is the name of a built-in report"),
        "{e}"
    );
    std::fs::remove_file(dir.join("agents.toml")).unwrap();
    // An unknown name lists the reports there are.
    let e = run("nosuchreport");
    assert!(e.contains("there is no report `nosuchreport`"), "{e}");
    assert!(e.contains("charge-rates"), "{e}");
}
