//! Unit literals: durations (`90s`, `1h30m`) and Kubernetes quantities (`500m`, `64Gi`).
//!
//! Takes the text of a unit literal; gives milliseconds or a [`Quantity`]. A literal is typed by
//! the place it stands in: `5m` is five minutes for `timeout` and five thousandths for `cpu`.

use crate::ir::Quantity;

const DURATION_UNITS: [(&str, u64); 5] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];

const QUANTITY_SUFFIXES: [(&str, i128); 13] = [
    ("m", 1),
    ("k", 1_000_000),
    ("M", 1_000_000_000),
    ("G", 1_000_000_000_000),
    ("T", 1_000_000_000_000_000),
    ("P", 1_000_000_000_000_000_000),
    ("E", 1_000_000_000_000_000_000_000),
    ("Ki", 1_024_000),
    ("Mi", 1_048_576_000),
    ("Gi", 1_073_741_824_000),
    ("Ti", 1_099_511_627_776_000),
    ("Pi", 1_125_899_906_842_624_000),
    ("Ei", 1_152_921_504_606_846_976_000),
];

pub const DURATION_UNIT_NAMES: &str = "`ms`, `s`, `m`, `h`, `d`";
pub const QUANTITY_UNIT_NAMES: &str = "`m`, `k`, `M`, `G`, `T`, `Ki`, `Mi`, `Gi`, `Ti`";

/// Splits `1h30m` into `[("1", "h"), ("30", "m")]`.
fn runs(text: &str) -> Option<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let unit_len = rest[num_len..].find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len() - num_len);
        if num_len == 0 || unit_len == 0 {
            return None;
        }
        out.push((&rest[..num_len], &rest[num_len..num_len + unit_len]));
        rest = &rest[num_len + unit_len..];
    }
    Some(out)
}

/// Milliseconds of a duration literal, or `None` if it is not one.
pub fn duration_ms(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    for (num, unit) in runs(text)? {
        let scale = DURATION_UNITS.iter().find(|(u, _)| *u == unit)?.1;
        let ms = if num.contains('.') {
            let f: f64 = num.parse().ok()?;
            (f * scale as f64).round() as u64
        } else {
            num.parse::<u64>().ok()?.checked_mul(scale)?
        };
        total = total.checked_add(ms)?;
    }
    Some(total)
}

/// A quantity literal, or `None` if it is not one.
pub fn quantity(text: &str) -> Option<Quantity> {
    let runs = runs(text)?;
    let [(num, unit)] = runs.as_slice() else {
        return None;
    };
    let scale = QUANTITY_SUFFIXES.iter().find(|(u, _)| u == unit)?.1;
    let milli = if num.contains('.') {
        let f: f64 = num.parse().ok()?;
        (f * scale as f64).round() as i128
    } else {
        num.parse::<i128>().ok()?.checked_mul(scale)?
    };
    Some(Quantity { text: text.to_string(), milli })
}

/// A quantity from a plain number (`cpu = 2`, `memory = 1024`).
pub fn quantity_of_number(n: f64, text: String) -> Quantity {
    Quantity { text, milli: (n * 1000.0).round() as i128 }
}

/// Formats milliseconds back as the shortest duration literal.
pub fn format_duration(ms: u64) -> String {
    for (unit, scale) in DURATION_UNITS.iter().rev() {
        if ms >= *scale && ms.is_multiple_of(*scale) {
            return format!("{}{unit}", ms / scale);
        }
    }
    format!("{ms}ms")
}
