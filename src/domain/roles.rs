//! The roles people hold: on a request (contacts) and in the API Particulier team (staff).
//! The codes are the stored values; nothing outside `domain/` spells them.

/// The roles a contact holds on a request.
pub mod contact {
    /// The agent who filed the request; the only one who may prolong the token.
    pub const DEMANDEUR: &str = "demandeur";
    pub const CONTACT_METIER: &str = "contact_metier";
    /// The éditeur's e-mail when a pre-filled form is used.
    pub const CONTACT_TECHNIQUE: &str = "contact_technique";
    /// Délégué à la protection des données.
    pub const DPD: &str = "delegue_protection_donnees";
    /// On older requests, often the mayor.
    pub const RESPONSABLE_TRAITEMENT: &str = "responsable_traitement";
    /// Every role, in display order.
    pub const ALL: [&str; 5] = [
        DEMANDEUR,
        CONTACT_METIER,
        CONTACT_TECHNIQUE,
        DPD,
        RESPONSABLE_TRAITEMENT,
    ];

    /// The French label of a role code.
    pub fn label_fr(role: &str) -> &'static str {
        match role {
            DEMANDEUR => "Demandeur",
            CONTACT_METIER => "Contact métier",
            CONTACT_TECHNIQUE => "Contact technique",
            DPD => "Délégué à la protection des données",
            RESPONSABLE_TRAITEMENT => "Responsable de traitement",
            _ => "Contact",
        }
    }
}

/// A role in the API Particulier team (stored as its code: `db::types`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Instructs requests.
    Instructeur,
    /// Also manages staff and éditeur members.
    Admin,
}

impl StaffRole {
    /// The stored code.
    pub const fn as_str(self) -> &'static str {
        match self {
            StaffRole::Instructeur => staff::INSTRUCTEUR,
            StaffRole::Admin => staff::ADMIN,
        }
    }
}

impl std::fmt::Display for StaffRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for StaffRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            staff::INSTRUCTEUR => Ok(StaffRole::Instructeur),
            staff::ADMIN => Ok(StaffRole::Admin),
            _ => Err(format!("rôle d'équipe inconnu : « {s} »")),
        }
    }
}

/// The codes of the roles of the API Particulier team.
pub mod staff {
    /// Staff role `instructeur`: instructs requests.
    pub const INSTRUCTEUR: &str = "instructeur";
    /// Staff role `admin`: also manages staff and éditeur members.
    pub const ADMIN: &str = "admin";
}
