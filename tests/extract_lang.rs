//! Extraction on realistic inquiries written for these tests, per language, plus quoted text,
//! signatures, flags, header risks and legacy charsets. Each test states the facts its mail
//! carries and checks that exactly those come out with the right values.

use chrono::{DateTime, NaiveDate};
use leadsift::config::Business;
use leadsift::extract::{Extraction, Extractor, Flag, Value};

/// Compiling the rules takes a moment: one extractor for the whole file.
fn extractor() -> &'static Extractor {
    static EX: std::sync::OnceLock<Extractor> = std::sync::OnceLock::new();
    EX.get_or_init(build)
}

fn build() -> Extractor {
    let business = Business {
        products: [
            "LED",
            "high bay",
            "floodlight",
            "street light",
            "panel light",
            "工矿灯",
            "路灯",
            "投光灯",
            "路燈",
            "luminaria",
            "campana LED",
            "reflector LED",
            "refletor",
            "luminária",
            "светильник",
            "прожектор",
            "projecteur LED",
            "lampadaire",
            "Hallenstrahler",
            "Leuchte",
            "كشاف",
            "إنارة",
        ]
        .map(String::from)
        .to_vec(),
        min_order_value_usd: 5000.0,
        ..Business::default()
    };
    Extractor::new(&business, None).expect("built-in rules compile")
}

fn mail(from: &str, date: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: sales@ourco.example\r\nDate: {date}\r\nMessage-ID: <t{}@x.example>\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
        body.len(),
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

fn run(raw: &[u8]) -> Extraction {
    let fallback = DateTime::parse_from_rfc3339("2026-11-20T08:00:00+08:00").expect("date");
    let m = leadsift::parse::parse(raw, fallback, false).expect("parses");
    extractor().extract(&m)
}

fn quantities(ex: &Extraction) -> Vec<(f64, String)> {
    ex.signals
        .iter()
        .filter(|s| s.kind == "quantity")
        .filter_map(|s| match &s.value {
            Some(Value::Quantity { amount, unit }) => Some((*amount, unit.clone())),
            _ => None,
        })
        .collect()
}

fn money(ex: &Extraction) -> Vec<(f64, String)> {
    ex.signals
        .iter()
        .filter(|s| s.kind == "money")
        .filter_map(|s| match &s.value {
            Some(Value::Money {
                amount, currency, ..
            }) => Some((*amount, currency.clone())),
            _ => None,
        })
        .collect()
}

fn deadlines(ex: &Extraction) -> Vec<NaiveDate> {
    ex.signals
        .iter()
        .filter(|s| s.kind == "deadline")
        .filter_map(|s| match &s.value {
            Some(Value::Deadline { date }) => Some(*date),
            _ => None,
        })
        .collect()
}

fn kinds(ex: &Extraction) -> Vec<String> {
    ex.signals.iter().map(|s| s.kind.clone()).collect()
}

fn has(ex: &Extraction, kind: &str) -> bool {
    ex.signals.iter().any(|s| s.kind == kind)
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("iso date")
}

fn q(v: &[(f64, &str)]) -> Vec<(f64, String)> {
    v.iter().map(|(a, u)| (*a, u.to_string())).collect()
}

// --- English ---------------------------------------------------------------------------------

#[test]
fn en_contractor_rfq() {
    let ex = run(&mail(
        "Ama Boateng <ama@kumasi-builders.example>",
        "Tue, 03 Nov 2026 09:00:00 +0000",
        "RFQ floodlights for stadium",
        "Hello,\n\nWe are main contractor for a stadium in Kumasi. Please quote:\n- 200W floodlight IP66 - 120 pcs\n- 100W street light - 80 units\n\nDelivery to Tema port before 15 January 2027. Our budget is USD 18,000.\nI am the procurement manager and I sign the PO. Payment 30% deposit, balance against BL.\n\nBest regards,\nAma Boateng\nProcurement Manager\nKumasi Builders Ltd\n",
    ));
    assert_eq!(quantities(&ex), q(&[(120.0, "pcs"), (80.0, "pcs")]));
    assert_eq!(money(&ex), vec![(18000.0, "USD".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2027-01-15")]);
    for k in [
        "decision_maker",
        "title",
        "payment_terms",
        "quote_request",
        "product_match",
        "company_domain",
    ] {
        assert!(has(&ex, k), "{k} missing: {:?}", kinds(&ex));
    }
    assert!(ex.deal_value_usd.is_some_and(|v| v >= 18000.0));
}

#[test]
fn en_relative_windows_and_unit_price() {
    let ex = run(&mail(
        "Raj <raj@delta-lights.example>",
        "Fri, 20 Nov 2026 17:30:00 +0530",
        "high bay order",
        "Need 500 pcs 150W high bay at US$2.5/pc, goods within 2 weeks. Also a second lot by end of next month, and the rest in Q1 2027.\n",
    ));
    assert_eq!(quantities(&ex), q(&[(500.0, "pcs")]));
    assert!(ex.signals.iter().any(|s| matches!(&s.value, Some(Value::Money { amount, per_unit: true, .. }) if (*amount - 2.5).abs() < 1e-9)));
    let dl = deadlines(&ex);
    assert!(dl.contains(&d("2026-12-04")), "{dl:?}");
    assert!(dl.contains(&d("2026-12-31")), "{dl:?}");
    assert!(has(&ex, "timeframe"));
}

#[test]
fn en_money_forms() {
    let ex = run(&mail(
        "a@b-corp.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "budget",
        "Budget is $50k for phase one, EUR 12.000 for phase two and GBP 1,250.50 for spares.\n",
    ));
    let m = money(&ex);
    assert!(m.contains(&(50000.0, "USD".into())), "{m:?}");
    assert!(m.contains(&(12000.0, "EUR".into())), "{m:?}");
    assert!(m.contains(&(1250.5, "GBP".into())), "{m:?}");
}

#[test]
fn en_forwarder_and_no_authority() {
    let ex = run(&mail(
        "Sam <sam.k@gmail.com>",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Re: quotation",
        "Thanks for the quotation. I will forward it to my manager, he decides. Just collecting information for now, no rush.\n",
    ));
    assert!(has(&ex, "no_authority"));
    assert!(has(&ex, "vague"));
    assert!(has(&ex, "freemail"));
    assert!(quantities(&ex).is_empty() && money(&ex).is_empty());
}

#[test]
fn en_scams() {
    let ex = run(&mail(
        "Director <procurement@gov-ministry-tenders.example>",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Contract award",
        "The Ministry of Energy has approved supply of 8,000 units street light. Before the LPO the vendor registration fee of USD 950 is payable to our accredited consultant.\nOur shipping agent will collect the goods; you pay his clearance fee.\n",
    ));
    for k in ["advance_fee", "third_party_payment", "shipping_agent"] {
        assert!(has(&ex, k), "{k} missing: {:?}", kinds(&ex));
    }
    let ex = run(&mail(
        "Purchasing <po@some-buyer.example>",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "New PO",
        "Dear supplier, view the PO documents on our portal here: https://x.sharepoint-docview.example/login and sign in with your email password.\n",
    ));
    assert!(has(&ex, "phishing"), "{:?}", kinds(&ex));
    assert!(has(&ex, "file_share_link"), "{:?}", kinds(&ex));
}

#[test]
fn en_seller_pitch_and_mass_mail() {
    let ex = run(&mail(
        "Mike <mike@rank-boost.example>",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Website",
        "Hi, I noticed your website is not on the first page of Google. We offer SEO and web design services at low cost.\n",
    ));
    assert!(has(&ex, "seller"));
    let ex = run(&mail(
        "Purchase <info@global-src.example>",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Inquiry",
        "Dear Sir/Madam,\nWe are interested in your products. Kindly send your latest price list.\nRegards\n",
    ));
    assert!(has(&ex, "generic_request"));
    // The same greeting with specifics is not a mass mail.
    let ex = run(&mail(
        "Purchase <info@global-src.example>",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Inquiry",
        "Dear Sir/Madam,\nPlease quote 300 pcs 100W floodlight CIF Lagos.\n",
    ));
    assert!(!has(&ex, "generic_request"));
}

#[test]
fn en_samples_containers_and_approximations_are_not_order_lines() {
    let ex = run(&mail(
        "b@buyer-co.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "samples",
        "Please send 3 samples first. Volume is about 900 pcs, roughly 2x40HQ per year, then 400 pcs high bay per order. MOQ 100 pcs?\n",
    ));
    assert_eq!(quantities(&ex), q(&[(400.0, "pcs")]));
    assert!(has(&ex, "containers") && has(&ex, "approx_quantity") && has(&ex, "sample_request"));
}

#[test]
fn en_reply_by_and_out_of_office_dates_are_not_deadlines() {
    let ex = run(&mail(
        "b@buyer-co.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "RFQ",
        "Please submit your quotation before 25 November. I am out of the office until 2 December.\nDelivery by 20 January 2027.\n",
    ));
    assert_eq!(deadlines(&ex), vec![d("2027-01-20")]);
}

#[test]
fn product_mismatch() {
    let ex = run(&mail(
        "e@solar-co.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Solar modules",
        "We need mono solar modules 550W, 1,240 pcs and 20 inverters. Please send price.\n",
    ));
    // Goods are named and none is ours: "not ours", quoting the goods.
    assert!(has(&ex, "not_ours"));
    assert!(!has(&ex, "product_match"));
    let item = &ex.items[0];
    assert_eq!(item.fit, leadsift::extract::items::Fit::NotOurs);
    assert!(item.product.contains("solar modules"), "{item:?}");
}

#[test]
fn a_catalogue_word_that_only_names_the_material_is_not_ours() {
    let ex = run(&mail(
        "buyer@parks-dept.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Benches",
        "We require:\n- park benches with LED strip lighting in the backrest: 60 sets\nPlease quote.\n",
    ));
    let item = &ex.items[0];
    assert_eq!(item.fit, leadsift::extract::items::Fit::NotOurs, "{item:?}");
    assert!(has(&ex, "not_ours"));
}

#[test]
fn requested_items_carry_quantity_product_and_price() {
    let ex = run(&mail(
        "buyer@warehouse-co.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "RFQ",
        "Dear team,\n1) UFO high bay 200W, IP65 - 300 pcs, target USD 38/pc\n2) floodlight 100W - 40 pcs\n",
    ));
    assert_eq!(ex.items.len(), 2, "{:?}", ex.items);
    let first = &ex.items[0];
    assert_eq!(first.fit, leadsift::extract::items::Fit::Ours);
    assert_eq!(first.quantity.as_ref().map(|q| q.amount), Some(300.0));
    assert!(first.product.contains("high bay"), "{first:?}");
    assert_eq!(first.price.as_ref().map(|p| p.amount), Some(38.0));
    assert!(has(&ex, "product_match"));
}

// --- Chinese -------------------------------------------------------------------------------

#[test]
fn zh_simplified_inquiry() {
    let ex = run(&mail(
        "李明 <liming@huaxing-eng.example>",
        "Sun, 15 Nov 2026 10:20:42 +0800",
        "询价：LED路灯",
        "你好，\n需求：100W LED路灯 500套，IP66。下个月底前到港。目标价每套45美金，预算5万美元。\n付款方式：30%定金。我是公司董事，可以直接下单。请尽快报价，先寄2套样品。\n\n李明\n华兴工程有限公司 董事\n",
    ));
    assert_eq!(quantities(&ex), q(&[(500.0, "sets")]));
    let m = money(&ex);
    assert!(
        m.contains(&(45.0, "USD".into())) && m.contains(&(50000.0, "USD".into())),
        "{m:?}"
    );
    assert_eq!(deadlines(&ex), vec![d("2026-12-31")]);
    for k in ["decision_maker", "urgency", "product_match", "target_price"] {
        assert!(has(&ex, k), "{k} missing: {:?}", kinds(&ex));
    }
}

#[test]
fn zh_windows_and_forwarding() {
    let ex = run(&mail(
        "王 <wang@trade-co.example>",
        "Fri, 06 Nov 2026 14:36:16 +0800",
        "投光灯",
        "您好，需要投光灯 两台，两周内交货，RMB 30万以内。我只是转给经理看看。\n",
    ));
    assert_eq!(quantities(&ex), q(&[(2.0, "pcs")]));
    assert_eq!(deadlines(&ex), vec![d("2026-11-20")]);
    assert!(money(&ex).contains(&(300000.0, "CNY".into())));
    assert!(has(&ex, "no_authority"));
}

#[test]
fn zh_traditional() {
    let ex = run(&mail(
        "陳 <chen@tw-lighting.example>",
        "Mon, 16 Nov 2026 10:00:00 +0800",
        "詢價",
        "您好，我們需要路燈 200台，請報價。付款方式：30%定金。\n",
    ));
    assert_eq!(quantities(&ex), q(&[(200.0, "pcs")]));
    assert!(has(&ex, "product_match"));
}

// --- Spanish / Portuguese ------------------------------------------------------------------

#[test]
fn es_inquiry() {
    let ex = run(&mail(
        "Ana <ana@electro-sur.example>",
        "Thu, 12 Nov 2026 10:00:00 -0500",
        "Cotización campanas LED",
        "Buenos días,\nNecesitamos cotización de 250 campanas LED de 150W y 40 unidades de reflector LED 100W.\nEntrega en Callao antes del 15 de marzo. Precio objetivo 42,50 USD por unidad.\nSoy la gerente de compras y yo firmo la orden.\n\nSaludos,\nAna\n",
    ));
    assert_eq!(quantities(&ex), q(&[(250.0, "pcs"), (40.0, "pcs")]));
    assert_eq!(money(&ex), vec![(42.5, "USD".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2027-03-15")]);
    assert!(has(&ex, "decision_maker") && has(&ex, "quote_request"));
}

#[test]
fn es_forwarding_assistant() {
    let ex = run(&mail(
        "Laura <laura@constructora.example>",
        "Thu, 12 Nov 2026 10:00:00 -0500",
        "RE: cotización",
        "Gracias. La reenvío a mi gerente de compras, él es quien decide.\n",
    ));
    assert!(has(&ex, "no_authority"));
}

#[test]
fn pt_inquiry() {
    let ex = run(&mail(
        "Paulo <paulo@eletro-norte.example>",
        "Tue, 10 Nov 2026 20:40:51 -0300",
        "refletor led",
        "Boa noite, precisamos de 300 unidades de refletor LED 150W. Prazo: mercadoria em Santos até 20/12/2026.\nSou o dono, a decisão é minha. Pagamento 30% antecipado. Orçamento de R$ 45.000.\n",
    ));
    assert_eq!(quantities(&ex), q(&[(300.0, "pcs")]));
    assert_eq!(deadlines(&ex), vec![d("2026-12-20")]);
    assert!(
        money(&ex).contains(&(45000.0, "BRL".into())),
        "{:?}",
        money(&ex)
    );
    assert!(has(&ex, "decision_maker"));
}

// --- French / German -----------------------------------------------------------------------

#[test]
fn fr_inquiry() {
    let ex = run(&mail(
        "Awa <awa@dakar-lumiere.example>",
        "Mon, 16 Nov 2026 09:50:50 +0000",
        "Commande lampadaires",
        "Bonjour,\nvoici notre besoin : 200 lampadaires LED 100 W et 150 pièces projecteur LED 200 W.\nLivraison au port de Dakar avant le 28 février 2027. Budget : 40 000 EUR.\nJe suis le gérant de la société.\n\nCordialement,\nAwa\nGérante\n",
    ));
    assert_eq!(quantities(&ex), q(&[(200.0, "pcs"), (150.0, "pcs")]));
    assert_eq!(money(&ex), vec![(40000.0, "EUR".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2027-02-28")]);
    assert!(has(&ex, "decision_maker"));
}

#[test]
fn de_inquiry() {
    let ex = run(&mail(
        "Klaus <k.meier@meier-elektro.example>",
        "Thu, 20 Aug 2026 10:15:42 +0200",
        "Anfrage Hallenstrahler",
        "Guten Tag,\nwir benötigen 1.200 Stück LED-Hallenstrahler 150W. Lieferung bis Ende Oktober.\nZielpreis 39,90 EUR/Stück. Ich bin Geschäftsführer und entscheide über die Bestellung.\n\nMit freundlichen Grüßen\nKlaus Meier\nGeschäftsführer\n",
    ));
    assert_eq!(quantities(&ex), q(&[(1200.0, "pcs")]));
    assert_eq!(money(&ex), vec![(39.9, "EUR".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2026-10-31")]);
    assert!(has(&ex, "decision_maker") && has(&ex, "title"));
}

// --- Russian / Arabic ----------------------------------------------------------------------

#[test]
fn ru_inquiry() {
    let ex = run(&mail(
        "Иван <ivan@stroy-svet.example>",
        "Sat, 14 Nov 2026 10:25:44 +0300",
        "Заказ прожекторов",
        "Добрый день.\nНужны прожекторы 200 Вт — 300 шт. Поставка до конца декабря.\nБюджет 15 000 долларов США. Я генеральный директор, решение за мной.\n",
    ));
    assert_eq!(quantities(&ex), q(&[(300.0, "pcs")]));
    assert_eq!(money(&ex), vec![(15000.0, "USD".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2026-12-31")]);
    assert!(has(&ex, "decision_maker"));
}

#[test]
fn ar_inquiry() {
    let ex = run(&mail(
        "خالد <khalid@gulf-contracting.example>",
        "Wed, 11 Nov 2026 10:30:33 +0300",
        "طلب عرض سعر كشافات",
        "السلام عليكم،\nالمطلوب: كشاف LED قدرة 200 واط، عدد 400 حبة.\nالتسليم في ميناء جدة قبل 20 فبراير 2027. السعر المستهدف 60 دولار للحبة.\nأنا مدير المشتريات وصاحب قرار الشراء.\n",
    ));
    assert_eq!(quantities(&ex), q(&[(400.0, "pcs")]));
    assert_eq!(money(&ex), vec![(60.0, "USD".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2027-02-20")]);
    assert!(has(&ex, "decision_maker"));
}

// --- Turkish / Vietnamese / Indonesian / Italian / Polish ------------------------------------
// Quantities are left out on purpose: their unit words (adet, chiếc, buah, pezzi, sztuk, mb) live in
// the [units] table, not in these language files.

/// Asserts each kind is present, naming the missing one and what did come out.
fn has_all(ex: &Extraction, want: &[&str]) {
    for k in want {
        assert!(has(ex, k), "{k} missing: {:?}", kinds(ex));
    }
}

#[test]
fn tr_inquiry() {
    let ex = run(&mail(
        "Can Öztürk <can@ozturk-aydinlatma.example>",
        "Mon, 16 Nov 2026 10:00:00 +0300",
        "Fiyat talebi: LED projektör",
        "Merhaba,\nAnkara'da LED aydınlatma toptancısıyız. 200W LED projektör için fiyat teklifinizi bekliyoruz.\nHedef fiyatımız 38 USD. Ödeme: %30 peşin, kalanı konşimento kopyasına karşı.\nTeslim: en geç 20 Ocak 2027, Mersin limanı. Satın alma kararlarını ben veriyorum. Önce numune gönderir misiniz?\n\nSaygılarımla,\nCan Öztürk\nGenel Müdür\n\n16 Kas 2026 Pzt, 09:10 tarihinde Sales <sales@ourco.example> şunu yazdı:\n> USD 41.00, teslim en geç 15 Aralık\n",
    ));
    assert_eq!(money(&ex), vec![(38.0, "USD".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2027-01-20")]);
    has_all(
        &ex,
        &[
            "buyer_type",
            "quote_request",
            "target_price",
            "payment_terms",
            "decision_maker",
            "sample_request",
            "title",
        ],
    );
    // Verb-final dates: the date comes before "kadar" (until).
    let ex = run(&mail(
        "Can <can@ozturk-aydinlatma.example>",
        "Mon, 16 Nov 2026 10:00:00 +0300",
        "Ynt: teklif",
        "Teklifinizi müdürüme ileteceğim, o karar verecek. Acelemiz yok ama mal Aralık sonuna kadar gelmeli.\n",
    ));
    assert_eq!(deadlines(&ex), vec![d("2026-12-31")]);
    has_all(&ex, &["no_authority", "vague"]);
}

#[test]
fn vi_inquiry() {
    let ex = run(&mail(
        "Lê Văn Nam <nam@densang-lighting.example>",
        "Mon, 16 Nov 2026 10:00:00 +0700",
        "Yêu cầu báo giá đèn pha LED",
        "Chào anh,\nChúng tôi là nhà phân phối thiết bị chiếu sáng tại Đà Nẵng. Vui lòng gửi báo giá đèn pha LED 200W, giá CIF Đà Nẵng.\nGiá mục tiêu 40 USD. Thanh toán: đặt cọc 30%, 70% khi nhận bản sao vận đơn.\nHàng cần giao trước ngày 15 tháng 1 năm 2027. Tôi là giám đốc và có quyền quyết định. Xin gửi trước 2 mẫu.\n\nTrân trọng,\nLê Văn Nam\nGiám đốc\n\nVào Th 2, 16 thg 11, 2026 vào lúc 09:10 Sales <sales@ourco.example> đã viết:\n> USD 43.00, giao hàng trước ngày 20/12/2026\n",
    ));
    assert_eq!(money(&ex), vec![(40.0, "USD".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2027-01-15")]);
    has_all(
        &ex,
        &[
            "buyer_type",
            "quote_request",
            "target_price",
            "payment_terms",
            "decision_maker",
            "sample_request",
            "title",
        ],
    );
    // "tháng 2" is February; "3 tuần" is a span; "12 tháng" is twelve months, not December.
    let ex = run(&mail(
        "Nam <nam@densang-lighting.example>",
        "Mon, 16 Nov 2026 10:00:00 +0700",
        "Re: báo giá",
        "Lô hai giao trước cuối tháng 2. Lô ba giao hàng trong vòng 3 tuần. Bảo hành 12 tháng.\n",
    ));
    assert_eq!(deadlines(&ex), vec![d("2027-02-28"), d("2026-12-07")]);
    let ex = run(&mail(
        "Sales <sales@bao-bi-pitch.example>",
        "Mon, 16 Nov 2026 10:00:00 +0700",
        "Hợp tác",
        "Chúng tôi là đơn vị chuyên cung cấp bao bì carton, xin được giới thiệu sản phẩm của chúng tôi.\n",
    ));
    assert!(has(&ex, "seller"), "{:?}", kinds(&ex));
}

#[test]
fn id_inquiry() {
    let ex = run(&mail(
        "Andi Wijaya <andi@sinar-lampu.example>",
        "Mon, 16 Nov 2026 10:00:00 +0700",
        "Permintaan penawaran lampu sorot",
        "Dengan hormat,\nKami adalah distributor lampu di Surabaya. Mohon penawaran harga lampu sorot LED 150W, CIF Tanjung Perak.\nHarga target kami 35 USD per unit. Pembayaran DP 30%, pelunasan sebelum pengiriman.\nBarang harus tiba paling lambat 15 Januari 2027. Saya pemilik perusahaan dan berwenang menandatangani PO. Mohon kirimkan sampel terlebih dahulu.\n\nHormat kami,\nAndi Wijaya\nDirektur\n\nPada tanggal Sen, 16 Nov 2026 pukul 09.10 Sales <sales@ourco.example> menulis:\n> USD 37.00, pengiriman sebelum 20 Desember\n",
    ));
    assert_eq!(money(&ex), vec![(35.0, "USD".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2027-01-15")]);
    has_all(
        &ex,
        &[
            "buyer_type",
            "quote_request",
            "target_price",
            "payment_terms",
            "decision_maker",
            "sample_request",
            "title",
        ],
    );
    // An answer-by date is not a delivery date; "dalam waktu sebulan" is one month.
    let ex = run(&mail(
        "Andi <andi@sinar-lampu.example>",
        "Mon, 16 Nov 2026 10:00:00 +0700",
        "Re: penawaran",
        "Mohon kirimkan penawaran paling lambat 25 November. Barang dikirim dalam waktu sebulan.\n",
    ));
    assert_eq!(deadlines(&ex), vec![d("2026-12-16")]);
    let ex = run(&mail(
        "Procurement <tender.office@gmail.com>",
        "Mon, 16 Nov 2026 10:00:00 +0700",
        "Pemenang tender",
        "Perusahaan anda memenangkan tender. Biaya pendaftaran vendor sebesar USD 950 wajib dibayar sebelum kontrak. Pembayaran melalui konsultan kami.\n",
    ));
    has_all(&ex, &["advance_fee", "third_party_payment"]);
}

#[test]
fn it_inquiry() {
    let ex = run(&mail(
        "Luca Rossi <luca@rossi-elettrica.example>",
        "Mon, 16 Nov 2026 10:00:00 +0100",
        "Richiesta offerta proiettori LED",
        "Buongiorno,\nsiamo un distributore di materiale elettrico di Bologna. Vi preghiamo di inviarci la vostra migliore offerta per proiettori LED 150W, resa CIF Genova.\nIl nostro prezzo obiettivo è 36 EUR al pezzo. Pagamento: 30% di acconto, saldo contro copia B/L.\nConsegna entro il 20 gennaio 2027. Sono il titolare e decido io. Potete inviarci due campioni?\n\nCordiali saluti,\nLuca Rossi\nTitolare\n\nIl giorno lun 16 nov 2026 alle ore 09:10 Sales <sales@ourco.example> ha scritto:\n> EUR 39,00, consegna entro il 15 dicembre\n",
    ));
    assert_eq!(money(&ex), vec![(36.0, "EUR".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2027-01-20")]);
    has_all(
        &ex,
        &[
            "buyer_type",
            "quote_request",
            "target_price",
            "payment_terms",
            "decision_maker",
            "sample_request",
            "title",
        ],
    );
    let ex = run(&mail(
        "Luca <luca@rossi-elettrica.example>",
        "Mon, 16 Nov 2026 10:00:00 +0100",
        "R: offerta",
        "Grazie. Giro l'offerta al mio responsabile, decide lui. Nessuna fretta: la consegna sarebbe entro fine febbraio.\n",
    ));
    assert_eq!(deadlines(&ex), vec![d("2027-02-28")]);
    has_all(&ex, &["no_authority", "vague"]);
}

#[test]
fn pl_inquiry() {
    let ex = run(&mail(
        "Piotr Nowak <piotr@nowak-hurt.example>",
        "Mon, 16 Nov 2026 10:00:00 +0100",
        "Zapytanie ofertowe - naświetlacze LED",
        "Dzień dobry,\njesteśmy hurtownią elektryczną z Poznania. Prosimy o ofertę na naświetlacze LED 200W, CIF Gdańsk.\nNasza cena docelowa to 40 USD/szt. Płatność: 30% przedpłaty, reszta po otrzymaniu kopii konosamentu.\nTermin dostawy: najpóźniej do 15 stycznia 2027. Jestem właścicielem firmy i podejmuję decyzję o zakupie. Prosimy o 2 próbki.\n\nZ poważaniem,\nPiotr Nowak\nWłaściciel\n\nW dniu pon., 16.11.2026 o 09:10 Sales <sales@ourco.example> napisał(a):\n> USD 43.00, dostawa do 20.12.2026\n",
    ));
    assert_eq!(money(&ex), vec![(40.0, "USD".to_string())]);
    assert_eq!(deadlines(&ex), vec![d("2027-01-15")]);
    has_all(
        &ex,
        &[
            "buyer_type",
            "quote_request",
            "target_price",
            "payment_terms",
            "decision_maker",
            "sample_request",
            "title",
        ],
    );
    // Genitive month and "end of next month".
    let ex = run(&mail(
        "Piotr <piotr@nowak-hurt.example>",
        "Mon, 16 Nov 2026 10:00:00 +0100",
        "Odp: oferta",
        "Pierwsza partia do końca przyszłego miesiąca, druga w ciągu 6 tygodni.\n",
    ));
    assert_eq!(deadlines(&ex), vec![d("2026-12-31"), d("2026-12-28")]);
    let ex = run(&mail(
        "Dział zakupów <zakupy@order-docs.example>",
        "Mon, 16 Nov 2026 10:00:00 +0100",
        "Nowe zamówienie",
        "Szanowni Państwo, zaloguj się adresem e-mail i hasłem, aby pobrać zamówienie. Pracujemy z terminem płatności 90 dni, bez przedpłaty.\n",
    ));
    has_all(&ex, &["phishing", "credit_terms"]);
}

// --- quoting, signatures, flags ------------------------------------------------------------

#[test]
fn quoted_text_never_counts() {
    let styles = [
        "On Sat, Nov 14, 2026 at 10:40 AM Sales <sales@ourco.example> wrote:\n> 400 pcs x USD 39.50, delivery by 20 December\n",
        "-----Original Message-----\nFrom: Sales <sales@ourco.example>\nSent: Saturday, November 14, 2026 2:12 PM\nTo: Buyer\nSubject: RE: x\n\n400 pcs x USD 39.50, delivery by 20 December\n",
        "________________________________\nFrom: Sales <sales@ourco.example>\nSent: Saturday, November 14, 2026 2:12 PM\n\n400 pcs x USD 39.50, delivery by 20 December\n",
        "De: Sales <sales@ourco.example>\nEnviado el: viernes, 13 de noviembre de 2026 0:05\nPara: Buyer\n\n400 pcs x USD 39.50, entrega antes del 20 de diciembre\n",
        "Von: Sales <sales@ourco.example>\nGesendet: Donnerstag, 12. November 2026 12:05\nAn: Buyer\n\n400 Stück x EUR 39,50, Lieferung bis 20.12.2026\n",
        "De : Sales <sales@ourco.example>\nEnvoyé : jeudi 12 novembre 2026\nÀ : Buyer\n\n400 pcs x 39,50 USD\n",
        "Em ter., 10 de nov. de 2026 às 21:25, Sales <sales@ourco.example> escreveu:\n> 400 pcs x USD 39.50\n",
        "El vie, 13 nov 2026 a las 10:00, Sales (<sales@ourco.example>) escribió:\n> 400 pcs x USD 39.50\n",
        "Le jeu. 29 oct. 2026 à 02:20, Sales <sales@ourco.example> a écrit :\n> 400 pcs x USD 39.50\n",
        "14.11.2026, 12:40, \"Sales\" <sales@ourco.example>:\n> 400 шт. × 41,00 USD\n",
        "من: Sales <sales@ourco.example>\nتاريخ الإرسال: الأربعاء، 11 نوفمبر 2026 1:20 م\nإلى: Buyer\n\n400 pcs x USD 87.00\n",
        "------------------ 原始邮件 ------------------\n发件人: \"Sales\"<sales@ourco.example>;\n发送时间: 2026年11月15日\n\n每套USD 46.50 × 500套\n",
        "发件人: Sales <sales@ourco.example>\n发送时间: 2026年11月15日\n收件人: Buyer\n\n500套\n",
        "在 2026年11月15日 11:05，Sales <sales@ourco.example> 写道：\n> 500套 USD 46.50\n",
        "13 Kas 2026 Cum, 11:40 tarihinde Sales <sales@ourco.example> şunu yazdı:\n> 400 pcs x USD 39.50\n",
        "Kimden: Sales <sales@ourco.example>\nGönderildi: 13 Kasım 2026 Cuma 11:40\nKime: Buyer\nKonu: RE: x\n\n400 pcs x USD 39.50, teslim en geç 20 Aralık\n",
        "Vào Th 7, 14 thg 11, 2026 vào lúc 14:20 Sales <sales@ourco.example> đã viết:\n> 400 pcs x USD 39.50\n",
        "Từ: Sales <sales@ourco.example>\nĐã gửi: Thứ Bảy, 14 tháng 11, 2026 14:20\nĐến: Buyer\nChủ đề: RE: x\n\n400 pcs x USD 39.50, giao hàng trước ngày 20/12/2026\n",
        "Pada tanggal Jum, 13 Nov 2026 pukul 10.05 Sales <sales@ourco.example> menulis:\n> 400 pcs x USD 39.50\n",
        "Dari: Sales <sales@ourco.example>\nDikirim: Jumat, 13 November 2026 10:05\nKepada: Buyer\nPerihal: RE: x\n\n400 pcs x USD 39.50, pengiriman paling lambat 20 Desember\n",
        "Il giorno ven 6 nov 2026 alle ore 03:00 Sales <sales@ourco.example> ha scritto:\n> 400 pcs x USD 39.50\n",
        "Da: Sales <sales@ourco.example>\nInviato: venerdì 6 novembre 2026 03:00\nA: Buyer\nOggetto: R: x\n\n400 pcs x USD 39.50, consegna entro il 20 dicembre\n",
        "W dniu czw. 12.11.2026 o 10:00 Sales <sales@ourco.example> napisał(a):\n> 400 pcs x USD 39.50\n",
        "Od: Sales <sales@ourco.example>\nWysłano: czwartek, 12 listopada 2026 10:00\nDo: Buyer\nTemat: RE: x\n\n400 pcs x USD 39.50, dostawa do 20.12.2026\n",
    ];
    for (i, quote) in styles.iter().enumerate() {
        let body = format!("OK, thanks. Will confirm tomorrow.\n\n{quote}");
        let ex = run(&mail(
            "b@buyer-co.example",
            "Mon, 16 Nov 2026 10:00:00 +0000",
            "Re: offer",
            &body,
        ));
        assert!(quantities(&ex).is_empty(), "style {i}: {:?}", ex.signals);
        assert!(money(&ex).is_empty(), "style {i}: {:?}", ex.signals);
        assert!(deadlines(&ex).is_empty(), "style {i}: {:?}", ex.signals);
    }
}

#[test]
fn signature_is_kept_apart() {
    let ex = run(&mail(
        "Tom <tom@harbor-supply.example>",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "panel lights",
        "Hi,\nplease quote 600 pcs panel light 60x60.\n\nBest regards,\nTom Hughes\nPurchasing Director\nHarbor Supply Ltd\n12 Dock Road, Bristol\nTel: +44 117 000 0000\nwww.harbor-supply.example\n",
    ));
    let title = ex
        .signals
        .iter()
        .find(|s| s.kind == "title")
        .expect("title from signature");
    assert!(title.evidence.contains("Purchasing Director"), "{title:?}");
    // Titles in the body text ("our director") are not signature titles.
    assert!(ex.signals.iter().filter(|s| s.kind == "title").count() == 1);
}

#[test]
fn auto_replies_bounces_and_bulk_carry_no_signals() {
    let cases: [(&str, Flag); 4] = [
        (
            "Auto-Submitted: auto-replied\r\nSubject: Automatic reply: RFQ\r\n",
            Flag::AutoReply,
        ),
        ("Subject: 自动回复：询价\r\n", Flag::AutoReply),
        (
            "Subject: Respuesta automática: RE: cotización\r\n",
            Flag::AutoReply,
        ),
        (
            "List-Unsubscribe: <mailto:u@x.example>\r\nPrecedence: bulk\r\nSubject: Newsletter\r\n",
            Flag::Bulk,
        ),
    ];
    for (headers, flag) in cases {
        let raw = format!(
            "From: b@buyer-co.example\r\nDate: Mon, 16 Nov 2026 10:00:00 +0000\r\n{headers}\r\nI am out of office until 25 November. Need 500 pcs high bay by 20 December.\r\n"
        );
        let ex = run(raw.as_bytes());
        assert!(ex.flags.contains(&flag), "{headers}: {:?}", ex.flags);
        // No inquiry signals; bulk mail keeps the header that flagged it as its evidence.
        let kinds: Vec<&str> = ex.signals.iter().map(|s| s.kind.as_str()).collect();
        let want: &[&str] = if flag == Flag::Bulk { &["bulk"] } else { &[] };
        assert_eq!(kinds, want, "{headers}");
    }
    let bounce = b"From: MAILER-DAEMON@mx.ourco.example\r\nDate: Mon, 16 Nov 2026 10:00:00 +0000\r\nSubject: Undelivered Mail Returned to Sender\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nNeed 500 pcs.\r\n--b--\r\n";
    let ex = run(bounce);
    assert_eq!(ex.flags, vec![Flag::Bounce]);
    assert!(ex.signals.is_empty());
}

#[test]
fn header_and_attachment_risks() {
    let raw = "From: Hans <hans@dutch-lumen.example>\r\nReply-To: dutch.purchase@yahoo.com\r\nDate: Mon, 16 Nov 2026 10:00:00 +0000\r\nSubject: Order\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPlease see our order.\r\n--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"PO_2026.pdf.html\"\r\n\r\n<html></html>\r\n--b\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"RFQ_specs.zip\"\r\n\r\nxx\r\n--b--\r\n";
    let ex = run(raw.as_bytes());
    for k in [
        "reply_to_mismatch",
        "risky_attachment",
        "double_extension",
        "archive_order",
    ] {
        assert!(has(&ex, k), "{k} missing: {:?}", kinds(&ex));
    }
    // A free-mail sender claiming to be a big company.
    let ex = run(&mail(
        "Dan <dan.procurement@outlook.com>",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "order",
        "I am Director of Purchasing at Brookfield Construction Group Inc. We work only on Net 90 open account.\n",
    ));
    assert!(
        has(&ex, "freemail_org_claim") && has(&ex, "credit_terms"),
        "{:?}",
        kinds(&ex)
    );
}

#[test]
fn every_signal_has_evidence() {
    let ex = run(&mail(
        "Ama <ama@kumasi-builders.example>",
        "Tue, 03 Nov 2026 09:00:00 +0000",
        "RFQ",
        "Please quote 120 pcs 200W floodlight, delivery before 15 January 2027, USD 18,000. I am the owner.\n",
    ));
    assert!(!ex.signals.is_empty());
    for s in &ex.signals {
        assert!(
            !s.evidence.trim().is_empty() && s.evidence.chars().count() <= 100,
            "{s:?}"
        );
    }
}

// --- charsets ------------------------------------------------------------------------------

fn fixture(name: &str) -> Extraction {
    let path = format!(
        "{}/tests/fixtures/extract/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read(&path).expect("fixture exists");
    run(&raw)
}

#[test]
fn charset_gbk_and_gb2312() {
    let ex = fixture("gbk.eml");
    assert_eq!(quantities(&ex), q(&[(300.0, "sets")]));
    assert!(money(&ex).contains(&(45.0, "USD".into())));
    assert_eq!(deadlines(&ex), vec![d("2026-12-31")]);
    assert!(has(&ex, "decision_maker"));
    let ex = fixture("gb2312.eml");
    assert_eq!(quantities(&ex), q(&[(500.0, "pcs")]));
    assert!(money(&ex).contains(&(50000.0, "USD".into())));
    assert_eq!(deadlines(&ex), vec![d("2026-11-30")]);
}

#[test]
fn charset_big5() {
    let ex = fixture("big5.eml");
    assert_eq!(quantities(&ex), q(&[(200.0, "pcs")]));
    assert!(has(&ex, "product_match"));
}

#[test]
fn charset_koi8r_and_cp1251() {
    let ex = fixture("koi8r.eml");
    assert_eq!(quantities(&ex), q(&[(150.0, "pcs")]));
    assert_eq!(deadlines(&ex), vec![d("2026-12-25")]);
    assert_eq!(money(&ex), vec![(10000.0, "USD".to_string())]);
    let ex = fixture("cp1251.eml");
    assert_eq!(quantities(&ex), q(&[(420.0, "pcs")]));
    assert!(has(&ex, "decision_maker"));
}

#[test]
fn charset_iso2022jp_and_rfc2047_subjects() {
    let raw = std::fs::read(format!(
        "{}/tests/fixtures/extract/iso2022jp.eml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let fallback = DateTime::parse_from_rfc3339("2026-11-20T08:00:00+08:00").expect("date");
    let m = leadsift::parse::parse(&raw, fallback, false).expect("parses");
    assert_eq!(m.subject, "見積依頼 LED照明");
    assert!(m.text.contains("500台"));
    let ex = extractor().extract(&m);
    assert_eq!(quantities(&ex), q(&[(500.0, "pcs")]));
    assert_eq!(money(&ex), vec![(20000.0, "USD".to_string())]);
    for (name, subject) in [
        ("gbk.eml", "询价：LED路灯 300套"),
        ("gb2312.eml", "询价：投光灯"),
        ("big5.eml", "詢價：路燈"),
        ("koi8r.eml", "Запрос цен: прожекторы"),
    ] {
        let raw = std::fs::read(format!(
            "{}/tests/fixtures/extract/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        assert_eq!(
            leadsift::parse::parse(&raw, fallback, false)
                .expect("parses")
                .subject,
            subject
        );
    }
}

#[test]
fn goods_asked_for_without_a_count_are_an_item_and_the_count_on_their_line_counts_them() {
    let ex = run(&mail(
        "ops@harbour-yard.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Lights for the yard",
        "Please quote solar street lights, 60W, pole height 6 m, 12 sets in all.\n",
    ));
    assert_eq!(ex.items.len(), 1, "{:?}", ex.items);
    let it = &ex.items[0];
    assert!(it.product.starts_with("solar street lights"), "{it:?}");
    assert_eq!(it.fit, leadsift::extract::items::Fit::Ours, "{it:?}");
    assert_eq!(it.quantity.as_ref().map(|q| q.amount), Some(12.0));
    // The pole's height describes the goods: a spec, not 6 m ordered.
    assert!(
        !ex.signals
            .iter()
            .any(|s| s.kind == "quantity" && s.evidence.contains("6 m")),
        "{:?}",
        ex.signals
    );
}

#[test]
fn uncounted_goods_that_are_not_ours_count_against_fit() {
    let ex = run(&mail(
        "buyer@garden-centre.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Enquiry",
        "Hello, we would like to purchase teak garden benches and parasols. Kindly quote CIF Dublin.\n",
    ));
    let it = ex
        .items
        .iter()
        .find(|i| i.product.contains("teak garden benches"))
        .unwrap_or_else(|| panic!("{:?}", ex.items));
    assert_eq!(it.fit, leadsift::extract::items::Fit::NotOurs, "{it:?}");
    assert!(it.quantity.is_none());
    // "quote CIF Dublin" names a trade term, not goods.
    assert!(
        !ex.items.iter().any(|i| i.product.contains("CIF")),
        "{:?}",
        ex.items
    );
    assert!(has(&ex, "not_ours"));
}

#[test]
fn words_around_a_count_in_a_sentence_that_name_nothing_are_not_goods() {
    let ex = run(&mail(
        "pat.murphy@gmail.com",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Question",
        "How much would 2 pcs cost with delivery to Galway? The estimated volume is 2 units per year.\n",
    ));
    // No product named: no "not ours" verdict from filler words.
    assert!(
        ex.items.iter().all(|i| i.product.is_empty()),
        "{:?}",
        ex.items
    );
    assert!(!has(&ex, "not_ours"));
}

#[test]
fn a_plural_of_our_kind_of_goods_is_never_called_not_ours() {
    // "lights" is the head noun of our "street light" / "panel light": no verdict, no penalty.
    let ex = run(&mail(
        "buyer@depot-co.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Lights",
        "We need warehouse lights 400 pcs.\n",
    ));
    assert!(!has(&ex, "not_ours"), "{:?}", ex.items);
}

#[test]
fn a_trade_term_or_a_place_after_a_request_is_not_goods() {
    let ex = run(&mail(
        "buyer@coastal-ports.example",
        "Mon, 16 Nov 2026 10:00:00 +0000",
        "Floodlights",
        "We need 12 floodlights. Please quote CIF Mombasa, delivery to Mombasa port.\n",
    ));
    assert!(!has(&ex, "not_ours"), "{:?}", ex.items);
    assert!(
        ex.items.iter().all(|i| !i.product.contains("Mombasa")),
        "{:?}",
        ex.items
    );
}

#[test]
fn an_html_table_rfq_gives_one_item_per_row_with_the_headers_units() {
    let raw = "From: buyer@lagoon-build.example\r\nDate: Mon, 16 Nov 2026 10:00:00 +0000\r\nSubject: RFQ\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Please quote:</p><table><tr><th>No.</th><th>Item</th><th>Qty (pcs)</th><th>Target (USD/pc)</th></tr><tr><td>1</td><td>floodlight 200W</td><td>120</td><td>41.50</td></tr><tr><td>2</td><td>high bay 150W</td><td>300</td><td>36</td></tr></table>\r\n";
    let ex = run(raw.as_bytes());
    assert_eq!(ex.items.len(), 2, "{:?}", ex.items);
    let first = &ex.items[0];
    assert!(first.product.starts_with("floodlight"), "{first:?}");
    assert_eq!(first.quantity.as_ref().map(|q| q.amount), Some(120.0));
    assert_eq!(first.price.as_ref().map(|p| p.amount), Some(41.5));
    assert_eq!(first.fit, leadsift::extract::items::Fit::Ours);
    assert_eq!(ex.items[1].quantity.as_ref().map(|q| q.amount), Some(300.0));
}
