//! Shared pieces of berth's benchmarks: the report that prints every figure beside the floor it
//! was measured against in the same run, their ratio, and whether the goal was met.
//!
//! The binaries under `src/bin/` measure; this file only formats, so its rules (how a ratio is
//! taken, when a goal counts as met) are unit-tested and the same for every benchmark.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// What a figure counts, which decides how it is printed and which direction is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Operations per second: higher is better.
    PerSecond,
    /// A latency in milliseconds: lower is better.
    Millis,
    /// Memory in MiB: lower is better.
    MiB,
    /// Memory in kilobytes of 1,000 bytes: lower is better.
    Kb,
}

/// What a figure should reach.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// No goal: the figure and its ratio are information.
    None,
    /// `figure / floor` must be at least this.
    RatioAtLeast(f64),
    /// The figure itself must be at most this, in its unit.
    AtMost(f64),
}

/// The raw measurement a figure is compared with, taken in the same run.
#[derive(Clone, Debug, PartialEq)]
pub struct Floor {
    pub name: String,
    pub value: f64,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub name: String,
    pub unit: Unit,
    pub value: f64,
    pub floor: Option<Floor>,
    pub goal: Goal,
}

/// Whether a row met its goal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Miss,
    /// The row has no goal.
    Info,
}

impl Row {
    pub fn new(name: impl Into<String>, unit: Unit, value: f64) -> Row {
        Row { name: name.into(), unit, value, floor: None, goal: Goal::None }
    }

    pub fn floor(mut self, name: impl Into<String>, value: f64) -> Row {
        self.floor = Some(Floor { name: name.into(), value });
        self
    }

    pub fn goal(mut self, goal: Goal) -> Row {
        self.goal = goal;
        self
    }

    /// `value / floor`, whatever the unit: above 1 is faster for writes/s, slower for latencies.
    pub fn ratio(&self) -> Option<f64> {
        let floor = self.floor.as_ref()?;
        (floor.value > 0.0).then(|| self.value / floor.value)
    }

    pub fn verdict(&self) -> Verdict {
        match self.goal {
            Goal::None => Verdict::Info,
            Goal::RatioAtLeast(goal) => match self.ratio() {
                Some(ratio) if ratio >= goal => Verdict::Ok,
                // No usable floor means the goal cannot be shown to be met.
                _ => Verdict::Miss,
            },
            Goal::AtMost(limit) if self.value <= limit => Verdict::Ok,
            Goal::AtMost(_) => Verdict::Miss,
        }
    }
}

/// The rows as an aligned text table with a header line.
pub fn render(rows: &[Row]) -> String {
    let header = ["figure", "berth", "floor", "floor value", "ratio", "goal", ""];
    let mut cells: Vec<[String; 7]> = vec![header.map(String::from)];
    for row in rows {
        let (floor_name, floor_value) = match &row.floor {
            Some(floor) => (floor.name.clone(), format_value(row.unit, floor.value)),
            None => ("-".into(), "-".into()),
        };
        let ratio = row.ratio().map_or_else(|| "-".into(), |ratio| format!("{ratio:.2}"));
        let goal = match row.goal {
            Goal::None => "-".into(),
            Goal::RatioAtLeast(goal) => format!("ratio >= {goal}"),
            Goal::AtMost(limit) => format!("<= {}", format_value(row.unit, limit)),
        };
        let verdict = match row.verdict() {
            Verdict::Ok => "OK",
            Verdict::Miss => "MISS",
            Verdict::Info => "",
        };
        cells.push([
            row.name.clone(),
            format_value(row.unit, row.value),
            floor_name,
            floor_value,
            ratio,
            goal,
            verdict.into(),
        ]);
    }
    let mut widths = [0; 7];
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &cells {
        let mut text = String::new();
        for (column, (cell, width)) in line.iter().zip(widths).enumerate() {
            // Names left-aligned, numbers right-aligned so their digits line up.
            let numeric = matches!(column, 1 | 3 | 4);
            let _ = if numeric {
                write!(text, "{cell:>width$}  ")
            } else {
                write!(text, "{cell:<width$}  ")
            };
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// `1234567.8` as `1,234,568` for rates; milliseconds with two decimals; memory with one.
pub fn format_value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::PerSecond => thousands(value.round() as u64),
        Unit::Millis => format!("{value:.2} ms"),
        Unit::MiB => format!("{value:.1} MiB"),
        Unit::Kb => format!("{value:.1} KB"),
    }
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// p50 and p99 rows for a latency figure beside its floor; `p99_goal` in milliseconds.
pub fn latency_rows(
    name: &str,
    figure: &Histogram<u64>,
    floor_name: &str,
    floor: &Histogram<u64>,
    p99_goal: Option<f64>,
) -> [Row; 2] {
    [("p50", 0.5), ("p99", 0.99)].map(|(label, quantile)| {
        let row = Row::new(format!("{name} {label}"), Unit::Millis, quantile_ms(figure, quantile))
            .floor(format!("{floor_name} {label}"), quantile_ms(floor, quantile));
        match p99_goal {
            Some(goal) if label == "p99" => row.goal(Goal::AtMost(goal)),
            _ => row,
        }
    })
}

/// One progress line: a latency's p50 and p99.
pub fn latency_line(name: &str, histogram: &Histogram<u64>) -> String {
    format!(
        "  {name:<32} p50 {:>7.2} ms   p99 {:>7.2} ms",
        quantile_ms(histogram, 0.5),
        quantile_ms(histogram, 0.99)
    )
}

/// Operations and the time they took, summed over rounds.
#[derive(Debug, Default)]
pub struct Rate {
    operations: usize,
    elapsed: std::time::Duration,
}

impl Rate {
    /// Adds one round; returns that round's rate.
    pub fn add(&mut self, operations: usize, elapsed: std::time::Duration) -> f64 {
        self.operations += operations;
        self.elapsed += elapsed;
        operations as f64 / elapsed.as_secs_f64()
    }

    pub fn per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64()
    }
}

/// Records a latency in microseconds (at least 1).
pub fn record(
    histogram: &mut Histogram<u64>,
    elapsed: std::time::Duration,
) -> Result<(), hdrhistogram::RecordError> {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
    histogram.record(micros)
}

/// A latency histogram in microseconds, from 1 µs to one minute, three significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// The latency at `quantile` of a histogram in microseconds, in milliseconds.
pub fn quantile_ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(47_000), "47,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn ratio_goal_is_met_at_or_above_the_ratio() {
        let row = |value| {
            Row::new("w", Unit::PerSecond, value).floor("f", 1000.0).goal(Goal::RatioAtLeast(0.8))
        };
        assert_eq!(row(800.0).verdict(), Verdict::Ok);
        assert_eq!(row(799.0).verdict(), Verdict::Miss);
        assert_eq!(row(3000.0).ratio(), Some(3.0));
    }

    #[test]
    fn ratio_goal_without_a_floor_is_a_miss() {
        let row = Row::new("w", Unit::PerSecond, 5.0).goal(Goal::RatioAtLeast(0.8));
        assert_eq!(row.ratio(), None);
        assert_eq!(row.verdict(), Verdict::Miss);
        let zero = row.floor("f", 0.0);
        assert_eq!(zero.ratio(), None);
        assert_eq!(zero.verdict(), Verdict::Miss);
    }

    #[test]
    fn absolute_goal_is_met_at_or_below_the_limit() {
        let row = |value| Row::new("p99", Unit::Millis, value).goal(Goal::AtMost(10.0));
        assert_eq!(row(10.0).verdict(), Verdict::Ok);
        assert_eq!(row(10.01).verdict(), Verdict::Miss);
        assert_eq!(Row::new("x", Unit::Millis, 1.0).verdict(), Verdict::Info);
    }

    #[test]
    fn render_prints_every_column() {
        let rows = [Row::new("sqlite seq CAS writes/s", Unit::PerSecond, 5400.0)
            .floor("rusqlite FULL", 6100.0)
            .goal(Goal::RatioAtLeast(0.8))];
        let table = render(&rows);
        let line = table.lines().nth(1).expect("a row line");
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words,
            [
                "sqlite", "seq", "CAS", "writes/s", "5,400", "rusqlite", "FULL", "6,100", "0.89",
                "ratio", ">=", "0.8", "OK"
            ]
        );
    }

    #[test]
    fn latency_quantiles_are_in_milliseconds() {
        let mut histogram = latency_histogram();
        for micros in 1..=100 {
            histogram.record(micros * 100).expect("in bounds");
        }
        assert!((quantile_ms(&histogram, 0.5) - 5.0).abs() < 0.01);
        assert!((quantile_ms(&histogram, 0.99) - 9.9).abs() < 0.01);
    }
}
