//! The class as a short pipeline of named steps, in the order a salesperson asks: is it a trick
//! (risk), is it mail to a list (bulk), is the sender selling to us (seller), will they buy at
//! all (non-buyer), is it ours (fit), do they ask for anything we sell at all (asks), is it big
//! enough (value), is it just fishing, is it a private order; then the score decides between hot
//! and nurture. Each step sees the [`Judgement`] and either settles the class
//! with a reason or passes.

use super::Class;

/// What the steps look at, gathered from the lead's evidence.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    /// A person marked the lead a scam.
    pub marked_scam: Option<String>,
    /// Positive risk points in total, and the risk card.
    pub risk_total: f64,
    pub risk_card: u8,
    pub top_risk: Option<String>,
    /// Evidence that the sender offers goods or services to us.
    pub seller: Option<String>,
    /// Evidence of mail to a list: a List-Unsubscribe header, an unsubscribe footer, a salutation
    /// to a list, many links or images.
    pub bulk: Option<String>,
    /// The sender asks to buy something (a quote, PI, samples, a count of goods we make).
    pub buyer_intent: bool,
    /// Something of our catalogue is named in the lead's words.
    pub names_ours: bool,
    /// There is a catalogue to judge against (without one, "names nothing of ours" says nothing).
    pub catalogue_known: bool,
    /// The first words that ask us for something a supplier sells (a quote, samples, a count).
    pub asks: Option<String>,
    /// A long message of the lead that names nothing of ours and asks for nothing.
    pub off_topic: Option<String>,
    /// We wrote to this lead: a conversation of ours, not a stranger's mail.
    pub we_wrote: bool,
    /// The subject of the lead's first inbound message.
    pub subject: Option<String>,
    pub non_buyer: Option<String>,
    /// Goods named that are not ours, with nothing of ours named.
    pub not_ours: Option<String>,
    /// The buyer says outright our line is not what they want, and fit is at the floor.
    pub stated_mismatch: Option<String>,
    pub far_below_min: Option<String>,
    pub fishing: Option<String>,
    pub has_quantity: bool,
    /// How many of budget, authority and timeline are solid (≥ 3.5).
    pub solid: usize,
    pub private_units: Option<f64>,
    /// Money or time says "not now" (budget closed, project postponed).
    pub not_now: Option<String>,
    pub score: f64,
    pub need: f64,
}

/// Thresholds from `[scoring]`.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub hot: f64,
    pub drop: f64,
}

/// A risk total at or above this is a strong scam sign: drop, whatever else the lead says.
pub const STRONG_RISK: f64 = 3.0;

type Step = fn(&Judgement) -> Option<(Class, String)>;

/// The drop steps, in order; the first that settles the class wins.
pub const DROP_STEPS: [(&str, Step); 9] = [
    ("risk", risk),
    ("bulk", bulk),
    ("seller", seller),
    ("non_buyer", non_buyer),
    ("fit", fit),
    ("asks", asks_nothing),
    ("value", value),
    ("fishing", fishing),
    ("private", private),
];

pub fn risk(j: &Judgement) -> Option<(Class, String)> {
    if let Some(by) = &j.marked_scam {
        return Some((Class::Drop, format!("marked a scam: {by}")));
    }
    (j.risk_total >= STRONG_RISK || j.risk_card >= 4).then(|| {
        (
            Class::Drop,
            format!(
                "risk {}: {}",
                j.risk_card,
                j.top_risk.clone().unwrap_or_default()
            ),
        )
    })
}

/// At most `n` characters of `s`, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let cut: String = s.chars().take(n).collect();
    format!("{}…", cut.trim_end())
}

/// True when the lead names nothing of a catalogue we have.
fn names_nothing_of_ours(j: &Judgement) -> bool {
    j.catalogue_known && !j.names_ours
}

/// Mail to a list that names nothing we sell is not an inquiry (a newsletter, an advert). Bulk
/// mail that does name our goods (a trade-portal RFQ) is judged on, but is never hot.
pub fn bulk(j: &Judgement) -> Option<(Class, String)> {
    let e = j.bulk.as_ref().filter(|_| names_nothing_of_ours(j))?;
    Some((
        Class::Drop,
        format!("bulk mail: \"{e}\" — asks for nothing we sell"),
    ))
}

/// A sender who offers his own goods or services and asks to buy nothing is a seller; so is one
/// whose buying words name nothing of ours ("order now" in an advert). A buyer describing his own
/// business ("we make school bags and need 15,000 yards of our fabric") is not.
pub fn seller(j: &Judgement) -> Option<(Class, String)> {
    let e = j
        .seller
        .as_ref()
        .filter(|_| !j.buyer_intent || names_nothing_of_ours(j))?;
    Some((Class::Drop, format!("a seller, not a buyer: \"{e}\"")))
}

/// A stranger's long mail that names nothing we make and asks for nothing a supplier sells (no
/// quote, no price list, no samples, no quantity) is not a lead. An inquiry that asks without
/// naming a product ("please send your price list") is not this: it asks; nor is a short first
/// hello, nor a conversation we started.
pub fn asks_nothing(j: &Judgement) -> Option<(Class, String)> {
    if !names_nothing_of_ours(j) || j.asks.is_some() || j.we_wrote {
        return None;
    }
    let e = j.off_topic.as_ref()?;
    let about = j
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| format!(" (subject \"{}\")", clip(s, 80)))
        .unwrap_or_default();
    Some((Class::Drop, format!("asks for nothing we sell: {e}{about}")))
}

pub fn non_buyer(j: &Judgement) -> Option<(Class, String)> {
    let e = j.non_buyer.as_ref()?;
    Some((Class::Drop, format!("not a buyer: \"{e}\"")))
}

pub fn fit(j: &Judgement) -> Option<(Class, String)> {
    if let Some(e) = &j.not_ours {
        return Some((
            Class::Drop,
            format!("asks for \"{e}\" — not in our catalogue"),
        ));
    }
    let e = j.stated_mismatch.as_ref()?;
    Some((Class::Drop, format!("not our product line: \"{e}\"")))
}

pub fn value(j: &Judgement) -> Option<(Class, String)> {
    j.far_below_min.clone().map(|r| (Class::Drop, r))
}

pub fn fishing(j: &Judgement) -> Option<(Class, String)> {
    let e = j
        .fishing
        .as_ref()
        .filter(|_| !j.has_quantity && j.solid == 0)?;
    Some((
        Class::Drop,
        format!("price fishing: \"{e}\", no quantity, nothing on budget, authority or timeline"),
    ))
}

pub fn private(j: &Judgement) -> Option<(Class, String)> {
    let units = j.private_units?;
    Some((
        Class::Drop,
        format!(
            "a private-size order ({units} unit{}) from a free-mail sender with no company, no price and no decision-maker",
            if units == 1.0 { "" } else { "s" }
        ),
    ))
}

/// Runs the steps: the drop steps first, then the score between hot and nurture.
pub fn decide(j: &Judgement, t: Thresholds) -> (Class, String) {
    for (_, step) in DROP_STEPS {
        if let Some(r) = step(j) {
            return r;
        }
    }
    let score = j.score.round();
    if score < t.drop {
        return (
            Class::Drop,
            format!("score {score} is below the drop threshold {}", t.drop),
        );
    }
    if score >= t.hot && j.need >= 3.5 && j.solid >= 2 && j.risk_card <= 2 {
        if let Some(e) = &j.bulk {
            return (
                Class::Nurture,
                format!("score {score} but bulk mail: \"{e}\""),
            );
        }
        // Hot is a clear need for our goods: a strong mail that names nothing of ours is not it.
        if names_nothing_of_ours(j) {
            return (
                Class::Nurture,
                format!("score {score} but names nothing of our catalogue"),
            );
        }
        if let Some(e) = &j.not_now {
            return (
                Class::Nurture,
                format!("score {score} but not now: \"{e}\""),
            );
        }
        return (
            Class::Hot,
            format!(
                "score {score} with clear need and {} of budget/authority/timeline solid",
                j.solid
            ),
        );
    }
    if score >= t.hot {
        return (
            Class::Nurture,
            format!(
                "score {score} but not hot: need {}, {} of budget/authority/timeline solid, risk {}",
                j.need.round(),
                j.solid,
                j.risk_card
            ),
        );
    }
    (Class::Nurture, format!("score {score}: worth keeping warm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        hot: 60.0,
        drop: 30.0,
    };

    fn strong() -> Judgement {
        Judgement {
            score: 80.0,
            need: 4.5,
            solid: 3,
            risk_card: 1,
            buyer_intent: true,
            has_quantity: true,
            names_ours: true,
            catalogue_known: true,
            asks: Some("please quote".into()),
            ..Judgement::default()
        }
    }

    /// A stranger's mail that names nothing of our catalogue.
    fn names_nothing() -> Judgement {
        Judgement {
            names_ours: false,
            buyer_intent: false,
            ..strong()
        }
    }

    #[test]
    fn a_strong_buyer_is_hot() {
        assert_eq!(decide(&strong(), T).0, Class::Hot);
    }

    #[test]
    fn one_strong_risk_sign_drops_whatever_else() {
        let j = Judgement {
            risk_total: 4.0,
            top_risk: Some("registration fee".into()),
            ..strong()
        };
        let (c, why) = decide(&j, T);
        assert_eq!(c, Class::Drop);
        assert!(why.contains("registration fee"), "{why}");
    }

    #[test]
    fn a_seller_who_asks_for_nothing_is_dropped() {
        let j = Judgement {
            seller: Some("we are a leading producer of".into()),
            buyer_intent: false,
            ..strong()
        };
        assert_eq!(decide(&j, T).0, Class::Drop);
    }

    #[test]
    fn a_buyer_describing_his_own_business_is_not_a_seller() {
        let j = Judgement {
            seller: Some("we are manufacturer of garden furniture".into()),
            ..strong()
        };
        assert_eq!(decide(&j, T).0, Class::Hot);
    }

    #[test]
    fn goods_we_do_not_make_are_dropped_with_the_phrase() {
        let j = Judgement {
            not_ours: Some("office chairs".into()),
            ..strong()
        };
        let (c, why) = decide(&j, T);
        assert_eq!(c, Class::Drop);
        assert_eq!(why, "asks for \"office chairs\" — not in our catalogue");
    }

    #[test]
    fn not_now_keeps_a_strong_lead_in_nurture() {
        let j = Judgement {
            not_now: Some("the project is on hold".into()),
            ..strong()
        };
        assert_eq!(decide(&j, T).0, Class::Nurture);
    }

    #[test]
    fn fishing_without_quantity_or_solid_dimension_drops() {
        let j = Judgement {
            fishing: Some("all models".into()),
            has_quantity: false,
            solid: 0,
            ..strong()
        };
        assert_eq!(decide(&j, T).0, Class::Drop);
        let j = Judgement {
            fishing: Some("all models".into()),
            ..strong()
        };
        assert_eq!(decide(&j, T).0, Class::Hot);
    }

    #[test]
    fn low_score_drops_middle_score_nurtures() {
        let j = Judgement {
            score: 20.0,
            ..strong()
        };
        assert_eq!(decide(&j, T).0, Class::Drop);
        let j = Judgement {
            score: 45.0,
            ..strong()
        };
        assert_eq!(decide(&j, T).0, Class::Nurture);
    }

    #[test]
    fn bulk_mail_that_names_nothing_of_ours_is_dropped_with_its_evidence() {
        let j = Judgement {
            bulk: Some("List-Unsubscribe header".into()),
            ..names_nothing()
        };
        let (c, why) = decide(&j, T);
        assert_eq!(c, Class::Drop);
        assert_eq!(
            why,
            "bulk mail: \"List-Unsubscribe header\" — asks for nothing we sell"
        );
    }

    #[test]
    fn bulk_mail_that_names_our_goods_is_judged_on_but_never_hot() {
        let j = Judgement {
            bulk: Some("To unsubscribe".into()),
            ..strong()
        };
        assert_eq!(bulk(&j), None);
        let (c, why) = decide(&j, T);
        assert_eq!(c, Class::Nurture);
        assert!(why.contains("bulk mail: \"To unsubscribe\""), "{why}");
    }

    #[test]
    fn buying_words_that_name_nothing_of_ours_do_not_save_a_seller() {
        // "Order now" in an advert: buyer-like words, a seller's offer, nothing of ours.
        let j = Judgement {
            seller: Some("Order now".into()),
            buyer_intent: true,
            ..names_nothing()
        };
        let (c, why) = decide(&j, T);
        assert_eq!(c, Class::Drop);
        assert_eq!(why, "a seller, not a buyer: \"Order now\"");
        // With no catalogue to judge against, buyer intent still counts.
        let j = Judgement {
            catalogue_known: false,
            ..j
        };
        assert_eq!(seller(&j), None);
    }

    #[test]
    fn a_stranger_who_asks_for_nothing_we_sell_is_dropped_naming_the_subject() {
        let j = Judgement {
            asks: None,
            off_topic: Some("212 words that name nothing of ours and ask for nothing".into()),
            subject: Some("Win a cruise this summer".into()),
            ..names_nothing()
        };
        let (c, why) = decide(&j, T);
        assert_eq!(c, Class::Drop);
        assert!(
            why.starts_with("asks for nothing we sell: 212 words that name nothing"),
            "{why}"
        );
        assert!(
            why.contains("(subject \"Win a cruise this summer\")"),
            "{why}"
        );
    }

    #[test]
    fn asking_without_naming_a_product_or_our_own_thread_is_not_asking_for_nothing() {
        let base = Judgement {
            asks: None,
            off_topic: Some("90 words that name nothing of ours and ask for nothing".into()),
            ..names_nothing()
        };
        assert!(asks_nothing(&base).is_some());
        // A short first hello: nothing says it is about something else.
        let hello = Judgement {
            off_topic: None,
            ..base.clone()
        };
        assert_eq!(asks_nothing(&hello), None);
        // "Please send your price list": it asks, the product is unknown.
        let asks = Judgement {
            asks: Some("send your price list".into()),
            ..base.clone()
        };
        assert_eq!(asks_nothing(&asks), None);
        // A reply in a conversation we started.
        let ours = Judgement {
            we_wrote: true,
            ..base.clone()
        };
        assert_eq!(asks_nothing(&ours), None);
        // No catalogue configured: nothing to say what we sell.
        let unknown = Judgement {
            catalogue_known: false,
            ..base.clone()
        };
        assert_eq!(asks_nothing(&unknown), None);
        // Our product named.
        let named = Judgement {
            names_ours: true,
            ..base
        };
        assert_eq!(asks_nothing(&named), None);
    }

    #[test]
    fn a_strong_mail_that_names_nothing_of_ours_is_not_hot() {
        let j = Judgement {
            buyer_intent: true,
            ..names_nothing()
        };
        let (c, why) = decide(&j, T);
        assert_eq!(c, Class::Nurture);
        assert!(why.contains("names nothing of our catalogue"), "{why}");
    }

    #[test]
    fn clip_cuts_long_subjects_on_characters() {
        assert_eq!(clip("short", 80), "short");
        assert_eq!(clip("ääääää", 3), "äää…");
    }
}
