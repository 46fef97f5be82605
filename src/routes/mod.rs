//! HTTP routes, one module per area. Each area declares its routes in one `route_table!`,
//! which gives both its `ROUTES` list and its `configure`; `all_routes` is what the router
//! serves, so the route × role test sees every route.

/// Declares an area's routes: `get "/path" => handler, …` gives `ROUTES` and `configure`.
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// This area's routes as (method, path pattern), in registration order.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Registers this area's routes.
        pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
            let _ = &cfg;
            $(cfg.route($path, actix_web::web::$method().to($handler));)*
        }
    };
}

pub mod accounts;
pub mod api;
pub mod assets;
pub mod auth;
pub mod collectivites;
pub mod dashboard;
pub mod datapass;
pub mod editeur_keys;
pub mod editeur_space;
pub mod editeurs;
pub mod health;
pub mod home;
pub mod hubee;
pub mod instruction;
pub mod journal;
pub mod kit;
pub mod outbox;
pub mod people;
pub mod proconnect;
pub mod requests;
pub mod search;
pub mod shared;
pub mod tokens;
pub mod view_as;

use actix_web::web;

/// Every route the application serves, all areas together.
pub fn all_routes() -> Vec<(&'static str, &'static str)> {
    [
        core::ROUTES,
        instruction::ROUTES,
        datapass::ROUTES,
        collectivites::ROUTES,
        editeurs::ROUTES,
        kit::ROUTES,
        tokens::ROUTES,
        hubee::ROUTES,
        api::ROUTES,
        editeur_space::ROUTES,
        search::ROUTES,
        view_as::ROUTES,
        dashboard::ROUTES,
        editeur_keys::ROUTES,
    ]
    .concat()
}

/// The whole router.
pub fn configure(cfg: &mut web::ServiceConfig) {
    instruction::configure(cfg);
    datapass::configure(cfg);
    collectivites::configure(cfg);
    editeurs::configure(cfg);
    kit::configure(cfg);
    tokens::configure(cfg);
    hubee::configure(cfg);
    api::configure(cfg);
    editeur_space::configure(cfg);
    search::configure(cfg);
    view_as::configure(cfg);
    dashboard::configure(cfg);
    editeur_keys::configure(cfg);
    core::configure(cfg);
    cfg.default_service(web::to(assets::not_found));
}

/// Sign-in, home, accounts, outbox, journal, health and static files.
mod core {
    use super::{
        accounts, assets, auth, health, home, journal, outbox, people, proconnect, requests,
    };

    route_table! {
    get "/" => home::home,
    get "/health" => health::health,
    get "/connexion" => auth::login_form,
    post "/connexion" => auth::request_link,
    get "/connexion/lien" => auth::link_page,
    post "/connexion/lien" => auth::use_link,
    post "/deconnexion" => auth::sign_out,
    post "/connexion/proconnect" => proconnect::start,
    get "/connexion/proconnect/retour" => proconnect::callback,
    get "/deconnexion/proconnect" => proconnect::after_logout,
    get "/personnes/{email}" => people::show,
    get "/demandes/{id}" => requests::show,
    get "/emails" => outbox::list,
    get "/emails/{id}" => outbox::show,
    post "/emails/{id}/relancer" => outbox::retry,
    get "/journal" => journal::list,
    get "/admin/comptes" => accounts::list,
    post "/admin/comptes/equipe" => accounts::add_staff,
    get "/admin/comptes/equipe/{id}/retirer" => accounts::confirm_remove_staff,
    post "/admin/comptes/equipe/{id}/retirer" => accounts::remove_staff,
    post "/admin/comptes/editeurs" => accounts::add_member,
    get "/admin/comptes/editeurs/{id}/retirer" => accounts::confirm_remove_member,
    post "/admin/comptes/editeurs/{id}/retirer" => accounts::remove_member,
    post "/admin/comptes/sessions/terminer" => accounts::end_all_sessions,
    get "/static/dsfr/{path:.*}" => assets::dsfr,
    get "/static/{path:.*}" => assets::own,
    }
}

/// Query string of paginated, searchable lists.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    /// Free-text search.
    #[serde(default)]
    pub q: String,
    /// 1-based page number (anything unreadable means page 1).
    #[serde(default, deserialize_with = "lenient_page")]
    pub page: Option<i64>,
    /// A status filter, where the list has one.
    #[serde(default)]
    pub statut: Option<String>,
}

impl ListQuery {
    /// The page asked for, at least 1.
    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).max(1)
    }
}

fn lenient_page<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let raw: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(raw.and_then(|s| s.trim().parse().ok()))
}

/// The confirmation page asked before a destructive action: the question, what it will do,
/// the form's target and where « Annuler » goes.
pub fn render_confirm(
    state: &crate::state::AppState,
    page: &crate::auth::PageCtx,
    question: &str,
    consequence: &str,
    action: &str,
    cancel: &str,
) -> Result<actix_web::HttpResponse, crate::error::AppError> {
    let mut context = page.context();
    context.insert("question", question);
    context.insert("consequence", consequence);
    context.insert("action", action);
    context.insert("cancel", cancel);
    state.render("confirm.html", context)
}

/// A 303 redirect to `location`.
pub fn see_other(location: &str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location.to_owned()))
        .finish()
}
