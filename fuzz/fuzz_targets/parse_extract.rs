//! Any bytes through parse + extract: no panic, no hang.
#![no_main]

use std::sync::OnceLock;

use leadsift::config::Business;
use leadsift::extract::Extractor;
use libfuzzer_sys::fuzz_target;

fn extractor() -> &'static Extractor {
    static EX: OnceLock<Extractor> = OnceLock::new();
    EX.get_or_init(|| {
        let business = Business {
            products: ["LED", "high bay", "路灯", "светильник"].map(String::from).to_vec(),
            min_order_value_usd: 5000.0,
        };
        Extractor::new(&business, None).expect("built-in rules compile")
    })
}

fuzz_target!(|data: &[u8]| {
    let fallback = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default().fixed_offset();
    if let Ok(m) = leadsift::parse::parse(data, fallback, false) {
        let _ = extractor().extract(&m);
    }
});
