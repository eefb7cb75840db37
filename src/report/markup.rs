//! Escaping and number formatting shared by the HTML and SVG renderers, so that every text a
//! spec supplies is escaped in one way and every figure prints the same on every run.

/// Escapes text for HTML/XML element content and for attribute values in double or single
/// quotes. Spec texts carry quotes, `<`, `>` and `&` (prompts, regexes, claims).
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not allowed in XML 1.0 at all,
            // even escaped; a data file could still carry one.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A figure with a fixed number of decimals; non-finite values print as words so that no
/// `NaN` reaches a page.
pub(crate) fn num(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        "n/a".into()
    } else if x == f64::INFINITY {
        "∞".into()
    } else if x == f64::NEG_INFINITY {
        "−∞".into()
    } else {
        let s = format!("{x:.decimals$}");
        // "-0.000" reads as a sign that is not there.
        if s.trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            s.trim_start_matches('-').to_string()
        } else {
            s
        }
    }
}

/// `point [low, high]` with three decimals, the form every figure takes in the report; a
/// figure known exactly (a mean over prompts, a constant) prints as its point alone.
pub(crate) fn range(point: f64, low: f64, high: f64) -> String {
    let (p, l, h) = (num(point, 3), num(low, 3), num(high, 3));
    if p == l && p == h {
        p
    } else {
        format!("{p} [{l}, {h}]")
    }
}

/// A p-value with its relation, to follow `p`: `= 0.0571`, or `< 0.0001` below four decimals.
pub(crate) fn p_value(p: f64) -> String {
    if p.is_finite() && p < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("= {}", num(p, 4))
    }
}

/// A coordinate in an SVG: one decimal is finer than a pixel and keeps files small and stable.
pub(crate) fn px(x: f64) -> String {
    num(if x.is_finite() { x } else { 0.0 }, 1)
}

/// A name usable as a file name and an HTML id: ASCII letters, digits, `-`, `_` and `.` kept,
/// anything else becomes `_` (prompt names come from data files).
pub(crate) fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // A leading dot would hide the file on Unix.
    s.trim_start_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("bell\u{7}"), "bell\u{FFFD}");
        assert_eq!(esc("line\nnext"), "line\nnext");
    }

    #[test]
    fn numbers_are_fixed_and_never_nan() {
        assert_eq!(num(1.23456, 3), "1.235");
        assert_eq!(num(-0.0001, 3), "0.000");
        assert_eq!(num(f64::NAN, 3), "n/a");
        assert_eq!(num(f64::INFINITY, 3), "∞");
        assert_eq!(p_value(1e-7), "< 0.0001");
        assert_eq!(p_value(0.05709), "= 0.0571");
        assert_eq!(range(1.0, 0.5, 2.0), "1.000 [0.500, 2.000]");
        assert_eq!(range(0.5521, 0.5521, 0.5521), "0.552");
        assert_eq!(px(f64::NAN), "0.0");
    }

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("qa_random-integer.1"), "qa_random-integer.1");
        assert_eq!(slug("../etc/passwd"), "_etc_passwd");
        assert_eq!(slug("a b<c>"), "a_b_c_");
    }
}
