//! Who a signed-in person is, as a plain value: the address and the roles the data gives
//! them. Loaded by `auth`, read by the access policy (`models::access`) and the templates.

use super::roles::StaffRole;

/// A signed-in person and the roles the data gives them.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// Lower-cased, trimmed.
    pub email: String,
    /// The role in the API Particulier team, if any.
    pub staff_role: Option<StaffRole>,
    /// The éditeurs whose clients this person sees.
    pub editeur_ids: Vec<String>,
    /// Whether this person is a contact on at least one request.
    pub is_contact: bool,
    /// Convenience flags for templates.
    pub is_staff: bool,
    pub is_admin: bool,
    pub is_editeur: bool,
}

impl Identity {
    /// Whether the person may sign in at all.
    pub fn has_any_role(&self) -> bool {
        self.is_staff || self.is_editeur || self.is_contact
    }
}
