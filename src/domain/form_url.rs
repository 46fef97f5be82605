//! The public QF form's address for a collectivité, and its éditeur variant.
//!
//! A collectivité's form lives at `<base>/collectivites/<SIRET>`. An éditeur links its users
//! to the same address with two parameters: `external_id`, the user's id in the éditeur's
//! software (written into the HubEE file, for identity reconciliation), and `redirect_uri`,
//! the "back to my software" link shown at the end of the form. The form validates neither,
//! so this module does: bounded lengths, a safe alphabet for `external_id`, an absolute
//! `https` address without credentials for `redirect_uri`, both percent-encoded.

use url::Url;

use super::siret::Siret;

/// The form uid of DataPass's own (not pre-filled) QF form.
pub const GENERIC_FORM_UID: &str = "formulaire-qf";

/// Longest accepted `external_id`, in characters.
pub const EXTERNAL_ID_MAX_CHARS: usize = 128;
/// Longest accepted `redirect_uri`, in characters.
pub const REDIRECT_URI_MAX_CHARS: usize = 2048;
/// Hosts that may be reached over plain `http` when the setting allows it.
pub const LOCAL_HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];

/// Why an éditeur URL cannot be built; each message says what to change, in French.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormUrlError {
    #[error("L'identifiant external_id est vide : il doit comporter de 1 à 128 caractères.")]
    ExternalIdEmpty,
    #[error("L'identifiant external_id comporte {0} caractères : 128 au plus.")]
    ExternalIdTooLong(usize),
    #[error(
        "L'identifiant external_id contient {0}, qui n'est pas accepté : seuls les lettres sans accent (a-z, A-Z), les chiffres et les signes - _ . : le sont."
    )]
    ExternalIdCharacter(String),
    #[error(
        "L'adresse de retour redirect_uri est vide : indiquez une adresse complète, par exemple https://logiciel.exemple.fr/retour."
    )]
    RedirectUriEmpty,
    #[error("L'adresse de retour redirect_uri comporte {0} caractères : 2048 au plus.")]
    RedirectUriTooLong(usize),
    #[error(
        "L'adresse de retour redirect_uri contient une espace au début ou à la fin, une tabulation ou un retour à la ligne : retirez-les."
    )]
    RedirectUriControlCharacter,
    #[error(
        "L'adresse de retour redirect_uri n'est pas une adresse complète : elle doit commencer par https://, par exemple https://logiciel.exemple.fr/retour."
    )]
    RedirectUriNotAbsolute,
    #[error("{}", not_https_message(.scheme, *.localhost_allowed))]
    RedirectUriNotHttps {
        /// The scheme given (`http`, `ftp`, `javascript`…).
        scheme: String,
        /// Whether `http` would have been accepted on `localhost`/`127.0.0.1`.
        localhost_allowed: bool,
    },
    #[error(
        "L'adresse de retour redirect_uri ne doit contenir ni identifiant ni mot de passe (forme utilisateur:motdepasse@)."
    )]
    RedirectUriCredentials,
    #[error(
        "L'adresse du formulaire (FORM_BASE_URL) est invalide : prévenez l'équipe API Particulier."
    )]
    BaseUrl,
}

fn not_https_message(scheme: &str, localhost_allowed: bool) -> String {
    if localhost_allowed {
        format!(
            "L'adresse de retour redirect_uri doit commencer par https:// (« {scheme}:// » refusé ; http:// n'est accepté que pour localhost et 127.0.0.1)."
        )
    } else {
        format!(
            "L'adresse de retour redirect_uri doit commencer par https:// (« {scheme}:// » refusé)."
        )
    }
}

impl FormUrlError {
    /// A stable machine-readable code, for the JSON API.
    pub fn code(&self) -> &'static str {
        match self {
            FormUrlError::ExternalIdEmpty => "external_id_empty",
            FormUrlError::ExternalIdTooLong(_) => "external_id_too_long",
            FormUrlError::ExternalIdCharacter(_) => "external_id_invalid_character",
            FormUrlError::RedirectUriEmpty => "redirect_uri_empty",
            FormUrlError::RedirectUriTooLong(_) => "redirect_uri_too_long",
            FormUrlError::RedirectUriControlCharacter => "redirect_uri_control_character",
            FormUrlError::RedirectUriNotAbsolute => "redirect_uri_not_absolute",
            FormUrlError::RedirectUriNotHttps { .. } => "redirect_uri_not_https",
            FormUrlError::RedirectUriCredentials => "redirect_uri_credentials",
            FormUrlError::BaseUrl => "form_base_url",
        }
    }
}

/// The collectivité's form: `<base>/collectivites/<SIRET>` (a trailing slash on `base` is
/// ignored).
pub fn form_url(base: &str, siret: &Siret) -> String {
    format!("{}/collectivites/{}", base.trim_end_matches('/'), siret)
}

/// The form address an éditeur gives its users: [`form_url`] with `external_id` and
/// `redirect_uri` (each optional) checked and percent-encoded into the query string.
/// `allow_http_localhost` accepts `http://localhost…` and `http://127.0.0.1…` return
/// addresses, for éditeurs' test setups.
pub fn editeur_url(
    base: &str,
    siret: &Siret,
    external_id: Option<&str>,
    redirect_uri: Option<&str>,
    allow_http_localhost: bool,
) -> Result<String, FormUrlError> {
    if let Some(id) = external_id {
        check_external_id(id)?;
    }
    if let Some(uri) = redirect_uri {
        check_redirect_uri(uri, allow_http_localhost)?;
    }
    let mut url = Url::parse(&form_url(base, siret)).map_err(|_| FormUrlError::BaseUrl)?;
    if external_id.is_some() || redirect_uri.is_some() {
        let mut query = url.query_pairs_mut();
        if let Some(id) = external_id {
            query.append_pair("external_id", id);
        }
        if let Some(uri) = redirect_uri {
            query.append_pair("redirect_uri", uri);
        }
    }
    Ok(url.into())
}

/// 1 to 128 characters among ASCII letters, digits and `-_.:`.
pub fn check_external_id(id: &str) -> Result<(), FormUrlError> {
    if id.is_empty() {
        return Err(FormUrlError::ExternalIdEmpty);
    }
    let length = id.chars().count();
    if length > EXTERNAL_ID_MAX_CHARS {
        return Err(FormUrlError::ExternalIdTooLong(length));
    }
    match id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        Some(c) => Err(FormUrlError::ExternalIdCharacter(describe_char(c))),
        None => Ok(()),
    }
}

/// An absolute `https` address of at most 2048 characters, without user name or password;
/// `http` only on `localhost`/`127.0.0.1`, and only when `allow_http_localhost`.
pub fn check_redirect_uri(uri: &str, allow_http_localhost: bool) -> Result<(), FormUrlError> {
    if uri.is_empty() {
        return Err(FormUrlError::RedirectUriEmpty);
    }
    let length = uri.chars().count();
    if length > REDIRECT_URI_MAX_CHARS {
        return Err(FormUrlError::RedirectUriTooLong(length));
    }
    // The URL parser silently drops these; refuse them so what is checked is what is sent.
    if uri.trim() != uri || uri.chars().any(char::is_control) {
        return Err(FormUrlError::RedirectUriControlCharacter);
    }
    let parsed = Url::parse(uri).map_err(|_| FormUrlError::RedirectUriNotAbsolute)?;
    let local_http = allow_http_localhost
        && parsed.scheme() == "http"
        && parsed.host_str().is_some_and(|h| LOCAL_HOSTS.contains(&h));
    if parsed.scheme() != "https" && !local_http {
        return Err(FormUrlError::RedirectUriNotHttps {
            scheme: parsed.scheme().to_owned(),
            localhost_allowed: allow_http_localhost,
        });
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(FormUrlError::RedirectUriNotAbsolute);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FormUrlError::RedirectUriCredentials);
    }
    Ok(())
}

/// A character as a French reader can tell it apart: `« é »`, `une espace`, `U+0007`.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "une espace".to_owned(),
        '\u{a0}' => "une espace insécable".to_owned(),
        c if c.is_control() || c.is_whitespace() => format!("le caractère U+{:04X}", c as u32),
        c => format!("le caractère « {c} »"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://quotient-familial.numerique.gouv.fr";

    fn siret() -> Siret {
        Siret::parse("21750001600019").unwrap()
    }

    fn build(id: Option<&str>, uri: Option<&str>) -> Result<String, FormUrlError> {
        editeur_url(BASE, &siret(), id, uri, false)
    }

    /// The decoded query pairs of a built URL.
    fn pairs(url: &str) -> Vec<(String, String)> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn bare_form_url() {
        assert_eq!(
            form_url(BASE, &siret()),
            "https://quotient-familial.numerique.gouv.fr/collectivites/21750001600019"
        );
        assert_eq!(
            form_url("https://qf.exemple.fr/", &siret()),
            "https://qf.exemple.fr/collectivites/21750001600019"
        );
        assert_eq!(build(None, None).unwrap(), form_url(BASE, &siret()));
    }

    #[test]
    fn both_parameters_in_order() {
        let url = build(Some("famille-42"), Some("https://logiciel.fr/retour")).unwrap();
        assert_eq!(
            url,
            "https://quotient-familial.numerique.gouv.fr/collectivites/21750001600019?external_id=famille-42&redirect_uri=https%3A%2F%2Flogiciel.fr%2Fretour"
        );
        let only_id = build(Some("A.b_c-1:2"), None).unwrap();
        assert!(only_id.ends_with("?external_id=A.b_c-1%3A2"), "{only_id}");
        let only_uri = build(None, Some("https://l.fr")).unwrap();
        assert!(
            only_uri.ends_with("?redirect_uri=https%3A%2F%2Fl.fr"),
            "{only_uri}"
        );
    }

    #[test]
    fn encoding_of_special_characters() {
        let uri = "https://logiciel.fr/retour?famille=Dupont Martin&tri=a+b#fin";
        let url = build(Some("x"), Some(uri)).unwrap();
        // Nothing of the value leaks into the form URL's own structure.
        assert_eq!(url.matches('&').count(), 1, "{url}");
        assert!(!url.contains('#'), "{url}");
        assert!(!url.contains(' '), "{url}");
        assert!(url.contains("Dupont+Martin"), "spaces as +: {url}");
        assert!(url.contains("%26tri%3Da%2Bb%23fin"), "& = + #: {url}");
        assert_eq!(
            pairs(&url),
            vec![
                ("external_id".to_owned(), "x".to_owned()),
                ("redirect_uri".to_owned(), uri.to_owned())
            ]
        );
        let accents = "https://mairie.fr/été/«retour»";
        let url = build(None, Some(accents)).unwrap();
        assert!(url.is_ascii(), "{url}");
        assert!(url.contains("%C3%A9t%C3%A9%2F%C2%ABretour%C2%BB"), "{url}");
        assert_eq!(pairs(&url)[0].1, accents);
    }

    #[test]
    fn external_id_refusals() {
        assert_eq!(build(Some(""), None), Err(FormUrlError::ExternalIdEmpty));
        let long = "a".repeat(129);
        assert_eq!(
            build(Some(&long), None),
            Err(FormUrlError::ExternalIdTooLong(129))
        );
        assert!(build(Some(&"a".repeat(128)), None).is_ok());
        for (bad, shown) in [
            ("a b", "une espace"),
            ("famille&x=1", "le caractère « & »"),
            ("id#1", "le caractère « # »"),
            ("a+b", "le caractère « + »"),
            ("hélène", "le caractère « é »"),
            ("a/b", "le caractère « / »"),
            ("a\nb", "le caractère U+000A"),
        ] {
            let e = build(Some(bad), None).unwrap_err();
            assert_eq!(e, FormUrlError::ExternalIdCharacter(shown.to_owned()));
            assert_eq!(e.code(), "external_id_invalid_character");
            assert!(e.to_string().contains(shown), "{e}");
        }
    }

    #[test]
    fn redirect_uri_refusals() {
        let cases: [(&str, FormUrlError); 9] = [
            ("", FormUrlError::RedirectUriEmpty),
            (" https://l.fr/", FormUrlError::RedirectUriControlCharacter),
            (
                "https://l.fr/a\tb",
                FormUrlError::RedirectUriControlCharacter,
            ),
            ("/retour", FormUrlError::RedirectUriNotAbsolute),
            ("logiciel.fr/retour", FormUrlError::RedirectUriNotAbsolute),
            (
                "http://logiciel.fr/retour",
                FormUrlError::RedirectUriNotHttps {
                    scheme: "http".into(),
                    localhost_allowed: false,
                },
            ),
            (
                "javascript:alert(1)",
                FormUrlError::RedirectUriNotHttps {
                    scheme: "javascript".into(),
                    localhost_allowed: false,
                },
            ),
            (
                "https://user:pass@logiciel.fr/",
                FormUrlError::RedirectUriCredentials,
            ),
            (
                "https://jeton@logiciel.fr/",
                FormUrlError::RedirectUriCredentials,
            ),
        ];
        for (uri, expected) in cases {
            assert_eq!(build(None, Some(uri)), Err(expected), "{uri:?}");
        }
        let long = format!("https://l.fr/{}", "a".repeat(2048 - 13 + 1));
        assert_eq!(
            build(None, Some(&long)),
            Err(FormUrlError::RedirectUriTooLong(2049))
        );
        assert!(build(None, Some(&long[..2048])).is_ok());
    }

    #[test]
    fn http_only_on_localhost_and_only_when_allowed() {
        let with = |uri: &str, allow: bool| editeur_url(BASE, &siret(), None, Some(uri), allow);
        assert!(with("http://localhost:3000/retour", true).is_ok());
        assert!(with("http://127.0.0.1:8080/", true).is_ok());
        assert!(with("https://localhost/", false).is_ok());
        let refused = with("http://localhost:3000/retour", false).unwrap_err();
        assert_eq!(refused.code(), "redirect_uri_not_https");
        let elsewhere = with("http://logiciel.fr/", true).unwrap_err();
        assert_eq!(
            elsewhere,
            FormUrlError::RedirectUriNotHttps {
                scheme: "http".into(),
                localhost_allowed: true
            }
        );
        assert!(elsewhere.to_string().contains("localhost"), "{elsewhere}");
        assert!(with("http://localhost.evil.fr/", true).is_err());
        assert!(with("http://user@localhost/", true).is_err());
    }

    #[test]
    fn every_refusal_has_a_french_message_and_a_code() {
        let errors = [
            FormUrlError::ExternalIdEmpty,
            FormUrlError::ExternalIdTooLong(200),
            FormUrlError::ExternalIdCharacter("une espace".into()),
            FormUrlError::RedirectUriEmpty,
            FormUrlError::RedirectUriTooLong(3000),
            FormUrlError::RedirectUriControlCharacter,
            FormUrlError::RedirectUriNotAbsolute,
            FormUrlError::RedirectUriNotHttps {
                scheme: "ftp".into(),
                localhost_allowed: false,
            },
            FormUrlError::RedirectUriCredentials,
            FormUrlError::BaseUrl,
        ];
        let mut codes = std::collections::HashSet::new();
        for e in errors {
            assert!(e.to_string().starts_with("L'"), "{e}");
            assert!(codes.insert(e.code()), "{}", e.code());
        }
        assert_eq!(
            editeur_url("pas une url", &siret(), Some("x"), None, false),
            Err(FormUrlError::BaseUrl)
        );
    }
}
