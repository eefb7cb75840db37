//! Expectations: the small expression language a spec states its claim in.
//!
//! Grammar (whitespace is free):
//!
//! ```text
//! expectation := side op side
//! side        := metric [("+" | "-") number] | number
//! metric      := name "(" selector ["," outcome] ")"
//! outcome     := integer | name
//! name        := entropy | coverage | mode_prob | prob | mode | ece | accuracy
//! selector    := a role (base, sft, dpo, rlhf, overopt, entreg, sft_on_rlhf, rlvr)
//!                | "*" (every model of the set, one by one)
//! op          := ">" | ">=" | "<" | "<=" | "==" | "!=" | "~="    ("~=" ends with "+-" number)
//! ```
//!
//! `kl_bound(a, b)` stands alone: footnote 3's bound on the entropy gap from KL(P‖Q); so does
//! `differs(a, b)`: the two distributions differ.
//!
//! Examples: `entropy(rlhf) > entropy(sft) + 0.5`, `mode(sft) == 97`, `mode_prob(sft) >= 0.5`,
//! `coverage(*) >= 0.9`, `prob(sft, 97) > prob(base, 97)`. A constant added on either side is the
//! margin; `mode` compares with an outcome by `==` or `!=` only. Outcomes are integers (`97`)
//! or names (`A` for the choice `" A"`, `leaves` for a classifier's outcome).

use super::{OutcomeRef, Role};
use serde::Serialize;

/// Which models a metric is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Selector {
    /// Every model bound to this role.
    Role(Role),
    /// Every model of the model set, each evaluated on its own.
    Every,
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Role(r) => write!(f, "{r}"),
            Selector::Every => f.write_str("*"),
        }
    }
}

/// A real-valued metric of one measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RealMetric {
    /// Entropy of the normalised outcome distribution, nats.
    Entropy,
    /// Total probability of the outcome set.
    Coverage,
    /// Normalised probability of the most likely outcome.
    ModeProb,
    /// Normalised probability of one outcome.
    Prob(OutcomeRef),
    /// Expected calibration error across prompts (10 equal-width bins of the mode's share
    /// against whether the mode is the prompt's answer); `over: pooled` only.
    Ece,
    /// Share of prompts whose mode is their answer; `over: pooled` only.
    Accuracy,
}

impl RealMetric {
    /// The metric applied to a selector as an expectation writes it: `entropy(base)`,
    /// `prob(base, loop)`.
    pub fn label(&self, selector: Selector) -> String {
        match self {
            RealMetric::Prob(o) => format!("prob({selector}, {o})"),
            other => format!("{other}({selector})"),
        }
    }

    /// Whether the metric exists only across prompts (`ece`, `accuracy`).
    pub fn across_prompts_only(&self) -> bool {
        matches!(self, RealMetric::Ece | RealMetric::Accuracy)
    }
}

impl std::fmt::Display for RealMetric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RealMetric::Entropy => f.write_str("entropy"),
            RealMetric::Coverage => f.write_str("coverage"),
            RealMetric::ModeProb => f.write_str("mode_prob"),
            RealMetric::Prob(n) => write!(f, "prob[{n}]"),
            RealMetric::Ece => f.write_str("ece"),
            RealMetric::Accuracy => f.write_str("accuracy"),
        }
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Operand {
    /// A metric of the model(s) the selector names.
    Metric {
        /// The metric.
        metric: RealMetric,
        /// Whose.
        selector: Selector,
    },
    /// A constant.
    Constant(f64),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CmpOp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `~=` with `+- m`: equal within the margin (equivalence, TOST for sampled figures).
    Approx,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Approx => "~=",
        }
    }
}

/// A parsed expectation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Condition {
    /// `lhs op rhs + margin` over real-valued metrics.
    Compare {
        /// Left side.
        lhs: Operand,
        /// `>`, `>=`, `<` or `<=`.
        op: CmpOp,
        /// Right side.
        rhs: Operand,
        /// Added to the right side (negative when the left side carries the constant).
        margin: f64,
    },
    /// `kl_bound(a, b)`: |H(P) − H(Q)| is within the bound from KL(P‖Q) (Pinsker, then the
    /// Fannes–Audenaert continuity bound over the outcome set), P the distribution of `a`.
    KlBound {
        /// Whose distribution is P.
        a: Selector,
        /// Whose distribution is Q.
        b: Selector,
    },
    /// `differs(a, b)`: the two distributions over outcomes differ (a permutation test of
    /// equal distributions for samples — not a test of equal entropies; disjoint share bounds
    /// for the logprob methods). Never refuted: equality cannot be shown, only bounded with
    /// `~=`.
    Differs {
        /// One model.
        a: Selector,
        /// The other.
        b: Selector,
    },
    /// `mode(selector) == outcome` or `!=`.
    ModeIs {
        /// Whose mode.
        selector: Selector,
        /// The outcome.
        outcome: OutcomeRef,
        /// True for `!=`.
        negated: bool,
    },
}

impl Condition {
    /// The selectors this condition uses, left to right.
    pub fn selectors(&self) -> Vec<Selector> {
        match self {
            Condition::Compare { lhs, rhs, .. } => [lhs, rhs]
                .into_iter()
                .filter_map(|o| match o {
                    Operand::Metric { selector, .. } => Some(*selector),
                    Operand::Constant(_) => None,
                })
                .collect(),
            Condition::ModeIs { selector, .. } => vec![*selector],
            Condition::KlBound { a, b } | Condition::Differs { a, b } => vec![*a, *b],
        }
    }

    /// The real-valued metrics the condition uses.
    pub fn metrics(&self) -> Vec<&RealMetric> {
        match self {
            Condition::Compare { lhs, rhs, .. } => [lhs, rhs]
                .into_iter()
                .filter_map(|o| match o {
                    Operand::Metric { metric, .. } => Some(metric),
                    Operand::Constant(_) => None,
                })
                .collect(),
            Condition::ModeIs { .. } | Condition::KlBound { .. } | Condition::Differs { .. } => {
                Vec::new()
            }
        }
    }

    /// Outcomes the condition names (to check them against the outcome set).
    pub fn outcomes(&self) -> Vec<OutcomeRef> {
        let mut out = Vec::new();
        match self {
            Condition::Compare { lhs, rhs, .. } => {
                for o in [lhs, rhs] {
                    if let Operand::Metric {
                        metric: RealMetric::Prob(n),
                        ..
                    } = o
                    {
                        out.push(n.clone());
                    }
                }
            }
            Condition::ModeIs { outcome, .. } => out.push(outcome.clone()),
            Condition::KlBound { .. } | Condition::Differs { .. } => {}
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Number(f64, String),
    Star,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    PlusMinus,
    Op(CmpOp),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        match c {
            _ if c.is_whitespace() => i += 1,
            _ if two == "+-" => {
                out.push(Token::PlusMinus);
                i += 2;
            }
            '±' => {
                out.push(Token::PlusMinus);
                i += 1;
            }
            _ if two == "~=" => {
                out.push(Token::Op(CmpOp::Approx));
                i += 2;
            }
            '(' | ')' | ',' | '*' | '+' | '-' => {
                out.push(match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    ',' => Token::Comma,
                    '*' => Token::Star,
                    '+' => Token::Plus,
                    _ => Token::Minus,
                });
                i += 1;
            }
            '>' | '<' | '=' | '!' => {
                let (op, len) = match two.as_str() {
                    ">=" => (CmpOp::Ge, 2),
                    "<=" => (CmpOp::Le, 2),
                    "==" => (CmpOp::Eq, 2),
                    "!=" => (CmpOp::Ne, 2),
                    ">" => (CmpOp::Gt, 1),
                    "<" => (CmpOp::Lt, 1),
                    _ if c == '>' => (CmpOp::Gt, 1),
                    _ if c == '<' => (CmpOp::Lt, 1),
                    _ => return Err(format!("unexpected `{c}` at character {}", i + 1)),
                };
                out.push(Token::Op(op));
                i += len;
            }
            _ if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let v = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
                out.push(Token::Number(v, s));
            }
            _ if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            _ => return Err(format!("unexpected `{c}` at character {}", i + 1)),
        }
    }
    Ok(out)
}

/// A side before typing: a metric call with an optional offset, or a number.
enum Side {
    Call {
        name: String,
        selector: Selector,
        arg: Option<OutcomeArg>,
        offset: f64,
    },
    Number(f64, String),
    Name(String),
}

/// An outcome as written: a number (checked to be an integer later) or a name.
enum OutcomeArg {
    Number(f64, String),
    Name(String),
}

impl OutcomeArg {
    fn resolve(self) -> Result<OutcomeRef, String> {
        match self {
            OutcomeArg::Number(v, s) => outcome_value(v, &s).map(OutcomeRef::Integer),
            OutcomeArg::Name(n) => Ok(OutcomeRef::Name(n)),
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn expect(&mut self, want: Token, what: &str) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            _ => Err(format!("expected {what}")),
        }
    }

    fn side(&mut self) -> Result<Side, String> {
        match self.next() {
            Some(Token::Number(v, s)) => Ok(Side::Number(v, s)),
            Some(Token::Minus) => match self.next() {
                Some(Token::Number(v, s)) => Ok(Side::Number(-v, format!("-{s}"))),
                _ => Err("expected a number after `-`".into()),
            },
            Some(Token::Ident(name)) if self.peek() != Some(&Token::LParen) => Ok(Side::Name(name)),
            Some(Token::Ident(name)) => {
                self.expect(Token::LParen, &format!("`(` after `{name}`"))?;
                let selector = match self.next() {
                    Some(Token::Star) => Selector::Every,
                    Some(Token::Ident(r)) => Selector::Role(Role::parse(&r).ok_or_else(|| {
                        let known: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
                        format!(
                            "unknown role `{r}`; expected one of {} or `*`",
                            known.join(", ")
                        )
                    })?),
                    _ => return Err(format!("expected a role or `*` inside `{name}(…)`")),
                };
                let arg = if self.peek() == Some(&Token::Comma) {
                    self.pos += 1;
                    match self.next() {
                        Some(Token::Number(v, s)) => Some(OutcomeArg::Number(v, s)),
                        Some(Token::Ident(n)) => Some(OutcomeArg::Name(n)),
                        _ => {
                            return Err(format!(
                                "expected an outcome (`97`, `A`, `leaves`) after `,` in `{name}(…)`"
                            ));
                        }
                    }
                } else {
                    None
                };
                self.expect(Token::RParen, &format!("`)` to close `{name}(`"))?;
                let offset = match self.peek() {
                    Some(Token::Plus) | Some(Token::Minus) => {
                        let sign = if self.next() == Some(Token::Minus) {
                            -1.0
                        } else {
                            1.0
                        };
                        match self.next() {
                            Some(Token::Number(v, _)) => sign * v,
                            _ => return Err("expected a number after `+`/`-`".into()),
                        }
                    }
                    _ => 0.0,
                };
                Ok(Side::Call {
                    name,
                    selector,
                    arg,
                    offset,
                })
            }
            _ => Err("expected a metric such as `entropy(sft)` or a number".into()),
        }
    }
}

fn outcome_value(v: f64, s: &str) -> Result<u64, String> {
    if s.contains('.') || v < 0.0 {
        return Err(format!("outcome `{s}` must be a non-negative integer"));
    }
    Ok(v as u64)
}

/// `kl_bound(a, b)` or `differs(a, b)`, a whole expectation on its own.
fn parse_pair(name: &str, tokens: &[Token]) -> Result<Condition, String> {
    let form = format!("expected `{name}(a, b)` with two roles or `*`, e.g. `{name}(base, *)`");
    let selector = |t: Option<&Token>| match t {
        Some(Token::Star) => Ok(Selector::Every),
        Some(Token::Ident(r)) => Role::parse(r)
            .map(Selector::Role)
            .ok_or_else(|| format!("unknown role `{r}`; {form}")),
        _ => Err(form.clone()),
    };
    match tokens {
        [_, Token::LParen, a, Token::Comma, b, Token::RParen] => {
            let (a, b) = (selector(Some(a))?, selector(Some(b))?);
            Ok(if name == "differs" {
                Condition::Differs { a, b }
            } else {
                Condition::KlBound { a, b }
            })
        }
        _ => Err(form),
    }
}

/// The operand and its offset for a real-valued side.
fn real_side(side: Side) -> Result<(Operand, f64), String> {
    match side {
        Side::Number(v, _) => Ok((Operand::Constant(v), 0.0)),
        Side::Name(n) => Err(format!(
            "`{n}` is not a metric; only `mode(…)` compares with an outcome name"
        )),
        Side::Call {
            name,
            selector,
            arg,
            offset,
        } => {
            let metric = match (name.as_str(), arg) {
                ("entropy", None) => RealMetric::Entropy,
                ("coverage", None) => RealMetric::Coverage,
                ("mode_prob", None) => RealMetric::ModeProb,
                ("ece", None) => RealMetric::Ece,
                ("accuracy", None) => RealMetric::Accuracy,
                ("prob", Some(arg)) => RealMetric::Prob(arg.resolve()?),
                ("prob", None) => return Err("`prob` needs an outcome: `prob(sft, 97)`".into()),
                ("mode", _) => {
                    return Err("`mode(…)` compares with an outcome by `==` or `!=` only".into());
                }
                ("entropy" | "coverage" | "mode_prob" | "ece" | "accuracy", Some(_)) => {
                    return Err(format!("`{name}(…)` takes a role only"));
                }
                _ => {
                    return Err(format!(
                        "unknown metric `{name}`; expected entropy, coverage, mode, mode_prob, prob, ece or accuracy"
                    ));
                }
            };
            Ok((Operand::Metric { metric, selector }, offset))
        }
    }
}

/// Parses one expectation; the error says what was expected.
pub fn parse_condition(text: &str) -> Result<Condition, String> {
    let tokens = tokenize(text)?;
    match tokens.first() {
        Some(Token::Ident(name)) if name == "kl_bound" || name == "differs" => {
            return parse_pair(name, &tokens);
        }
        _ => {}
    }
    let mut p = Parser { tokens, pos: 0 };
    let lhs = p.side()?;
    let op = match p.next() {
        Some(Token::Op(op)) => op,
        _ => return Err("expected a comparison (`>`, `>=`, `<`, `<=`, `==`, `!=`)".into()),
    };
    let rhs = p.side()?;
    let tolerance = if op == CmpOp::Approx {
        match (p.next(), p.next()) {
            (Some(Token::PlusMinus), Some(Token::Number(v, _))) if v > 0.0 => Some(v),
            _ => {
                return Err(
                    "`~=` needs its margin as `+- m` with m > 0, e.g. `entropy(a) ~= entropy(b) +- 0.2`"
                        .into(),
                );
            }
        }
    } else {
        None
    };
    if p.peek().is_some() {
        return Err("unexpected text after the right-hand side".into());
    }
    // `mode(x) == 97` (either order).
    let mode_call = |s: &Side| matches!(s, Side::Call { name, .. } if name == "mode");
    if mode_call(&lhs) || mode_call(&rhs) {
        let (call, other) = if mode_call(&lhs) {
            (lhs, rhs)
        } else {
            (rhs, lhs)
        };
        let Side::Call {
            selector,
            arg,
            offset,
            ..
        } = call
        else {
            unreachable!("checked above")
        };
        if arg.is_some() || offset != 0.0 {
            return Err("`mode(…)` takes a role only and no offset".into());
        }
        let outcome = match other {
            Side::Number(v, s) => OutcomeArg::Number(v, s),
            Side::Name(n) => OutcomeArg::Name(n),
            Side::Call { .. } => {
                return Err("`mode(…)` compares with an outcome such as `97` or `A`".into());
            }
        };
        let negated = match op {
            CmpOp::Eq => false,
            CmpOp::Ne => true,
            _ => return Err("`mode(…)` compares with an outcome by `==` or `!=` only".into()),
        };
        return Ok(Condition::ModeIs {
            selector,
            outcome: outcome.resolve()?,
            negated,
        });
    }
    if matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return Err(
            "real-valued metrics compare with `>`, `>=`, `<`, `<=` or `~= … +- m`, not equality"
                .into(),
        );
    }
    let (lhs, left_offset) = real_side(lhs)?;
    let (rhs, right_offset) = real_side(rhs)?;
    if let Some(m) = tolerance {
        if left_offset != 0.0 || right_offset != 0.0 {
            return Err("`~=` takes its margin as `+- m` only, not as an offset".into());
        }
        return Ok(Condition::Compare {
            lhs,
            op,
            rhs,
            margin: m,
        });
    }
    if matches!((&lhs, &rhs), (Operand::Constant(_), Operand::Constant(_))) {
        return Err("an expectation needs at least one metric".into());
    }
    let n_every = [&lhs, &rhs]
        .iter()
        .filter(|o| {
            matches!(
                o,
                Operand::Metric {
                    selector: Selector::Every,
                    ..
                }
            )
        })
        .count();
    if n_every == 2 {
        return Err("`*` may appear on one side only".into());
    }
    Ok(Condition::Compare {
        lhs,
        op,
        rhs,
        margin: right_offset - left_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(metric: RealMetric, role: Role) -> Operand {
        Operand::Metric {
            metric,
            selector: Selector::Role(role),
        }
    }

    #[test]
    fn parses_the_issue_examples() {
        assert_eq!(
            parse_condition("entropy(rlhf) > entropy(sft) + 0.5").unwrap(),
            Condition::Compare {
                lhs: metric(RealMetric::Entropy, Role::Rlhf),
                op: CmpOp::Gt,
                rhs: metric(RealMetric::Entropy, Role::Sft),
                margin: 0.5
            }
        );
        assert_eq!(
            parse_condition("mode(sft) == 97").unwrap(),
            Condition::ModeIs {
                selector: Selector::Role(Role::Sft),
                outcome: OutcomeRef::Integer(97),
                negated: false
            }
        );
        assert_eq!(
            parse_condition("mode_prob(sft)>=0.5").unwrap(),
            Condition::Compare {
                lhs: metric(RealMetric::ModeProb, Role::Sft),
                op: CmpOp::Ge,
                rhs: Operand::Constant(0.5),
                margin: 0.0
            }
        );
        assert_eq!(
            parse_condition("coverage(*) >= 0.9").unwrap().selectors(),
            vec![Selector::Every]
        );
        let c = parse_condition("entropy(base) - 0.1 < entropy(rlhf)").unwrap();
        assert!(matches!(c, Condition::Compare { margin, .. } if (margin - 0.1).abs() < 1e-12));
        assert_eq!(
            parse_condition("prob(sft, 97) > 0.5").unwrap().outcomes(),
            vec![OutcomeRef::Integer(97)]
        );
        assert_eq!(
            parse_condition("prob(base, leaves) > prob(dpo, leaves)")
                .unwrap()
                .outcomes(),
            vec![
                OutcomeRef::Name("leaves".into()),
                OutcomeRef::Name("leaves".into())
            ]
        );
        assert!(matches!(
            parse_condition("mode(base) == A").unwrap(),
            Condition::ModeIs { outcome: OutcomeRef::Name(n), .. } if n == "A"
        ));
    }

    #[test]
    fn pairs() {
        assert_eq!(
            parse_condition("differs(base, *)").unwrap(),
            Condition::Differs {
                a: Selector::Role(Role::Base),
                b: Selector::Every
            }
        );
        assert!(
            parse_condition("differs(base)")
                .unwrap_err()
                .contains("`differs(a, b)`")
        );
        assert!(
            parse_condition("kl_bound(ppo, *)")
                .unwrap_err()
                .contains("unknown role `ppo`")
        );
    }

    #[test]
    fn equivalence_with_a_margin() {
        for text in [
            "entropy(dpo) ~= entropy(base) +- 0.3",
            "entropy(dpo) ~= entropy(base) ± 0.3",
        ] {
            assert_eq!(
                parse_condition(text).unwrap(),
                Condition::Compare {
                    lhs: metric(RealMetric::Entropy, Role::Dpo),
                    op: CmpOp::Approx,
                    rhs: metric(RealMetric::Entropy, Role::Base),
                    margin: 0.3
                }
            );
        }
    }

    #[test]
    fn rejects_with_the_expected_form() {
        let err = |t: &str| parse_condition(t).unwrap_err();
        assert!(err("entropy(ppo) > 1").contains("unknown role `ppo`"));
        assert!(err("entropy(sft) == 1").contains("not equality"));
        assert!(err("entropy(sft) ~= entropy(base)").contains("`+- m`"));
        assert!(err("entropy(sft) ~= entropy(base) + 0.1").contains("`+- m`"));
        assert!(err("mode(sft) > 97").contains("`==` or `!=` only"));
        assert!(err("entropy(sft)").contains("expected a comparison"));
        assert!(err("entropie(sft) > 1").contains("unknown metric"));
        assert!(err("entropy(*) > entropy(*)").contains("one side only"));
        assert!(err("1 > 2").contains("at least one metric"));
        assert!(err("entropy(sft) > 1 1").contains("unexpected text"));
        assert!(err("mode(sft) == 9.5").contains("non-negative integer"));
        assert!(err("entropy(sft) > $").contains("unexpected `$`"));
    }
}
