//! Legacy charsets in bodies and RFC 2047 subjects decode to the right text; HTML-only mail yields
//! text. The encoded bytes were produced with Python's codecs from the expected strings.

use chrono::DateTime;
use leadsift::parse::parse;

fn message(charset: &str, subject_word: &str, body_b64: &str) -> Vec<u8> {
    format!(
        "From: buyer@example.com\r\nTo: sales@ourco.example\r\nSubject: {subject_word}\r\nMessage-ID: <{charset}@test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"{charset}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{body_b64}\r\n"
    )
    .into_bytes()
}

fn check(charset: &str, subject_word: &str, subject: &str, body_b64: &str, body: &str) {
    let fallback = DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").unwrap();
    let m = parse(&message(charset, subject_word, body_b64), fallback, false).unwrap();
    assert_eq!(m.subject, subject, "{charset} subject");
    assert_eq!(m.text.trim(), body, "{charset} body");
}

#[test]
fn gbk_with_a_character_outside_gb2312() {
    // 喆 exists in GBK but not in GB2312.
    check(
        "gbk",
        "=?gbk?B?ztLDx9Do0qo1MA==?=",
        "我们需要50",
        "ztLDx9Do0qo1MDDMqMDr0MSxw6Osx+uxqLzboaPN9Ya0",
        "我们需要500台离心泵，请报价。王喆",
    );
}

#[test]
fn big5() {
    check(
        "big5",
        "=?big5?B?p9qtzLvdrW6kVKbK?=",
        "我們需要三百",
        "p9qtzLvdrW6kVKbKpXik9KymoUG90LP4u/mhQw==",
        "我們需要三百台水泵，請報價。",
    );
}

#[test]
fn koi8_r() {
    check(
        "koi8-r",
        "=?koi8-r?B?7sHNIM7V?=",
        "Нам ну",
        "7sHNIM7V1s7PIDIwMCDb1C4gzsHTz9PP1yDEzyDLz87DwSDExcvBwtLRLg==",
        "Нам нужно 200 шт. насосов до конца декабря.",
    );
}

#[test]
fn windows_1251() {
    check(
        "windows-1251",
        "=?windows-1251?B?xOjw5ery?=",
        "Директ",
        "xOjw5ery7vAg7+4g5+Dq8+/q4OwsIOH+5Obl8iAyNSAwMDAgVVNELg==",
        "Директор по закупкам, бюджет 25 000 USD.",
    );
}

#[test]
fn iso_2022_jp() {
    check(
        "iso-2022-jp",
        "=?iso-2022-jp?B?GyRCJV0lcyVXJHJJNEJmGyhC?=",
        "ポンプを百台",
        "GyRCJV0lcyVXJHJJNEJmQ21KOCQ3JD8kJCRHJDkhIxsoQg==",
        "ポンプを百台注文したいです。",
    );
}

#[test]
fn html_only_message_yields_text_without_markup() {
    let raw = b"From: buyer@example.com\r\nSubject: RFQ\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{color:red}</style></head><body><p>We need <b>400 pcs</b> of your&nbsp;pumps.</p><table><tr><td>Target USD 38</td></tr></table></body></html>\r\n";
    let m = parse(
        raw,
        DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").unwrap(),
        false,
    )
    .unwrap();
    assert!(m.text.contains("400 pcs"), "{:?}", m.text);
    assert!(m.text.contains("Target USD 38"), "{:?}", m.text);
    assert!(
        !m.text.contains('<') && !m.text.contains("color:red"),
        "{:?}",
        m.text
    );
}
