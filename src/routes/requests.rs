//! The page of one habilitation request, for staff, its éditeur and its contacts.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;

use crate::auth::PageCtx;
use crate::db::schema::{collectivites, editeurs, hubee_subscriptions, tokens};
use crate::domain::request_state::RequestState;
use crate::error::AppError;
use crate::models::collectivites::Collectivite;
use crate::models::events;
use crate::models::hubee::HubeeSubscription;
use crate::models::requests::{self, roles};
use crate::models::tokens::Token;
use crate::state::AppState;

#[derive(serde::Serialize)]
struct ContactView {
    role: &'static str,
    email: String,
    name: String,
    job_title: Option<String>,
    phone_number: Option<String>,
}

/// `GET /demandes/{id}`: 404 for anyone who may not see it.
pub async fn show(
    state: web::Data<AppState>,
    page: PageCtx,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let user = page.user()?.clone();
    let id = path.into_inner();
    let today = page.now.date();
    let mut context = page.context();
    let show_timeline = user.is_staff;
    let data = state
        .db(move |conn| {
            let request = requests::find(conn, &id)?.ok_or(AppError::NotFound)?;
            if !requests::visible_to(conn, &user, &request)? {
                return Err(AppError::NotFound);
            }
            let collectivite: Collectivite = collectivites::table
                .find(&request.collectivite_id)
                .select(Collectivite::as_select())
                .first(conn)?;
            let editeur: Option<String> = match &request.editeur_id {
                Some(eid) => editeurs::table
                    .find(eid)
                    .select(editeurs::name)
                    .first(conn)
                    .optional()?,
                None => None,
            };
            let token: Option<Token> = tokens::table
                .filter(tokens::collectivite_id.eq(&request.collectivite_id))
                .order(tokens::issued_at.desc())
                .select(Token::as_select())
                .first(conn)
                .optional()?;
            let hubee: Option<HubeeSubscription> = hubee_subscriptions::table
                .filter(hubee_subscriptions::collectivite_id.eq(&request.collectivite_id))
                .select(HubeeSubscription::as_select())
                .first(conn)
                .optional()?;
            let contacts = requests::contacts(conn, &request.id)?;
            let timeline = if show_timeline {
                events::for_target(conn, "request", &request.id)?
            } else {
                Vec::new()
            };
            Ok((
                request,
                collectivite,
                editeur,
                token,
                hubee,
                contacts,
                timeline,
            ))
        })
        .await?;
    let (request, collectivite, editeur, token, hubee, contacts, timeline) = data;
    let state_label = request
        .state
        .parse::<RequestState>()
        .map_or("Inconnu", RequestState::label_fr);
    let contacts: Vec<ContactView> = contacts
        .into_iter()
        .map(|c| ContactView {
            role: roles::label_fr(&c.role),
            name: [c.given_name.as_deref(), c.family_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            email: c.email,
            job_title: c.job_title,
            phone_number: c.phone_number,
        })
        .collect();
    if let Some(token) = &token {
        let status = token.status(today);
        context.insert("token_status", status.as_str());
        context.insert("token_status_label", status.label_fr());
        context.insert(
            "token_phrase",
            &crate::domain::token::expiry_phrase_fr(crate::domain::token::days_left(
                token.expires_on,
                today,
            )),
        );
    }
    if let Some(hubee) = &hubee {
        context.insert(
            "hubee_status_label",
            hubee
                .status
                .parse::<crate::domain::hubee::SubscriptionStatus>()
                .map_or("Inconnu", |s| s.label_fr()),
        );
    }
    context.insert("request", &request);
    context.insert("state_label", state_label);
    context.insert("collectivite", &collectivite);
    context.insert("editeur", &editeur);
    context.insert("token", &token);
    context.insert("hubee", &hubee);
    context.insert("contacts", &contacts);
    context.insert("timeline", &timeline);
    state.render("requests/show.html", context)
}
