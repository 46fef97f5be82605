//! Automatic checks of a habilitation request, shown to the instructeur before deciding.
//!
//! Each check has a stable code, a French label, a status (passed, failed or unknown when
//! the information is missing) and a French reason saying exactly what was found. The
//! checks are pure: the caller gathers the facts (contacts, délibération, the Sirene
//! lookup, the éditeur of the form) into a [`CheckInput`].

use serde::{Serialize, Serializer};

use crate::domain::email::{is_valid_address, normalize_address};
use crate::domain::roles::contact as roles;
use crate::domain::siret::Siret;

/// The codes of the checks, in the order [`run_checks`] returns them.
pub mod codes {
    pub const SIRET_VALID: &str = "siret_valid";
    pub const SIRENE_ACTIVE: &str = "sirene_active";
    pub const DELIBERATION_PRESENT: &str = "deliberation_present";
    pub const DPD_DISTINCT: &str = "dpd_distinct";
    pub const CONTACT_EMAILS: &str = "contact_emails";
    pub const EDITEUR_KNOWN: &str = "editeur_known";
    /// Every code, in order.
    pub const ALL: [&str; 6] = [
        SIRET_VALID,
        SIRENE_ACTIVE,
        DELIBERATION_PRESENT,
        DPD_DISTINCT,
        CONTACT_EMAILS,
        EDITEUR_KNOWN,
    ];
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckStatus {
    Passed,
    Failed,
    /// The information needed is missing (e.g. Sirene not configured or down).
    Unknown,
}

impl CheckStatus {
    /// The code: `passed`, `failed` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::Unknown => "unknown",
        }
    }

    /// The French label.
    pub fn label_fr(self) -> &'static str {
        match self {
            CheckStatus::Passed => "Conforme",
            CheckStatus::Failed => "Non conforme",
            CheckStatus::Unknown => "Indéterminé",
        }
    }
}

impl Serialize for CheckStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One check and its result.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// One of [`codes`].
    pub code: &'static str,
    /// What is checked, in French.
    pub label: &'static str,
    pub status: CheckStatus,
    /// Why, in French, naming what was found.
    pub reason: String,
}

impl Check {
    fn new(code: &'static str, status: CheckStatus, reason: impl Into<String>) -> Check {
        Check {
            code,
            label: label_of(code),
            status,
            reason: reason.into(),
        }
    }
}

fn label_of(code: &str) -> &'static str {
    match code {
        codes::SIRET_VALID => "SIRET valide",
        codes::SIRENE_ACTIVE => "Établissement actif dans Sirene",
        codes::DELIBERATION_PRESENT => "Délibération fournie",
        codes::DPD_DISTINCT => {
            "DPD distinct du demandeur, du responsable de traitement et du maire"
        }
        codes::CONTACT_EMAILS => "Adresses e-mail des contacts",
        codes::EDITEUR_KNOWN => "Éditeur du formulaire connu",
        _ => "Vérification",
    }
}

/// What Sirene said about the collectivité's SIRET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SireneFact {
    NotConfigured,
    Active {
        name: Option<String>,
    },
    Closed,
    NotFound,
    /// Sirene could not answer; the reason is in French.
    Unavailable(String),
}

/// One contact of the request, as the checks see it.
#[derive(Clone, Copy, Debug)]
pub struct ContactFact<'a> {
    /// A role code of [`roles`].
    pub role: &'a str,
    pub email: &'a str,
    pub given_name: Option<&'a str>,
    pub family_name: Option<&'a str>,
    pub job_title: Option<&'a str>,
}

/// Everything the checks look at.
#[derive(Clone, Debug)]
pub struct CheckInput<'a> {
    /// The collectivité's SIRET as stored.
    pub siret: &'a str,
    pub sirene: SireneFact,
    pub deliberation_url: Option<&'a str>,
    pub has_deliberation_file: bool,
    pub contacts: &'a [ContactFact<'a>],
    /// The DataPass form the request was made with.
    pub form_uid: &'a str,
    /// The standard form, without éditeur.
    pub generic_form_uid: &'a str,
    /// The name of the éditeur declaring `form_uid`, if any.
    pub editeur_for_form: Option<&'a str>,
}

/// Runs every check, in the order of [`codes::ALL`].
pub fn run_checks(input: &CheckInput) -> Vec<Check> {
    vec![
        check_siret(input.siret),
        check_sirene(&input.sirene),
        check_deliberation(input.deliberation_url, input.has_deliberation_file),
        check_dpd(input.contacts),
        check_contact_emails(input.contacts),
        check_editeur(
            input.form_uid,
            input.generic_form_uid,
            input.editeur_for_form,
        ),
    ]
}

/// The checks that failed (unknown ones are not failures).
pub fn failed(checks: &[Check]) -> Vec<&Check> {
    checks
        .iter()
        .filter(|check| check.status == CheckStatus::Failed)
        .collect()
}

fn check_siret(siret: &str) -> Check {
    match Siret::parse(siret) {
        Ok(siret) => Check::new(
            codes::SIRET_VALID,
            CheckStatus::Passed,
            format!("Le SIRET {siret} est valide."),
        ),
        Err(error) => Check::new(codes::SIRET_VALID, CheckStatus::Failed, error.to_string()),
    }
}

fn check_sirene(fact: &SireneFact) -> Check {
    let (status, reason) = match fact {
        SireneFact::Active { name: Some(name) } => (
            CheckStatus::Passed,
            format!("Établissement actif dans Sirene : {name}."),
        ),
        SireneFact::Active { name: None } => (
            CheckStatus::Passed,
            "Établissement actif dans Sirene.".to_owned(),
        ),
        SireneFact::Closed => (
            CheckStatus::Failed,
            "Sirene indique un établissement fermé.".to_owned(),
        ),
        SireneFact::NotFound => (CheckStatus::Failed, "SIRET inconnu de Sirene.".to_owned()),
        SireneFact::NotConfigured => (
            CheckStatus::Unknown,
            "Sirene n'est pas configuré : vérification à faire à la main.".to_owned(),
        ),
        SireneFact::Unavailable(reason) => (
            CheckStatus::Unknown,
            format!("Sirene n'a pas pu être consulté : {reason}"),
        ),
    };
    Check::new(codes::SIRENE_ACTIVE, status, reason)
}

fn check_deliberation(url: Option<&str>, has_file: bool) -> Check {
    if has_file {
        return Check::new(
            codes::DELIBERATION_PRESENT,
            CheckStatus::Passed,
            "Délibération jointe en fichier.",
        );
    }
    let url = url.map(str::trim).filter(|url| !url.is_empty());
    let Some(url) = url else {
        return Check::new(
            codes::DELIBERATION_PRESENT,
            CheckStatus::Failed,
            "Délibération absente : ni fichier joint, ni URL.",
        );
    };
    if is_web_url(url) {
        Check::new(
            codes::DELIBERATION_PRESENT,
            CheckStatus::Passed,
            format!("Délibération en ligne : {url}"),
        )
    } else {
        Check::new(
            codes::DELIBERATION_PRESENT,
            CheckStatus::Failed,
            format!(
                "URL invalide pour la délibération : « {url} » (adresse http ou https complète attendue)."
            ),
        )
    }
}

/// Whether `url` is an absolute http(s) URL with a host.
fn is_web_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}

fn check_dpd(contacts: &[ContactFact]) -> Check {
    let dpds: Vec<&ContactFact> = contacts.iter().filter(|c| c.role == roles::DPD).collect();
    if dpds.is_empty() {
        return Check::new(
            codes::DPD_DISTINCT,
            CheckStatus::Failed,
            "Aucun DPD renseigné.",
        );
    }
    let others = [
        (roles::DEMANDEUR, "le demandeur", "du demandeur"),
        (
            roles::RESPONSABLE_TRAITEMENT,
            "le responsable de traitement",
            "du responsable de traitement",
        ),
    ];
    let mut problems: Vec<String> = Vec::new();
    let mut push = |problem: String| {
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    };
    for dpd in &dpds {
        for (role, whom, _) in others {
            let holders = contacts.iter().filter(|c| c.role == role);
            let same_email = holders.clone().any(|other| same_email(dpd, other));
            let same_name = holders.clone().any(|other| same_name(dpd, other));
            match (same_email, same_name) {
                (true, true) => push(format!(
                    "Le DPD a la même adresse e-mail et porte le même nom que {whom}."
                )),
                (true, false) => push(format!("Le DPD a la même adresse e-mail que {whom}.")),
                (false, true) => push(format!("Le DPD porte le même nom que {whom}.")),
                (false, false) => {}
            }
        }
        if let Some(title) = dpd.job_title.filter(|title| is_mayor(title)) {
            push(format!(
                "Le DPD ne peut pas être le maire (fonction : {}).",
                title.trim()
            ));
        }
    }
    if !problems.is_empty() {
        return Check::new(codes::DPD_DISTINCT, CheckStatus::Failed, problems.join(" "));
    }
    let compared: Vec<&str> = others
        .iter()
        .filter(|(role, _, _)| contacts.iter().any(|c| c.role == *role))
        .map(|(_, _, of_whom)| *of_whom)
        .collect();
    let who = dpds
        .iter()
        .map(|dpd| display_name(dpd))
        .filter(|name| !name.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let subject = if who.is_empty() {
        "Le DPD".to_owned()
    } else {
        format!("Le DPD ({who})")
    };
    let reason = if compared.is_empty() {
        format!("{subject} n'est pas le maire.")
    } else {
        format!(
            "{subject} est distinct {} et n'est pas le maire.",
            compared.join(" et ")
        )
    };
    Check::new(codes::DPD_DISTINCT, CheckStatus::Passed, reason)
}

fn display_name(contact: &ContactFact) -> String {
    let name = [contact.given_name, contact.family_name]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        contact.email.trim().to_owned()
    } else {
        name
    }
}

/// Same non-blank e-mail, ignoring case and surrounding spaces.
fn same_email(a: &ContactFact, b: &ContactFact) -> bool {
    let a = normalize_address(a.email);
    !a.is_empty() && a == normalize_address(b.email)
}

/// Same non-blank full name, ignoring case, accents, punctuation, spacing and the order of
/// the words (so a given name typed as family name, or both in one field, still match).
fn same_name(a: &ContactFact, b: &ContactFact) -> bool {
    let a = name_key(a);
    !a.is_empty() && a == name_key(b)
}

fn name_key(contact: &ContactFact) -> Vec<String> {
    let mut words: Vec<String> = [contact.given_name, contact.family_name]
        .into_iter()
        .flatten()
        .flat_map(normalized_words)
        .collect();
    words.sort();
    words
}

/// Whether a job title names the mayor: one of its words is « maire » (case and accents
/// ignored), e.g. « Maire », « Maire-adjoint », « Adjoint au maire » — but not « Mairie ».
fn is_mayor(job_title: &str) -> bool {
    normalized_words(job_title)
        .iter()
        .any(|word| word == "maire")
}

/// The words of `text`, lower-cased and without accents; any character that is not a letter
/// or a digit (space, hyphen, apostrophe, dot…) separates words.
fn normalized_words(text: &str) -> Vec<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        fold_char(c, &mut folded);
    }
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Appends `c` (already lower-case) without its accent; combining marks are dropped.
fn fold_char(c: char, out: &mut String) {
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ñ' | 'ń' | 'ň' | 'ņ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        '\u{0300}'..='\u{036f}' => "",
        other => {
            out.push(other);
            return;
        }
    };
    out.push_str(folded);
}

fn check_contact_emails(contacts: &[ContactFact]) -> Check {
    if contacts.is_empty() {
        return Check::new(
            codes::CONTACT_EMAILS,
            CheckStatus::Failed,
            "Aucun contact renseigné.",
        );
    }
    let bad: Vec<String> = contacts
        .iter()
        .filter(|contact| !is_valid_address(contact.email))
        .map(|contact| {
            let label = roles::label_fr(contact.role);
            let email = contact.email.trim();
            if email.is_empty() {
                format!("adresse vide ({label})")
            } else {
                format!("« {email} » ({label})")
            }
        })
        .collect();
    match bad.len() {
        0 if contacts.len() == 1 => Check::new(
            codes::CONTACT_EMAILS,
            CheckStatus::Passed,
            "L'adresse e-mail du contact est valide.",
        ),
        0 => Check::new(
            codes::CONTACT_EMAILS,
            CheckStatus::Passed,
            format!(
                "Les {} adresses e-mail des contacts sont valides.",
                contacts.len()
            ),
        ),
        1 => Check::new(
            codes::CONTACT_EMAILS,
            CheckStatus::Failed,
            format!("Adresse e-mail invalide : {}.", bad.join(", ")),
        ),
        _ => Check::new(
            codes::CONTACT_EMAILS,
            CheckStatus::Failed,
            format!("Adresses e-mail invalides : {}.", bad.join(", ")),
        ),
    }
}

fn check_editeur(form_uid: &str, generic_form_uid: &str, editeur: Option<&str>) -> Check {
    let form_uid = form_uid.trim();
    if form_uid == generic_form_uid.trim() {
        return Check::new(
            codes::EDITEUR_KNOWN,
            CheckStatus::Passed,
            "Formulaire DataPass standard, sans éditeur.",
        );
    }
    match editeur.map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => Check::new(
            codes::EDITEUR_KNOWN,
            CheckStatus::Passed,
            format!("Formulaire « {form_uid} » de l'éditeur {name}."),
        ),
        None => Check::new(
            codes::EDITEUR_KNOWN,
            CheckStatus::Failed,
            format!("Formulaire « {form_uid} » inconnu : aucun éditeur ne le déclare."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENERIC: &str = "api-particulier-quotient-familial";
    const MUSHROOM: &str = "api-particulier-city-family-mushroom-software";

    fn contact(
        role: &'static str,
        email: &'static str,
        given: &'static str,
        family: &'static str,
        job: Option<&'static str>,
    ) -> ContactFact<'static> {
        ContactFact {
            role,
            email,
            given_name: Some(given),
            family_name: Some(family),
            job_title: job,
        }
    }

    fn good_contacts() -> Vec<ContactFact<'static>> {
        vec![
            contact(
                roles::DEMANDEUR,
                "camille.martin@ville.fr",
                "Camille",
                "Martin",
                Some("Directrice de l'enfance"),
            ),
            contact(
                roles::CONTACT_METIER,
                "regie@ville.fr",
                "Louis",
                "Bernard",
                None,
            ),
            contact(
                roles::CONTACT_TECHNIQUE,
                "support@mushroom.fr",
                "Support",
                "Mushroom",
                None,
            ),
            contact(
                roles::DPD,
                "dpd@ville.fr",
                "Élodie",
                "Lefèvre",
                Some("Responsable RGPD"),
            ),
            contact(
                roles::RESPONSABLE_TRAITEMENT,
                "maire@ville.fr",
                "Jean",
                "Dupont",
                Some("Maire"),
            ),
        ]
    }

    fn input<'a>(contacts: &'a [ContactFact<'a>]) -> CheckInput<'a> {
        CheckInput {
            siret: "21750001600019",
            sirene: SireneFact::Active {
                name: Some("VILLE DE PARIS".to_owned()),
            },
            deliberation_url: Some("https://ville.fr/deliberation-qf.pdf"),
            has_deliberation_file: false,
            contacts,
            form_uid: GENERIC,
            generic_form_uid: GENERIC,
            editeur_for_form: None,
        }
    }

    fn check(input: &CheckInput, code: &str) -> Check {
        run_checks(input)
            .into_iter()
            .find(|c| c.code == code)
            .unwrap_or_else(|| panic!("no check {code}"))
    }

    fn dpd_check(contacts: &[ContactFact]) -> Check {
        check(&input(contacts), codes::DPD_DISTINCT)
    }

    fn with_dpd(dpd: ContactFact<'static>) -> Vec<ContactFact<'static>> {
        let mut contacts: Vec<ContactFact<'static>> = good_contacts()
            .into_iter()
            .filter(|c| c.role != roles::DPD)
            .collect();
        contacts.push(dpd);
        contacts
    }

    #[test]
    fn a_good_request_passes_everything_in_order() {
        let contacts = good_contacts();
        let checks = run_checks(&input(&contacts));
        let order: Vec<&str> = checks.iter().map(|c| c.code).collect();
        assert_eq!(order, codes::ALL);
        for c in &checks {
            assert_eq!(c.status, CheckStatus::Passed, "{c:?}");
            assert!(!c.label.is_empty() && c.label != "Vérification", "{c:?}");
        }
        assert!(failed(&checks).is_empty());
        assert_eq!(
            checks[3].reason,
            "Le DPD (Élodie Lefèvre) est distinct du demandeur et du responsable de traitement et n'est pas le maire."
        );
        assert_eq!(
            checks[4].reason,
            "Les 5 adresses e-mail des contacts sont valides."
        );
    }

    #[test]
    fn status_codes_labels_and_serialization() {
        assert_eq!(CheckStatus::Passed.as_str(), "passed");
        assert_eq!(CheckStatus::Failed.as_str(), "failed");
        assert_eq!(CheckStatus::Unknown.as_str(), "unknown");
        assert_eq!(CheckStatus::Passed.label_fr(), "Conforme");
        assert_eq!(CheckStatus::Failed.label_fr(), "Non conforme");
        assert_eq!(CheckStatus::Unknown.label_fr(), "Indéterminé");
        let c = Check::new(codes::SIRENE_ACTIVE, CheckStatus::Unknown, "x");
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "code": "sirene_active",
                "label": "Établissement actif dans Sirene",
                "status": "unknown",
                "reason": "x",
            })
        );
    }

    #[test]
    fn failed_keeps_only_failures() {
        let contacts: Vec<ContactFact> = Vec::new();
        let mut bad = input(&contacts);
        bad.siret = "21750001600018";
        bad.sirene = SireneFact::NotConfigured;
        let checks = run_checks(&bad);
        let codes: Vec<&str> = failed(&checks).iter().map(|c| c.code).collect();
        assert_eq!(
            codes,
            [
                codes::SIRET_VALID,
                codes::DPD_DISTINCT,
                codes::CONTACT_EMAILS
            ]
        );
    }

    #[test]
    fn siret_check() {
        let contacts = good_contacts();
        let mut i = input(&contacts);
        let ok = check(&i, codes::SIRET_VALID);
        assert_eq!(ok.status, CheckStatus::Passed);
        assert_eq!(ok.reason, "Le SIRET 21750001600019 est valide.");
        i.siret = "21750001600018";
        let bad = check(&i, codes::SIRET_VALID);
        assert_eq!(bad.status, CheckStatus::Failed);
        assert_eq!(bad.reason, "La clé de contrôle du SIRET est invalide.");
        i.siret = "2175";
        assert_eq!(
            check(&i, codes::SIRET_VALID).reason,
            "Le SIRET doit comporter 14 chiffres (4 saisis)."
        );
    }

    #[test]
    fn sirene_check() {
        let contacts = good_contacts();
        let mut i = input(&contacts);
        let cases = [
            (
                SireneFact::Active {
                    name: Some("COMMUNE DE TRIFOUILLY".to_owned()),
                },
                CheckStatus::Passed,
                "Établissement actif dans Sirene : COMMUNE DE TRIFOUILLY.",
            ),
            (
                SireneFact::Active { name: None },
                CheckStatus::Passed,
                "Établissement actif dans Sirene.",
            ),
            (
                SireneFact::Closed,
                CheckStatus::Failed,
                "Sirene indique un établissement fermé.",
            ),
            (
                SireneFact::NotFound,
                CheckStatus::Failed,
                "SIRET inconnu de Sirene.",
            ),
            (
                SireneFact::NotConfigured,
                CheckStatus::Unknown,
                "Sirene n'est pas configuré : vérification à faire à la main.",
            ),
            (
                SireneFact::Unavailable("Sirene n'a pas répondu à temps.".to_owned()),
                CheckStatus::Unknown,
                "Sirene n'a pas pu être consulté : Sirene n'a pas répondu à temps.",
            ),
        ];
        for (fact, status, reason) in cases {
            i.sirene = fact;
            let c = check(&i, codes::SIRENE_ACTIVE);
            assert_eq!((c.status, c.reason.as_str()), (status, reason));
        }
    }

    #[test]
    fn deliberation_check() {
        let contacts = good_contacts();
        let mut i = input(&contacts);
        let c = check(&i, codes::DELIBERATION_PRESENT);
        assert_eq!(c.status, CheckStatus::Passed);
        assert_eq!(
            c.reason,
            "Délibération en ligne : https://ville.fr/deliberation-qf.pdf"
        );

        i.deliberation_url = None;
        i.has_deliberation_file = true;
        let c = check(&i, codes::DELIBERATION_PRESENT);
        assert_eq!(c.status, CheckStatus::Passed);
        assert_eq!(c.reason, "Délibération jointe en fichier.");

        // A file is enough even when the URL is wrong.
        i.deliberation_url = Some("voir pièce jointe");
        assert_eq!(
            check(&i, codes::DELIBERATION_PRESENT).status,
            CheckStatus::Passed
        );

        i.has_deliberation_file = false;
        for absent in [None, Some(""), Some("   ")] {
            i.deliberation_url = absent;
            let c = check(&i, codes::DELIBERATION_PRESENT);
            assert_eq!(c.status, CheckStatus::Failed);
            assert_eq!(c.reason, "Délibération absente : ni fichier joint, ni URL.");
        }
        for invalid in [
            "voir pièce jointe",
            "ville.fr/deliberation.pdf",
            "ftp://ville.fr/deliberation.pdf",
            "file:///tmp/deliberation.pdf",
            "https://",
            "mailto:mairie@ville.fr",
        ] {
            i.deliberation_url = Some(invalid);
            let c = check(&i, codes::DELIBERATION_PRESENT);
            assert_eq!(c.status, CheckStatus::Failed, "{invalid}");
            assert_eq!(
                c.reason,
                format!(
                    "URL invalide pour la délibération : « {invalid} » (adresse http ou https complète attendue)."
                )
            );
        }
        i.deliberation_url = Some(" http://mairie.example/délibérations/2024 QF.pdf ");
        assert_eq!(
            check(&i, codes::DELIBERATION_PRESENT).status,
            CheckStatus::Passed
        );
    }

    #[test]
    fn dpd_missing() {
        let contacts: Vec<ContactFact> = good_contacts()
            .into_iter()
            .filter(|c| c.role != roles::DPD)
            .collect();
        let c = dpd_check(&contacts);
        assert_eq!(c.status, CheckStatus::Failed);
        assert_eq!(c.reason, "Aucun DPD renseigné.");
    }

    #[test]
    fn dpd_with_the_demandeur_email_in_other_case() {
        let mut contacts = with_dpd(contact(
            roles::DPD,
            " DPD@Ville.fr ",
            "Élodie",
            "Lefèvre",
            None,
        ));
        contacts[0].email = "dpd@ville.fr";
        let c = dpd_check(&contacts);
        assert_eq!(c.status, CheckStatus::Failed);
        assert_eq!(
            c.reason,
            "Le DPD a la même adresse e-mail que le demandeur."
        );
    }

    #[test]
    fn dpd_with_the_responsable_email() {
        let contacts = with_dpd(contact(
            roles::DPD,
            "Maire@Ville.FR",
            "Sophie",
            "Durand",
            None,
        ));
        let c = dpd_check(&contacts);
        assert_eq!(c.status, CheckStatus::Failed);
        assert_eq!(
            c.reason,
            "Le DPD a la même adresse e-mail que le responsable de traitement."
        );
    }

    #[test]
    fn dpd_with_the_demandeur_name_and_another_email() {
        let mut contacts = with_dpd(contact(
            roles::DPD,
            "dpd@ville.fr",
            "Élodie",
            "Lefèvre",
            None,
        ));
        contacts[0].given_name = Some("elodie ");
        contacts[0].family_name = Some("  LEFEVRE");
        let c = dpd_check(&contacts);
        assert_eq!(c.status, CheckStatus::Failed);
        assert_eq!(c.reason, "Le DPD porte le même nom que le demandeur.");

        // Given and family names swapped.
        contacts[0].given_name = Some("LEFEVRE");
        contacts[0].family_name = Some("elodie");
        assert_eq!(
            dpd_check(&contacts).reason,
            "Le DPD porte le même nom que le demandeur."
        );

        // The whole name in one field, with extra spaces.
        contacts[0].given_name = None;
        contacts[0].family_name = Some("elodie   LEFEVRE");
        assert_eq!(
            dpd_check(&contacts).reason,
            "Le DPD porte le même nom que le demandeur."
        );
    }

    #[test]
    fn dpd_with_the_responsable_name_hyphens_and_apostrophes() {
        let mut contacts = with_dpd(contact(
            roles::DPD,
            "dpd@ville.fr",
            "Jean-Noël",
            "D'Aubigné",
            None,
        ));
        let rt = contacts
            .iter_mut()
            .find(|c| c.role == roles::RESPONSABLE_TRAITEMENT)
            .unwrap();
        rt.given_name = Some("JEAN NOEL");
        rt.family_name = Some("d’aubigne");
        let c = dpd_check(&contacts);
        assert_eq!(c.status, CheckStatus::Failed);
        assert_eq!(
            c.reason,
            "Le DPD porte le même nom que le responsable de traitement."
        );
    }

    #[test]
    fn dpd_same_person_as_demandeur_is_named_once_per_role() {
        let contacts = with_dpd(contact(
            roles::DPD,
            "Camille.Martin@ville.fr",
            "camille",
            "martin",
            None,
        ));
        assert_eq!(
            dpd_check(&contacts).reason,
            "Le DPD a la même adresse e-mail et porte le même nom que le demandeur."
        );
    }

    #[test]
    fn dpd_may_not_be_the_mayor() {
        for title in [
            "Maire",
            " maire ",
            "Adjoint au maire",
            "Maire-adjoint",
            "MAIRE ADJOINTE",
            "Maire délégué",
        ] {
            let contacts = with_dpd(contact(
                roles::DPD,
                "dpd@ville.fr",
                "Sophie",
                "Durand",
                Some(title),
            ));
            let c = dpd_check(&contacts);
            assert_eq!(c.status, CheckStatus::Failed, "{title}");
            assert_eq!(
                c.reason,
                format!(
                    "Le DPD ne peut pas être le maire (fonction : {}).",
                    title.trim()
                )
            );
        }
    }

    #[test]
    fn dpd_lists_every_problem() {
        let contacts = with_dpd(contact(
            roles::DPD,
            "maire@ville.fr",
            "Camille",
            "Martin",
            Some("Maire"),
        ));
        assert_eq!(
            dpd_check(&contacts).reason,
            "Le DPD porte le même nom que le demandeur. \
             Le DPD a la même adresse e-mail que le responsable de traitement. \
             Le DPD ne peut pas être le maire (fonction : Maire)."
        );
    }

    #[test]
    fn a_distinct_dpd_passes() {
        for title in [
            Some("Responsable RGPD"),
            Some("Secrétaire de mairie"),
            Some("Déléguée à la protection des données"),
            None,
        ] {
            let contacts = with_dpd(contact(
                roles::DPD,
                "rgpd@agglo.fr",
                "Élodie",
                "Lefèvre",
                title,
            ));
            let c = dpd_check(&contacts);
            assert_eq!(c.status, CheckStatus::Passed, "{title:?}: {}", c.reason);
        }
        // Blank names and e-mails never make two contacts « the same ».
        let contacts = [
            ContactFact {
                role: roles::DEMANDEUR,
                email: "",
                given_name: None,
                family_name: Some(" "),
                job_title: None,
            },
            ContactFact {
                role: roles::DPD,
                email: "",
                given_name: Some(""),
                family_name: None,
                job_title: None,
            },
        ];
        let c = dpd_check(&contacts);
        assert_eq!(c.status, CheckStatus::Passed, "{}", c.reason);
        assert_eq!(
            c.reason,
            "Le DPD est distinct du demandeur et n'est pas le maire."
        );
    }

    #[test]
    fn dpd_without_other_roles() {
        let contacts = [contact(
            roles::DPD,
            "dpd@ville.fr",
            "Élodie",
            "Lefèvre",
            None,
        )];
        let c = dpd_check(&contacts);
        assert_eq!(c.status, CheckStatus::Passed);
        assert_eq!(c.reason, "Le DPD (Élodie Lefèvre) n'est pas le maire.");
    }

    #[test]
    fn contact_emails_check() {
        let mut contacts = good_contacts();
        contacts[1].email = "regie@ville";
        contacts[3].email = "dpd ville@ville.fr";
        let c = check(&input(&contacts), codes::CONTACT_EMAILS);
        assert_eq!(c.status, CheckStatus::Failed);
        assert_eq!(
            c.reason,
            "Adresses e-mail invalides : « regie@ville » (Contact métier), \
             « dpd ville@ville.fr » (Délégué à la protection des données)."
        );

        let mut contacts = good_contacts();
        contacts[0].email = "  ";
        let c = check(&input(&contacts), codes::CONTACT_EMAILS);
        assert_eq!(
            c.reason,
            "Adresse e-mail invalide : adresse vide (Demandeur)."
        );

        let one = [contact(roles::DPD, "DPD@Ville.fr", "A", "B", None)];
        let c = check(&input(&one), codes::CONTACT_EMAILS);
        assert_eq!(c.status, CheckStatus::Passed);
        assert_eq!(c.reason, "L'adresse e-mail du contact est valide.");

        let c = check(&input(&[]), codes::CONTACT_EMAILS);
        assert_eq!(c.status, CheckStatus::Failed);
        assert_eq!(c.reason, "Aucun contact renseigné.");
    }

    #[test]
    fn editeur_check() {
        let contacts = good_contacts();
        let mut i = input(&contacts);
        let c = check(&i, codes::EDITEUR_KNOWN);
        assert_eq!(c.status, CheckStatus::Passed);
        assert_eq!(c.reason, "Formulaire DataPass standard, sans éditeur.");

        i.form_uid = MUSHROOM;
        i.editeur_for_form = Some("Mushroom Software");
        let c = check(&i, codes::EDITEUR_KNOWN);
        assert_eq!(c.status, CheckStatus::Passed);
        assert_eq!(
            c.reason,
            "Formulaire « api-particulier-city-family-mushroom-software » de l'éditeur Mushroom Software."
        );

        i.editeur_for_form = None;
        let c = check(&i, codes::EDITEUR_KNOWN);
        assert_eq!(c.status, CheckStatus::Failed);
        assert_eq!(
            c.reason,
            "Formulaire « api-particulier-city-family-mushroom-software » inconnu : aucun éditeur ne le déclare."
        );
    }

    #[test]
    fn words_are_folded() {
        assert_eq!(
            normalized_words("  Élodie-Anaïs  d’ŒUVRAY o'brien Ç "),
            ["elodie", "anais", "d", "oeuvray", "o", "brien", "c"]
        );
        // Decomposed accents (combining marks) fold too.
        assert_eq!(normalized_words("E\u{301}lodie"), ["elodie"]);
        assert!(is_mayor("Adjoint au Maire"));
        assert!(!is_mayor("Mairie"));
        assert!(!is_mayor("Secrétaire de mairie"));
    }
}
