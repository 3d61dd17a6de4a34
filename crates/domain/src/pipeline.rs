//! The sales pipeline's rules: the statuses a lead moves through and the stages of an
//! opportunity, with the moves each allows. Pure: the store applies them to stored records.

use crate::{FieldError, Money};

/// A lead's statuses: worked `new -> contacted -> qualified`, then converted into a customer or
/// disqualified (and reopened as `new`).
pub const LEAD_STATUSES: &[&str] = &["new", "contacted", "qualified", "converted", "disqualified"];

/// Why a lead's status change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadMoveRefused {
    /// The target status is not one (or is `converted`, which has its own call).
    Invalid(FieldError),
    /// A move the lead's status does not allow.
    Conflict(String),
}

/// Checks that `status` names a lead status.
pub fn check_lead_status(status: &str) -> Result<(), FieldError> {
    if LEAD_STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(FieldError::new(
            "status",
            format!(
                "'{}' is not one of {}",
                crate::text::excerpt(status),
                LEAD_STATUSES.join(", ")
            ),
        ))
    }
}

/// Checks the move of lead `id` from `from` to `to` (conversion excluded: it has its own call);
/// `converted_into` is the customer a converted lead became.
pub fn check_lead_move(
    id: i64,
    from: &str,
    to: &str,
    converted_into: Option<i64>,
) -> Result<(), LeadMoveRefused> {
    check_lead_status(to).map_err(LeadMoveRefused::Invalid)?;
    if to == "converted" {
        return Err(LeadMoveRefused::Invalid(FieldError::new(
            "status",
            "a lead is converted with the convert call (it creates or picks the customer), not by setting its status",
        )));
    }
    let ok = matches!(
        (from, to),
        ("new", "contacted")
            | ("new", "qualified")
            | ("contacted", "qualified")
            | ("new" | "contacted" | "qualified", "disqualified")
            | ("disqualified", "new")
    );
    if ok {
        return Ok(());
    }
    Err(LeadMoveRefused::Conflict(match from {
        "converted" => format!(
            "lead {id} was converted into customer {} already; it cannot change any more",
            converted_into.unwrap_or_default()
        ),
        f if f == to => format!("lead {id} is '{f}' already"),
        "disqualified" => format!("lead {id} is disqualified: reopen it (status new) first"),
        f => format!(
            "lead {id} cannot go from '{f}' to '{to}' (a lead moves new -> contacted -> qualified, and may be disqualified before it is converted)"
        ),
    }))
}

/// An opportunity's stages in order; `won` and `lost` close it.
pub const STAGES: &[&str] = &[
    "prospecting",
    "qualification",
    "proposal",
    "negotiation",
    "won",
    "lost",
];

/// The probability (percent) a stage implies when none is given.
pub fn default_probability(stage: &str) -> i32 {
    match stage {
        "prospecting" => 10,
        "qualification" => 25,
        "proposal" => 50,
        "negotiation" => 75,
        "won" => 100,
        _ => 0,
    }
}

/// Checks an opportunity's stage, probability (default: the stage's) and amount; answers the
/// probability to store.
pub fn check_opportunity(
    stage: &str,
    probability: Option<i32>,
    amount: Option<Money>,
) -> Result<i32, FieldError> {
    if !STAGES.contains(&stage) {
        return Err(FieldError::new(
            "stage",
            format!(
                "'{}' is not one of {}",
                crate::text::excerpt(stage),
                STAGES.join(", ")
            ),
        ));
    }
    if amount.is_some_and(|a| a.cents() < 0) {
        return Err(FieldError::new("amount", "must not be negative"));
    }
    let p = probability.unwrap_or_else(|| default_probability(stage));
    if !(0..=100).contains(&p) {
        return Err(FieldError::new("probability", "must be 0-100"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_moves() {
        assert!(check_lead_move(1, "new", "contacted", None).is_ok());
        assert!(check_lead_move(1, "contacted", "qualified", None).is_ok());
        assert!(check_lead_move(1, "qualified", "disqualified", None).is_ok());
        assert!(check_lead_move(1, "disqualified", "new", None).is_ok());
        match check_lead_move(1, "qualified", "contacted", None) {
            Err(LeadMoveRefused::Conflict(m)) => {
                assert!(
                    m.contains("cannot go from 'qualified' to 'contacted'"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        match check_lead_move(1, "converted", "new", Some(3)) {
            Err(LeadMoveRefused::Conflict(m)) => assert!(m.contains("converted into customer 3")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_lead_move(1, "new", "won", None),
            Err(LeadMoveRefused::Invalid(_))
        ));
        assert!(matches!(
            check_lead_move(1, "qualified", "converted", None),
            Err(LeadMoveRefused::Invalid(_))
        ));
    }

    #[test]
    fn opportunity_stages() {
        assert_eq!(check_opportunity("proposal", None, None), Ok(50));
        assert_eq!(check_opportunity("won", Some(90), Some(Money(5))), Ok(90));
        assert_eq!(
            check_opportunity("maybe", None, None).unwrap_err().field,
            "stage"
        );
        assert_eq!(
            check_opportunity("won", Some(101), None).unwrap_err().field,
            "probability"
        );
        assert_eq!(
            check_opportunity("won", None, Some(Money(-1)))
                .unwrap_err()
                .field,
            "amount"
        );
    }
}
