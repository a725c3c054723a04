//! Closing the loop with the customer: the follow-up survey 48 hours after a job is completed
//! (satisfaction 1–5, NPS 0–10), which follow-ups are due, and the NPS score.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::actions::Violations;
use crate::ids::{UserId, WorkOrderId};
use crate::status::Status;
use crate::time::Timestamp;
use crate::validation::{Violation, MAX_TEXT_BYTES};
use crate::work_order::WorkOrder;

/// How long after completion the customer is asked how it went: long enough to know whether the
/// fix held, soon enough that they remember the visit.
pub const FOLLOW_UP_DELAY_HOURS: i64 = 48;

/// The customer's answers, as recorded by whoever called them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowUp {
    pub work_order: WorkOrderId,
    pub due_at: Timestamp,
    /// 1 (very unhappy) to 5 (very happy); `None` if the customer did not answer.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5))]
    pub satisfaction: Option<u8>,
    /// 0 to 10: how likely they are to recommend us; `None` if they did not answer.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10))]
    pub nps: Option<u8>,
    /// What the customer said, or why there are no scores (e.g. "customer unreachable").
    #[serde(default)]
    pub comment: String,
    pub recorded_by: UserId,
    pub recorded_at: Timestamp,
}

/// What a person enters when recording a follow-up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewFollowUp {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5))]
    pub satisfaction: Option<u8>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10))]
    pub nps: Option<u8>,
    #[serde(default)]
    pub comment: String,
}

/// Why a follow-up could not be recorded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FollowUpError {
    #[error("work order {number} is {status}; a follow-up can only be recorded once the job is completed")]
    NotCompleted { number: String, status: Status },
    #[error("follow-up for work order {number}: {violations}")]
    Invalid {
        number: String,
        violations: Violations,
    },
}

impl FollowUp {
    /// Every broken rule at once, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<Violation>> {
        check(self.satisfaction, self.nps, &self.comment)
    }
}

fn check(satisfaction: Option<u8>, nps: Option<u8>, comment: &str) -> Result<(), Vec<Violation>> {
    let mut v = Vec::new();
    let mut fail = |field: &str, rule: String| {
        v.push(Violation {
            field: field.to_owned(),
            rule,
        })
    };
    if let Some(s) = satisfaction.filter(|s| !(1..=5).contains(s)) {
        fail("satisfaction", format!("must be between 1 and 5, got {s}"));
    }
    if let Some(n) = nps.filter(|n| *n > 10) {
        fail("nps", format!("must be between 0 and 10, got {n}"));
    }
    if comment.len() > MAX_TEXT_BYTES {
        fail(
            "comment",
            format!(
                "is {} bytes; at most {MAX_TEXT_BYTES} are allowed",
                comment.len()
            ),
        );
    }
    if satisfaction.is_none() && nps.is_none() && comment.trim().is_empty() {
        fail(
            "comment",
            "is required when neither satisfaction nor nps is given (e.g. \"customer unreachable\")"
                .into(),
        );
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(v)
    }
}

/// When the follow-up for this job is due: 48 hours after completion, for completed or closed
/// jobs only.
pub fn followup_due_at(wo: &WorkOrder) -> Option<Timestamp> {
    if !matches!(wo.status(), Status::Completed | Status::Closed) {
        return None;
    }
    wo.completion
        .as_ref()
        .map(|c| c.at.plus_minutes(FOLLOW_UP_DELAY_HOURS * 60))
}

/// Builds a follow-up for a completed job after checking the answers. It may be recorded before
/// it is due (the customer called us first).
pub fn record_followup(
    wo: &WorkOrder,
    answers: NewFollowUp,
    by: UserId,
    now: Timestamp,
) -> Result<FollowUp, FollowUpError> {
    let Some(due_at) = followup_due_at(wo) else {
        return Err(FollowUpError::NotCompleted {
            number: wo.number.clone(),
            status: wo.status(),
        });
    };
    check(answers.satisfaction, answers.nps, &answers.comment).map_err(|v| {
        FollowUpError::Invalid {
            number: wo.number.clone(),
            violations: Violations(v),
        }
    })?;
    Ok(FollowUp {
        work_order: wo.id,
        due_at,
        satisfaction: answers.satisfaction,
        nps: answers.nps,
        comment: answers.comment.trim().to_owned(),
        recorded_by: by,
        recorded_at: now,
    })
}

/// A customer who should be called now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DueFollowUp {
    pub work_order: WorkOrderId,
    pub number: String,
    pub customer_name: String,
    /// Who completed the job.
    pub technician: UserId,
    pub completed_at: Timestamp,
    pub due_at: Timestamp,
}

/// Completed jobs whose follow-up is due by `now` and not yet recorded, longest waiting first.
pub fn due_followups(
    work_orders: &[WorkOrder],
    recorded: &[FollowUp],
    now: Timestamp,
) -> Vec<DueFollowUp> {
    let done: HashSet<WorkOrderId> = recorded.iter().map(|f| f.work_order).collect();
    let mut due: Vec<DueFollowUp> = work_orders
        .iter()
        .filter(|wo| !done.contains(&wo.id))
        .filter_map(|wo| {
            let due_at = followup_due_at(wo).filter(|d| *d <= now)?;
            let completion = wo.completion.as_ref()?;
            Some(DueFollowUp {
                work_order: wo.id,
                number: wo.number.clone(),
                customer_name: wo.customer.name.clone(),
                technician: completion.by,
                completed_at: completion.at,
                due_at,
            })
        })
        .collect();
    due.sort_by(|a, b| {
        (a.due_at, &a.number, a.work_order).cmp(&(b.due_at, &b.number, b.work_order))
    });
    // The same work order given twice (two replicas' copies) is one call to make.
    due.dedup_by_key(|d| d.work_order);
    due
}

/// Net Promoter Score of a set of answers, with its parts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Nps {
    pub responses: u32,
    /// Answered 9 or 10.
    pub promoters: u32,
    /// Answered 7 or 8.
    pub passives: u32,
    /// Answered 0 to 6.
    pub detractors: u32,
    /// Percent promoters minus percent detractors, from -100 to 100; `None` without responses.
    pub score: Option<f64>,
}

/// The NPS of `answers`. Values above 10 are not valid answers and are left out.
pub fn nps(answers: impl IntoIterator<Item = u8>) -> Nps {
    let mut out = Nps::default();
    for answer in answers {
        match answer {
            0..=6 => out.detractors += 1,
            7..=8 => out.passives += 1,
            9..=10 => out.promoters += 1,
            _ => continue,
        }
        out.responses += 1;
    }
    if out.responses > 0 {
        let diff = f64::from(out.promoters) - f64::from(out.detractors);
        out.score = Some(100.0 * diff / f64::from(out.responses));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::fixtures::{self, T0};
    use proptest::prelude::*;

    fn answers(satisfaction: Option<u8>, nps: Option<u8>, comment: &str) -> NewFollowUp {
        NewFollowUp {
            satisfaction,
            nps,
            comment: comment.into(),
        }
    }

    #[test]
    fn nps_table() {
        // (answers, score, (promoters, passives, detractors))
        type Case = (&'static [u8], Option<f64>, (u32, u32, u32));
        let table: [Case; 7] = [
            (&[], None, (0, 0, 0)),
            (&[10, 9, 9], Some(100.0), (3, 0, 0)),
            (&[0, 6, 3], Some(-100.0), (0, 0, 3)),
            (&[7, 8], Some(0.0), (0, 2, 0)),
            (&[10, 6], Some(0.0), (1, 0, 1)),
            (&[10, 9, 8, 7, 0], Some(20.0), (2, 2, 1)),
            (&[10, 11, 200], Some(100.0), (1, 0, 0)),
        ];
        for (scores, expected, (p, pa, d)) in table {
            let got = nps(scores.iter().copied());
            assert_eq!(got.score, expected, "{scores:?}");
            assert_eq!(
                (got.promoters, got.passives, got.detractors),
                (p, pa, d),
                "{scores:?}"
            );
            assert_eq!(got.responses, p + pa + d);
        }
    }

    #[test]
    fn validation_table() {
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        let cases: Vec<(NewFollowUp, &[&str])> = vec![
            (answers(Some(5), Some(10), ""), &[]),
            (answers(Some(1), Some(0), "slow"), &[]),
            (answers(None, Some(7), ""), &[]),
            (answers(Some(3), None, ""), &[]),
            (answers(None, None, "customer unreachable"), &[]),
            (answers(Some(0), None, ""), &["satisfaction"]),
            (answers(Some(6), None, ""), &["satisfaction"]),
            (answers(None, Some(11), ""), &["nps"]),
            (answers(Some(9), Some(42), ""), &["satisfaction", "nps"]),
            (answers(None, None, "  "), &["comment"]),
            (answers(Some(4), None, &long), &["comment"]),
        ];
        for (a, fields) in cases {
            let got: Vec<String> = match check(a.satisfaction, a.nps, &a.comment) {
                Ok(()) => vec![],
                Err(v) => v.into_iter().map(|v| v.field).collect(),
            };
            assert_eq!(got, *fields, "{a:?}");
        }
    }

    #[test]
    fn recording_needs_a_completed_job_and_names_the_work_order() {
        let tech = fixtures::technician(1);
        let mut wo = fixtures::job(T0);
        fixtures::start_work(&mut wo, &tech, T0.plus_minutes(5));
        let err = record_followup(&wo, answers(Some(5), None, ""), UserId::new(), T0)
            .expect_err("job still in progress");
        assert!(matches!(err, FollowUpError::NotCompleted { .. }), "{err}");
        assert!(err.to_string().contains(&wo.number), "{err}");
        assert!(err.to_string().contains("in_progress"), "{err}");

        fixtures::finish(&mut wo, &tech, T0.plus_minutes(60), true);
        let err = record_followup(&wo, answers(Some(7), Some(12), ""), UserId::new(), T0)
            .expect_err("scores out of range");
        let text = err.to_string();
        assert!(text.contains(&wo.number), "{text}");
        assert!(
            text.contains("satisfaction: must be between 1 and 5, got 7"),
            "{text}"
        );
        assert!(
            text.contains("nps: must be between 0 and 10, got 12"),
            "{text}"
        );

        let caller = UserId::new();
        let now = T0.plus_minutes(60 * 50);
        let f = record_followup(&wo, answers(Some(4), Some(9), " fast "), caller, now)
            .expect("valid follow-up");
        assert_eq!(f.work_order, wo.id);
        assert_eq!(f.due_at, T0.plus_minutes(60 + 48 * 60));
        assert_eq!(f.comment, "fast");
        assert_eq!((f.recorded_by, f.recorded_at), (caller, now));
        assert_eq!(f.validate(), Ok(()));
    }

    #[test]
    fn due_list() {
        let tech = fixtures::technician(1);
        let completed_at = |hours: i64| T0.plus_minutes(hours * 60);
        let make = |done_hours: Option<i64>| {
            let mut wo = fixtures::job(T0);
            if let Some(h) = done_hours {
                fixtures::start_work(&mut wo, &tech, T0.plus_minutes(1));
                fixtures::finish(&mut wo, &tech, completed_at(h), true);
            }
            wo
        };
        let open = make(None);
        let early = make(Some(2));
        let later = make(Some(10));
        let not_yet = make(Some(30));
        let answered = make(Some(1));
        let mut closed = make(Some(5));
        fixtures::act(
            &mut closed,
            &crate::Action::Close,
            &fixtures::dispatcher(),
            completed_at(6),
        );
        let mut cancelled = fixtures::job(T0);
        let cancel = crate::Action::Cancel {
            reason: "duplicate".into(),
        };
        fixtures::act(&mut cancelled, &cancel, &fixtures::dispatcher(), T0);

        let recorded = [
            record_followup(&answered, answers(Some(5), None, ""), UserId::new(), T0)
                .expect("recorded"),
        ];
        // "now" is exactly when the 10-hour job's follow-up falls due: it is included.
        let now = completed_at(10 + 48);
        let all = [
            open,
            later.clone(),
            not_yet,
            answered,
            early.clone(),
            closed.clone(),
            cancelled,
            later.clone(),
        ];
        let due = due_followups(&all, &recorded, now);
        let got: Vec<WorkOrderId> = due.iter().map(|d| d.work_order).collect();
        assert_eq!(got, vec![early.id, closed.id, later.id]);
        assert_eq!(due[0].due_at, completed_at(2 + 48));
        assert_eq!(due[0].completed_at, completed_at(2));
        assert_eq!(due[0].technician, tech.user);
        assert_eq!(due[0].customer_name, early.customer.name);
    }

    proptest! {
        #[test]
        fn nps_is_a_percentage_and_promoters_raise_it(
            scores in prop::collection::vec(0u8..=10, 0..200),
        ) {
            let base = nps(scores.iter().copied());
            let Some(score) = base.score else {
                prop_assert!(scores.is_empty());
                return Ok(());
            };
            prop_assert!((-100.0..=100.0).contains(&score));
            prop_assert_eq!(base.responses as usize, scores.len());
            let more = nps(scores.iter().copied().chain([10]));
            prop_assert!(more.score.expect("responses") >= score);
            let less = nps(scores.iter().copied().chain([0]));
            prop_assert!(less.score.expect("responses") <= score);
        }

        #[test]
        fn valid_answers_always_pass_and_invalid_ones_always_name_their_field(
            satisfaction in prop::option::of(0u8..=255),
            score in prop::option::of(0u8..=255),
        ) {
            let comment = "noted";
            let result = check(satisfaction, score, comment);
            let sat_ok = satisfaction.is_none_or(|s| (1..=5).contains(&s));
            let nps_ok = score.is_none_or(|n| n <= 10);
            let fields: Vec<String> = result.err().unwrap_or_default().into_iter().map(|v| v.field).collect();
            prop_assert_eq!(fields.contains(&"satisfaction".to_owned()), !sat_ok);
            prop_assert_eq!(fields.contains(&"nps".to_owned()), !nps_ok);
        }
    }
}
