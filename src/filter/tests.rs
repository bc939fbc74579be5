//! Unit tests of the lexer and of compile-time decisions; the language on
//! real messages is tested in `tests/filter.rs`.

use super::eval::Expr;
use super::lexer::{lex, Tok};
use super::*;

fn toks(s: &str) -> Vec<(Tok, usize)> {
    lex(s)
        .unwrap()
        .into_iter()
        .map(|t| (t.tok, t.col))
        .collect()
}

fn w(s: &str) -> Tok {
    Tok::Word(s.to_owned())
}

#[test]
fn tokens_and_their_columns() {
    assert_eq!(
        toks("qmp.execute==\"a b\"&&!(latency>=1.5ms)"),
        vec![
            (w("qmp.execute"), 1),
            (Tok::Eq, 12),
            (Tok::Str("a b".into()), 14),
            (Tok::AndAnd, 19),
            (Tok::Bang, 21),
            (Tok::LParen, 22),
            (w("latency"), 23),
            (Tok::Ge, 30),
            (w("1.5ms"), 32),
            (Tok::RParen, 37),
        ]
    );
    assert_eq!(
        toks("ip.addr != ::1 || x in {1, 0x2} ~ r'\\d' <= < > !"),
        vec![
            (w("ip.addr"), 1),
            (Tok::Ne, 9),
            (w("::1"), 12),
            (Tok::OrOr, 16),
            (w("x"), 19),
            (w("in"), 21),
            (Tok::LBrace, 24),
            (w("1"), 25),
            (Tok::Comma, 26),
            (w("0x2"), 28),
            (Tok::RBrace, 31),
            (Tok::Tilde, 33),
            (Tok::Str("\\d".into()), 35),
            (Tok::Le, 41),
            (Tok::Lt, 44),
            (Tok::Gt, 46),
            (Tok::Bang, 48),
        ]
    );
    // Columns count characters.
    assert_eq!(
        toks("\"é\" ü"),
        vec![(Tok::Str("é".into()), 1), (w("ü"), 5)]
    );
    // A word may start with r when no quote follows.
    assert_eq!(toks("reply_to"), vec![(w("reply_to"), 1)]);
}

#[test]
fn string_escapes() {
    let s = |src: &str| match lex(src).unwrap().pop().unwrap().tok {
        Tok::Str(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(s(r#""a\"b""#), "a\"b");
    assert_eq!(s(r#"'a\'b'"#), "a'b");
    assert_eq!(
        s(r#""\\ \n \r \t \0 \x41 \u{1F600}""#),
        "\\ \n \r \t \0 A 😀"
    );
    assert_eq!(s(r#""\d\.\w""#), "\\d\\.\\w");
    assert_eq!(s(r#"r"\n\""#), "\\n\\");
    assert_eq!(s(r#""""#), "");
    assert!(lex(r#""\u{}""#).is_err());
    assert!(lex(r#""\u{D800}""#).is_err());
    assert!(lex(r#""\u12""#).is_err());
    assert!(lex(r#""\x""#).is_err());
    assert!(lex(r#""\xff""#).is_err());
    assert!(lex("\"abc\\").is_err());
}

#[test]
fn chains_are_flat_and_single_tests_are_not_wrapped() {
    let f = Filter::parse("qmp && qm && qps || mqserver || error").unwrap();
    match &f.expr {
        Expr::Or(items) => {
            assert_eq!(items.len(), 3);
            assert!(matches!(&items[0], Expr::And(a) if a.len() == 3));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Filter::parse("qmp").unwrap().expr,
        Expr::Exists(_)
    ));
    assert!(matches!(
        Filter::parse("error").unwrap().expr,
        Expr::Truth(_)
    ));
    assert!(matches!(
        Filter::parse("((qmp))").unwrap().expr,
        Expr::Exists(_)
    ));
}

#[test]
fn source_is_kept_verbatim() {
    let src = "  qmp.execute == 'stop'  ";
    assert_eq!(Filter::parse(src).unwrap().source(), src);
}

#[test]
fn filters_can_be_shared_between_threads() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Filter>();
}
