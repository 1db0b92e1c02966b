//! Resource quantities (`resource.Quantity`) as exact numbers and as their canonical text
//! (`Quantity.String()`), and a pod's QoS class, which compares them.
//!
//! Sources: k8s.io/apimachinery/pkg/api/resource/quantity.go (the format: decimal and binary
//! suffixes, exponents; nano is the finest precision, anything finer rounds up) and
//! pkg/apis/core/helper/qos/qos.go `ComputePodQOS` (v1.33, `PodLevelResources` off).

use std::borrow::Cow;

use serde_json::Value;

/// Billionths of a unit in one unit.
const NANOS: i128 = 1_000_000_000;
/// `resource.MaxMilliValue`: above it, quantities are compared in whole units.
pub const MAX_MILLI_VALUE: i128 = 9_223_372_036_854_775;

/// A quantity in billionths of its unit (`1Gi` → 1073741824 × 10⁹, `100m` → 10⁸), rounded up
/// below a billionth as Kubernetes rounds; `None` when the text is not a quantity. Exact, so
/// `1` and `1000m` are equal as Go's `Quantity.Cmp` finds them. Values beyond ±1.7 × 10²⁹
/// units (a billionth of `i128::MAX`) saturate.
pub fn nanos(text: &str) -> Option<i128> {
    let text = text.trim();
    let (sign, rest) = match text.as_bytes().first()? {
        b'-' => (-1i128, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    if number.is_empty() || number == "." {
        return None;
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') {
        return None;
    }
    if !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut exponent10: i32 = -i32::try_from(fraction.len()).ok()?;
    let mut exponent2: u32 = 0;
    match suffix {
        "" => {}
        "n" => exponent10 -= 9,
        "u" => exponent10 -= 6,
        "m" => exponent10 -= 3,
        "k" => exponent10 += 3,
        "M" => exponent10 += 6,
        "G" => exponent10 += 9,
        "T" => exponent10 += 12,
        "P" => exponent10 += 15,
        "E" => exponent10 += 18,
        "Ki" => exponent2 = 10,
        "Mi" => exponent2 = 20,
        "Gi" => exponent2 = 30,
        "Ti" => exponent2 = 40,
        "Pi" => exponent2 = 50,
        "Ei" => exponent2 = 60,
        other => {
            let exponent = other.strip_prefix(['e', 'E'])?;
            exponent10 = exponent10.checked_add(exponent.parse::<i32>().ok()?)?;
        }
    }
    // Billionths: the value is digits × 10^exponent10 × 2^exponent2.
    let exponent10 = exponent10.checked_add(9)?;
    let value = billionths(whole, fraction, exponent10, exponent2).unwrap_or(i128::MAX);
    Some(sign * value)
}

/// `digits × 10^exponent10 × 2^exponent2` rounded up, `None` when it overflows; the digits are
/// ASCII digits.
fn billionths(whole: &str, fraction: &str, exponent10: i32, exponent2: u32) -> Option<i128> {
    let mut digits: i128 = 0;
    for c in whole.bytes().chain(fraction.bytes()) {
        digits = digits.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    let value = digits.checked_mul(1i128.checked_shl(exponent2)?)?;
    if exponent10 >= 0 {
        value.checked_mul(10i128.checked_pow(u32::try_from(exponent10).ok()?)?)
    } else {
        // More than 38 digits below a billionth: whatever is left rounds up to one.
        let divisor = 10i128.checked_pow(exponent10.unsigned_abs()).unwrap_or(i128::MAX);
        Some(value / divisor + i128::from(value % divisor != 0))
    }
}

/// A quantity in thousandths of its unit, rounded up (`Quantity.MilliValue()`).
pub fn milli(text: &str) -> Option<i128> {
    nanos(text).map(|n| ceil_div(n, 1_000_000))
}

/// A quantity in whole units, rounded up (`Quantity.Value()`).
pub fn whole(text: &str) -> Option<i128> {
    nanos(text).map(|n| ceil_div(n, NANOS))
}

/// Division rounding towards positive infinity.
fn ceil_div(n: i128, d: i128) -> i128 {
    let quotient = n.div_euclid(d);
    if n.rem_euclid(d) == 0 { quotient } else { quotient + 1 }
}

/// A pod's QoS class (`status.qosClass`) from its containers' and init containers'
/// `resources`, as `ComputePodQOS` decides it: only `cpu` and `memory` count, and only
/// quantities above zero; `BestEffort` when nothing is requested or limited; `Guaranteed` when
/// every container limits both and the pod's summed requests equal its summed limits,
/// resource by resource; else `Burstable`. Each item is one container's (requests, limits),
/// each a list of (resource, quantity).
pub fn qos_class<C, R, S, Q>(containers: C) -> &'static str
where
    C: IntoIterator<Item = (R, R)>,
    R: IntoIterator<Item = (S, Q)>,
    S: AsRef<str>,
    Q: AsRef<str>,
{
    let mut requests = [0i128; 2];
    let mut limits = [0i128; 2];
    let mut requested = [false; 2];
    let mut limited = [false; 2];
    let mut guaranteed = true;
    let slot = |name: &S| match name.as_ref() {
        "cpu" => Some(0),
        "memory" => Some(1),
        _ => None,
    };
    for (container_requests, container_limits) in containers {
        for (name, quantity) in container_requests {
            if let (Some(i), Some(n)) = (slot(&name), nanos(quantity.as_ref()))
                && n > 0
            {
                requests[i] = requests[i].saturating_add(n);
                requested[i] = true;
            }
        }
        let mut found = [false; 2];
        for (name, quantity) in container_limits {
            if let (Some(i), Some(n)) = (slot(&name), nanos(quantity.as_ref()))
                && n > 0
            {
                limits[i] = limits[i].saturating_add(n);
                limited[i] = true;
                found[i] = true;
            }
        }
        if found != [true, true] {
            guaranteed = false;
        }
    }
    if requested == [false; 2] && limited == [false; 2] {
        return "BestEffort";
    }
    // Every requested resource is limited at the same amount, and as many are limited.
    let matched = (0..2).all(|i| !requested[i] || (limited[i] && limits[i] == requests[i]));
    let counts = |set: [bool; 2]| set.iter().filter(|b| **b).count();
    if guaranteed && matched && counts(requested) == counts(limited) {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// [`qos_class`] of a pod as JSON (its `spec`'s containers and init containers).
pub fn pod_qos_class(pod: &Value) -> &'static str {
    let spec = &pod["spec"];
    let containers = ["containers", "initContainers"]
        .into_iter()
        .filter_map(|list| spec[list].as_array())
        .flatten();
    qos_class(containers.map(|container| {
        let resources = &container["resources"];
        (pairs(&resources["requests"]), pairs(&resources["limits"]))
    }))
}

/// A resource list's (resource, quantity) pairs.
fn pairs(map: &Value) -> Vec<(&str, Cow<'_, str>)> {
    map.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, quantity)| Some((name.as_str(), text(quantity)?)))
        .collect()
}

/// A quantity field's text: a string, or a bare number (which Kubernetes also accepts).
pub fn text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(text) => Some(Cow::Borrowed(text)),
        Value::Number(number) => Some(Cow::Owned(number.to_string())),
        _ => None,
    }
}

// === canonical text ===

/// How a quantity prints (`resource.Format`), as the suffix it was written with decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, … (`BinarySI`).
    BinarySi,
    /// `n`, `m`, `k`, `M`, … or no suffix (`DecimalSI`).
    DecimalSi,
    /// `e3`, `E-2` (`DecimalExponent`).
    DecimalExponent,
}

/// A parsed `resource.Quantity`: its value in billionths and the format it prints in. Its
/// `Display` is `Quantity.String()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// The value in billionths of a unit, as [`nanos`] reads it.
    pub nanos: i128,
    /// How it prints.
    pub format: Format,
}

impl Quantity {
    /// `ParseQuantity`: `None` when the text is not a quantity.
    pub fn parse(text: &str) -> Option<Quantity> {
        let nanos = nanos(text)?;
        let suffix = text.trim().trim_start_matches(['+', '-']);
        let suffix = suffix.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        let format = match suffix {
            "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => Format::BinarySi,
            "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => Format::DecimalSi,
            _ => Format::DecimalExponent,
        };
        Some(Quantity { nanos, format })
    }

    /// A quantity field (a string, or a bare number).
    pub fn of(value: &Value) -> Option<Quantity> {
        Quantity::parse(&text(value)?)
    }

    /// `Quantity.Value()`: whole units, rounded up.
    pub fn value(self) -> i128 {
        ceil_div(self.nanos, NANOS)
    }

    /// `Quantity.MilliValue()`: thousandths, rounded up.
    pub fn milli_value(self) -> i128 {
        ceil_div(self.nanos, 1_000_000)
    }
}

/// `Quantity.Add`: the sum, in the left quantity's format unless that one is zero.
impl std::ops::Add for Quantity {
    type Output = Quantity;

    fn add(self, other: Quantity) -> Quantity {
        let format = if self.nanos == 0 { other.format } else { self.format };
        Quantity { nanos: self.nanos.saturating_add(other.nanos), format }
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&canonical_value(self.nanos, self.format))
    }
}

/// `Quantity.String()` of `text`: its canonical form (`1024Mi` → `1Gi`, `0.5` → `500m`,
/// `2000` → `2k`); `None` when the text is not a quantity.
pub fn canonical(text: &str) -> Option<String> {
    Quantity::parse(text).map(|q| q.to_string())
}

/// `Quantity.String()` of a value in billionths with `format` (`CanonicalizeBytes`): a binary
/// quantity below 1024, or not whole, prints as a decimal one; decimal ones print with the
/// largest suffix (a power of 1000) that keeps the number whole.
pub fn canonical_value(nanos: i128, format: Format) -> String {
    if nanos == 0 {
        return "0".to_owned();
    }
    let whole = (nanos % NANOS == 0).then_some(nanos / NANOS);
    if format == Format::BinarySi
        && let Some(mut number) = whole.filter(|n| n.abs() >= 1024)
    {
        let mut power = 0;
        while number % 1024 == 0 && power < 6 {
            number /= 1024;
            power += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
        return format!("{number}{suffix}");
    }
    // `AsCanonicalBytes`: the mantissa without trailing zeros, then the exponent down to a
    // multiple of three.
    let (mut mantissa, mut exponent) = (nanos, -9i32);
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    let down = exponent.rem_euclid(3);
    mantissa *= 10i128.pow(down.unsigned_abs());
    exponent -= down;
    let suffix = match (format, exponent) {
        (_, 0) => String::new(),
        (Format::DecimalExponent, e) => format!("e{e}"),
        (_, -9) => "n".to_owned(),
        (_, -6) => "u".to_owned(),
        (_, -3) => "m".to_owned(),
        (_, 3) => "k".to_owned(),
        (_, 6) => "M".to_owned(),
        (_, 9) => "G".to_owned(),
        (_, 12) => "T".to_owned(),
        (_, 15) => "P".to_owned(),
        (_, 18) => "E".to_owned(),
        (_, e) => format!("e{e}"),
    };
    format!("{mantissa}{suffix}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quantities_are_exact_values() {
        let gi: i128 = 1 << 30;
        let cases: &[(&str, Option<i128>)] = &[
            ("1", Some(NANOS)),
            ("100m", Some(100_000_000)),
            ("0.5", Some(500_000_000)),
            ("1.5k", Some(1_500 * NANOS)),
            ("1Ki", Some(1_024 * NANOS)),
            ("2Gi", Some(2 * gi * NANOS)),
            ("1.5Gi", Some(3 * gi * NANOS / 2)),
            ("1e3", Some(1_000 * NANOS)),
            ("1E-3", Some(1_000_000)),
            ("1n", Some(1)),
            ("0.1n", Some(1)),
            ("1e-40", Some(1)),
            ("-2", Some(-2 * NANOS)),
            ("+3", Some(3 * NANOS)),
            (" 4 ", Some(4 * NANOS)),
            ("0", Some(0)),
            ("", None),
            ("abc", None),
            ("Gi", None),
            ("1Qi", None),
            ("1Xi", None),
            ("1.2.3", None),
            ("1e99", Some(i128::MAX)),
            ("-1e99", Some(-i128::MAX)),
            ("1e", None),
        ];
        for (text, want) in cases {
            assert_eq!(nanos(text), *want, "{text}");
        }
        assert_eq!(nanos("1"), nanos("1000m"));
        assert_eq!(nanos("1Gi"), nanos("1024Mi"));
        assert_eq!(milli("1n"), Some(1), "rounds up");
        assert_eq!(milli("-1n"), Some(0));
        assert_eq!(milli("2Gi"), Some(2 * gi * 1000));
        assert_eq!(whole("100m"), Some(1), "rounds up");
        assert_eq!(whole("1Ki"), Some(1024));
    }

    #[test]
    fn quantities_print_canonically() {
        let cases = [
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("100Ki", "100Ki"),
            ("1000M", "1G"),
            ("1500M", "1500M"),
            ("2000", "2k"),
            ("0.5", "500m"),
            ("100m", "100m"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-1Gi", "-1Gi"),
            ("5000000000", "5G"),
            ("1n", "1n"),
        ];
        for (text, want) in cases {
            assert_eq!(canonical(text).as_deref(), Some(want), "{text}");
        }
        assert_eq!(canonical("abc"), None);
        let parsed = |text: &str| Quantity::parse(text).unwrap();
        assert_eq!(parsed("2Gi"), Quantity { nanos: (2 * NANOS) << 30, format: Format::BinarySi });
        assert_eq!(parsed("2E").format, Format::DecimalSi);
        assert_eq!(parsed("2E3").format, Format::DecimalExponent);
        assert_eq!(Quantity::of(&json!(1.5)), Some(parsed("1500m")));
        assert_eq!((parsed("100m").value(), parsed("1n").milli_value()), (1, 1));
        // A sum keeps its first operand's format (a zero one takes the other's), as
        // `Quantity.Add` does.
        assert_eq!((parsed("1Gi") + parsed("512Mi")).to_string(), "1536Mi");
        assert_eq!((parsed("1G") + parsed("512M")).to_string(), "1512M");
        assert_eq!((parsed("1G") + parsed("1Gi")).to_string(), "2073741824");
        assert_eq!((parsed("0") + parsed("1Ki")).to_string(), "1Ki");
    }

    #[test]
    fn qos_classes_are_computed_as_kubernetes_computes_them() {
        let pod = |containers: Value, init: Value| json!({"spec": {"containers": containers, "initContainers": init}});
        let one = |resources: Value| pod(json!([{"name": "a", "resources": resources}]), json!([]));
        let cases = [
            (one(json!({})), "BestEffort"),
            (one(json!({"requests": {"ephemeral-storage": "1Gi"}})), "BestEffort"),
            (one(json!({"requests": {"cpu": "0"}, "limits": {"memory": "0"}})), "BestEffort"),
            (one(json!({"requests": {"cpu": "100m"}})), "Burstable"),
            (
                one(
                    json!({"requests": {"cpu": 1, "memory": 1024}, "limits": {"cpu": "1", "memory": "1Ki"}}),
                ),
                "Guaranteed",
            ),
            (one(json!({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}})), "Burstable"),
            (
                one(json!({"limits": {"cpu": "1", "memory": "1Gi"},
                           "requests": {"cpu": "1", "memory": "1Gi"}})),
                "Guaranteed",
            ),
            (
                // Equal values in different notations.
                one(json!({"limits": {"cpu": "1", "memory": "1Gi"},
                           "requests": {"cpu": "1000m", "memory": "1024Mi"}})),
                "Guaranteed",
            ),
            (
                // Limits only (defaulting copies them into the requests before this runs):
                // nothing requested, two resources limited.
                one(json!({"limits": {"cpu": "1", "memory": "1Gi"}})),
                "Burstable",
            ),
            (
                one(json!({"limits": {"cpu": "1", "memory": "1Gi"},
                           "requests": {"cpu": "500m", "memory": "1Gi"}})),
                "Burstable",
            ),
            (
                // Every container must limit both.
                pod(
                    json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                                                       "requests": {"cpu": "1", "memory": "1Gi"}}},
                           {"name": "b"}]),
                    json!([]),
                ),
                "Burstable",
            ),
            (
                // Init containers count, and sums are compared.
                pod(
                    json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                                                       "requests": {"cpu": "1", "memory": "1Gi"}}}]),
                    json!([{"name": "i", "resources": {"limits": {"cpu": "2", "memory": "1Gi"},
                                                       "requests": {"cpu": "2", "memory": "1Gi"}}}]),
                ),
                "Guaranteed",
            ),
            (
                pod(
                    json!([{"name": "a"}]),
                    json!([{"name": "i", "resources": {"requests": {"memory": "1Mi"}}}]),
                ),
                "Burstable",
            ),
        ];
        for (pod, want) in cases {
            assert_eq!(pod_qos_class(&pod), want, "{pod}");
        }
    }
}
