//! Éditeurs (software vendors) and their pre-filled DataPass forms.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{editeur_forms, editeurs};

/// A software vendor whose clients are collectivités.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = editeurs)]
pub struct Editeur {
    pub id: String,
    pub name: String,
    pub siret: String,
    pub contact_technique_email: String,
    /// Comma-separated API Particulier APIs the software integrates.
    pub apis: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A pre-filled DataPass form handed by an éditeur to its clients.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = editeur_forms)]
pub struct EditeurForm {
    pub id: String,
    pub editeur_id: String,
    pub form_uid: String,
    pub name: String,
    pub public_url: String,
    pub created_at: NaiveDateTime,
}
