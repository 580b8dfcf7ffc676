//! Developer aid: `LEADSIFT_SHOW=path.eml cargo test --test extract_debug -- --ignored --nocapture`
//! prints the parsed text and the writer's own words as extraction sees them.

#[test]
#[ignore]
fn show_text() {
    let Some(path) = std::env::var_os("LEADSIFT_SHOW") else {
        return;
    };
    let raw = std::fs::read(path).expect("readable file");
    let now = chrono::Utc::now().fixed_offset();
    let m = leadsift::parse::parse(&raw, now, false).expect("parses");
    println!("----- text\n{}\n-----", m.text);
    let b = leadsift::config::Business {
        products: vec![],
        min_order_value_usd: 0.0,
        ..leadsift::config::Business::default()
    };
    let ex = leadsift::extract::Extractor::new(&b, None).expect("rules");
    let parts = leadsift::extract::text::split(&m.text, ex.rules());
    println!(
        "----- body\n{}\n----- signature\n{}\n-----",
        parts.body, parts.signature
    );
}
