//! The charts of a page: SVG drawn by plotters' SVG backend from a sheet's cells. Chart
//! geometry is floating point (pixels); every figure a reader is given to read is the
//! table's exact text, and chart labels show those texts too.

use crate::report::sheet::{Chart, Sheet};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A column's cells by name.
fn column<'a>(sheet: &'a Sheet, name: &str) -> Option<Vec<&'a str>> {
    let i = sheet.position(name)?;
    Some(sheet.rows.iter().map(|r| r[i].as_str()).collect())
}

/// A figure cell as a chart coordinate (empty: 0).
fn num(s: &str) -> f64 {
    s.parse().unwrap_or(0.0)
}

/// A figure column as chart coordinates (missing: none).
fn numbers(sheet: &Sheet, name: &str) -> Vec<f64> {
    column(sheet, name)
        .unwrap_or_default()
        .iter()
        .map(|v| num(v))
        .collect()
}

/// The few colours of every chart, each with one meaning on every chart: chargeable
/// work, non-chargeable work, prepay, and what needs attention.
const CHARGEABLE: RGBColor = RGBColor(37, 99, 235);
const NON_CHARGEABLE: RGBColor = RGBColor(148, 163, 184);
const PREPAY: RGBColor = RGBColor(245, 158, 11);
const ATTENTION: RGBColor = RGBColor(220, 38, 38);
/// A lighter shade for what a bar is measured against (a block's hours bought).
const AGAINST: RGBColor = RGBColor(226, 232, 240);

/// Text sizes: labels people read at a glance, and the caption.
const LABEL: u32 = 18;
const CAPTION: u32 = 22;

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// The SVG of `sheet`'s chart; none for a sheet without one, without rows, or where a
/// chart would say no more than the table (one month of a prepay trend).
pub fn svg(sheet: &Sheet) -> Result<Option<String>, String> {
    let chart = sheet.chart;
    if sheet.rows.is_empty() || chart == Chart::None {
        return Ok(None);
    }
    if chart == Chart::PrepayBurnDown && prepay_rows(sheet).is_empty() {
        return Ok(None);
    }
    let mut svg = String::new();
    let bars = match chart {
        Chart::HoursPerContract | Chart::BillableShare => sheet.rows.len(),
        Chart::PrepayBurnDown => prepay_rows(sheet).len(),
        _ => 0,
    } as u32;
    let height = match chart {
        Chart::UnbilledByAge => 380,
        _ => 130 + 30 * bars,
    }
    .min(2400);
    {
        let root = SVGBackend::with_string(&mut svg, (900, height)).into_drawing_area();
        let drawn: Drawn = (|| {
            root.fill(&WHITE)?;
            match chart {
                Chart::HoursPerContract => amounts_per_contract(&root, sheet)?,
                Chart::UnbilledByAge => unbilled_by_age(&root, sheet)?,
                Chart::PrepayBurnDown => prepay_blocks(&root, sheet)?,
                Chart::BillableShare => billable_share(&root, sheet)?,
                Chart::None => {}
            }
            root.present()?;
            Ok(())
        })();
        drawn.map_err(|e| e.to_string())?;
    }
    Ok(Some(svg))
}

/// An exact money text (`12345.67`) with thousands separators (`12,345.67`): the
/// table's figure, written as people read money.
pub fn money_text(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", s),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let mut grouped = String::new();
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// An axis tick (a chart coordinate, not a figure of the report) as money: thousands
/// separators and two decimals.
fn money_tick(v: f64) -> String {
    money_text(&format!("{v:.2}"))
}

/// Draws a legend of `items` in a strip of its own above the plot (never over it).
fn legend(area: &Area, items: &[(&str, RGBColor)]) -> Drawn {
    let mut x = 70;
    for (label, colour) in items {
        area.draw(&Rectangle::new([(x, 9), (x + 14, 23)], colour.filled()))?;
        area.draw(&Text::new(
            label.to_string(),
            (x + 20, 8),
            ("sans-serif", LABEL).into_font(),
        ))?;
        x += 34 + 9 * label.chars().count() as i32;
    }
    Ok(())
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Row labels: the reference (or name), else the id, else what a blank key means.
fn labels(sheet: &Sheet, text: &str, id: &str, blank: &str) -> Vec<String> {
    let t = column(sheet, text).unwrap_or_default();
    let i = column(sheet, id).unwrap_or_default();
    (0..sheet.rows.len())
        .map(|k| {
            let (t, i) = (
                t.get(k).copied().unwrap_or(""),
                i.get(k).copied().unwrap_or(""),
            );
            let s = match (t.is_empty(), i.is_empty()) {
                (false, _) => t.to_string(),
                (true, false) => i.to_string(),
                _ => blank.to_string(),
            };
            s.chars().take(28).collect()
        })
        .collect()
}

/// Horizontal stacked bars, one per row, money on the axis, the legend above.
fn stacked_bars(
    root: &Area,
    caption: &str,
    names: &[String],
    series: &[(&str, Vec<f64>, RGBColor)],
    unit: &str,
    ticks: fn(f64) -> String,
) -> Drawn {
    let (top, plot) = root.split_vertically(34);
    if series.len() > 1 {
        let items: Vec<(&str, RGBColor)> = series.iter().map(|(l, _, c)| (*l, *c)).collect();
        legend(&top, &items)?;
    }
    // A segmented range holds both its ends: n bars take 0..n-1.
    let n = names.len() as i32;
    let max = (0..names.len())
        .map(|k| series.iter().map(|(_, v, _)| v[k]).sum::<f64>())
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.08;
    let mut chart = ChartBuilder::on(&plot)
        .caption(caption, ("sans-serif", CAPTION))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(230)
        .build_cartesian_2d(0.0..max, (0..n - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", LABEL))
        .axis_desc_style(("sans-serif", LABEL))
        .x_labels(5)
        .x_label_formatter(&|v| ticks(*v))
        .y_labels(names.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc(unit)
        .draw()?;
    let mut base = vec![0.0; names.len()];
    for (_, values, colour) in series {
        let colour = *colour;
        let bars: Vec<Rectangle<(f64, SegmentValue<i32>)>> = values
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let x0 = base[k];
                base[k] += v;
                let mut r = Rectangle::new(
                    [
                        (x0, SegmentValue::Exact(k as i32)),
                        (x0 + v, SegmentValue::Exact(k as i32 + 1)),
                    ],
                    colour.filled(),
                );
                r.set_margin(5, 5, 0, 0);
                r
            })
            .collect();
        chart.draw_series(bars)?;
    }
    Ok(())
}

/// Money per contract: what finance looks at (chargeable, non-chargeable and prepay
/// amounts).
fn amounts_per_contract(root: &Area, sheet: &Sheet) -> Drawn {
    let names = labels(sheet, "contract_ref", "contract_id", "(no contract)");
    stacked_bars(
        root,
        "Amounts per contract",
        &names,
        &[
            (
                "chargeable",
                numbers(sheet, "chargeable_amount"),
                CHARGEABLE,
            ),
            (
                "non-chargeable",
                numbers(sheet, "non_chargeable_amount"),
                NON_CHARGEABLE,
            ),
            ("prepay", numbers(sheet, "prepay_amount"), PREPAY),
        ],
        "amount",
        money_tick,
    )
}

fn billable_share(root: &Area, sheet: &Sheet) -> Drawn {
    let names = labels(sheet, "agent", "agent_id", "(no agent)");
    let share = numbers(sheet, "billable_percent");
    stacked_bars(
        root,
        "Billable share per agent",
        &names,
        &[("billable", share, CHARGEABLE)],
        "percent of time taken",
        |v| format!("{v:.0}%"),
    )
}

fn unbilled_by_age(root: &Area, sheet: &Sheet) -> Drawn {
    let buckets = [
        ("0-30 days", "age_0_30_amount"),
        ("31-60 days", "age_31_60_amount"),
        ("61-90 days", "age_61_90_amount"),
        ("over 90 days", "age_over_90_amount"),
    ];
    // The totals row holds each bucket's exact sum; its text is the bar's label.
    let total = sheet.total.clone().unwrap_or_default();
    let at = |c: &str| sheet.position(c);
    let values: Vec<(String, f64, String)> = buckets
        .iter()
        .map(|(label, c)| {
            let text = at(c)
                .and_then(|i| total.get(i).cloned())
                .unwrap_or_default();
            (label.to_string(), num(&text), money_text(&text))
        })
        .collect();
    // Headroom above the tallest bar for its label.
    let max = values.iter().map(|v| v.1).fold(0.0, f64::max).max(1.0) * 1.22;
    let mut chart = ChartBuilder::on(root)
        .caption("Unbilled amount by age", ("sans-serif", CAPTION))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(110)
        .build_cartesian_2d((0..values.len() as i32 - 1).into_segmented(), 0.0..max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", LABEL))
        .axis_desc_style(("sans-serif", LABEL))
        .y_labels(5)
        .y_label_formatter(&|v| money_tick(*v))
        .x_labels(values.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => values
                .get(*i as usize)
                .map(|v| v.0.clone())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .y_desc("amount")
        .draw()?;
    chart.draw_series(values.iter().enumerate().map(|(k, v)| {
        let mut r = Rectangle::new(
            [
                (SegmentValue::Exact(k as i32), 0.0),
                (SegmentValue::Exact(k as i32 + 1), v.1),
            ],
            if k == 3 { ATTENTION } else { CHARGEABLE }.filled(),
        );
        r.set_margin(0, 0, 22, 22);
        r
    }))?;
    // Each label sits above its bar (a bar of nothing: above the axis, never on it).
    let style = TextStyle::from(("sans-serif", LABEL).into_font())
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(values.iter().enumerate().map(|(k, v)| {
        Text::new(
            v.2.clone(),
            (SegmentValue::CenterOf(k as i32), v.1 + max * 0.03),
            style.clone(),
        )
    }))?;
    Ok(())
}

/// The rows of the period's last month that have a balance: (label, bought hours,
/// remaining hours, status).
fn prepay_rows(sheet: &Sheet) -> Vec<(String, f64, f64, String)> {
    let (Some(months), Some(bought), Some(left)) = (
        column(sheet, "month"),
        column(sheet, "purchased_hours"),
        column(sheet, "remaining_hours"),
    ) else {
        return Vec::new();
    };
    let status = column(sheet, "status").unwrap_or_default();
    let last = months.iter().max().copied().unwrap_or_default();
    let names = labels(sheet, "contract_ref", "contract_id", "(no contract)");
    (0..sheet.rows.len())
        .filter(|&k| months[k] == last && !bought[k].is_empty())
        .map(|k| {
            (
                names[k].clone(),
                num(bought[k]),
                num(left[k]),
                status.get(k).copied().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Each block's hours remaining against the hours bought, at the period's end; a block
/// overdrawn, low or not judged in the colour of attention. Without balances there is
/// no chart (the table says what a month's draws are).
fn prepay_blocks(root: &Area, sheet: &Sheet) -> Drawn {
    let rows = prepay_rows(sheet);
    let (top, plot) = root.split_vertically(34);
    legend(
        &top,
        &[
            ("hours bought", AGAINST),
            ("hours left", PREPAY),
            ("left: low, overdrawn or not judged", ATTENTION),
        ],
    )?;
    let n = rows.len() as i32;
    let lo = rows.iter().map(|r| r.2).fold(0.0f64, f64::min) * 1.1;
    let hi = rows.iter().map(|r| r.1.max(r.2)).fold(1.0f64, f64::max) * 1.08;
    let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut chart = ChartBuilder::on(&plot)
        .caption("Prepaid hours left per block", ("sans-serif", CAPTION))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(230)
        .build_cartesian_2d(lo..hi, (0..n - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", LABEL))
        .axis_desc_style(("sans-serif", LABEL))
        .x_labels(5)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_labels(names.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc("hours")
        .draw()?;
    let bar = |k: usize, from: f64, to: f64, colour: RGBColor, inset: u32| {
        let mut r = Rectangle::new(
            [
                (from, SegmentValue::Exact(k as i32)),
                (to, SegmentValue::Exact(k as i32 + 1)),
            ],
            colour.filled(),
        );
        r.set_margin(inset, inset, 0, 0);
        r
    };
    chart.draw_series(
        rows.iter()
            .enumerate()
            .map(|(k, r)| bar(k, 0.0, r.1, AGAINST, 4)),
    )?;
    chart.draw_series(rows.iter().enumerate().map(|(k, r)| {
        let colour = if r.3 == "ok" { PREPAY } else { ATTENTION };
        bar(k, 0.0, r.2, colour, 9)
    }))?;
    Ok(())
}
