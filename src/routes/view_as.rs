//! « Voir en tant que » (staff): start viewing the back office as a person, read-only, and
//! end it. The refusal of every other POST is `auth::view_as::read_only`.

use actix_web::{HttpResponse, web};

use super::see_other;
use crate::auth::view_as::SESSION_VIEW_AS;
use crate::auth::{PageCtx, Staff, load_identity, session};
use crate::error::AppError;
use crate::mail::normalize_address;
use crate::models::events;
use crate::state::AppState;

route_table! {
    post "/voir-en-tant-que" => start,
    post "/voir-en-tant-que/fin" => end,
}

/// The start form.
#[derive(Debug, Default, serde::Deserialize)]
pub struct StartForm {
    #[serde(default)]
    email: String,
}

/// `POST /voir-en-tant-que` (staff): the person's space, read-only, until ended.
pub async fn start(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    form: web::Form<StartForm>,
) -> Result<HttpResponse, AppError> {
    let staff = user.email;
    let target = normalize_address(&form.email);
    let wanted = target.clone();
    let now = page.now;
    let actor = staff.clone();
    let identity = state
        .db(move |conn| {
            let identity = load_identity(conn, &wanted)?;
            if identity.has_any_role() && !identity.is_staff {
                events::record(
                    conn,
                    now,
                    &actor,
                    "view_as.start",
                    ("person", &wanted),
                    None,
                )?;
            }
            Ok(identity)
        })
        .await?;
    if identity.is_staff {
        return Err(AppError::BadRequest(
            "On ne peut pas voir le back-office en tant qu'un membre de l'équipe.".into(),
        ));
    }
    if !identity.has_any_role() {
        return Err(AppError::BadRequest(format!(
            "« {target} » n'a accès à aucun espace du back-office."
        )));
    }
    session::store_value(&page.session, SESSION_VIEW_AS, &target)?;
    Ok(see_other("/"))
}

/// `POST /voir-en-tant-que/fin`: back to one's own account.
pub async fn end(state: web::Data<AppState>, page: PageCtx) -> Result<HttpResponse, AppError> {
    let (Some(staff), Some(user)) = (page.viewing_as.clone(), page.user.clone()) else {
        return Ok(see_other("/"));
    };
    page.session.remove(SESSION_VIEW_AS);
    let now = page.now;
    let target = user.email.clone();
    state
        .db(move |conn| {
            Ok(events::record(
                conn,
                now,
                &staff,
                "view_as.end",
                ("person", &target),
                None,
            )?)
        })
        .await?;
    Ok(see_other(&format!("/personnes/{}", user.email)))
}
