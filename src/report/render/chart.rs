//! The charts of a page: SVG drawn by plotters' SVG backend from a sheet's cells. Chart
//! geometry is floating point (pixels); every figure a reader is given to read is the
//! table's exact text, and chart labels show those texts too.

use crate::report::sheet::{Chart, Sheet};
use plotters::prelude::*;

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

const COLOURS: [RGBColor; 6] = [
    RGBColor(37, 99, 235),
    RGBColor(148, 163, 184),
    RGBColor(245, 158, 11),
    RGBColor(16, 185, 129),
    RGBColor(239, 68, 68),
    RGBColor(139, 92, 246),
];

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// The SVG of `sheet`'s chart; none for a sheet without one or without rows.
pub fn svg(sheet: &Sheet) -> Result<Option<String>, String> {
    let chart = sheet.chart;
    if sheet.rows.is_empty() || chart == Chart::None {
        return Ok(None);
    }
    let mut svg = String::new();
    let height = match chart {
        Chart::HoursPerContract | Chart::BillableShare => 120 + 28 * sheet.rows.len() as u32,
        _ => 360,
    }
    .min(2400);
    {
        let root = SVGBackend::with_string(&mut svg, (860, height)).into_drawing_area();
        let drawn: Drawn = (|| {
            root.fill(&WHITE)?;
            match chart {
                Chart::HoursPerContract => hours_per_contract(&root, sheet)?,
                Chart::UnbilledByAge => unbilled_by_age(&root, sheet)?,
                Chart::PrepayBurnDown => prepay_burn_down(&root, sheet)?,
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

/// Horizontal stacked bars, one per row.
fn stacked_bars(
    root: &Area,
    caption: &str,
    names: &[String],
    series: &[(&str, Vec<f64>)],
    unit: &str,
) -> Drawn {
    // A segmented range holds both its ends: n bars take 0..n-1.
    let n = names.len() as i32;
    let max = (0..names.len())
        .map(|k| series.iter().map(|(_, v)| v[k]).sum::<f64>())
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(200)
        .build_cartesian_2d(0.0..max, (0..n - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .y_labels(names.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc(unit)
        .draw()?;
    let mut base = vec![0.0; names.len()];
    for (s, (label, values)) in series.iter().enumerate() {
        let colour = COLOURS[s % COLOURS.len()];
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
                r.set_margin(4, 4, 0, 0);
                r
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

fn hours_per_contract(root: &Area, sheet: &Sheet) -> Drawn {
    let names = labels(sheet, "contract_ref", "contract_id", "(no contract)");
    stacked_bars(
        root,
        "Hours per contract",
        &names,
        &[
            ("chargeable", numbers(sheet, "chargeable_hours")),
            ("non-chargeable", numbers(sheet, "non_chargeable_hours")),
            ("prepay", numbers(sheet, "prepay_hours")),
        ],
        "hours",
    )
}

fn billable_share(root: &Area, sheet: &Sheet) -> Drawn {
    let names = labels(sheet, "agent", "agent_id", "(no agent)");
    let share = numbers(sheet, "billable_percent");
    stacked_bars(
        root,
        "Billable share per agent",
        &names,
        &[("billable %", share)],
        "percent of time taken",
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
            (label.to_string(), num(&text), text)
        })
        .collect();
    let max = values.iter().map(|v| v.1).fold(0.0, f64::max).max(1.0) * 1.15;
    let mut chart = ChartBuilder::on(root)
        .caption("Unbilled amount by age", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d((0..values.len() as i32 - 1).into_segmented(), 0.0..max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
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
            COLOURS[(k + 2) % COLOURS.len()].filled(),
        );
        r.set_margin(0, 0, 18, 18);
        r
    }))?;
    chart.draw_series(values.iter().enumerate().map(|(k, v)| {
        Text::new(
            v.2.clone(),
            (SegmentValue::CenterOf(k as i32), v.1 + max * 0.02),
            ("sans-serif", 14).into_font(),
        )
    }))?;
    Ok(())
}

fn prepay_burn_down(root: &Area, sheet: &Sheet) -> Drawn {
    let months = column(sheet, "month").unwrap_or_default();
    let mut all: Vec<&str> = months.clone();
    all.sort();
    all.dedup();
    let measure = if column(sheet, "remaining_hours").is_some() {
        "remaining_hours"
    } else {
        "running_hours"
    };
    let values = column(sheet, measure).unwrap_or_default();
    let names = labels(sheet, "contract_ref", "contract_id", "(no contract)");
    let mut lines: Vec<(String, Vec<(i32, f64)>)> = Vec::new();
    for k in 0..sheet.rows.len() {
        if values[k].is_empty() {
            continue;
        }
        let x = all.iter().position(|m| *m == months[k]).unwrap_or(0) as i32;
        match lines.iter_mut().find(|l| l.0 == names[k]) {
            Some(l) => l.1.push((x, num(values[k]))),
            None => lines.push((names[k].clone(), vec![(x, num(values[k]))])),
        }
    }
    let (lo, hi) = lines
        .iter()
        .flat_map(|l| l.1.iter().map(|p| p.1))
        .fold((0.0f64, 1.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let mut chart = ChartBuilder::on(root)
        .caption(
            if measure == "remaining_hours" {
                "Prepaid hours remaining per block"
            } else {
                "Prepaid hours drawn per block (running total)"
            },
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.2..(all.len() as f64 - 0.8).max(0.2), lo * 1.1..hi * 1.1)?;
    chart
        .configure_mesh()
        .x_labels(all.len().max(1))
        .x_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                all.get(i as usize)
                    .map(|m| m.to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("hours")
        .draw()?;
    for (k, (name, points)) in lines.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let pts: Vec<(f64, f64)> = points.iter().map(|(x, y)| (*x as f64, *y)).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], colour.stroke_width(2)));
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}
