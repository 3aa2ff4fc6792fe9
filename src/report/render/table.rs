//! A sheet as an aligned table for a terminal: the title, a header of short labels, the
//! rows, the totals line, then the notes and the coverage. Fitted to the terminal's
//! width by default: the key columns first, then counts, money, percentages, the other
//! texts and identifiers, hours, dates and the rest, each taken while it fits, shown in
//! the sheet's order; details and what does not fit are named in a note. `--wide` shows
//! every column, whole. Text from Halo is shown with its control characters escaped
//! ([`crate::report::safe::shown`]); padding is done by hand (a width given to `format!`
//! panics past 65,535).

use super::layout::Options;
use crate::report::safe;
use crate::report::sheet::{Column, Kind, Sheet};
use std::io::{self, Write};

/// The widest a key shown in a fitted table may be; longer keys (a 70,000-character
/// invoice number) are shortened with an ellipsis.
const KEY_WIDTH: usize = 40;
/// The widest another text shown in a fitted table may be.
const TEXT_WIDTH: usize = 24;
/// The widest a figure may be before it is shortened (a number-like key of 70,000
/// digits; figures are never that long).
const FIGURE_WIDTH: usize = 40;

/// `v` padded with spaces to `w` characters, on the right (`right`: on the left, for
/// figures).
pub(crate) fn pad(v: &str, w: usize, right: bool) -> String {
    let fill = w.saturating_sub(v.chars().count());
    let spaces = " ".repeat(fill);
    if right {
        format!("{spaces}{v}")
    } else {
        format!("{v}{spaces}")
    }
}

/// Shortens `s` to `w` characters with an ellipsis.
fn shorten(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Breaks prose into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        // A word longer than the line is cut into pieces that fit.
        let mut word = word.to_string();
        while word.chars().count() > width && width > 0 {
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        line.push_str(&word);
    }
    lines.push(line);
    lines
}

/// A column's label in a fitted table: short, for the well-known names.
pub fn short_label(name: &str) -> &str {
    match name {
        "contract_id" => "contract",
        "contract_ref" => "ref",
        "invoice_number" => "invoice",
        "invoice_id" => "inv id",
        "agent_id" => "agent id",
        "time_taken_hours" => "time h",
        "non_bill_hours" => "non-bill h",
        "travel_hours" => "travel h",
        "chargeable_hours" => "charge h",
        "chargeable_amount" => "charge",
        "non_chargeable_hours" => "non-charge h",
        "non_chargeable_amount" => "non-charge",
        "prepay_hours" => "prepay h",
        "prepay_amount" => "prepay",
        "age_0_30_amount" => "0-30 d",
        "age_31_60_amount" => "31-60 d",
        "age_61_90_amount" => "61-90 d",
        "age_over_90_amount" => "> 90 d",
        "exported_amount" => "exported",
        "billable_percent" => "billable %",
        "effective_rate" => "rate/h",
        "running_hours" => "running h",
        "running_amount" => "running",
        "purchased_hours" => "bought h",
        "purchased_amount" => "bought",
        "remaining_hours" => "left h",
        "remaining_amount" => "left",
        "invoiced_amount" => "invoiced",
        "unbilled_amount" => "unbilled",
        other => other,
    }
}

/// The order in which a fitted table takes columns (lower first); keys always.
fn rank(c: &Column) -> u8 {
    if c.key {
        return 0;
    }
    match c.kind {
        Kind::Count => 1,
        Kind::Money => 2,
        Kind::Percent => 3,
        Kind::Text | Kind::Id => 4,
        Kind::Hours => 5,
        Kind::Date | Kind::DateTime => 6,
        Kind::Integer | Kind::Number | Kind::Mileage => 7,
    }
}

/// The widest a cell of `c` may be in a fitted table.
fn limit(c: &Column) -> usize {
    match c.kind {
        _ if c.key => KEY_WIDTH,
        Kind::Text => TEXT_WIDTH,
        _ => FIGURE_WIDTH,
    }
}

/// Writes `sheet` as a table.
pub fn write(sheet: &Sheet, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    let n = sheet.columns.len();
    // Every cell as shown: control characters escaped, a blank key named.
    let show_row =
        |r: &[String]| -> Vec<String> { r.iter().map(|v| safe::shown(v).into_owned()).collect() };
    let first_key = sheet.columns.iter().position(|c| c.key);
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(sheet.rows.len());
    for r in &sheet.rows {
        let mut shown = show_row(r);
        if let (Some(label), Some(k)) = (sheet.blank_key, first_key)
            && sheet.is_blank_key(r)
        {
            shown[k] = label.to_string();
        }
        rows.push(shown);
    }
    let total = sheet.total.as_ref().map(|t| show_row(t));
    let label = |c: usize| -> String {
        let name = &sheet.columns[c].name;
        if opts.wide {
            safe::shown(name).into_owned()
        } else {
            safe::shown(short_label(name)).into_owned()
        }
    };
    let width_of = |c: usize, cap: usize| -> usize {
        rows.iter()
            .chain(total.iter())
            .map(|r| r[c].chars().count().min(cap))
            .max()
            .unwrap_or(0)
            .max(label(c).chars().count().min(cap))
    };
    // Which columns, and how wide.
    let (keep, widths): (Vec<usize>, Vec<usize>) = if opts.wide {
        (0..n).map(|c| (c, width_of(c, usize::MAX))).unzip()
    } else {
        let mut order: Vec<usize> = (0..n).filter(|&c| !sheet.columns[c].detail).collect();
        order.sort_by_key(|&c| rank(&sheet.columns[c]));
        let mut chosen: Vec<(usize, usize)> = Vec::new();
        let mut used = 0usize;
        for c in order {
            let w = width_of(c, limit(&sheet.columns[c]));
            let gap = if chosen.is_empty() { 0 } else { 2 };
            if used + gap + w <= opts.width {
                used += gap + w;
                chosen.push((c, w));
            } else if chosen.is_empty() {
                // Not even the first column fits: it is cut to the width.
                chosen.push((c, opts.width.max(1)));
                used = opts.width;
            }
        }
        chosen.sort_unstable();
        // The totals line's label, `TOTAL`, goes in the first column shown; a column
        // taken last gives way when that widens the table past the width.
        if total.is_some() && chosen.first().is_some_and(|c| c.1 < 5) {
            chosen[0].1 = 5;
            let span = |ch: &[(usize, usize)]| -> usize {
                ch.iter().map(|x| x.1).sum::<usize>() + 2 * ch.len().saturating_sub(1)
            };
            while span(&chosen) > opts.width && chosen.len() > 1 {
                let last = (1..chosen.len())
                    .max_by_key(|&k| (rank(&sheet.columns[chosen[k].0]), k))
                    .expect("more than one column");
                chosen.remove(last);
            }
        }
        chosen.into_iter().unzip()
    };
    let line = |r: &[String], total: bool| -> String {
        keep.iter()
            .zip(&widths)
            .enumerate()
            .map(|(k, (&c, &w))| {
                // The totals line is labelled in its first column shown.
                let v = if total && k == 0 {
                    "TOTAL".to_string()
                } else {
                    shorten(&r[c], w)
                };
                let right = sheet.columns[c].kind.is_number() && !(total && k == 0);
                pad(&v, w, right)
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let width = if opts.wide { usize::MAX } else { opts.width };
    let say = |text: &str, out: &mut dyn Write| -> io::Result<()> {
        for l in wrap(text, width) {
            writeln!(out, "{l}")?;
        }
        Ok(())
    };
    say(&safe::shown(&sheet.title), out)?;
    let head: Vec<String> = (0..n).map(label).collect();
    writeln!(out, "{}", line(&head, false))?;
    let rule = "-".repeat(widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1));
    writeln!(out, "{rule}")?;
    for r in &rows {
        writeln!(out, "{}", line(r, false))?;
    }
    if let Some(t) = &total {
        writeln!(out, "{rule}")?;
        writeln!(out, "{}", line(t, true))?;
    }
    for note in &sheet.notes {
        say(&safe::shown(note), out)?;
    }
    let left: Vec<&str> = (0..n)
        .filter(|c| !keep.contains(c))
        .map(|c| sheet.columns[c].name.as_str())
        .collect();
    if !left.is_empty() {
        say(
            &format!(
                "(not shown at this width: {}; --wide shows every column)",
                left.join(", ")
            ),
            out,
        )?;
    }
    if !sheet.scope.coverage.is_empty() {
        say(&sheet.scope.coverage, out)?;
    }
    Ok(())
}
