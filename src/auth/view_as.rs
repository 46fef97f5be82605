//! « Voir en tant que » : a staff member sees the back office as another person sees it,
//! read-only. The session keeps the target address (`SESSION_VIEW_AS`); `PageCtx` then loads
//! the target's identity and the layout shows a banner; this middleware refuses every POST
//! but the one ending the view (and sign-out), whatever the handler; start, end and each
//! refused action are logged.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::error::error_page;
use crate::state::AppState;

/// Session key: the address being viewed as.
pub const SESSION_VIEW_AS: &str = "view_as";
/// The POST ending the view.
pub const END_PATH: &str = "/voir-en-tant-que/fin";

/// The middleware: no POST goes through while viewing as someone, except ending the view and
/// signing out.
pub async fn read_only(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if *req.method() == Method::POST && req.path() != END_PATH && req.path() != "/deconnexion" {
        let session = req.get_session();
        let target = session.get::<String>(SESSION_VIEW_AS).ok().flatten();
        let staff = session
            .get::<String>(crate::auth::SESSION_EMAIL)
            .ok()
            .flatten();
        if let (Some(target), Some(staff)) = (target, staff) {
            if let Some(state) = req.app_data::<web::Data<AppState>>().cloned() {
                let path = req.path().to_owned();
                let now = crate::db::now();
                let _ = state
                    .db(move |conn| {
                        Ok(crate::models::events::record(
                            conn,
                            now,
                            &staff,
                            "view_as.refused",
                            ("person", &target),
                            Some(format!("POST {path} refusé (lecture seule)")),
                        )?)
                    })
                    .await;
            }
            let response = HttpResponse::build(StatusCode::FORBIDDEN)
                .content_type("text/html; charset=utf-8")
                .body(error_page(
                    StatusCode::FORBIDDEN,
                    "Lecture seule",
                    "Vous voyez le back-office en tant qu'une autre personne : aucune action n'est possible. Quittez ce mode (bandeau en haut de page) pour agir en votre nom.",
                ));
            return Ok(req.into_response(response));
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}
