//! A person's page (staff): the roles the data gives an address, and its ProConnect sign-ins
//! with the SIRET and organisation they came from.

use actix_web::{HttpResponse, web};

use crate::auth::{Staff, load_identity};
use crate::error::AppError;
use crate::mail::normalize_address;
use crate::models::events;
use crate::state::AppState;

/// ProConnect sign-ins shown, newest first.
const SHOWN: usize = 20;

/// One ProConnect sign-in, as recorded in the event log.
#[derive(serde::Serialize)]
struct ProConnectSignIn {
    at: chrono::NaiveDateTime,
    siret: Option<String>,
    idp_id: Option<String>,
    sub: Option<String>,
}

/// `GET /personnes/{email}`.
pub async fn show(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let email = normalize_address(&path.into_inner());
    let target = email.clone();
    let (identity, history) = state
        .db(move |conn| {
            Ok((
                load_identity(conn, &target)?,
                events::for_target(conn, "person", &target)?,
            ))
        })
        .await?;
    if !identity.has_any_role() && history.is_empty() {
        return Err(AppError::NotFound);
    }
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let mut sign_ins: Vec<ProConnectSignIn> = history
        .iter()
        .filter(|e| e.action == "auth.sign_in")
        .filter_map(|e| {
            let details: serde_json::Value = serde_json::from_str(e.details.as_deref()?).ok()?;
            (text(&details, "method").as_deref() == Some("proconnect")).then(|| ProConnectSignIn {
                at: e.occurred_at,
                siret: text(&details, "siret"),
                idp_id: text(&details, "idp_id"),
                sub: text(&details, "sub"),
            })
        })
        .collect();
    sign_ins.reverse();
    sign_ins.truncate(SHOWN);
    let mut context = page.context();
    context.insert("person", &identity);
    context.insert("email", &email);
    context.insert("siret", &sign_ins.first().and_then(|s| s.siret.clone()));
    context.insert("sign_ins", &sign_ins);
    state.render("people/show.html", context)
}
