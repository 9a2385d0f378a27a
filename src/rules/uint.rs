//! Suricata's unsigned 8-bit integer keyword syntax (`rules-integer-keywords`), as its MQTT
//! keywords take it: `5`, `=5`, `>5`, `>=5`, `<5`, `<=5`, `!5`, `!=5`, exclusive ranges `1-5`
//! and `1<>5` (matching 2 to 4), negated ranges `!1-5`, bit masks `&0x09=0x08` and `&0x09!=0`,
//! hexadecimal `0x1f`. Spaces are allowed where Suricata allows them.

/// A parsed comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum U8Cmp {
    Eq(u8),
    Ne(u8),
    Lt(u8),
    Le(u8),
    Gt(u8),
    Ge(u8),
    /// Strictly between the two bounds.
    Range(u8, u8),
    /// At or outside the bounds.
    NotRange(u8, u8),
    /// `value & mask == want`.
    Mask {
        mask: u8,
        want: u8,
    },
    /// `value & mask != want`.
    NotMask {
        mask: u8,
        want: u8,
    },
}

impl U8Cmp {
    pub fn matches(self, v: u8) -> bool {
        match self {
            U8Cmp::Eq(a) => v == a,
            U8Cmp::Ne(a) => v != a,
            U8Cmp::Lt(a) => v < a,
            U8Cmp::Le(a) => v <= a,
            U8Cmp::Gt(a) => v > a,
            U8Cmp::Ge(a) => v >= a,
            U8Cmp::Range(a, b) => v > a && v < b,
            U8Cmp::NotRange(a, b) => v <= a || v >= b,
            U8Cmp::Mask { mask, want } => v & mask == want,
            U8Cmp::NotMask { mask, want } => v & mask != want,
        }
    }

    /// Parses the whole argument; None when Suricata would refuse it.
    pub fn parse(s: &str) -> Option<U8Cmp> {
        let s = s.trim_start_matches(' ');
        let (cmp, rest) = bitmask(s)
            .or_else(|| interval(s))
            .or_else(|| equal(s))
            .or_else(|| symbol(s))?;
        rest.trim_start_matches(' ').is_empty().then_some(cmp)
    }
}

/// A number: `0x` hexadecimal or decimal, optionally with a size unit (which only `0` survives
/// in 8 bits, as in Suricata).
fn value(s: &str) -> Option<(u8, &str)> {
    if let Some(hex) = s.strip_prefix("0x") {
        let end = hex
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(hex.len());
        if end == 0 {
            return None;
        }
        return Some((u8::from_str_radix(&hex[..end], 16).ok()?, &hex[end..]));
    }
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let n: u8 = s[..end].parse().ok()?;
    let rest = &s[end..];
    let lower = rest.to_ascii_lowercase();
    for unit in ["kib", "kb", "mib", "mb", "gib", "gb"] {
        if lower.starts_with(unit) {
            // Any unit is at least 1024: only zero still fits in a byte.
            return (n == 0).then_some((0, &rest[unit.len()..]));
        }
    }
    Some((n, rest))
}

fn spaces(s: &str) -> &str {
    s.trim_start_matches(' ')
}

fn bitmask(s: &str) -> Option<(U8Cmp, &str)> {
    let s = spaces(s).strip_prefix('&')?;
    let (mask, s) = value(spaces(s))?;
    let s = spaces(s);
    let (neg, s) = match s.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let s = s.strip_prefix('=')?;
    let (want, s) = value(spaces(s))?;
    if want & mask != want {
        return None; // could never match
    }
    let cmp = if neg {
        U8Cmp::NotMask { mask, want }
    } else {
        U8Cmp::Mask { mask, want }
    };
    Some((cmp, s))
}

fn interval(s: &str) -> Option<(U8Cmp, &str)> {
    let (neg, s) = match s.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (a, s) = value(s)?;
    let s = spaces(s);
    let s = s.strip_prefix('-').or_else(|| s.strip_prefix("<>"))?;
    let (b, s) = value(spaces(s))?;
    if b <= a || b - a <= 1 {
        return None;
    }
    Some((
        if neg {
            U8Cmp::NotRange(a, b)
        } else {
            U8Cmp::Range(a, b)
        },
        s,
    ))
}

fn equal(s: &str) -> Option<(U8Cmp, &str)> {
    let s = s.strip_prefix('=').unwrap_or(s);
    let (a, s) = value(spaces(s))?;
    Some((U8Cmp::Eq(a), s))
}

fn symbol(s: &str) -> Option<(U8Cmp, &str)> {
    type Make = fn(u8) -> U8Cmp;
    let ops: [(&str, Make); 7] = [
        (">=", U8Cmp::Ge),
        ("<=", U8Cmp::Le),
        (">", U8Cmp::Gt),
        ("<", U8Cmp::Lt),
        ("!=", U8Cmp::Ne),
        ("!", U8Cmp::Ne),
        ("=", U8Cmp::Eq),
    ];
    let (op, make) = ops.iter().find(|(op, _)| s.starts_with(op))?;
    let (a, rest) = value(spaces(&s[op.len()..]))?;
    let ok = match *op {
        ">=" | "<" => a != u8::MIN,
        "<=" | ">" => a != u8::MAX,
        "!=" | "!" => true,
        _ => false, // `=` is the equal form's, which already failed
    };
    ok.then(|| (make(a), rest))
}

#[cfg(test)]
mod tests {
    use super::U8Cmp::*;
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(U8Cmp::parse("5"), Some(Eq(5)));
        assert_eq!(U8Cmp::parse(" =5 "), Some(Eq(5)));
        assert_eq!(U8Cmp::parse("0x1f"), Some(Eq(31)));
        assert_eq!(U8Cmp::parse(">5"), Some(Gt(5)));
        assert_eq!(U8Cmp::parse(">= 5"), Some(Ge(5)));
        assert_eq!(U8Cmp::parse("<5"), Some(Lt(5)));
        assert_eq!(U8Cmp::parse("<=5"), Some(Le(5)));
        assert_eq!(U8Cmp::parse("!5"), Some(Ne(5)));
        assert_eq!(U8Cmp::parse("!=5"), Some(Ne(5)));
        assert_eq!(U8Cmp::parse("1-5"), Some(Range(1, 5)));
        assert_eq!(U8Cmp::parse("1 <> 5"), Some(Range(1, 5)));
        assert_eq!(U8Cmp::parse("!1-5"), Some(NotRange(1, 5)));
        assert_eq!(U8Cmp::parse("&0x09=0x08"), Some(Mask { mask: 9, want: 8 }));
        assert_eq!(U8Cmp::parse("& 9 != 0"), Some(NotMask { mask: 9, want: 0 }));
        assert_eq!(U8Cmp::parse("0kb"), Some(Eq(0)));
    }

    #[test]
    fn refused_like_suricata() {
        for bad in [
            "", "x", "256", "1kb", ">255", "<0", ">=0", "<=255", "1-2", "5-1", "&1=2", "5 6", "=",
            "CONNECT",
        ] {
            assert_eq!(U8Cmp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn matching() {
        assert!(Range(1, 5).matches(2) && Range(1, 5).matches(4));
        assert!(!Range(1, 5).matches(1) && !Range(1, 5).matches(5));
        assert!(NotRange(1, 5).matches(1) && NotRange(1, 5).matches(5));
        assert!(!NotRange(1, 5).matches(3));
        assert!(Mask { mask: 9, want: 8 }.matches(0x0a));
        assert!(!Mask { mask: 9, want: 8 }.matches(0x09));
        assert!(NotMask { mask: 9, want: 8 }.matches(0x09));
        assert!(Ge(3).matches(3) && !Gt(3).matches(3) && Le(3).matches(3) && !Lt(3).matches(3));
        assert!(Ne(3).matches(4) && !Ne(3).matches(3) && Eq(3).matches(3));
    }
}
