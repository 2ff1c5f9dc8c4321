//! Scaling curves and latency CDFs from finished results (never the live
//! workload).
//!
//! [`draw_all`] writes, each as PNG and SVG named `<run_id>-<name>`:
//!
//! - `latency-<scenario>`: lease latency p50/p95/p99 against workers, one
//!   chart per scenario, with the SLA (p95 50 ms) as a horizontal line. Up
//!   to three series share one panel (colour = series, line style =
//!   percentile); more series get three panels, p50 | p95 | p99.
//! - `throughput`: leases per second against workers, one line per series.
//! - `cdf-<scenario>-pg<version>-<strategy>-<index>`: for one series, the
//!   lease-latency distribution with one line per worker count; the y axis
//!   stretches the tail (50%, 90%, 99%, 99.9% ... evenly spaced).
//!
//! A series is one scenario x Postgres version x strategy x index. Legends
//! name only what varies; what is the same for every line goes in the
//! subtitle. Worker and latency axes are logarithmic; an axis of values
//! spanning two decades or less is linear.
//!
//! [`draw_compare`] overlays p95 and throughput of several runs (for
//! `leasebench compare`).
//!
//! Text is drawn with the DejaVu fonts embedded in the binary, so plots
//! render the same on a machine without system fonts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::config::{Mode, Pacing};
use crate::error::{Error, Result};
use crate::results::{CellResult, RunResult};

/// The seed's leasing SLA: p95 lease latency under 50 ms (sla.toml).
const SLA_P95_MS: f64 = 50.0;
const SLA_LABEL: &str = "SLA p95 50 ms";

/// Size of one plot, pixels.
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 800;
/// Width of a three-panel plot.
const WIDE: u32 = 1800;

const FONT: &str = "sans-serif";
const TITLE_PX: u32 = 30;
const SUBTITLE_PX: u32 = 20;
const LABEL_PX: u32 = 20;
const DESC_PX: u32 = 22;
const LEGEND_PX: u32 = 20;

/// Series colours: colour-blind-safe, none of them the SLA red.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // green
    RGBColor(204, 121, 167), // pink
    RGBColor(86, 180, 233),  // sky
    RGBColor(148, 103, 189), // purple
    RGBColor(140, 86, 75),   // brown
    RGBColor(127, 127, 127), // grey
    RGBColor(188, 189, 34),  // olive
    RGBColor(0, 0, 0),       // black
];
const SLA_COLOR: RGBColor = RGBColor(200, 20, 40);
const INK: RGBColor = RGBColor(30, 30, 30);
const MUTED: RGBColor = RGBColor(90, 90, 90);

/// One run's data for `leasebench compare`'s overlay plots.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareSeries {
    /// Legend text (e.g. the file name or run id).
    pub label: String,
    /// (workers, p95 lease latency ms, throughput leases/s), any order.
    pub points: Vec<(u32, f64, f64)>,
}

/// Draw every plot for `run` into `dir`; returns the files written.
pub fn draw_all(run: &RunResult, dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(draw_run(run, dir)?.files)
}

/// `leasebench plot RESULT [--out DIR]`.
pub fn cli(result: &Path, out: Option<&Path>) -> Result<i32> {
    let run = RunResult::load(result)?;
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => match result.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    let drawn = draw_run(&run, &dir).map_err(|e| match e {
        Error::Usage(m) => Error::Usage(format!("{}: {m}", result.display())),
        e => e,
    })?;
    for note in &drawn.notes {
        eprintln!("leasebench: note: {note}");
    }
    for f in &drawn.files {
        println!("{}", f.display());
    }
    Ok(0)
}

/// Overlay of several runs: `<stem>-p95` (p95 lease latency against
/// workers, with the SLA) and `<stem>-throughput`, each as PNG and SVG.
pub fn draw_compare(series: &[CompareSeries], dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let usable: Vec<&CompareSeries> = series.iter().filter(|s| !s.points.is_empty()).collect();
    if usable.is_empty() {
        return Err(Error::usage("nothing to compare: no series has any points"));
    }
    ensure_dir(dir)?;
    let workers: Vec<u32> = usable
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let tail = format!("{} runs compared", usable.len());

    // One overlay: `pick` the value from each point; latency gets the SLA.
    let overlay = |what: &str, desc: &str, pick: fn(&(u32, f64, f64)) -> f64, latency: bool| {
        let mut legend = vec![LegendEntry::Header("Run".into())];
        let mut ys = if latency {
            vec![SLA_P95_MS]
        } else {
            Vec::new()
        };
        let mut lines = Vec::new();
        for (i, s) in usable.iter().enumerate() {
            let mut points: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (p.0 as f64, pick(p)))
                .filter(|p| p.1.is_finite() && (p.1 > 0.0 || (!latency && p.1 == 0.0)))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            ys.extend(points.iter().map(|p| p.1));
            let style = LineStyle::solid(PALETTE[i % PALETTE.len()], 3, Some(Marker::Circle));
            legend.push(LegendEntry::Item(s.label.clone(), style.clone()));
            lines.push(Line { points, style });
        }
        let span = if latency {
            LATENCY_LOG_SPAN
        } else {
            THROUGHPUT_LOG_SPAN
        };
        Figure {
            size: (WIDTH, HEIGHT),
            title: format!("{what} vs workers  —  {tail}"),
            subtitle: stem.to_string(),
            x: workers_axis(&workers, plot_px(WIDTH, 1)),
            y: value_axis(desc, &ys, span),
            panels: vec![Panel {
                title: None,
                lines,
                refs: if latency {
                    vec![RefLine::sla()]
                } else {
                    Vec::new()
                },
            }],
            legend,
            footnote: None,
        }
    };
    let p95 = overlay("p95 lease latency", "p95 lease latency (ms)", |p| p.1, true);
    let tput = overlay("Throughput", "throughput (leases/s)", |p| p.2, false);
    let mut files = write_figure(&p95, dir, &format!("{stem}-p95"))?;
    files.extend(write_figure(&tput, dir, &format!("{stem}-throughput"))?);
    Ok(files)
}

// ---------------------------------------------------------------------------
// From a RunResult to figures.

/// What one draw wrote, and what it left out (and why).
struct Drawn {
    files: Vec<PathBuf>,
    notes: Vec<String>,
}

/// One line of the scaling charts: scenario x Postgres x strategy x index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SeriesKey {
    scenario: String,
    pg: String,
    strategy: String,
    index: String,
}

impl SeriesKey {
    fn of(c: &CellResult) -> SeriesKey {
        SeriesKey {
            scenario: c.scenario.clone(),
            pg: short_version(&c.pg_version),
            strategy: c.strategy.clone(),
            index: c.index.clone(),
        }
    }

    fn parts(&self) -> [String; 4] {
        [
            self.scenario.clone(),
            format!("PG {}", self.pg),
            self.strategy.clone(),
            self.index.clone(),
        ]
    }

    fn slug(&self) -> String {
        slug(&format!(
            "{}-pg{}-{}-{}",
            self.scenario, self.pg, self.strategy, self.index
        ))
    }
}

struct Series<'a> {
    key: SeriesKey,
    /// Sorted by workers.
    cells: Vec<&'a CellResult>,
}

/// Group cells into series, in order of first appearance.
fn group<'a>(cells: impl Iterator<Item = &'a CellResult>) -> Vec<Series<'a>> {
    let mut out: Vec<Series<'a>> = Vec::new();
    for c in cells {
        let key = SeriesKey::of(c);
        match out.iter_mut().find(|s| s.key == key) {
            Some(s) => s.cells.push(c),
            None => out.push(Series {
                key,
                cells: vec![c],
            }),
        }
    }
    for s in &mut out {
        s.cells.sort_by_key(|c| c.workers);
    }
    out
}

/// Legend labels naming only the parts that differ between `keys`, and
/// a description of the parts they share (scenario and Postgres version
/// excluded: the titles carry them).
fn labels(keys: &[&SeriesKey]) -> (Vec<String>, Vec<String>) {
    let parts: Vec<[String; 4]> = keys.iter().map(|k| k.parts()).collect();
    let varies: Vec<bool> = (0..4)
        .map(|i| parts.iter().any(|p| p[i] != parts[0][i]))
        .collect();
    let labels = parts
        .iter()
        .map(|p| {
            let l: Vec<&str> = (0..4)
                .filter(|&i| varies[i])
                .map(|i| p[i].as_str())
                .collect();
            if l.is_empty() {
                format!("{} / {}", p[2], p[3])
            } else {
                l.join(" / ")
            }
        })
        .collect();
    let mut shared = Vec::new();
    if let Some(k) = keys.first() {
        if !varies[2] {
            shared.push(format!("strategy {}", k.strategy));
        }
        if !varies[3] {
            shared.push(format!("index {}", k.index));
        }
    }
    (labels, shared)
}

fn short_version(v: &str) -> String {
    v.split_whitespace().next().unwrap_or(v).to_string()
}

fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        let ok = ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_');
        let ch = if ok { ch } else { '_' };
        if !(ch == '_' && out.ends_with('_')) {
            out.push(ch);
        }
    }
    out
}

fn cell_name(c: &CellResult) -> String {
    format!(
        "{} {} {} {} w={}",
        c.scenario,
        short_version(&c.pg_version),
        c.strategy,
        c.index,
        c.workers
    )
}

fn pg_title(cells: &[&CellResult]) -> String {
    let versions: BTreeSet<String> = cells.iter().map(|c| short_version(&c.pg_version)).collect();
    let v: Vec<String> = versions.into_iter().collect();
    format!("PostgreSQL {}", v.join(", "))
}

/// "run ID · what the cells share · how they ran".
fn subtitle(run: &RunResult, cells: &[&CellResult], shared: &[String]) -> String {
    let mut parts = vec![format!("run {}", run.run_id)];
    if run.partial {
        parts.push("PARTIAL run".into());
    }
    parts.extend(shared.iter().cloned());
    let distinct = |f: &dyn Fn(&CellResult) -> String| -> Option<String> {
        let set: BTreeSet<String> = cells.iter().map(|c| f(c)).collect();
        (set.len() == 1).then(|| set.into_iter().next().unwrap_or_default())
    };
    if let Some(w) = distinct(&|c| format!("work {} ms", c.work_ms)) {
        parts.push(w);
    }
    if let Some(m) = distinct(&|c| match c.mode {
        Mode::Duration(d) => format!("{} per cell", humantime::format_duration(d)),
        Mode::Items { items, .. } => format!("{items} items per cell"),
    }) {
        parts.push(m);
    }
    if let Some(p) = distinct(&|c| match c.pacing {
        Pacing::Closed => String::new(),
        Pacing::Open { .. } => "open loop".into(),
    }) {
        if !p.is_empty() {
            parts.push(p);
        }
    }
    parts.join("  ·  ")
}

fn draw_run(run: &RunResult, dir: &Path) -> Result<Drawn> {
    if run.cells.is_empty() {
        return Err(Error::usage(format!(
            "run {} has no cells to plot (it measured nothing)",
            run.run_id
        )));
    }
    ensure_dir(dir)?;
    let prefix = slug(&run.run_id);
    let mut files = Vec::new();
    let mut notes = Vec::new();

    let cells: Vec<&CellResult> = run.cells.iter().collect();
    for c in &cells {
        if c.lease.count == 0 {
            notes.push(format!(
                "{}: no leases measured; left off the latency plots",
                cell_name(c)
            ));
        }
    }

    // 1. Latency against workers, one chart per scenario.
    let mut scenarios: Vec<&str> = Vec::new();
    for c in &cells {
        if !scenarios.contains(&c.scenario.as_str()) {
            scenarios.push(&c.scenario);
        }
    }
    for scenario in &scenarios {
        let sc: Vec<&CellResult> = cells
            .iter()
            .copied()
            .filter(|c| c.scenario == *scenario)
            .collect();
        match latency_figure(run, scenario, &sc, scenarios.len() > 1) {
            Some(fig) => {
                let name = format!("{prefix}-latency-{}", slug(scenario));
                files.extend(write_figure(&fig, dir, &name)?);
            }
            None => notes.push(format!(
                "scenario {scenario}: no cell measured any lease; no latency plot"
            )),
        }
    }

    // 2. Throughput against workers.
    let fig = throughput_figure(run, &cells);
    files.extend(write_figure(&fig, dir, &format!("{prefix}-throughput"))?);

    // 3. A lease-latency CDF per series.
    for s in group(cells.iter().copied()) {
        let (fig, skipped) = cdf_figure(run, &s);
        notes.extend(skipped);
        match fig {
            Some(fig) => {
                let name = format!("{prefix}-cdf-{}", s.key.slug());
                files.extend(write_figure(&fig, dir, &name)?);
            }
            None => notes.push(format!(
                "{}: no lease histogram to draw; no CDF plot",
                s.key.parts().join(" ")
            )),
        }
    }
    Ok(Drawn { files, notes })
}

const PERCENTILES: [(&str, Dash, Marker); 3] = [
    ("p50", Dash::Dotted, Marker::Square),
    ("p95", Dash::Solid, Marker::Circle),
    ("p99", Dash::Dashed, Marker::Triangle),
];

fn percentile_of(c: &CellResult, i: usize) -> f64 {
    match i {
        0 => c.lease.p50_ms,
        1 => c.lease.p95_ms,
        _ => c.lease.p99_ms,
    }
}

fn latency_figure(
    run: &RunResult,
    scenario: &str,
    cells: &[&CellResult],
    several_scenarios: bool,
) -> Option<Figure> {
    let measured: Vec<&CellResult> = cells
        .iter()
        .copied()
        .filter(|c| c.lease.count > 0)
        .collect();
    if measured.is_empty() {
        return None;
    }
    let series = group(measured.iter().copied());
    let keys: Vec<&SeriesKey> = series.iter().map(|s| &s.key).collect();
    let (names, shared) = labels(&keys);
    let workers: Vec<u32> = measured.iter().map(|c| c.workers).collect();
    let mut ys = vec![SLA_P95_MS];
    for c in &measured {
        ys.extend((0..3).map(|i| percentile_of(c, i)));
    }
    let y = value_axis("lease latency (ms)", &ys, LATENCY_LOG_SPAN);
    let line_of = |s: &Series, i: usize, style: LineStyle| Line {
        points: s
            .cells
            .iter()
            .map(|c| (c.workers as f64, percentile_of(c, i)))
            .collect(),
        style,
    };

    let mut legend = Vec::new();
    let (size, panels) = if series.len() == 1 {
        // One series: colour and style both tell the percentiles apart.
        legend.push(LegendEntry::Header("Percentile".into()));
        let lines = PERCENTILES
            .iter()
            .enumerate()
            .map(|(i, (name, dash, marker))| {
                let style = LineStyle::new(PALETTE[i], 3, *dash, Some(*marker));
                legend.push(LegendEntry::Item(name.to_string(), style.clone()));
                line_of(&series[0], i, style)
            })
            .collect();
        let panel = Panel {
            title: None,
            lines,
            refs: vec![RefLine::sla()],
        };
        ((WIDTH, HEIGHT), vec![panel])
    } else if series.len() <= 3 {
        // A few series: colour = series, style = percentile.
        legend.push(LegendEntry::Header("Series".into()));
        for (si, name) in names.iter().enumerate() {
            let style = LineStyle::solid(PALETTE[si % PALETTE.len()], 3, None);
            legend.push(LegendEntry::Item(name.clone(), style));
        }
        legend.push(LegendEntry::Header("Percentile".into()));
        for (name, dash, marker) in PERCENTILES {
            legend.push(LegendEntry::Item(
                name.to_string(),
                LineStyle::new(MUTED, 3, dash, Some(marker)),
            ));
        }
        let mut lines = Vec::new();
        for (si, s) in series.iter().enumerate() {
            for (i, (_, dash, marker)) in PERCENTILES.iter().enumerate() {
                let style = LineStyle::new(PALETTE[si % PALETTE.len()], 3, *dash, Some(*marker));
                lines.push(line_of(s, i, style));
            }
        }
        let panel = Panel {
            title: None,
            lines,
            refs: vec![RefLine::sla()],
        };
        ((WIDTH, HEIGHT), vec![panel])
    } else {
        // Many series: one panel per percentile, colour = series.
        legend.push(LegendEntry::Header("Series".into()));
        for (si, name) in names.iter().enumerate() {
            let style = LineStyle::solid(PALETTE[si % PALETTE.len()], 3, Some(Marker::Circle));
            legend.push(LegendEntry::Item(name.clone(), style));
        }
        let panels = PERCENTILES
            .iter()
            .enumerate()
            .map(|(i, (name, _, _))| Panel {
                title: Some(format!("{name} lease latency")),
                lines: series
                    .iter()
                    .enumerate()
                    .map(|(si, s)| {
                        let style =
                            LineStyle::solid(PALETTE[si % PALETTE.len()], 3, Some(Marker::Circle));
                        line_of(s, i, style)
                    })
                    .collect(),
                refs: vec![RefLine::sla()],
            })
            .collect();
        ((WIDE, HEIGHT), panels)
    };
    let n_panels = panels.len();
    let mut title = format!("Lease latency vs workers  —  {}", pg_title(&measured));
    if several_scenarios || scenario != "run" {
        title.push_str(&format!("  —  scenario {scenario}"));
    }
    Some(Figure {
        size,
        title,
        subtitle: subtitle(run, &measured, &shared),
        x: workers_axis(&workers, plot_px(size.0, n_panels)),
        y,
        panels,
        legend,
        footnote: None,
    })
}

fn throughput_figure(run: &RunResult, cells: &[&CellResult]) -> Figure {
    let series = group(cells.iter().copied());
    let keys: Vec<&SeriesKey> = series.iter().map(|s| &s.key).collect();
    let (names, shared) = labels(&keys);
    let workers: Vec<u32> = cells.iter().map(|c| c.workers).collect();
    let ys: Vec<f64> = cells.iter().map(|c| c.throughput_per_s).collect();
    // One series: the subtitle names it, the plot gets the width.
    let show_legend = series.len() > 1;
    let mut legend = vec![LegendEntry::Header("Series".into())];
    let lines = series
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let style = LineStyle::solid(PALETTE[si % PALETTE.len()], 3, Some(Marker::Circle));
            legend.push(LegendEntry::Item(names[si].clone(), style.clone()));
            Line {
                points: s
                    .cells
                    .iter()
                    .map(|c| (c.workers as f64, c.throughput_per_s))
                    .collect(),
                style,
            }
        })
        .collect();
    Figure {
        size: (WIDTH, HEIGHT),
        title: format!("Throughput vs workers  —  {}", pg_title(cells)),
        subtitle: subtitle(run, cells, &shared),
        x: workers_axis(&workers, plot_px(WIDTH, 1)),
        y: value_axis("throughput (leases/s)", &ys, THROUGHPUT_LOG_SPAN),
        panels: vec![Panel {
            title: None,
            lines,
            refs: vec![],
        }],
        legend: if show_legend { legend } else { Vec::new() },
        footnote: None,
    }
}

/// Highest percentile the CDF axis shows: 99.999%.
const TAIL_TOP: f64 = 5.0;

/// The CDF of one series, one line per worker count; and notes about the
/// cells it could not draw.
fn cdf_figure(run: &RunResult, s: &Series) -> (Option<Figure>, Vec<String>) {
    let mut notes = Vec::new();
    let mut curves: Vec<(u32, Vec<(f64, f64)>)> = Vec::new();
    let mut top: f64 = 2.0;
    for c in &s.cells {
        let Some(text) = c.histograms.get("lease") else {
            notes.push(format!(
                "{}: no lease histogram; left off the CDF",
                cell_name(c)
            ));
            continue;
        };
        let h = match crate::metrics::decode(text) {
            Ok(h) => h,
            Err(e) => {
                notes.push(format!(
                    "{}: lease histogram unreadable ({e}); left off the CDF",
                    cell_name(c)
                ));
                continue;
            }
        };
        if h.is_empty() {
            notes.push(format!(
                "{}: empty lease histogram; left off the CDF",
                cell_name(c)
            ));
            continue;
        }
        // The highest percentile this many samples can tell apart.
        let cap = (h.len() as f64).log10().clamp(0.0, TAIL_TOP);
        top = top.max(cap);
        let pts: Vec<(f64, f64)> = crate::metrics::cdf(&h)
            .into_iter()
            .filter(|(ms, q)| ms.is_finite() && *ms > 0.0 && q.is_finite())
            .map(|(ms, q)| (ms, tail(q).min(cap)))
            .collect();
        if !pts.is_empty() {
            curves.push((c.workers, pts));
        }
    }
    if curves.is_empty() {
        return (None, notes);
    }

    let xs: Vec<f64> = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .collect();
    let max_ms = xs.iter().copied().fold(0.0, f64::max);
    // Show the SLA when it is within reach (a decade and a bit) of the data.
    let with_sla = max_ms >= SLA_P95_MS / 20.0;
    let mut range_xs = xs.clone();
    if with_sla {
        range_xs.push(SLA_P95_MS);
    }
    let mut x = log_axis("lease latency (ms)", &range_xs);
    x.desc = "lease latency (ms, log scale)".into();

    let mut legend = vec![LegendEntry::Header("Workers".into())];
    let n = curves.len();
    let lines = curves
        .into_iter()
        .enumerate()
        .map(|(i, (w, points))| {
            let style = LineStyle::solid(ramp(i, n), 3, None);
            legend.push(LegendEntry::Item(format!("{w}"), style.clone()));
            Line { points, style }
        })
        .collect();
    let mut refs = vec![RefLine {
        vertical: false,
        width: 2,
        value: tail(0.95),
        label: None,
        color: RGBColor(120, 120, 120),
    }];
    if with_sla {
        refs.push(RefLine {
            vertical: true,
            width: 3,
            value: SLA_P95_MS,
            label: Some(SLA_LABEL.into()),
            color: SLA_COLOR,
        });
    }
    let footnote = (!with_sla).then(|| {
        format!(
            "Every lease took under {} ms: the SLA ({SLA_LABEL}) is far off the right edge.",
            fmt_num(max_ms)
        )
    });
    let cells: Vec<&CellResult> = s.cells.to_vec();
    let (_, mut shared) = labels(&[&s.key]);
    if s.key.scenario != "run" {
        shared.insert(0, format!("scenario {}", s.key.scenario));
    }
    let fig = Figure {
        size: (WIDTH, HEIGHT),
        title: format!(
            "Lease latency distribution by workers  —  {}",
            pg_title(&cells)
        ),
        subtitle: subtitle(run, &cells, &shared),
        x,
        y: tail_axis(top),
        panels: vec![Panel {
            title: None,
            lines,
            refs,
        }],
        legend,
        footnote,
    };
    (Some(fig), notes)
}

/// The CDF's y transform: 0 -> 0, 90% -> 1, 99% -> 2, 99.9% -> 3 ...
fn tail(q: f64) -> f64 {
    let rest = (1.0 - q).max(1e-12);
    -rest.log10()
}

/// Colours for worker counts, few workers light (orange) to many dark
/// (indigo): the plasma colour map without its pale yellow end.
fn ramp(i: usize, n: usize) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (240.0, 135.0, 40.0),
        (220.0, 90.0, 100.0),
        (180.0, 40.0, 140.0),
        (110.0, 0.0, 168.0),
        (13.0, 8.0, 135.0),
    ];
    let t = if n <= 1 {
        0.5
    } else {
        i as f64 / (n - 1) as f64
    };
    let pos = t * (STOPS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - k as f64;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

// ---------------------------------------------------------------------------
// Axes.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    Linear,
    Log10,
    /// -log10(1 - q): stretches the tail of a distribution.
    Tail,
}

#[derive(Debug, Clone)]
struct Axis {
    desc: String,
    scale: Scale,
    /// Range, transformed.
    lo: f64,
    hi: f64,
    /// Labelled ticks: (transformed position, text).
    ticks: Vec<(f64, String)>,
    /// Unlabelled grid lines, transformed.
    light: Vec<f64>,
}

impl Axis {
    fn t(&self, v: f64) -> Option<f64> {
        let t = match self.scale {
            Scale::Linear => v,
            Scale::Log10 if v > 0.0 => v.log10(),
            Scale::Log10 => return None,
            Scale::Tail => v,
        };
        t.is_finite().then_some(t)
    }

    fn label_at(&self, t: f64) -> String {
        self.ticks
            .iter()
            .find(|(p, _)| (p - t).abs() < 1e-9)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }
}

/// A linear coordinate over transformed values whose grid lines are the
/// axis's own ticks (plotters' `WithKeyPoints` over f64 has no label
/// formatter, so this small `Ranged` stands in).
struct Ticked {
    lo: f64,
    hi: f64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ticked {
    fn of(a: &Axis) -> Ticked {
        Ticked {
            lo: a.lo,
            hi: a.hi,
            bold: a.ticks.iter().map(|t| t.0).collect(),
            light: a.light.clone(),
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        let f = if span > 0.0 {
            (v - self.lo) / span
        } else {
            0.5
        };
        let px = limit.0 as f64 + f * (limit.1 - limit.0) as f64;
        px.round().clamp(-1e6, 1e6) as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Approximate plot width in pixels of one panel (for tick thinning).
fn plot_px(width: u32, panels: usize) -> f64 {
    let legend = 300.0;
    ((width as f64 - legend) / panels.max(1) as f64 - 140.0).max(100.0)
}

/// Workers, log scale, ticks at the worker counts measured (thinned where
/// their labels would touch).
fn workers_axis(workers: &[u32], px: f64) -> Axis {
    let mut ws: Vec<u32> = workers.iter().copied().filter(|w| *w > 0).collect();
    ws.sort_unstable();
    ws.dedup();
    if ws.is_empty() {
        ws.push(1);
    }
    let lo = (ws[0] as f64 / 1.25).log10();
    let hi = (ws[ws.len() - 1] as f64 * 1.25).log10();
    let min_gap = (hi - lo) * 46.0 / px;
    let mut ticks: Vec<(f64, String)> = Vec::new();
    for w in &ws {
        let t = (*w as f64).log10();
        if ticks.last().is_none_or(|(p, _)| t - p >= min_gap) {
            ticks.push((t, w.to_string()));
        }
    }
    // Keep the largest count labelled: drop its neighbour instead.
    let last = ws[ws.len() - 1];
    let last_t = (last as f64).log10();
    if ticks
        .last()
        .is_some_and(|(p, _)| (p - last_t).abs() > 1e-12)
    {
        while ticks.len() > 1 && last_t - ticks[ticks.len() - 1].0 < min_gap {
            ticks.pop();
        }
        ticks.push((last_t, last.to_string()));
    }
    Axis {
        desc: "workers (log scale)".into(),
        scale: Scale::Log10,
        lo,
        hi,
        ticks,
        light: Vec::new(),
    }
}

/// Latency axes go logarithmic once they span more than a decade (p50 at
/// 0.5 ms and p99 at 50 ms are both readable only on a log axis).
const LATENCY_LOG_SPAN: f64 = 10.0;
/// Throughput axes stay linear from zero unless they span two decades.
const THROUGHPUT_LOG_SPAN: f64 = 100.0;

/// A value axis: log when the positive values span more than `log_span`
/// (and none is zero or negative), else linear from zero.
fn value_axis(desc: &str, values: &[f64], log_span: f64) -> Axis {
    let vals: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let pos: Vec<f64> = vals.iter().copied().filter(|v| *v > 0.0).collect();
    let max = pos.iter().copied().fold(0.0, f64::max);
    let min = pos.iter().copied().fold(f64::INFINITY, f64::min);
    if !pos.is_empty() && pos.len() == vals.len() && max / min > log_span {
        let mut a = log_axis(desc, &pos);
        a.desc = format!("{desc}, log scale");
        return a;
    }
    linear_axis(desc, max)
}

fn linear_axis(desc: &str, max: f64) -> Axis {
    let hi = if max > 0.0 { max * 1.08 } else { 1.0 };
    let step = nice_step(hi / 6.0);
    let mut ticks = Vec::new();
    let mut light = Vec::new();
    let mut k = 0u32;
    loop {
        let v = step * k as f64;
        if v > hi * (1.0 + 1e-9) {
            break;
        }
        ticks.push((v, fmt_num(v)));
        let half = v + step / 2.0;
        if half < hi {
            light.push(half);
        }
        k += 1;
    }
    Axis {
        desc: desc.into(),
        scale: Scale::Linear,
        lo: 0.0,
        hi,
        ticks,
        light,
    }
}

fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Log axis around positive `values`, ticks at 1-2-5 (or decades when the
/// range is wide, or 1..9 when narrow).
fn log_axis(desc: &str, values: &[f64]) -> Axis {
    let pos: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let max = pos.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
    let min = pos.iter().copied().fold(max, f64::min);
    let lo = (min / 1.4).log10();
    let hi = (max * 1.4).log10();
    let in_range = |v: f64| {
        let t = v.log10();
        t >= lo - 1e-9 && t <= hi + 1e-9
    };
    let decades = (lo.floor() as i32)..=(hi.ceil() as i32);
    let candidates = |ms: &[f64]| -> Vec<f64> {
        decades
            .clone()
            .flat_map(|d| ms.iter().map(move |m| m * 10f64.powi(d)))
            .filter(|v| in_range(*v))
            .collect()
    };
    let mut bold = candidates(&[1.0, 2.0, 5.0]);
    if bold.len() > 10 {
        bold = candidates(&[1.0]);
    } else if bold.len() < 4 {
        bold = candidates(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    }
    let light: Vec<f64> = candidates(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
        .into_iter()
        .filter(|v| !bold.iter().any(|b| (b / v - 1.0).abs() < 1e-9))
        .map(f64::log10)
        .collect();
    Axis {
        desc: desc.into(),
        scale: Scale::Log10,
        lo,
        hi,
        ticks: bold.iter().map(|v| (v.log10(), fmt_num(*v))).collect(),
        light,
    }
}

/// The CDF's percentile axis, 0% to 10^-top.
fn tail_axis(top: f64) -> Axis {
    let marks: [(f64, &str); 8] = [
        (0.0, "0%"),
        (0.5, "50%"),
        (0.9, "90%"),
        (0.95, "95%"),
        (0.99, "99%"),
        (0.999, "99.9%"),
        (0.9999, "99.99%"),
        (0.99999, "99.999%"),
    ];
    let hi = top + 0.08;
    let ticks = marks
        .iter()
        .map(|(q, s)| (tail(*q), s.to_string()))
        .filter(|(t, _)| *t <= top + 1e-9)
        .collect();
    let light = [0.25, 0.75, 0.8]
        .iter()
        .map(|q| tail(*q))
        .filter(|t| *t < hi)
        .collect();
    Axis {
        desc: "percentile of leases (tail stretched)".into(),
        scale: Scale::Tail,
        lo: 0.0,
        hi,
        ticks,
        light,
    }
}

/// A number for a tick or a note: three significant figures, no trailing zeros.
fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let a = v.abs();
    let s = if a >= 1e6 {
        return format!("{}M", fmt_num(v / 1e6));
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        format!("{v:.decimals$}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

// ---------------------------------------------------------------------------
// Figures: a backend-independent description, drawn twice (PNG, SVG).

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dash {
    Solid,
    Dashed,
    Dotted,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Marker {
    Circle,
    Triangle,
    Square,
}

#[derive(Debug, Clone)]
struct LineStyle {
    color: RGBColor,
    width: u32,
    dash: Dash,
    marker: Option<Marker>,
}

impl LineStyle {
    fn new(color: RGBColor, width: u32, dash: Dash, marker: Option<Marker>) -> Self {
        LineStyle {
            color,
            width,
            dash,
            marker,
        }
    }
    fn solid(color: RGBColor, width: u32, marker: Option<Marker>) -> Self {
        LineStyle::new(color, width, Dash::Solid, marker)
    }
    fn shape(&self) -> ShapeStyle {
        ShapeStyle {
            color: self.color.to_rgba(),
            filled: false,
            stroke_width: self.width,
        }
    }
}

#[derive(Debug, Clone)]
struct Line {
    /// Data coordinates (untransformed).
    points: Vec<(f64, f64)>,
    style: LineStyle,
}

/// A reference line across the whole plot, at `value` (data units).
#[derive(Debug, Clone)]
struct RefLine {
    vertical: bool,
    width: u32,
    value: f64,
    label: Option<String>,
    color: RGBColor,
}

impl RefLine {
    fn sla() -> RefLine {
        RefLine {
            vertical: false,
            width: 3,
            value: SLA_P95_MS,
            label: Some(SLA_LABEL.into()),
            color: SLA_COLOR,
        }
    }
}

#[derive(Debug, Clone)]
struct Panel {
    title: Option<String>,
    lines: Vec<Line>,
    refs: Vec<RefLine>,
}

#[derive(Debug, Clone)]
enum LegendEntry {
    Header(String),
    Item(String, LineStyle),
}

#[derive(Debug, Clone)]
struct Figure {
    size: (u32, u32),
    title: String,
    subtitle: String,
    x: Axis,
    y: Axis,
    panels: Vec<Panel>,
    legend: Vec<LegendEntry>,
    footnote: Option<String>,
}

fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file("cannot create plot directory", dir, e))
}

fn register_fonts() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        use plotters::style::register_font;
        register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
            && register_font(FONT, FontStyle::Oblique, dejavu::sans::oblique()).is_ok()
            && register_font("monospace", FontStyle::Normal, dejavu::sans_mono::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Internal(
            "the embedded DejaVu fonts did not load".into(),
        ))
    }
}

/// Draw `fig` as `<dir>/<name>.png` and `.svg`.
fn write_figure(fig: &Figure, dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    register_fonts()?;
    let png = dir.join(format!("{name}.png"));
    let svg = dir.join(format!("{name}.svg"));
    let fail = |path: &Path, e: String| Error::file("cannot draw plot", path, e);
    {
        let root = BitMapBackend::new(&png, fig.size).into_drawing_area();
        render(&root, fig).map_err(|e| fail(&png, e.to_string()))?;
        root.present().map_err(|e| fail(&png, e.to_string()))?;
    }
    {
        let root = SVGBackend::new(&svg, fig.size).into_drawing_area();
        render(&root, fig).map_err(|e| fail(&svg, e.to_string()))?;
        root.present().map_err(|e| fail(&svg, e.to_string()))?;
    }
    Ok(vec![png, svg])
}

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn font(px: u32) -> TextStyle<'static> {
    (FONT, px).into_font().color(&INK)
}

fn bold(px: u32) -> TextStyle<'static> {
    (FONT, px, FontStyle::Bold).into_font().color(&INK)
}

/// `text` at `size` px, shrunk until it fits `max_w`.
fn fitted<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: u32,
    bold_face: bool,
    max_w: u32,
) -> std::result::Result<TextStyle<'static>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut px = size;
    loop {
        let style = if bold_face { bold(px) } else { font(px) };
        let (w, _) = area.estimate_text_size(text, &style)?;
        if w <= max_w || px <= 12 {
            return Ok(style);
        }
        px -= 1;
    }
}

fn render<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let pad = 24;

    // Title and subtitle.
    let (head, body) = root.split_vertically(100);
    let title = fitted(&head, &fig.title, TITLE_PX, true, w - 2 * pad)?;
    head.draw(&Text::new(fig.title.clone(), (pad as i32, 16), title))?;
    let sub = fitted(&head, &fig.subtitle, SUBTITLE_PX, false, w - 2 * pad)?;
    head.draw(&Text::new(
        fig.subtitle.clone(),
        (pad as i32, 60),
        sub.color(&MUTED),
    ))?;

    // Footnote.
    let body_h = h - 100;
    let foot_h = if fig.footnote.is_some() { 40 } else { 0 };
    let (body, foot) = body.split_vertically(body_h - foot_h);
    if let Some(note) = &fig.footnote {
        let style = fitted(&foot, note, 18, false, w - 2 * pad)?;
        foot.draw(&Text::new(
            note.clone(),
            (pad as i32, 6),
            style.color(&MUTED),
        ))?;
    }

    // Legend to the right, sized to its longest entry.
    let mut legend_w = 0u32;
    for e in &fig.legend {
        let (text, style) = match e {
            LegendEntry::Header(t) => (t, bold(LEGEND_PX)),
            LegendEntry::Item(t, _) => (t, font(LEGEND_PX)),
        };
        legend_w = legend_w.max(body.estimate_text_size(text, &style)?.0 + 90);
    }
    let (plots, legend) = if fig.legend.is_empty() {
        (body, None)
    } else {
        let legend_w = legend_w.clamp(180, w * 3 / 8);
        let (p, l) = body.split_horizontally(w - legend_w);
        (p, Some(l))
    };

    let areas = plots.split_evenly((1, fig.panels.len().max(1)));
    for (i, (area, panel)) in areas.iter().zip(&fig.panels).enumerate() {
        draw_panel(area, fig, panel, i == 0)?;
    }
    if let Some(legend) = legend {
        draw_legend(&legend, &fig.legend)?;
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
    panel: &Panel,
    first: bool,
) -> DrawResult<DB> {
    let (x, y) = (&fig.x, &fig.y);
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(if panel.title.is_some() { 8 } else { 16 })
        .margin_right(20)
        .margin_left(if first { 8 } else { 0 })
        .margin_bottom(8)
        .x_label_area_size(64)
        .y_label_area_size(if first { 116 } else { 84 });
    if let Some(t) = &panel.title {
        builder.caption(t, bold(24));
    }
    let mut chart = builder.build_cartesian_2d(Ticked::of(x), Ticked::of(y))?;
    let xfmt = |v: &f64| x.label_at(*v);
    let yfmt = |v: &f64| y.label_at(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .label_style(font(LABEL_PX))
        .axis_desc_style(font(DESC_PX))
        .bold_line_style(RGBColor(200, 200, 200).stroke_width(1))
        .light_line_style(RGBColor(235, 235, 235).stroke_width(1))
        .axis_style(MUTED.stroke_width(2))
        .x_desc(x.desc.clone());
    if first {
        mesh.y_desc(y.desc.clone());
    }
    mesh.draw()?;

    // Reference lines first, so the data draws over them.
    for r in &panel.refs {
        let style = r.color.stroke_width(r.width);
        let (pts, anchor, offset) = if r.vertical {
            let Some(v) = x.t(r.value) else { continue };
            (vec![(v, y.lo), (v, y.hi)], (v, y.hi), (8, 8))
        } else {
            let v = match y.scale {
                Scale::Tail => r.value,
                _ => match y.t(r.value) {
                    Some(v) => v,
                    None => continue,
                },
            };
            (vec![(x.lo, v), (x.hi, v)], (x.lo, v), (10, -30))
        };
        chart.draw_series(DashedLineSeries::new(pts, 14, 8, style))?;
        if let Some(label) = &r.label {
            let style = font(LABEL_PX).color(&r.color);
            let (tw, th) = area.estimate_text_size(label, &style)?;
            let (tw, th) = (tw as i32, th as i32);
            // Keep the label inside the plot: left of a vertical line near
            // the right edge, below a horizontal line near the top.
            let (xr, yr) = chart.plotting_area().get_pixel_range();
            let at = chart.plotting_area().map_coordinate(&anchor);
            let (mut dx, mut dy) = offset;
            if at.0 + dx + tw + 4 > xr.end {
                dx = -tw - 10;
            }
            if at.1 + dy - 2 < yr.start {
                dy = 8;
            }
            let bg = EmptyElement::at(anchor)
                + Rectangle::new(
                    [(dx - 4, dy - 2), (dx + tw + 4, dy + th + 4)],
                    WHITE.mix(0.85).filled(),
                )
                + Text::new(label.clone(), (dx, dy), style);
            chart.plotting_area().draw(&bg)?;
        }
    }

    for line in &panel.lines {
        let pts: Vec<(f64, f64)> = line
            .points
            .iter()
            .filter_map(|&(px, py)| Some((x.t(px)?, y.t(py)?)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let style = line.style.shape();
        match line.style.dash {
            Dash::Solid => {
                chart.draw_series(LineSeries::new(pts.clone(), style))?;
            }
            Dash::Dashed => {
                chart.draw_series(DashedLineSeries::new(pts.clone(), 14, 8, style))?;
            }
            Dash::Dotted => {
                chart.draw_series(DashedLineSeries::new(pts.clone(), 3, 6, style))?;
            }
        }
        if let Some(m) = line.style.marker {
            let filled = line.style.color.filled();
            for p in &pts {
                draw_marker(chart.plotting_area(), *p, m, filled)?;
            }
        }
    }
    Ok(())
}

fn draw_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    m: Marker,
    style: ShapeStyle,
) -> DrawResult<DB>
where
    CT::From: Clone,
{
    let r = 6;
    match m {
        Marker::Circle => area.draw(&(EmptyElement::at(at) + Circle::new((0, 0), r, style))),
        Marker::Triangle => {
            area.draw(&(EmptyElement::at(at) + TriangleMarker::new((0, 0), r + 2, style)))
        }
        Marker::Square => area.draw(
            &(EmptyElement::at(at) + Rectangle::new([(-r + 1, -r + 1), (r - 1, r - 1)], style)),
        ),
    }
}

/// `text`, cut with an ellipsis to fit `max_w` pixels.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_w: u32,
) -> std::result::Result<String, DrawingAreaErrorKind<DB::ErrorType>> {
    if area.estimate_text_size(text, style)?.0 <= max_w {
        return Ok(text.to_string());
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let cut: String = chars.iter().collect::<String>() + "…";
        if area.estimate_text_size(&cut, style)?.0 <= max_w {
            return Ok(cut);
        }
    }
    Ok(String::new())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> DrawResult<DB> {
    let (w, h) = area.dim_in_pixel();
    let n = entries.len().max(1) as u32;
    let avail = h.saturating_sub(40);
    let row = (avail / n).clamp(16, 34) as i32;
    let mut px = ((row - 8).clamp(12, LEGEND_PX as i32)) as u32;
    // Shrink the text (to 16 px) until the longest label fits; cut what still does not.
    let text_w = w.saturating_sub(74 + 8);
    let widest = |px: u32| -> std::result::Result<u32, DrawingAreaErrorKind<DB::ErrorType>> {
        let mut m = 0;
        for e in entries {
            if let LegendEntry::Item(t, _) = e {
                m = m.max(area.estimate_text_size(t, &font(px))?.0);
            }
        }
        Ok(m)
    };
    while px > 16 && widest(px)? > text_w {
        px -= 1;
    }
    let mut y = 24;
    for e in entries {
        match e {
            LegendEntry::Header(t) => {
                area.draw(&Text::new(t.clone(), (8, y), bold(px)))?;
            }
            LegendEntry::Item(t, style) => {
                let mid = y + px as i32 / 2;
                let seg = vec![(12, mid), (62, mid)];
                let shape = style.shape();
                match style.dash {
                    Dash::Solid => area.draw(&PathElement::new(seg, shape))?,
                    Dash::Dashed => area.draw(&DashedPathElement::new(seg, 12, 6, shape))?,
                    Dash::Dotted => area.draw(&DashedPathElement::new(seg, 3, 5, shape))?,
                }
                if let Some(m) = style.marker {
                    draw_marker(area, (37, mid), m, style.color.filled())?;
                }
                let centred = font(px).pos(Pos::new(HPos::Left, VPos::Center));
                let text = fit_text(area, t, &font(px), text_w)?;
                area.draw(&Text::new(text, (74, mid), centred))?;
            }
        }
        y += row;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{encode, Metric, Recorder, Summary};
    use std::time::Duration;

    /// A cell whose lease latencies spread from `base_us` upward, growing with workers.
    fn cell(scenario: &str, strategy: &str, index: &str, workers: u32, base_us: u64) -> CellResult {
        let mut r = Recorder::default();
        for i in 0..2_000u64 {
            r.record(
                Metric::Lease,
                base_us + (i * 37 % 1_000) * workers as u64 * 3,
            );
        }
        let h = r.get(Metric::Lease);
        let mut c =
            crate::check::tests::cell("17.10 (Debian 17.10-1)", scenario, index, workers, 0.0, 0.0);
        c.strategy = strategy.into();
        c.mode = Mode::Duration(Duration::from_secs(2));
        c.duration_s = 2.0;
        c.leased = 2_000;
        c.completed = 2_000;
        c.lease_calls = 2_000;
        c.throughput_per_s = 1_000.0 * (workers as f64).sqrt();
        c.lease = Summary::of(h);
        c.histograms.insert("lease".to_string(), encode(h));
        c
    }

    fn run(cells: Vec<CellResult>) -> RunResult {
        let mut r = crate::check::tests::run_of(cells);
        r.run_id = "2026-01-02T030405Z-abcd".into();
        r
    }

    fn sweep(scenario: &str, strategy: &str, index: &str, base_us: u64) -> Vec<CellResult> {
        [1, 5, 20, 100]
            .iter()
            .map(|w| cell(scenario, strategy, index, *w, base_us))
            .collect()
    }

    /// Width and height from a PNG's IHDR chunk, after checking the signature.
    fn png_size(path: &Path) -> (u32, u32) {
        let b = std::fs::read(path).unwrap();
        assert!(b.len() > 24, "{} is too short", path.display());
        assert_eq!(
            &b[..8],
            b"\x89PNG\r\n\x1a\n",
            "{} is not a PNG",
            path.display()
        );
        assert_eq!(&b[12..16], b"IHDR");
        let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        (be(16), be(20))
    }

    fn svg_text(path: &Path) -> String {
        let s = std::fs::read_to_string(path).unwrap();
        assert!(s.contains("<svg"), "{} is not an SVG", path.display());
        s
    }

    fn names(files: &[PathBuf]) -> Vec<String> {
        files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn draws_every_plot_as_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let mut cells = sweep("run", "update_returning", "pending_partial", 300);
        cells.extend(sweep("run", "select_update_txn", "pending_partial", 900));
        let files = draw_all(&run(cells), dir.path()).unwrap();
        let id = "2026-01-02T030405Z-abcd";
        let want: Vec<String> = [
            "latency-run",
            "throughput",
            "cdf-run-pg17.10-update_returning-pending_partial",
            "cdf-run-pg17.10-select_update_txn-pending_partial",
        ]
        .iter()
        .flat_map(|n| [format!("{id}-{n}.png"), format!("{id}-{n}.svg")])
        .collect();
        assert_eq!(names(&files), want);
        for f in &files {
            assert!(f.starts_with(dir.path()));
            match f.extension().and_then(|e| e.to_str()) {
                Some("png") => assert_eq!(png_size(f), (WIDTH, HEIGHT), "{}", f.display()),
                _ => {
                    let s = svg_text(f);
                    assert!(s.contains("workers (log scale)") || s.contains("lease latency (ms"));
                    assert!(s.contains(id), "title names the run");
                    assert!(s.contains("PostgreSQL 17.10"), "title names the version");
                }
            }
        }
        let latency = svg_text(&dir.path().join(format!("{id}-latency-run.svg")));
        for text in [
            "lease latency (ms",
            "workers (log scale)",
            SLA_LABEL,
            "p95",
            "select_update_txn",
        ] {
            assert!(latency.contains(text), "latency plot lacks {text:?}");
        }
        let tput = svg_text(&dir.path().join(format!("{id}-throughput.svg")));
        assert!(tput.contains("throughput (leases/s)"));
        let cdf = svg_text(&dir.path().join(format!(
            "{id}-cdf-run-pg17.10-update_returning-pending_partial.svg"
        )));
        for text in ["lease latency (ms", "percentile", "99%", "Workers", "100"] {
            assert!(cdf.contains(text), "CDF plot lacks {text:?}");
        }
    }

    #[test]
    fn one_latency_plot_per_scenario_and_panels_for_many_series() {
        let dir = tempfile::tempdir().unwrap();
        let mut cells = Vec::new();
        for (s, i) in [
            ("update_returning", "pending_partial"),
            ("select_update_txn", "pending_partial"),
            ("update_returning", "btree_run_at"),
            ("select_update_txn", "no_index"),
        ] {
            cells.extend(sweep("saturation", s, i, 200));
        }
        cells.extend(sweep("seed", "update_returning", "pending_partial", 500));
        let files = draw_all(&run(cells), dir.path()).unwrap();
        let n = names(&files);
        let id = "2026-01-02T030405Z-abcd";
        assert!(n.contains(&format!("{id}-latency-saturation.png")), "{n:?}");
        assert!(n.contains(&format!("{id}-latency-seed.png")), "{n:?}");
        assert!(n.contains(&format!(
            "{id}-cdf-seed-pg17.10-update_returning-pending_partial.svg"
        )));
        assert_eq!(n.len(), 2 * (2 + 1 + 5));
        // Four series: three panels side by side.
        let wide = dir.path().join(format!("{id}-latency-saturation.png"));
        assert_eq!(png_size(&wide), (WIDE, HEIGHT));
        let svg = svg_text(&wide.with_extension("svg"));
        for t in [
            "p50 lease latency",
            "p95 lease latency",
            "p99 lease latency",
            "scenario saturation",
        ] {
            assert!(svg.contains(t), "lacks {t:?}");
        }
        let seed = dir.path().join(format!("{id}-latency-seed.png"));
        assert_eq!(png_size(&seed), (WIDTH, HEIGHT));
    }

    #[test]
    fn a_run_without_cells_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = draw_all(&run(Vec::new()), dir.path()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(msg.contains("no cells"), "{msg}");
        assert!(!msg.contains('\n'));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn cells_without_usable_histograms_are_skipped_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let mut cells = sweep("run", "update_returning", "pending_partial", 300);
        cells[0].histograms.clear();
        cells[1]
            .histograms
            .insert("lease".into(), "not base64 at all!".into());
        cells[2].histograms.insert(
            "lease".into(),
            encode(Recorder::default().get(Metric::Lease)),
        );
        // A series whose every histogram is missing: no CDF for it.
        let mut empty = sweep("run", "select_update_txn", "pending_partial", 300);
        for c in &mut empty {
            c.histograms.clear();
        }
        // A cell that leased nothing: off the latency plot, still on throughput.
        let mut idle = cell("run", "select_update_txn", "pending_partial", 200, 300);
        idle.lease = Summary::default();
        idle.histograms.insert(
            "lease".into(),
            encode(Recorder::default().get(Metric::Lease)),
        );
        idle.throughput_per_s = 0.0;
        empty.push(idle);
        cells.extend(empty);

        let drawn = draw_run(&run(cells), dir.path()).unwrap();
        let n = names(&drawn.files);
        assert_eq!(n.len(), 6, "{n:?}");
        assert!(n
            .iter()
            .any(|f| f.contains("cdf-run-pg17.10-update_returning")));
        assert!(!n
            .iter()
            .any(|f| f.contains("cdf-run-pg17.10-select_update_txn")));
        let notes = drawn.notes.join("\n");
        assert!(notes.contains("w=1: no lease histogram"), "{notes}");
        assert!(notes.contains("w=5: lease histogram unreadable"), "{notes}");
        assert!(notes.contains("w=20: empty lease histogram"), "{notes}");
        assert!(notes.contains("w=200: no leases measured"), "{notes}");
        assert!(
            notes.contains("select_update_txn pending_partial: no lease histogram"),
            "{notes}"
        );
        for f in &drawn.files {
            if f.extension().is_some_and(|e| e == "png") {
                png_size(f);
            }
        }
    }

    #[test]
    fn compare_overlays_p95_and_throughput() {
        let dir = tempfile::tempdir().unwrap();
        let series = vec![
            CompareSeries {
                label: "pg15.json".into(),
                points: vec![(10, 2.5, 4_000.0), (1, 0.4, 1_200.0), (100, 80.0, 3_000.0)],
            },
            CompareSeries {
                label: "pg17.json".into(),
                points: vec![(1, 0.3, 1_400.0), (10, 1.9, 5_000.0), (100, 40.0, 3_500.0)],
            },
            CompareSeries {
                label: "nothing".into(),
                points: Vec::new(),
            },
        ];
        let files = draw_compare(&series, &dir.path().join("sub"), "a-vs-b").unwrap();
        assert_eq!(
            names(&files),
            [
                "a-vs-b-p95.png",
                "a-vs-b-p95.svg",
                "a-vs-b-throughput.png",
                "a-vs-b-throughput.svg"
            ]
        );
        assert_eq!(png_size(&files[0]), (WIDTH, HEIGHT));
        assert_eq!(png_size(&files[2]), (WIDTH, HEIGHT));
        let p95 = svg_text(&files[1]);
        for t in [
            "p95 lease latency (ms",
            "workers (log scale)",
            SLA_LABEL,
            "pg15.json",
            "pg17.json",
        ] {
            assert!(p95.contains(t), "lacks {t:?}");
        }
        assert!(svg_text(&files[3]).contains("throughput (leases/s)"));

        let e = draw_compare(&series[2..], dir.path(), "x").unwrap_err();
        assert!(e.to_string().contains("nothing to compare"), "{e}");
    }

    #[test]
    fn cli_draws_next_to_the_result_and_reports_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let r = run(sweep("run", "update_returning", "pending_partial", 300));
        r.save(dir.path()).unwrap();
        let latest = dir.path().join("latest.json");
        assert_eq!(cli(&latest, None).unwrap(), 0);
        let png = dir.path().join("2026-01-02T030405Z-abcd-latency-run.png");
        assert_eq!(png_size(&png), (WIDTH, HEIGHT));

        let out = dir.path().join("plots");
        assert_eq!(cli(&latest, Some(&out)).unwrap(), 0);
        assert!(out.join("2026-01-02T030405Z-abcd-throughput.svg").exists());

        let missing = cli(&dir.path().join("nope.json"), None).unwrap_err();
        assert_eq!(missing.exit_code(), 2);
        assert!(missing.to_string().contains("nope.json"), "{missing}");

        let bad_out = cli(&latest, Some(Path::new("/dev/null/plots"))).unwrap_err();
        assert_eq!(bad_out.exit_code(), 2);
        assert!(bad_out.to_string().contains("/dev/null/plots"), "{bad_out}");

        let empty = dir.path().join("empty.json");
        let mut r0 = run(Vec::new());
        r0.run_id = "empty".into();
        std::fs::write(&empty, serde_json::to_vec(&r0).unwrap()).unwrap();
        let e = cli(&empty, None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("empty.json"), "{e}");
        assert!(e.to_string().contains("no cells"), "{e}");
    }

    #[test]
    fn axes_pick_readable_ticks() {
        assert_eq!(fmt_num(0.05), "0.05");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(5.0), "5");
        assert_eq!(fmt_num(12.5), "12.5");
        assert_eq!(fmt_num(2000.0), "2000");
        assert_eq!(fmt_num(2.5e6), "2.5M");

        // Worker ticks are the counts measured, thinned where they would touch.
        let w = workers_axis(&[1, 5, 10, 20, 50, 100], 800.0);
        let labels: Vec<&str> = w.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["1", "5", "10", "20", "50", "100"]);
        let dense: Vec<u32> = (1..=100).collect();
        let w = workers_axis(&dense, 800.0);
        assert!(w.ticks.len() < 25, "{}", w.ticks.len());
        assert_eq!(w.ticks.first().unwrap().1, "1");
        assert_eq!(w.ticks.last().unwrap().1, "100");

        // Latency over three decades: log, 1-2-5 ticks.
        let y = value_axis("ms", &[0.3, 2.0, 50.0, 120.0], LATENCY_LOG_SPAN);
        assert_eq!(y.scale, Scale::Log10);
        let labels: Vec<&str> = y.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0.5", "1", "2", "5", "10", "20", "50", "100"]);
        // Throughput within two decades: linear from zero.
        let y = value_axis("leases/s", &[900.0, 5_600.0], THROUGHPUT_LOG_SPAN);
        assert_eq!(y.scale, Scale::Linear);
        assert_eq!(y.lo, 0.0);
        assert!(y.hi >= 5_600.0);
        // Zero throughput keeps the axis linear.
        let y = value_axis("leases/s", &[0.0, 5.0, 5_000.0], THROUGHPUT_LOG_SPAN);
        assert_eq!(y.scale, Scale::Linear);

        // The tail axis: 90% -> 1, 99% -> 2.
        assert!((tail(0.9) - 1.0).abs() < 1e-9);
        assert!((tail(0.99) - 2.0).abs() < 1e-9);
        let t = tail_axis(3.0);
        let labels: Vec<&str> = t.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0%", "50%", "90%", "95%", "99%", "99.9%"]);
    }
}
