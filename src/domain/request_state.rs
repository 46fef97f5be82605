//! The DataPass habilitation request lifecycle: its states, its events, and the
//! transition rules, including reopenings (modifications of a validated
//! habilitation, during which the previous habilitation stays in force).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A request's state, named as DataPass names it (stored as that name: `db::types`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Draft,
    Submitted,
    ChangesRequested,
    Validated,
    Refused,
    Revoked,
    Archived,
}

impl RequestState {
    /// Every state, in lifecycle order.
    pub const ALL: [RequestState; 7] = [
        RequestState::Draft,
        RequestState::Submitted,
        RequestState::ChangesRequested,
        RequestState::Validated,
        RequestState::Refused,
        RequestState::Revoked,
        RequestState::Archived,
    ];

    /// DataPass's name of the state.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestState::Draft => "draft",
            RequestState::Submitted => "submitted",
            RequestState::ChangesRequested => "changes_requested",
            RequestState::Validated => "validated",
            RequestState::Refused => "refused",
            RequestState::Revoked => "revoked",
            RequestState::Archived => "archived",
        }
    }

    /// The state as shown to users.
    pub const fn label_fr(self) -> &'static str {
        match self {
            RequestState::Draft => "Brouillon",
            RequestState::Submitted => "Soumise",
            RequestState::ChangesRequested => "Modifications demandées",
            RequestState::Validated => "Validée",
            RequestState::Refused => "Refusée",
            RequestState::Revoked => "Révoquée",
            RequestState::Archived => "Archivée",
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of DataPass's request states.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("État de demande inconnu : « {0} ».")]
pub struct UnknownRequestState(pub String);

impl FromStr for RequestState {
    type Err = UnknownRequestState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownRequestState(s.to_owned()))
    }
}

/// The codes of a habilitation's state (the `habilitations.state` column, DataPass's names).
pub mod habilitation {
    /// The habilitation is in force.
    pub const ACTIVE: &str = "active";
    /// The habilitation was revoked.
    pub const REVOKED: &str = "revoked";
}

/// An event of a request's life, named as DataPass names it in its webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestEvent {
    Create,
    Update,
    Transfer,
    Submit,
    Approve,
    Refuse,
    RequestChanges,
    Revoke,
    Archive,
    Reopen,
    CancelReopening,
}

impl RequestEvent {
    /// Every event.
    pub const ALL: [RequestEvent; 11] = [
        RequestEvent::Create,
        RequestEvent::Update,
        RequestEvent::Transfer,
        RequestEvent::Submit,
        RequestEvent::Approve,
        RequestEvent::Refuse,
        RequestEvent::RequestChanges,
        RequestEvent::Revoke,
        RequestEvent::Archive,
        RequestEvent::Reopen,
        RequestEvent::CancelReopening,
    ];

    /// DataPass's name of the event.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestEvent::Create => "create",
            RequestEvent::Update => "update",
            RequestEvent::Transfer => "transfer",
            RequestEvent::Submit => "submit",
            RequestEvent::Approve => "approve",
            RequestEvent::Refuse => "refuse",
            RequestEvent::RequestChanges => "request_changes",
            RequestEvent::Revoke => "revoke",
            RequestEvent::Archive => "archive",
            RequestEvent::Reopen => "reopen",
            RequestEvent::CancelReopening => "cancel_reopening",
        }
    }

    /// The event as shown to users (an infinitive, as on an action button).
    pub const fn label_fr(self) -> &'static str {
        match self {
            RequestEvent::Create => "Créer",
            RequestEvent::Update => "Modifier",
            RequestEvent::Transfer => "Transférer",
            RequestEvent::Submit => "Soumettre",
            RequestEvent::Approve => "Valider",
            RequestEvent::Refuse => "Refuser",
            RequestEvent::RequestChanges => "Demander des modifications",
            RequestEvent::Revoke => "Révoquer",
            RequestEvent::Archive => "Archiver",
            RequestEvent::Reopen => "Rouvrir",
            RequestEvent::CancelReopening => "Annuler la réouverture",
        }
    }

    /// Whether the event must carry a reason (shown to the demandeur).
    pub const fn requires_reason(self) -> bool {
        matches!(self, RequestEvent::Refuse | RequestEvent::RequestChanges)
    }

    /// Whether the event leaves the state unchanged (`create` aside, which has
    /// no previous state).
    pub const fn is_non_state(self) -> bool {
        matches!(self, RequestEvent::Update | RequestEvent::Transfer)
    }
}

impl fmt::Display for RequestEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of DataPass's request events.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Événement de demande inconnu : « {0} ».")]
pub struct UnknownRequestEvent(pub String);

impl FromStr for RequestEvent {
    type Err = UnknownRequestEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestEvent::ALL
            .into_iter()
            .find(|event| event.as_str() == s)
            .ok_or_else(|| UnknownRequestEvent(s.to_owned()))
    }
}

/// Where a request stands: its state, and whether it is the modification of a
/// validated habilitation (a reopening) that is still in force meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestStatus {
    pub state: RequestState,
    /// True from `reopen` until `approve`, `refuse` or `cancel_reopening`.
    pub reopening: bool,
}

impl RequestStatus {
    pub const fn new(state: RequestState, reopening: bool) -> Self {
        RequestStatus { state, reopening }
    }

    /// Whether a habilitation is in force: the request is validated, or it is
    /// the modification of a validated habilitation.
    pub const fn has_active_habilitation(self) -> bool {
        matches!(self.state, RequestState::Validated) || self.reopening
    }

    /// Whether the combination can be reached through [`apply`]: a reopening
    /// is only ever in draft, submitted or changes requested.
    pub const fn is_consistent(self) -> bool {
        !self.reopening
            || matches!(
                self.state,
                RequestState::Draft | RequestState::Submitted | RequestState::ChangesRequested
            )
    }
}

/// Why an event cannot be applied to a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("La demande existe déjà.")]
    AlreadyExists,
    #[error("La demande n'existe pas encore.")]
    NotFound,
    #[error(
        "L'événement « {} » n'est pas possible depuis l'état « {} ».",
        .event.label_fr(),
        .from.label_fr()
    )]
    Illegal {
        event: RequestEvent,
        from: RequestState,
    },
    #[error("Un motif est obligatoire pour {}.", reason_purpose_fr(*.0))]
    ReasonRequired(RequestEvent),
    #[error("Une demande dont l'habilitation est en vigueur ne peut pas être archivée.")]
    ActiveHabilitation,
    #[error("Aucune modification d'une habilitation validée n'est en cours.")]
    NotReopening,
}

fn reason_purpose_fr(event: RequestEvent) -> &'static str {
    match event {
        RequestEvent::Refuse => "refuser une demande",
        RequestEvent::RequestChanges => "demander des modifications",
        _ => "cette action",
    }
}

fn check_reason(event: RequestEvent, reason: Option<&str>) -> Result<(), TransitionError> {
    let given = reason.is_some_and(|text| !text.trim().is_empty());
    if event.requires_reason() && !given {
        Err(TransitionError::ReasonRequired(event))
    } else {
        Ok(())
    }
}

/// Applies `event` to a request whose current status is `current` (`None`
/// when the request is not known yet) and returns its new status.
///
/// Legality is checked before the reason: an illegal refusal without a reason
/// reports the illegal transition.
pub fn apply(
    current: Option<RequestStatus>,
    event: RequestEvent,
    reason: Option<&str>,
) -> Result<RequestStatus, TransitionError> {
    use RequestState as S;

    let Some(status) = current else {
        return match event {
            RequestEvent::Create => Ok(RequestStatus::new(S::Draft, false)),
            _ => Err(TransitionError::NotFound),
        };
    };
    let illegal = || TransitionError::Illegal {
        event,
        from: status.state,
    };
    if event == RequestEvent::Create {
        return Err(TransitionError::AlreadyExists);
    }
    if status.state == S::Archived {
        return Err(illegal());
    }

    match event {
        RequestEvent::Create => Err(TransitionError::AlreadyExists),
        RequestEvent::Update | RequestEvent::Transfer => Ok(status),
        RequestEvent::Submit => match status.state {
            S::Draft | S::ChangesRequested => {
                Ok(RequestStatus::new(S::Submitted, status.reopening))
            }
            _ => Err(illegal()),
        },
        RequestEvent::RequestChanges => match status.state {
            S::Submitted => {
                check_reason(event, reason)?;
                Ok(RequestStatus::new(S::ChangesRequested, status.reopening))
            }
            _ => Err(illegal()),
        },
        RequestEvent::Approve => match status.state {
            S::Submitted | S::ChangesRequested => Ok(RequestStatus::new(S::Validated, false)),
            _ => Err(illegal()),
        },
        RequestEvent::Refuse => match status.state {
            S::Submitted | S::ChangesRequested => {
                check_reason(event, reason)?;
                if status.reopening {
                    // The modification is refused; the habilitation in force stays.
                    Ok(RequestStatus::new(S::Validated, false))
                } else {
                    Ok(RequestStatus::new(S::Refused, false))
                }
            }
            _ => Err(illegal()),
        },
        RequestEvent::Reopen => match status.state {
            S::Validated if !status.reopening => Ok(RequestStatus::new(S::Draft, true)),
            _ => Err(illegal()),
        },
        RequestEvent::CancelReopening => {
            if !status.reopening {
                return Err(TransitionError::NotReopening);
            }
            match status.state {
                S::Draft | S::Submitted | S::ChangesRequested => {
                    Ok(RequestStatus::new(S::Validated, false))
                }
                _ => Err(illegal()),
            }
        }
        RequestEvent::Revoke => match status.state {
            S::Validated if !status.reopening => Ok(RequestStatus::new(S::Revoked, false)),
            _ => Err(illegal()),
        },
        RequestEvent::Archive => {
            if status.has_active_habilitation() {
                return Err(TransitionError::ActiveHabilitation);
            }
            match status.state {
                S::Draft | S::Submitted | S::ChangesRequested | S::Refused | S::Revoked => {
                    Ok(RequestStatus::new(S::Archived, false))
                }
                _ => Err(illegal()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RequestEvent as E;
    use super::RequestState as S;
    use super::*;

    /// Expected outcome of one (status, event) pair.
    #[derive(Clone, Copy, Debug)]
    enum X {
        /// Legal: the new state and reopening flag.
        To(S, bool),
        Illegal,
        Exists,
        Active,
        NotReop,
    }
    use X::{Active, Exists, Illegal as Ill, NotReop, To};

    const F: bool = false;
    const T: bool = true;

    /// Columns, in this order: create, update, transfer, submit, approve,
    /// refuse, request_changes, revoke, archive, reopen, cancel_reopening.
    const COLUMNS: [E; 11] = [
        E::Create,
        E::Update,
        E::Transfer,
        E::Submit,
        E::Approve,
        E::Refuse,
        E::RequestChanges,
        E::Revoke,
        E::Archive,
        E::Reopen,
        E::CancelReopening,
    ];

    /// One row per (state, reopening), one outcome per event in `COLUMNS` order.
    #[rustfmt::skip]
    const TABLE: [(S, bool, [X; 11]); 14] = [
        (S::Draft, F,            [Exists, To(S::Draft, F),            To(S::Draft, F),            To(S::Submitted, F), Ill,                Ill,                Ill,                          Ill,                To(S::Archived, F), Ill,             NotReop]),
        (S::Draft, T,            [Exists, To(S::Draft, T),            To(S::Draft, T),            To(S::Submitted, T), Ill,                Ill,                Ill,                          Ill,                Active,             Ill,             To(S::Validated, F)]),
        (S::Submitted, F,        [Exists, To(S::Submitted, F),        To(S::Submitted, F),        Ill,                 To(S::Validated, F), To(S::Refused, F),  To(S::ChangesRequested, F),  Ill,                To(S::Archived, F), Ill,             NotReop]),
        (S::Submitted, T,        [Exists, To(S::Submitted, T),        To(S::Submitted, T),        Ill,                 To(S::Validated, F), To(S::Validated, F), To(S::ChangesRequested, T), Ill,                Active,             Ill,             To(S::Validated, F)]),
        (S::ChangesRequested, F, [Exists, To(S::ChangesRequested, F), To(S::ChangesRequested, F), To(S::Submitted, F), To(S::Validated, F), To(S::Refused, F),  Ill,                          Ill,                To(S::Archived, F), Ill,             NotReop]),
        (S::ChangesRequested, T, [Exists, To(S::ChangesRequested, T), To(S::ChangesRequested, T), To(S::Submitted, T), To(S::Validated, F), To(S::Validated, F), Ill,                         Ill,                Active,             Ill,             To(S::Validated, F)]),
        (S::Validated, F,        [Exists, To(S::Validated, F),        To(S::Validated, F),        Ill,                 Ill,                Ill,                Ill,                          To(S::Revoked, F),  Active,             To(S::Draft, T), NotReop]),
        // Never produced by `apply`; handled without panicking or repairing.
        (S::Validated, T,        [Exists, To(S::Validated, T),        To(S::Validated, T),        Ill,                 Ill,                Ill,                Ill,                          Ill,                Active,             Ill,             Ill]),
        (S::Refused, F,          [Exists, To(S::Refused, F),          To(S::Refused, F),          Ill,                 Ill,                Ill,                Ill,                          Ill,                To(S::Archived, F), Ill,             NotReop]),
        (S::Refused, T,          [Exists, To(S::Refused, T),          To(S::Refused, T),          Ill,                 Ill,                Ill,                Ill,                          Ill,                Active,             Ill,             Ill]),
        (S::Revoked, F,          [Exists, To(S::Revoked, F),          To(S::Revoked, F),          Ill,                 Ill,                Ill,                Ill,                          Ill,                To(S::Archived, F), Ill,             NotReop]),
        (S::Revoked, T,          [Exists, To(S::Revoked, T),          To(S::Revoked, T),          Ill,                 Ill,                Ill,                Ill,                          Ill,                Active,             Ill,             Ill]),
        (S::Archived, F,         [Exists, Ill,                        Ill,                        Ill,                 Ill,                Ill,                Ill,                          Ill,                Ill,                Ill,             Ill]),
        (S::Archived, T,         [Exists, Ill,                        Ill,                        Ill,                 Ill,                Ill,                Ill,                          Ill,                Ill,                Ill,             Ill]),
    ];

    fn expected(state: S, event: E, x: X) -> Result<RequestStatus, TransitionError> {
        match x {
            To(to, reopening) => Ok(RequestStatus::new(to, reopening)),
            Ill => Err(TransitionError::Illegal { event, from: state }),
            Exists => Err(TransitionError::AlreadyExists),
            Active => Err(TransitionError::ActiveHabilitation),
            NotReop => Err(TransitionError::NotReopening),
        }
    }

    #[test]
    fn table_covers_every_state_flag_and_event() {
        assert_eq!(COLUMNS, E::ALL);
        for state in S::ALL {
            for reopening in [false, true] {
                let rows = TABLE
                    .iter()
                    .filter(|(s, r, _)| *s == state && *r == reopening)
                    .count();
                assert_eq!(rows, 1, "{state:?} reopening={reopening}");
            }
        }
    }

    #[test]
    fn every_transition_matches_the_table() {
        let mut checked = 0;
        for (state, reopening, outcomes) in TABLE {
            let from = RequestStatus::new(state, reopening);
            for (event, outcome) in COLUMNS.into_iter().zip(outcomes) {
                let got = apply(Some(from), event, Some("Motif détaillé"));
                assert_eq!(
                    got,
                    expected(state, event, outcome),
                    "{state:?} reopening={reopening} + {event:?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 2 * 11);
    }

    #[test]
    fn outcomes_without_reason_differ_only_by_reason_required() {
        for (state, reopening, outcomes) in TABLE {
            let from = RequestStatus::new(state, reopening);
            for (event, outcome) in COLUMNS.into_iter().zip(outcomes) {
                let want = match (outcome, event.requires_reason()) {
                    (To(..), true) => Err(TransitionError::ReasonRequired(event)),
                    _ => expected(state, event, outcome),
                };
                for reason in [None, Some(""), Some("   "), Some("\t\n")] {
                    assert_eq!(
                        apply(Some(from), event, reason),
                        want,
                        "{state:?} reopening={reopening} + {event:?} reason={reason:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_request_only_accepts_create() {
        for event in E::ALL {
            let got = apply(None, event, Some("Motif"));
            if event == E::Create {
                assert_eq!(got, Ok(RequestStatus::new(S::Draft, false)));
            } else {
                assert_eq!(got, Err(TransitionError::NotFound), "{event:?}");
            }
            assert_eq!(
                apply(None, event, None).is_ok(),
                event == E::Create,
                "{event:?}"
            );
        }
    }

    #[test]
    fn reasons_are_required_for_refuse_and_request_changes() {
        let submitted = Some(RequestStatus::new(S::Submitted, false));
        for event in [E::Refuse, E::RequestChanges] {
            for reason in [None, Some(""), Some("   ")] {
                assert_eq!(
                    apply(submitted, event, reason),
                    Err(TransitionError::ReasonRequired(event))
                );
            }
        }
        assert_eq!(
            apply(submitted, E::Refuse, Some("  Délibération absente  ")),
            Ok(RequestStatus::new(S::Refused, false))
        );
        assert_eq!(
            apply(
                submitted,
                E::RequestChanges,
                Some("Joindre la délibération")
            ),
            Ok(RequestStatus::new(S::ChangesRequested, false))
        );
        // During a reopening too, although the refusal goes back to validated.
        let reopened = Some(RequestStatus::new(S::Submitted, true));
        assert_eq!(
            apply(reopened, E::Refuse, Some(" ")),
            Err(TransitionError::ReasonRequired(E::Refuse))
        );
        // Other events ignore a missing or present reason.
        assert_eq!(
            apply(submitted, E::Approve, None),
            Ok(RequestStatus::new(S::Validated, false))
        );
        assert_eq!(
            apply(submitted, E::Approve, Some("Conforme")),
            Ok(RequestStatus::new(S::Validated, false))
        );
    }

    #[test]
    fn illegal_is_reported_before_a_missing_reason() {
        assert_eq!(
            apply(Some(RequestStatus::new(S::Draft, false)), E::Refuse, None),
            Err(TransitionError::Illegal {
                event: E::Refuse,
                from: S::Draft
            })
        );
    }

    #[test]
    fn full_sequence() {
        let steps: [(E, Option<&str>, S, bool); 14] = [
            (E::Create, None, S::Draft, false),
            (E::Submit, None, S::Submitted, false),
            (
                E::RequestChanges,
                Some("Merci de joindre la délibération."),
                S::ChangesRequested,
                false,
            ),
            (E::Submit, None, S::Submitted, false),
            (E::Approve, None, S::Validated, false),
            (E::Reopen, None, S::Draft, true),
            (E::Update, None, S::Draft, true),
            (E::Submit, None, S::Submitted, true),
            (
                E::Refuse,
                Some("Modification non justifiée."),
                S::Validated,
                false,
            ),
            (E::Reopen, None, S::Draft, true),
            (E::Transfer, None, S::Draft, true),
            (E::CancelReopening, None, S::Validated, false),
            (E::Revoke, None, S::Revoked, false),
            (E::Archive, None, S::Archived, false),
        ];
        let mut current = None;
        for (event, reason, state, reopening) in steps {
            let next = apply(current, event, reason).unwrap();
            assert_eq!(next, RequestStatus::new(state, reopening), "{event:?}");
            current = Some(next);
        }
        for event in E::ALL {
            assert!(apply(current, event, Some("Motif")).is_err(), "{event:?}");
        }
    }

    #[test]
    fn active_habilitation_and_consistency() {
        for state in S::ALL {
            let plain = RequestStatus::new(state, false);
            assert_eq!(plain.has_active_habilitation(), state == S::Validated);
            assert!(plain.is_consistent());
            let reopened = RequestStatus::new(state, true);
            assert!(reopened.has_active_habilitation());
            assert_eq!(
                reopened.is_consistent(),
                matches!(state, S::Draft | S::Submitted | S::ChangesRequested)
            );
        }
    }

    #[test]
    fn apply_keeps_statuses_consistent() {
        let mut frontier = vec![apply(None, E::Create, None).unwrap()];
        let mut seen = frontier.clone();
        while let Some(status) = frontier.pop() {
            assert!(status.is_consistent(), "{status:?}");
            for event in E::ALL {
                if let Ok(next) = apply(Some(status), event, Some("Motif"))
                    && !seen.contains(&next)
                {
                    seen.push(next);
                    frontier.push(next);
                }
            }
        }
        // Every state is reachable, plus the three reopening ones.
        assert_eq!(seen.len(), 7 + 3);
    }

    #[test]
    fn state_names_round_trip() {
        let names = [
            "draft",
            "submitted",
            "changes_requested",
            "validated",
            "refused",
            "revoked",
            "archived",
        ];
        for (state, name) in S::ALL.into_iter().zip(names) {
            assert_eq!(state.as_str(), name);
            assert_eq!(state.to_string(), name);
            assert_eq!(name.parse::<S>(), Ok(state));
        }
        assert_eq!(
            "Draft".parse::<S>(),
            Err(UnknownRequestState("Draft".to_owned()))
        );
        assert!("".parse::<S>().is_err());
        assert_eq!(
            UnknownRequestState("x".to_owned()).to_string(),
            "État de demande inconnu : « x »."
        );
    }

    #[test]
    fn state_labels() {
        let labels = [
            "Brouillon",
            "Soumise",
            "Modifications demandées",
            "Validée",
            "Refusée",
            "Révoquée",
            "Archivée",
        ];
        for (state, label) in S::ALL.into_iter().zip(labels) {
            assert_eq!(state.label_fr(), label);
        }
    }

    #[test]
    fn event_names_round_trip() {
        let names = [
            "create",
            "update",
            "transfer",
            "submit",
            "approve",
            "refuse",
            "request_changes",
            "revoke",
            "archive",
            "reopen",
            "cancel_reopening",
        ];
        for (event, name) in E::ALL.into_iter().zip(names) {
            assert_eq!(event.as_str(), name);
            assert_eq!(event.to_string(), name);
            assert_eq!(name.parse::<E>(), Ok(event));
            assert!(!event.label_fr().is_empty());
        }
        assert_eq!(
            "approved".parse::<E>(),
            Err(UnknownRequestEvent("approved".to_owned()))
        );
        let with_reason: Vec<E> = E::ALL.into_iter().filter(|e| e.requires_reason()).collect();
        assert_eq!(with_reason, [E::Refuse, E::RequestChanges]);
    }

    #[test]
    fn serde_names_match_as_str() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as ValueError, StrDeserializer};

        for state in S::ALL {
            let de: StrDeserializer<'_, ValueError> = state.as_str().into_deserializer();
            assert_eq!(S::deserialize(de), Ok(state));
        }
        for event in E::ALL {
            let de: StrDeserializer<'_, ValueError> = event.as_str().into_deserializer();
            assert_eq!(E::deserialize(de), Ok(event));
        }
    }

    #[test]
    fn error_messages_are_french() {
        assert_eq!(
            TransitionError::Illegal {
                event: E::Approve,
                from: S::Draft
            }
            .to_string(),
            "L'événement « Valider » n'est pas possible depuis l'état « Brouillon »."
        );
        assert_eq!(
            TransitionError::ReasonRequired(E::Refuse).to_string(),
            "Un motif est obligatoire pour refuser une demande."
        );
        assert_eq!(
            TransitionError::ReasonRequired(E::RequestChanges).to_string(),
            "Un motif est obligatoire pour demander des modifications."
        );
        assert_eq!(
            TransitionError::AlreadyExists.to_string(),
            "La demande existe déjà."
        );
        assert_eq!(
            TransitionError::NotFound.to_string(),
            "La demande n'existe pas encore."
        );
        assert_eq!(
            TransitionError::ActiveHabilitation.to_string(),
            "Une demande dont l'habilitation est en vigueur ne peut pas être archivée."
        );
        assert_eq!(
            TransitionError::NotReopening.to_string(),
            "Aucune modification d'une habilitation validée n'est en cours."
        );
    }
}
