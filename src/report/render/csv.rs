//! A sheet as CSV: the header (a contract other tools parse), one record per row, CRLF
//! line ends; text made safe to open in a spreadsheet ([`crate::report::safe::cell`]),
//! figures as shown, with a decimal comma where asked; the totals row, labelled
//! `TOTAL`, only when asked.

use super::layout::Options;
use crate::report::safe;
use crate::report::sheet::{Column, Sheet};
use std::borrow::Cow;
use std::io::{self, Write};

/// A row's CSV cells, borrowed where nothing changes.
fn cells<'a>(
    row: &'a [String],
    columns: &'a [Column],
    decimal_comma: bool,
) -> impl Iterator<Item = Cow<'a, str>> {
    row.iter().zip(columns).map(move |(v, c)| {
        if !c.kind.is_number() {
            safe::cell(v)
        } else if decimal_comma {
            v.replace('.', ",").into()
        } else {
            Cow::Borrowed(v.as_str())
        }
    })
}

/// Writes `sheet` as CSV.
pub fn write(sheet: &Sheet, opts: &Options, out: &mut dyn Write) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .delimiter(opts.delimiter)
        .from_writer(out);
    w.write_record(sheet.columns.iter().map(|c| c.name.as_str()))?;
    let mut record = |cells: &mut dyn Iterator<Item = Cow<'_, str>>| {
        for c in cells {
            w.write_field(c.as_bytes())?;
        }
        w.write_record(None::<&[u8]>)
    };
    let comma = opts.decimal_comma;
    for r in &sheet.rows {
        record(&mut cells(r, &sheet.columns, comma))?;
    }
    if let (true, Some(t)) = (opts.totals, &sheet.total) {
        record(
            &mut std::iter::once("TOTAL".into()).chain(cells(t, &sheet.columns, comma).skip(1)),
        )?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sheet::{Kind, Scope};

    fn sheet() -> Sheet {
        let period = crate::period::Period::month("2026-10", chrono_tz::UTC).unwrap();
        let mut s = Sheet::new(
            "t",
            "t".into(),
            vec![
                Column::new("who", Kind::Text),
                Column::new("hours", Kind::Hours),
                Column::new("note", Kind::Text),
            ],
            Scope::new(&period, Vec::new()),
        );
        s.rows = vec![
            vec!["=cmd".into(), "1.5000".into(), "a;b \"c\"".into()],
            vec!["Ann".into(), "-0.2500".into(), String::new()],
        ];
        s.total = Some(vec![String::new(), "1.2500".into(), "2 actions".into()]);
        s
    }

    fn csv(opts: &Options) -> String {
        let mut out = Vec::new();
        write(&sheet(), opts, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_rows_make_text_safe_keep_figures_and_label_the_total() {
        let opts = Options {
            totals: true,
            ..Options::default()
        };
        assert_eq!(
            csv(&opts),
            "who,hours,note\r\n'=cmd,1.5000,\"a;b \"\"c\"\"\"\r\nAnn,-0.2500,\r\nTOTAL,1.2500,2 actions\r\n"
        );
        assert_eq!(
            csv(&Options::default()),
            "who,hours,note\r\n'=cmd,1.5000,\"a;b \"\"c\"\"\"\r\nAnn,-0.2500,\r\n"
        );
    }

    #[test]
    fn csv_with_a_decimal_comma_changes_figures_only() {
        let opts = Options {
            totals: true,
            delimiter: b';',
            decimal_comma: true,
            ..Options::default()
        };
        assert_eq!(
            csv(&opts),
            "who;hours;note\r\n'=cmd;1,5000;\"a;b \"\"c\"\"\"\r\nAnn;-0,2500;\r\nTOTAL;1,2500;2 actions\r\n"
        );
    }
}
