//! E-mail: rendering from `templates/email/<name>/`, the outbox table every e-mail goes
//! through, the decision e-mails rendered after their transaction commits, and the sender
//! loop that delivers it (SMTP or `.eml` files) with retries.

pub mod jobs;
pub mod outbox;
pub mod sender;

/// An e-mail ready to be queued: addresses, and its rendered subject and bodies.
#[derive(Clone, Debug)]
pub struct NewEmail {
    /// The template folder it was rendered from (e.g. `login_link`).
    pub template: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The object it is about, e.g. `("request", id)`.
    pub related: Option<(String, String)>,
}

/// Renders `templates/email/<name>/{subject.txt,body.txt,body.html}` with `context`.
pub fn render(
    tera: &tera::Tera,
    name: &str,
    to: Vec<String>,
    cc: Vec<String>,
    context: &tera::Context,
) -> Result<NewEmail, tera::Error> {
    let subject = tera.render(&format!("email/{name}/subject.txt"), context)?;
    let text = tera.render(&format!("email/{name}/body.txt"), context)?;
    let html = tera.render(&format!("email/{name}/body.html"), context)?;
    Ok(NewEmail {
        template: name.to_owned(),
        to,
        cc,
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        text,
        html,
        related: None,
    })
}

pub use crate::domain::email::{is_valid_address, normalize_address};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised_and_checked() {
        assert_eq!(
            normalize_address("  Camille.Martin@Ville.FR "),
            "camille.martin@ville.fr"
        );
        assert!(is_valid_address("camille.martin@ville.fr"));
        assert!(!is_valid_address("camille.martin@ville"));
        assert!(!is_valid_address("camille martin@ville.fr"));
        assert!(!is_valid_address("a@b@ville.fr"));
        assert!(!is_valid_address("@ville.fr"));
        assert!(!is_valid_address("x@ville..fr"));
    }
}
