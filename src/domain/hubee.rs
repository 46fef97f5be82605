//! HubEE subscription vocabulary (referential API values and their French labels).

use std::str::FromStr;

/// The status of a HubEE subscription; subscriptions are created `Inactif` (stored as its
/// upper-case code: `db::types`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionStatus {
    Inactif,
    Actif,
    Suspendu,
    Refuse,
}

impl SubscriptionStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [SubscriptionStatus; 4] = [
        SubscriptionStatus::Inactif,
        SubscriptionStatus::Actif,
        SubscriptionStatus::Suspendu,
        SubscriptionStatus::Refuse,
    ];

    /// The stored code (HubEE's own value, in upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Inactif => "INACTIF",
            SubscriptionStatus::Actif => "ACTIF",
            SubscriptionStatus::Suspendu => "SUSPENDU",
            SubscriptionStatus::Refuse => "REFUSE",
        }
    }

    /// The French label.
    pub fn label_fr(self) -> &'static str {
        match self {
            SubscriptionStatus::Inactif => "Inactif",
            SubscriptionStatus::Actif => "Actif",
            SubscriptionStatus::Suspendu => "Suspendu",
            SubscriptionStatus::Refuse => "Refusé",
        }
    }
}

impl FromStr for SubscriptionStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SubscriptionStatus::ALL
            .into_iter()
            .find(|status| {
                status.as_str().eq_ignore_ascii_case(s.trim())
                    || status.label_fr().eq_ignore_ascii_case(s.trim())
            })
            .ok_or_else(|| format!("statut d'abonnement HubEE inconnu : « {s} »"))
    }
}

/// How the collectivité receives the files: on the HubEE portal or through its éditeur's API.
pub const ACCESS_MODES: [&str; 2] = ["PORTAIL", "API"];

/// HubEE notification frequencies; `Unitaire` is HubEE's default.
pub const NOTIFICATION_FREQUENCIES: [&str; 4] =
    ["Biquotidienne", "Quotidienne", "Unitaire", "Aucune"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_code_and_label() {
        for status in SubscriptionStatus::ALL {
            assert_eq!(status.as_str().parse::<SubscriptionStatus>(), Ok(status));
            assert_eq!(status.label_fr().parse::<SubscriptionStatus>(), Ok(status));
        }
        assert!("Supprimé".parse::<SubscriptionStatus>().is_err());
    }
}
