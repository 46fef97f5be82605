//! API Particulier tokens: their lifetime as the back office knows it (never a usable secret).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::tokens;
use crate::domain::token::{TokenStatus, token_status};

/// A token tied to a habilitation; a prolonged token keeps its id.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, Identifiable, serde::Serialize)]
#[diesel(table_name = tokens)]
pub struct Token {
    pub id: String,
    pub habilitation_id: String,
    pub collectivite_id: String,
    pub scopes: String,
    pub issued_at: NaiveDateTime,
    pub expires_on: NaiveDate,
    pub revoked_at: Option<NaiveDateTime>,
    pub revocation_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Token {
    /// The token's status on `today`.
    pub fn status(&self, today: NaiveDate) -> TokenStatus {
        token_status(self.expires_on, self.revoked_at.is_some(), today)
    }
}

/// Number of tokens in each status on `today`, in the order of `TokenStatus::ALL`.
pub fn count_by_status(
    conn: &mut DbConnection,
    today: NaiveDate,
) -> QueryResult<Vec<(TokenStatus, i64)>> {
    let rows: Vec<(NaiveDate, Option<NaiveDateTime>)> = tokens::table
        .select((tokens::expires_on, tokens::revoked_at))
        .load(conn)?;
    let mut counts: Vec<(TokenStatus, i64)> = TokenStatus::ALL.iter().map(|s| (*s, 0)).collect();
    for (expires_on, revoked_at) in rows {
        let status = token_status(expires_on, revoked_at.is_some(), today);
        if let Some(entry) = counts.iter_mut().find(|(s, _)| *s == status) {
            entry.1 += 1;
        }
    }
    Ok(counts)
}
