//! The judgement as `explain` shows it: every step of [`class::decide`] in its order, which
//! passed, which one settled the class, and which were not reached.

use serde::{Deserialize, Serialize};

use super::Class;
use super::class::{self, Judgement, Thresholds};

/// The step after the drop steps: the score decides between hot, nurture and drop.
pub const SCORE_STEP: &str = "score";

/// What one step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Decided {
        class: Class,
        reason: String,
    },
    /// An earlier step settled the class.
    NotReached,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub outcome: Outcome,
}

/// Runs the steps like [`class::decide`] and records each one; exactly one step decides, and it
/// gives the class and reason `decide` gives.
pub fn trace(j: &Judgement, t: Thresholds) -> Vec<Step> {
    let mut out = Vec::new();
    let mut settled = false;
    for (name, step) in class::DROP_STEPS {
        let outcome = if settled {
            Outcome::NotReached
        } else if let Some((class, reason)) = step(j) {
            settled = true;
            Outcome::Decided { class, reason }
        } else {
            Outcome::Passed
        };
        out.push(Step {
            name: name.to_string(),
            outcome,
        });
    }
    let outcome = if settled {
        Outcome::NotReached
    } else {
        // No drop step fired, so `decide` returns the score's verdict.
        let (class, reason) = class::decide(j, t);
        Outcome::Decided { class, reason }
    };
    out.push(Step {
        name: SCORE_STEP.to_string(),
        outcome,
    });
    out
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
            ..Judgement::default()
        }
    }

    fn names(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.name.as_str()).collect()
    }

    fn decided(steps: &[Step]) -> Vec<(&str, Class, &str)> {
        steps
            .iter()
            .filter_map(|s| match &s.outcome {
                Outcome::Decided { class, reason } => {
                    Some((s.name.as_str(), *class, reason.as_str()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_step_in_order_and_the_score_decides_a_clean_lead() {
        let steps = trace(&strong(), T);
        assert_eq!(
            names(&steps),
            [
                "risk",
                "bulk",
                "seller",
                "non_buyer",
                "fit",
                "asks",
                "value",
                "fishing",
                "private",
                "score"
            ]
        );
        assert!(steps[..9].iter().all(|s| s.outcome == Outcome::Passed));
        let (class, why) = class::decide(&strong(), T);
        assert_eq!(decided(&steps), [("score", class, why.as_str())]);
    }

    #[test]
    fn the_first_step_that_settles_decides_and_later_ones_are_not_reached() {
        let j = Judgement {
            not_ours: Some("office chairs".into()),
            far_below_min: Some("far below the minimum".into()),
            ..strong()
        };
        let steps = trace(&j, T);
        let (class, why) = class::decide(&j, T);
        assert_eq!(class, Class::Drop);
        assert_eq!(decided(&steps), [("fit", class, why.as_str())]);
        let fit = names(&steps).iter().position(|n| *n == "fit").unwrap_or(0);
        assert!(steps[..fit].iter().all(|s| s.outcome == Outcome::Passed));
        assert!(
            steps[fit + 1..]
                .iter()
                .all(|s| s.outcome == Outcome::NotReached)
        );
    }
}
