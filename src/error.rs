//! The one error type of HTML pages: a French page for the user, the cause chain logged once.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// Whatever can stop a page from being served.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The object does not exist or is out of the user's reach.
    #[error("page introuvable")]
    NotFound,
    /// The page needs a signed-in user: redirect to the sign-in page.
    #[error("connexion requise")]
    Unauthenticated,
    /// Signed in, but this page is for another role; the message says which.
    #[error("{0}")]
    Forbidden(String),
    /// Too many requests; the message says when to try again.
    #[error("{0}")]
    TooManyRequests(String),
    /// The user's input is wrong; the message says how, in French.
    #[error("{0}")]
    BadRequest(String),
    /// The database answered with an error.
    #[error("erreur de base de données")]
    Database(#[from] diesel::result::Error),
    /// No database connection could be had.
    #[error("base de données indisponible")]
    Pool(#[from] r2d2::Error),
    /// A template failed to render.
    #[error("erreur d'affichage")]
    Template(#[from] tera::Error),
    /// The blocking thread pool failed.
    #[error("tâche interrompue")]
    Blocking(#[from] actix_web::error::BlockingError),
    /// Anything else.
    #[error("erreur interne")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    fn user_message(&self) -> (&'static str, String) {
        match self {
            AppError::NotFound => (
                "Page introuvable",
                "La page demandée n'existe pas ou vous n'y avez pas accès.".to_owned(),
            ),
            AppError::BadRequest(message) => ("Demande invalide", message.clone()),
            AppError::Unauthenticated => (
                "Connexion requise",
                "Connectez-vous pour accéder à cette page.".to_owned(),
            ),
            AppError::Forbidden(message) => ("Accès refusé", message.clone()),
            AppError::TooManyRequests(message) => ("Trop de demandes", message.clone()),
            AppError::Pool(_) => (
                "Service momentanément indisponible",
                "La base de données ne répond pas. Réessayez dans quelques instants.".to_owned(),
            ),
            _ => (
                "Erreur inattendue",
                "Une erreur inattendue est survenue ; elle a été journalisée. Réessayez ou contactez l'équipe.".to_owned(),
            ),
        }
    }
}

/// Writes an error and its causes on one line.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated => StatusCode::SEE_OTHER,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AppError::Unauthenticated = self {
            return HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, "/connexion"))
                .finish();
        }
        if status.is_server_error() {
            let chain = match self {
                AppError::Internal(e) => format!("{e:#}"),
                other => cause_chain(other),
            };
            tracing::error!(status = status.as_u16(), error = %chain, "requête en échec");
        }
        let (title, message) = self.user_message();
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(error_page(status, title, &message))
    }
}

/// A self-contained French error page (no template, so it renders even when templates fail).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} — QF back-office</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
         <body><main class=\"fr-container fr-my-6w\" id=\"contenu\"><p class=\"error-code\">Erreur {code}</p>\
         <h1>{title}</h1><p>{message}</p><p><a href=\"/\">Retour à l'accueil</a></p></main></body></html>",
        code = status.as_u16(),
        title = escape_html(title),
        message = escape_html(message),
    )
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_page_escapes_the_message() {
        let page = error_page(StatusCode::BAD_REQUEST, "Titre", "<script>x</script>");
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>"));
    }

    #[test]
    fn statuses() {
        assert_eq!(AppError::NotFound.status_code(), StatusCode::NOT_FOUND);
        assert_eq!(
            AppError::BadRequest("x".into()).status_code(),
            StatusCode::BAD_REQUEST
        );
    }
}
