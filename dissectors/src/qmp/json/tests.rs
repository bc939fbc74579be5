//! Tests of the JSON grammar: QEMU's extensions, rejections and words,
//! partial trees, id equality.

use super::*;

fn p(s: &str) -> Result<Parsed, ParseError> {
    parse(s.as_bytes(), Mat::All)
}
fn pb(s: &[u8]) -> Result<Parsed, ParseError> {
    parse(s, Mat::All)
}
fn err(s: &[u8]) -> String {
    match pb(s) {
        Err(e) => e.msg,
        Ok(v) => panic!("{:?} parsed: {v:?}", String::from_utf8_lossy(s)),
    }
}
fn text(s: &[u8]) -> String {
    let v = pb(s).unwrap();
    node_text(&v.root, s, v.strict)
}

#[test]
fn accepts_strict_json() {
    for s in [
        r#"{"execute":"query-status","id":1}"#,
        r#"[1, -0, 0.5, -1.5e3, 1E2, 1e+5, 1e-5, true, false, null, "x"]"#,
        r#"{}"#,
        r#"[]"#,
        "\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\\\\\\"\"",
        "{ \"a\" :\r\n\t[ ] }",
        "18446744073709551615",
    ] {
        let v = p(s).unwrap_or_else(|e| panic!("{s}: {e:?}"));
        assert!(v.strict, "{s}");
        assert_eq!(text(s.as_bytes()), s);
    }
}

#[test]
fn qemu_extensions_are_accepted_and_reserialised() {
    let s = br#"{'execute':'query-status','id':'it\'s "q"'}"#;
    let v = pb(s).unwrap();
    assert!(!v.strict);
    assert_eq!(text(s), r#"{"execute":"query-status","id":"it's \"q\""}"#);
    // \' inside a double-quoted string
    let s = br#"{"id":"a\'b"}"#;
    assert!(!pb(s).unwrap().strict);
    assert_eq!(text(s), r#"{"id":"a'b"}"#);
    // C0 80 is U+0000
    let s = b"{\"id\":\"a\xC0\x80b\"}";
    let v = pb(s).unwrap();
    assert!(!v.strict);
    assert_eq!(v.root.get("id").unwrap().as_str(), Some("a\0b"));
    assert_eq!(text(s), r#"{"id":"a\u0000b"}"#);
    // numbers keep their text
    assert_eq!(text(b"{'n':1E2}"), r#"{"n":1E2}"#);
}

#[test]
fn rejections_use_qemu_words() {
    assert_eq!(err(br#"{"execute": }"#), "expecting value");
    assert_eq!(err(br#"{"id":nul}"#), "invalid keyword 'nul'");
    assert_eq!(err(br#"{"a":1,"a":2}"#), "duplicate key");
    assert_eq!(err(br#"{"a":"\x"}"#), "invalid escape sequence in string");
    assert_eq!(
        err(br#"{"a":"\ud800"}"#),
        "\\ud800 is not a valid Unicode character"
    );
    assert_eq!(
        err(br#"["\udc00"]"#),
        "\\udc00 is not a valid Unicode character"
    );
    assert_eq!(
        err(br#"["\ud800\u0041"]"#),
        "\\ud800 is not a valid Unicode character"
    );
    assert_eq!(
        err(br#"["\uFFFF"]"#),
        "\\uFFFF is not a valid Unicode character"
    );
    assert_eq!(
        err(b"[\"\xED\xA0\x80\"]"),
        "invalid UTF-8 sequence in string"
    );
    assert_eq!(err(b"[\"\xC3\"]"), "invalid UTF-8 sequence in string");
    assert_eq!(err(b"[\"\xC1\xBF\"]"), "invalid UTF-8 sequence in string");
    assert_eq!(
        err(b"[\"\xEF\xB7\x90\"]"),
        "invalid UTF-8 sequence in string"
    );
    assert_eq!(
        err(b"[\"\xF5\x80\x80\x80\"]"),
        "invalid UTF-8 sequence in string"
    );
    assert_eq!(err(b"}"), "expecting value");
    assert_eq!(err(b","), "expecting value");
    assert_eq!(err(b"{]"), "expecting value");
    assert_eq!(err(br#"{"a":1,}"#), "expecting value");
    assert_eq!(err(b"[1,]"), "expecting value");
    assert_eq!(err(b"[1 2]"), "expected separator in list");
    assert_eq!(err(br#"{"a":1 "b":2}"#), "expected separator in dict");
    assert_eq!(err(br#"{"a" 1}"#), "missing : in object pair");
    assert_eq!(err(br#"{1:2}"#), "key is not a string in object");
    assert_eq!(err(br#"{"a":1"#), "premature EOI");
    // first error wins: the value error comes before the duplicate
    assert_eq!(err(br#"{"a":1,"a":x}"#), "invalid keyword 'x'");
    // duplicate keys compare decoded strings
    assert_eq!(err(br#"{"a":1,'a':2}"#), "duplicate key");
    assert_eq!(err(br#"{"a":1,"\u0061":2}"#), "duplicate key");
}

#[test]
fn valid_unicode_is_decoded() {
    let v = pb("[\"é\u{1F600}\", \"\\u0000\"]".as_bytes()).unwrap();
    let J::Arr(items) = &v.root.v else { panic!() };
    assert_eq!(items[0].as_str(), Some("é\u{1F600}"));
    assert_eq!(items[1].as_str(), Some("\0"));
    assert!(v.strict);
}

#[test]
fn depth_limit() {
    let deep = format!("{}{}", "[".repeat(1024), "]".repeat(1024));
    assert!(pb(deep.as_bytes()).is_ok());
    let deeper = format!("{}{}", "[".repeat(1025), "]".repeat(1025));
    assert_eq!(err(deeper.as_bytes()), "JSON nesting depth limit exceeded");
}

#[test]
fn partial_materialisation() {
    let s = br#"{"return": [{"a": 1}], "id": {"x": [1]}, "n": 5}"#;
    let v = parse(s, Mat::Top(&["id"])).unwrap();
    assert!(matches!(v.root.get("return").unwrap().v, J::Raw));
    assert!(matches!(v.root.get("id").unwrap().v, J::Obj(_)));
    assert!(matches!(v.root.get("n").unwrap().v, J::Num(_)));
    // still validated below the surface
    assert_eq!(
        parse(br#"{"return": [{"a": 1, "a": 2}]}"#, Mat::Top(&[]))
            .unwrap_err()
            .msg,
        "duplicate key"
    );
    // validated keys compare decoded, escapes or not
    assert_eq!(
        parse(br#"{"return": [{"a": 1, "\u0061": 2}]}"#, Mat::Top(&[]))
            .unwrap_err()
            .msg,
        "duplicate key"
    );
    assert!(parse(br#"{"return": [{"a": 1, "\u0062": 2}]}"#, Mat::Top(&[])).is_ok());
    // large objects use the hash set
    let mut big = String::from("{");
    for k in 0..40 {
        big.push_str(&format!("\"k{k}\":{k},"));
    }
    big.push_str("\"k7\":0}");
    assert_eq!(err(big.as_bytes()), "duplicate key");
}

#[test]
fn id_equality_numeric_rule() {
    let n = |s: &str| p(s).unwrap().root;
    let eq = |a: &str, b: &str| json_eq(&n(a), &n(b));
    assert!(eq("-1.5e3", "-1500"));
    assert!(eq("0.1", "0.10000000000000001"));
    assert!(eq("-0.0", "-0"));
    assert!(eq("1E2", "100"));
    assert!(eq("3.0", "3"));
    assert!(eq("12345678901234567890123", "1.2345678901234568e+22"));
    assert!(eq("-9223372036854775809", "-9.2233720368547758e+18"));
    assert!(eq("18446744073709551615", "18446744073709551615"));
    assert!(!eq("9007199254740993", "9007199254740992"));
    assert!(eq("9007199254740993", "9007199254740992.0"));
    assert!(!eq("1", "\"1\""));
    assert!(!eq("true", "1"));
    assert!(eq("null", "null"));
    assert!(eq(r#""é""#, r#""\u00e9""#));
    assert!(eq(r#"'it\'s'"#, r#""it's""#));
    assert!(eq(
        r#"{"a":1,"b":[1,2.5,true,null]}"#,
        r#"{"b":[1,2.5,true,null],"a":1.0}"#
    ));
    assert!(!eq("[1,2]", "[2,1]"));
    assert!(!eq(r#"{"a":1}"#, r#"{"a":1,"b":2}"#));
}

#[test]
fn number_lexing() {
    assert_eq!(lex_number(b"123,", 0), (3, true));
    assert_eq!(lex_number(b"-0.5e-3]", 0), (7, true));
    assert_eq!(lex_number(b"01", 0), (2, false));
    assert_eq!(lex_number(b"1.", 0), (2, false));
    assert_eq!(lex_number(b"1.x", 0), (3, false));
    assert_eq!(lex_number(b"-x", 0), (2, false));
    assert_eq!(lex_number(b"1e", 0), (2, false));
}
