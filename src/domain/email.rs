//! E-mail addresses entering the system (webhooks, syncs, forms, CSV): one mailbox, validated
//! and normalised (trimmed, lower-cased). A list, a display name or a quoted local part is
//! refused, so an address can never smuggle a second recipient.

use std::fmt;

/// Longest address accepted (RFC 5321 path limit).
pub const MAX_LEN: usize = 254;
/// Longest local part (RFC 5321).
const MAX_LOCAL_LEN: usize = 64;
/// Longest domain label.
const MAX_LABEL_LEN: usize = 63;

/// One validated, normalised mailbox (`local@domain`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

/// Why an address is refused; `Display` is the French message shown to users.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("l'adresse e-mail est vide")]
    Empty,
    #[error("l'adresse e-mail « {0} » est trop longue (254 caractères au plus)")]
    TooLong(String),
    #[error(
        "« {0} » contient plusieurs adresses ou un séparateur : une seule adresse e-mail est attendue"
    )]
    Several(String),
    #[error("« {0} » n'est pas une adresse e-mail valide (attendu prenom.nom@domaine.fr)")]
    Invalid(String),
}

fn local_char(c: char) -> bool {
    c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c)
}

fn label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.chars().count() <= MAX_LABEL_LEN
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_alphanumeric() || c == '-')
}

/// Characters that separate addresses in a list or header.
fn is_separator(c: char) -> bool {
    matches!(c, ',' | ';' | '<' | '>' | '\n' | '\r')
}

/// Normalises an e-mail address as stored: trimmed and lower-cased.
pub fn normalize_address(address: &str) -> String {
    address.trim().to_lowercase()
}

/// Whether an address is exactly one well-formed mailbox (see [`EmailAddress::parse`]).
pub fn is_valid_address(address: &str) -> bool {
    EmailAddress::parse(address).is_ok()
}

impl EmailAddress {
    /// Validates and normalises `input` as exactly one mailbox.
    pub fn parse(input: &str) -> Result<EmailAddress, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        let shown: String = trimmed.chars().take(80).collect();
        if trimmed.len() > MAX_LEN {
            return Err(EmailError::TooLong(shown));
        }
        if trimmed.chars().any(is_separator) || trimmed.matches('@').count() > 1 {
            return Err(EmailError::Several(shown));
        }
        let normalised = trimmed.to_lowercase();
        let invalid = || EmailError::Invalid(shown.clone());
        let (local, domain) = normalised.split_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.chars().count() <= MAX_LOCAL_LEN
            && local.chars().all(local_char)
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| label_ok(l))
            && labels
                .last()
                .is_some_and(|tld| tld.chars().all(char::is_alphabetic) && tld.len() >= 2);
        if !local_ok || !domain_ok {
            return Err(invalid());
        }
        Ok(EmailAddress(normalised))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mailbox_is_accepted_and_normalised() {
        let a = EmailAddress::parse("  Camille.Martin@Ville-Exemple.FR ").unwrap();
        assert_eq!(a.as_str(), "camille.martin@ville-exemple.fr");
        assert!(EmailAddress::parse("dpo+qf@mairie.fr").is_ok());
        assert!(EmailAddress::parse("contact@mairie-évreux.fr").is_ok());
    }

    #[test]
    fn lists_and_display_names_are_refused() {
        for input in [
            "support@editeur.fr,intrus@evil.example",
            "support@editeur.fr;intrus@evil.example",
            "Support <support@editeur.fr>",
            "a@b@editeur.fr",
            "support@editeur.fr\nBcc: intrus@evil.example",
        ] {
            let error = EmailAddress::parse(input).unwrap_err();
            assert!(
                matches!(error, EmailError::Several(_)),
                "{input}: {error:?}"
            );
            assert!(error.to_string().contains("une seule adresse"));
        }
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_french_message() {
        for input in [
            "camille",
            "@ville.fr",
            "camille@",
            "camille@ville",
            "camille martin@ville.fr",
            "\"camille\"@ville.fr",
            ".camille@ville.fr",
            "camille..martin@ville.fr",
            "camille@ville..fr",
            "camille@-ville.fr",
            "camille@ville.fr.",
            "camille@ville.f1",
        ] {
            let error = EmailAddress::parse(input).unwrap_err();
            assert!(error.to_string().contains("adresse"), "{input}");
        }
        assert_eq!(EmailAddress::parse("  ").unwrap_err(), EmailError::Empty);
        let long = format!("{}@ville.fr", "a".repeat(250));
        assert!(matches!(
            EmailAddress::parse(&long).unwrap_err(),
            EmailError::TooLong(_)
        ));
    }
}
