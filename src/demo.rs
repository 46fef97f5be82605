//! Demo data: a realistic, consistent and deterministic data set (no randomness), dated
//! relative to the day it is loaded, so every state and every token stage can be seen.

use chrono::{Days, Months, NaiveDate, NaiveDateTime, NaiveTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    collectivites, editeur_forms, editeurs, form_activations, habilitation_requests, habilitations,
    hubee_subscriptions, request_contacts, tokens,
};
use crate::domain::calendar;
use crate::domain::hubee::SubscriptionStatus;
use crate::domain::request_state::{RequestState, habilitation};
use crate::domain::siret::with_check_digit;
use crate::models::collectivites::Collectivite;
use crate::models::editeurs::{Editeur, EditeurForm};
use crate::models::events::record_with_id as log;
use crate::models::hubee::{HubeeSubscription, PROCESS_CODE};
use crate::models::requests::{Habilitation, HabilitationRequest, RequestContact, roles};
use crate::models::tokens::Token;

use crate::domain::form_url::GENERIC_FORM_UID;
use crate::domain::roles::StaffRole;

/// The staff member the demo timeline names as instructeur.
pub const DEMO_INSTRUCTEUR: &str = "instructeur@demo.api.gouv.fr";
/// The demo administrator.
pub const DEMO_ADMIN: &str = "admin@demo.api.gouv.fr";
/// Demo éditeur members: (address, index of the éditeur in `EDITEURS`).
pub const DEMO_EDITEUR_MEMBERS: [(&str, usize); 2] = [
    ("equipe@mushroom-software.fr", 0),
    ("equipe@arpege-citoyen.fr", 1),
];

/// What a load created.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub editeurs: usize,
    pub collectivites: usize,
    pub requests: usize,
    pub tokens: usize,
    pub subscriptions: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} éditeurs, {} collectivités, {} demandes, {} jetons, {} abonnements HubEE",
            self.editeurs, self.collectivites, self.requests, self.tokens, self.subscriptions
        )
    }
}

/// (name, SIRET prefix "21" commune / "26" CCAS / "20" EPCI, kind, COG, postal code, département)
const PLACES: [(&str, &str, &str, &str, &str); 50] = [
    ("Chatillon-en-Bois", "commune", "26079", "26410", "26"),
    ("Villeurbanne", "commune", "69266", "69100", "69"),
    ("Montreuil", "commune", "93048", "93100", "93"),
    ("Saint-Malo", "commune", "35288", "35400", "35"),
    ("Annecy", "commune", "74010", "74000", "74"),
    ("Quimper", "commune", "29232", "29000", "29"),
    ("Arles", "commune", "13004", "13200", "13"),
    ("Colmar", "commune", "68066", "68000", "68"),
    ("Niort", "commune", "79191", "79000", "79"),
    ("Chambéry", "commune", "73065", "73000", "73"),
    ("Vannes", "commune", "56260", "56000", "56"),
    ("Bourg-en-Bresse", "commune", "01053", "01000", "01"),
    ("Saint-Brieuc", "commune", "22278", "22000", "22"),
    ("Laval", "commune", "53130", "53000", "53"),
    ("Albi", "commune", "81004", "81000", "81"),
    ("Auxerre", "commune", "89024", "89000", "89"),
    ("Blois", "commune", "41018", "41000", "41"),
    ("Épinal", "commune", "88160", "88000", "88"),
    ("Périgueux", "commune", "24322", "24000", "24"),
    ("Mâcon", "commune", "71270", "71000", "71"),
    ("Agen", "commune", "47001", "47000", "47"),
    ("Lons-le-Saunier", "commune", "39300", "39000", "39"),
    ("Alençon", "commune", "61001", "61000", "61"),
    ("Cahors", "commune", "46042", "46000", "46"),
    ("Guéret", "commune", "23096", "23000", "23"),
    ("Rodez", "commune", "12202", "12000", "12"),
    ("Dax", "commune", "40088", "40100", "40"),
    ("Vierzon", "commune", "18279", "18100", "18"),
    ("Sète", "commune", "34301", "34200", "34"),
    ("Fougères", "commune", "35115", "35300", "35"),
    ("Lannion", "commune", "22113", "22300", "22"),
    ("Saint-Dié-des-Vosges", "commune", "88413", "88100", "88"),
    ("Cognac", "commune", "16102", "16100", "16"),
    ("Millau", "commune", "12145", "12100", "12"),
    ("Vichy", "commune", "03310", "03200", "03"),
    ("Draguignan", "commune", "83050", "83300", "83"),
    ("Montbéliard", "commune", "25388", "25200", "25"),
    ("Saumur", "commune", "49328", "49400", "49"),
    ("Bergerac", "commune", "24037", "24100", "24"),
    ("Haguenau", "commune", "67180", "67500", "67"),
    ("Sarlat-la-Canéda", "commune", "24520", "24200", "24"),
    ("Autun", "commune", "71014", "71400", "71"),
    ("Pontarlier", "commune", "25462", "25300", "25"),
    ("Saint-Omer", "commune", "62765", "62500", "62"),
    ("Issoire", "commune", "63178", "63500", "63"),
    ("CCAS de Roubaix", "ccas", "59512", "59100", "59"),
    ("CCAS de Besançon", "ccas", "25056", "25000", "25"),
    ("CCAS de Tourcoing", "ccas", "59599", "59200", "59"),
    (
        "Communauté de communes du Pays de Fougères",
        "epci",
        "35115",
        "35300",
        "35",
    ),
    (
        "Communauté d'agglomération du Grand Dax",
        "epci",
        "40088",
        "40100",
        "40",
    ),
];

/// Éditeurs: (name, SIRET prefix13, contact technique, APIs, form uid, form name).
const EDITEURS: [(&str, &str, &str, &str, &str, &str); 4] = [
    (
        "Mushroom Software",
        "4123456780001",
        "api@mushroom-software.fr",
        "quotient_familial_v2,statut_etudiant",
        "api-particulier-city-family-mushroom-software",
        "Formulaire QF — Mushroom Software",
    ),
    (
        "Arpège Citoyen",
        "3809876540002",
        "integration@arpege-citoyen.fr",
        "quotient_familial_v2",
        "api-particulier-arpege-citoyen-famille",
        "Portail Famille — Arpège Citoyen",
    ),
    (
        "Logiciels Berger-Martin",
        "5201234560003",
        "support.api@berger-martin.fr",
        "quotient_familial_v2,complementaire_sante_solidaire",
        "api-particulier-berger-martin-enfance",
        "Enfance Jeunesse — Berger-Martin",
    ),
    (
        "Ciril Famille",
        "6305554440004",
        "jetons@ciril-famille.fr",
        "quotient_familial_v2",
        "api-particulier-ciril-famille",
        "Ciril Famille — accueil de loisirs",
    ),
];

/// Reusable reasons: (kind, title, text).
const REASON_TEMPLATES: [(&str, &str, &str); 4] = [
    (
        "request_changes",
        "Délibération sans mention du QF",
        "La délibération jointe ne mentionne pas l'utilisation du quotient familial CAF/MSA pour la tarification de vos services. Merci de joindre la délibération tarifaire en vigueur qui le prévoit.",
    ),
    (
        "request_changes",
        "DPD identique au demandeur",
        "Le délégué à la protection des données (DPD) doit être une personne distincte du demandeur et du responsable de traitement. Merci de renseigner les coordonnées de votre DPD.",
    ),
    (
        "refuse",
        "Collectivité non concernée",
        "Votre structure ne tarifie pas ses services selon le quotient familial : le formulaire de collecte du QF ne lui est pas utile. N'hésitez pas à nous écrire si votre situation évolue.",
    ),
    (
        "refuse",
        "Demande en double",
        "Une demande d'habilitation est déjà en cours ou validée pour votre collectivité : nous clôturons celle-ci pour ne garder qu'un seul dossier.",
    ),
];

/// Days left on each validated collectivité's token (indices 0..=29), covering a fresh token,
/// 80/25/3 days left, the expiry day and expired ones.
const TOKEN_DAYS_LEFT: [i64; 30] = [
    547, 80, 25, 3, -12, 400, 320, 260, 200, 150, 120, 95, 90, 60, 45, 30, 15, 7, 0, -1, -45, 500,
    480, 430, 380, 350, 300, 240, 70, 110,
];

const GIVEN_NAMES: [&str; 12] = [
    "Camille", "Julien", "Sophie", "Nicolas", "Élodie", "Thomas", "Claire", "Mathieu", "Aurélie",
    "Antoine", "Nathalie", "Karim",
];
const FAMILY_NAMES: [&str; 12] = [
    "Martin",
    "Bernard",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Garnier",
    "Roussel",
    "Faure",
    "Mercier",
    "Benali",
    "Chevalier",
    "Perrin",
];

/// The SIRET of demo collectivité `index` (`demo-collectivite-<index>`), if there is one.
pub fn demo_siret(index: usize) -> Option<String> {
    let (_, kind, cog, _, _) = PLACES.get(index)?;
    let siren_prefix = match *kind {
        "ccas" => "26",
        "epci" => "20",
        _ => "21",
    };
    with_check_digit(&format!("{siren_prefix}{cog}000{:03}", index % 1000))
}

/// Whether the database holds no business data yet.
pub fn is_empty(conn: &mut DbConnection) -> QueryResult<bool> {
    let collectivites: i64 = collectivites::table.count().get_result(conn)?;
    let editeurs: i64 = editeurs::table.count().get_result(conn)?;
    Ok(collectivites == 0 && editeurs == 0)
}

/// Loads the demo data set if the database is empty; returns what was created, if anything.
pub fn load_if_empty(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Option<Summary>> {
    crate::db::transaction(conn, |conn| {
        if !is_empty(conn)? {
            return Ok(None);
        }
        load(conn, now).map(Some)
    })
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.to_lowercase().chars() {
        let c = match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

fn ascii_lower(text: &str) -> String {
    slug(text).replace('-', "")
}

fn at(date: NaiveDate, hour: u32) -> NaiveDateTime {
    date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN))
}

fn days_before(date: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    } else {
        date.checked_add_days(Days::new(days.unsigned_abs()))
    }
    .unwrap_or(date)
}

/// The date `n` business days before `date`.
fn business_days_before(date: NaiveDate, n: u32) -> NaiveDate {
    let mut day = date;
    let mut left = n;
    while left > 0 {
        day = day.pred_opt().unwrap_or(day);
        if calendar::is_business_day(day) {
            left -= 1;
        }
    }
    day
}

struct Plan {
    state: RequestState,
    reopening: bool,
    validated: bool,
}

fn plan(index: usize) -> Option<Plan> {
    let (state, reopening, validated) = match index {
        0..=27 => (RequestState::Validated, false, true),
        28 => (RequestState::Submitted, true, true),
        29 => (RequestState::Draft, true, true),
        30..=37 => (RequestState::Submitted, false, false),
        38..=40 => (RequestState::ChangesRequested, false, false),
        41..=43 => (RequestState::Draft, false, false),
        44 | 45 => (RequestState::Refused, false, false),
        46 => (RequestState::Revoked, false, true),
        47 => (RequestState::Archived, false, false),
        _ => return None,
    };
    Some(Plan {
        state,
        reopening,
        validated,
    })
}

fn load(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Summary> {
    let today = crate::domain::calendar::paris_date(now);
    let mut summary = Summary::default();

    for (email, role) in [
        (DEMO_ADMIN, StaffRole::Admin),
        (DEMO_INSTRUCTEUR, StaffRole::Instructeur),
    ] {
        crate::models::accounts::upsert_staff(conn, email, role, "demo", now)?;
    }

    for (i, (kind, title, body)) in REASON_TEMPLATES.iter().enumerate() {
        diesel::insert_into(crate::db::schema::reason_templates::table)
            .values((
                crate::db::schema::reason_templates::id.eq(demo_id("reason", i)),
                crate::db::schema::reason_templates::kind.eq(kind),
                crate::db::schema::reason_templates::title.eq(title),
                crate::db::schema::reason_templates::body.eq(body),
                crate::db::schema::reason_templates::created_at.eq(now),
                crate::db::schema::reason_templates::updated_at.eq(now),
            ))
            .execute(conn)?;
    }

    let mut editeur_rows = Vec::new();
    for (i, (name, prefix, contact, apis, form_uid, form_name)) in EDITEURS.iter().enumerate() {
        let created = at(days_before(today, 700 - 30 * i as i64), 9);
        let editeur = Editeur {
            id: demo_id("editeur", i),
            name: (*name).to_owned(),
            siret: with_check_digit(prefix).unwrap_or_default(),
            contact_technique_email: (*contact).to_owned(),
            apis: (*apis).to_owned(),
            created_at: created,
            updated_at: created,
        };
        diesel::insert_into(editeurs::table)
            .values(&editeur)
            .execute(conn)?;
        diesel::insert_into(editeur_forms::table)
            .values(EditeurForm {
                id: demo_id("form", i),
                editeur_id: editeur.id.clone(),
                form_uid: (*form_uid).to_owned(),
                name: (*form_name).to_owned(),
                public_url: format!("https://datapass.api.gouv.fr/demandes/{form_uid}/nouveau"),
                created_at: created,
            })
            .execute(conn)?;
        for (email, _) in DEMO_EDITEUR_MEMBERS.iter().filter(|(_, e)| *e == i) {
            crate::models::accounts::add_editeur_member(conn, &editeur.id, email, "demo", created)?;
        }
        editeur_rows.push((editeur, (*form_uid).to_owned()));
        summary.editeurs += 1;
    }

    for (index, (name, kind, cog, postal_code, departement)) in PLACES.iter().enumerate() {
        let siret = demo_siret(index).unwrap_or_default();
        let created = at(days_before(today, 900 - index as i64 * 3), 10);
        let collectivite = Collectivite {
            id: demo_id("collectivite", index),
            siret: siret.clone(),
            name: (*name).to_owned(),
            kind: (*kind).to_owned(),
            cog: Some((*cog).to_owned()),
            postal_code: Some((*postal_code).to_owned()),
            departement: Some((*departement).to_owned()),
            active: index != 49,
            had_hubee_account: index % 3 == 0,
            created_at: created,
            updated_at: created,
        };
        diesel::insert_into(collectivites::table)
            .values(&collectivite)
            .execute(conn)?;
        summary.collectivites += 1;

        let Some(plan) = plan(index) else {
            continue;
        };
        let editeur = (index % 5 != 4).then(|| &editeur_rows[index % editeur_rows.len()]);
        let form_uid = editeur
            .map(|(_, uid)| uid.clone())
            .unwrap_or_else(|| GENERIC_FORM_UID.to_owned());
        let datapass_id = 12_000 + index as i64 * 7;
        let request_id = demo_id("request", index);

        // Dates: validated requests were approved when their token was issued.
        let days_left = TOKEN_DAYS_LEFT.get(index).copied().unwrap_or(300);
        let expires_on = days_before(today, -days_left);
        let issued_on = expires_on
            .checked_sub_months(Months::new(crate::domain::token::TOKEN_LIFETIME_MONTHS))
            .unwrap_or(today);
        let (created_at, submitted_at, validated_at) = if plan.validated {
            let validated_at = at(issued_on, 11);
            let submitted = at(business_days_before(issued_on, 2), 15);
            let created = at(days_before(issued_on, 12), 9);
            (created, Some(submitted), Some(validated_at))
        } else {
            // Pending requests: submitted 0 to 7 business days ago, so some are overdue.
            let submitted_day = business_days_before(today, (index % 8) as u32);
            let created = at(days_before(submitted_day, 5), 9);
            let submitted = (plan.state != RequestState::Draft)
                .then(|| at(submitted_day, 10 + (index % 6) as u32));
            (created, submitted, None)
        };
        let last_submitted_at = if plan.reopening && plan.state == RequestState::Submitted {
            Some(at(business_days_before(today, 1), 14))
        } else {
            submitted_at
        };
        let last_reason = match plan.state {
            RequestState::ChangesRequested => Some(
                "La délibération jointe ne mentionne pas l'utilisation du quotient familial CAF/MSA pour la tarification. Merci de joindre la délibération tarifaire en vigueur."
                    .to_owned(),
            ),
            RequestState::Refused => Some(
                "Le DPD désigné est également le demandeur : merci de désigner un délégué à la protection des données distinct et de déposer une nouvelle demande."
                    .to_owned(),
            ),
            _ => None,
        };
        let town = ascii_lower(name);
        let request = HabilitationRequest {
            id: request_id.clone(),
            datapass_id: Some(datapass_id),
            collectivite_id: collectivite.id.clone(),
            form_uid: form_uid.clone(),
            editeur_id: editeur.map(|(e, _)| e.id.clone()),
            state: plan.state,
            reopening: plan.reopening,
            scopes: "quotient_familial".to_owned(),
            purpose: Some(
                "Tarification des services périscolaires, de la restauration scolaire et de l'accueil de loisirs selon le quotient familial."
                    .to_owned(),
            ),
            deliberation_url: (index % 7 != 3).then(|| {
                format!("https://www.{}.fr/deliberations/tarification-qf-{}.pdf", slug(name), 2020 + index % 5)
            }),
            last_reason,
            created_at,
            last_submitted_at,
            last_validated_at: validated_at,
            last_event_at: Some(last_submitted_at.or(validated_at).unwrap_or(created_at)),
            updated_at: last_submitted_at.or(validated_at).unwrap_or(created_at),
        };
        diesel::insert_into(habilitation_requests::table)
            .values(&request)
            .execute(conn)?;
        summary.requests += 1;
        insert_contacts(conn, index, &request_id, &town, editeur.map(|(e, _)| e))?;
        record_timeline(conn, &request, &plan, submitted_at, validated_at)?;

        if !plan.validated {
            continue;
        }
        let validated_at = validated_at.unwrap_or(now);
        let habilitation = Habilitation {
            id: demo_id("habilitation", index),
            request_id: request_id.clone(),
            collectivite_id: collectivite.id.clone(),
            datapass_authorization_id: Some(50_000 + index as i64),
            slug: Some(format!("{datapass_id}-formulaire-qf")),
            state: if plan.state == RequestState::Revoked {
                habilitation::REVOKED
            } else {
                habilitation::ACTIVE
            }
            .to_owned(),
            validated_at,
            revoked_at: (plan.state == RequestState::Revoked)
                .then(|| at(days_before(today, 20), 16)),
            created_at: validated_at,
        };
        diesel::insert_into(habilitations::table)
            .values(&habilitation)
            .execute(conn)?;
        let revoked = plan.state == RequestState::Revoked;
        diesel::insert_into(tokens::table)
            .values(Token {
                id: demo_uuid(index),
                habilitation_id: habilitation.id.clone(),
                collectivite_id: collectivite.id.clone(),
                scopes: "quotient_familial".to_owned(),
                issued_at: validated_at,
                expires_on,
                revoked_at: revoked.then(|| at(days_before(today, 20), 16)),
                revocation_reason: revoked.then(|| {
                    "Habilitation révoquée à la demande de la collectivité (changement de logiciel).".to_owned()
                }),
                created_at: validated_at,
                updated_at: validated_at,
                next_reminder_on: if revoked {
                    None
                } else {
                    crate::domain::reminders::next_due_on(expires_on, None)
                },
            })
            .execute(conn)?;
        summary.tokens += 1;
        log(
            conn,
            format!("demo-event-token-{index:03}"),
            validated_at,
            "datapass",
            "token.issue",
            ("token", &demo_uuid(index)),
            Some(format!("Jeton émis, expire le {expires_on}")),
        )?;

        let status = match index {
            _ if revoked => SubscriptionStatus::Suspendu,
            0 | 28 => SubscriptionStatus::Inactif,
            5 => SubscriptionStatus::Refuse,
            9 => SubscriptionStatus::Suspendu,
            _ if index % 6 == 1 => SubscriptionStatus::Inactif,
            _ => SubscriptionStatus::Actif,
        };
        let api = editeur.is_some() && index % 2 == 0;
        diesel::insert_into(hubee_subscriptions::table)
            .values(HubeeSubscription {
                id: demo_id("hubee", index),
                collectivite_id: collectivite.id.clone(),
                process_code: PROCESS_CODE.to_owned(),
                hubee_id: (status != SubscriptionStatus::Inactif).then(|| {
                    format!(
                        "{:08x}-0000-4000-8000-{:012}",
                        0x5ab0_0000u32 + index as u32,
                        index
                    )
                }),
                status,
                access_mode: if api { "API" } else { "PORTAIL" }.to_owned(),
                notification_frequency: ["Unitaire", "Quotidienne", "Biquotidienne", "Aucune"]
                    [index % 4]
                    .to_owned(),
                notification_email: Some(format!("enfance@{town}.fr")),
                datapass_id: Some(datapass_id),
                activation_date: (status == SubscriptionStatus::Actif).then(|| validated_at.date()),
                end_date: None,
                local_admin_email: Some(contact_email(index, &town)),
                delegation_editeur_siret: if api {
                    editeur.map(|(e, _)| e.siret.clone())
                } else {
                    None
                },
                created_at: validated_at,
                updated_at: validated_at,
            })
            .execute(conn)?;
        summary.subscriptions += 1;

        // The form's state: one of each (never a pending activation, which a configured
        // FORM_API_KEY would send to the real form).
        let (form_state, live, error) = match index {
            5 => (
                crate::provisioning::FAILED,
                None,
                Some(
                    "Le formulaire QF a refusé l'activation (HTTP 422) : siret : n'est pas une collectivité éligible",
                ),
            ),
            9 => (crate::provisioning::DONE, Some(false), None),
            _ if index % 6 == 1 => (crate::provisioning::DONE, None, None),
            _ => (crate::provisioning::DONE, Some(true), None),
        };
        diesel::insert_into(form_activations::table)
            .values((
                form_activations::collectivite_id.eq(&collectivite.id),
                form_activations::state.eq(form_state),
                form_activations::editor.eq(editeur.map(|(e, _)| ascii_lower(&e.name))),
                form_activations::attempts.eq(1),
                form_activations::next_attempt_at.eq(validated_at),
                form_activations::last_error.eq(error),
                form_activations::requested_at.eq(validated_at),
                form_activations::activated_at
                    .eq((form_state == crate::provisioning::DONE).then_some(validated_at)),
                form_activations::live.eq(live),
                form_activations::live_checked_at.eq(live.map(|_| now)),
                form_activations::updated_at.eq(validated_at),
            ))
            .execute(conn)?;
    }
    Ok(summary)
}

fn contact_email(index: usize, town: &str) -> String {
    let given = ascii_lower(GIVEN_NAMES[index % GIVEN_NAMES.len()]);
    let family = ascii_lower(FAMILY_NAMES[index % FAMILY_NAMES.len()]);
    format!("{given}.{family}@{town}.fr")
}

fn insert_contacts(
    conn: &mut DbConnection,
    index: usize,
    request_id: &str,
    town: &str,
    editeur: Option<&Editeur>,
) -> QueryResult<()> {
    let person = |offset: usize| {
        let i = index + offset;
        (
            GIVEN_NAMES[i % GIVEN_NAMES.len()],
            FAMILY_NAMES[(i * 5 + 1) % FAMILY_NAMES.len()],
        )
    };
    // The demandeur's name matches the address `contact_email` gives them.
    let (dg, df) = (
        GIVEN_NAMES[index % GIVEN_NAMES.len()],
        FAMILY_NAMES[index % FAMILY_NAMES.len()],
    );
    let (mg, mf) = person(3);
    let (pg, pf) = person(7);
    let contacts = [
        (
            roles::DEMANDEUR,
            contact_email(index, town),
            Some(dg),
            Some(df),
            "Responsable du service enfance",
        ),
        (
            roles::CONTACT_METIER,
            format!("{}.{}@{town}.fr", ascii_lower(mg), ascii_lower(mf)),
            Some(mg),
            Some(mf),
            "Directrice de l'éducation",
        ),
        (
            roles::CONTACT_TECHNIQUE,
            editeur
                .map(|e| e.contact_technique_email.clone())
                .unwrap_or_else(|| format!("dsi@{town}.fr")),
            None,
            None,
            "Contact technique",
        ),
        (
            roles::DPD,
            format!("dpd@{town}.fr"),
            Some(pg),
            Some(pf),
            "Délégué à la protection des données",
        ),
    ];
    for (k, (role, email, given, family, job)) in contacts.into_iter().enumerate() {
        diesel::insert_into(request_contacts::table)
            .values(RequestContact {
                id: demo_id("contact", index * 10 + k),
                request_id: request_id.to_owned(),
                role: role.to_owned(),
                email,
                given_name: given.map(str::to_owned),
                family_name: family.map(str::to_owned),
                phone_number: Some(format!(
                    "01 {:02} {:02} {:02} {:02}",
                    40 + index % 50,
                    index % 97,
                    (index * 3) % 97,
                    (index * 7) % 97
                )),
                job_title: Some(job.to_owned()),
            })
            .execute(conn)?;
    }
    Ok(())
}

fn record_timeline(
    conn: &mut DbConnection,
    request: &HabilitationRequest,
    plan: &Plan,
    submitted_at: Option<NaiveDateTime>,
    validated_at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    let target = ("request", request.id.as_str());
    let id = |step: &str| format!("demo-event-{}-{step}", request.id);
    log(
        conn,
        id("create"),
        request.created_at,
        "datapass",
        "request.create",
        target,
        None,
    )?;
    if let Some(at) = submitted_at {
        log(
            conn,
            id("submit"),
            at,
            "datapass",
            "request.submit",
            target,
            None,
        )?;
    }
    if let Some(at) = validated_at {
        log(
            conn,
            id("approve"),
            at,
            DEMO_INSTRUCTEUR,
            "request.approve",
            target,
            None,
        )?;
    }
    if plan.reopening {
        log(
            conn,
            id("reopen"),
            request.updated_at,
            "datapass",
            "request.reopen",
            target,
            None,
        )?;
    }
    let closing = match plan.state {
        RequestState::ChangesRequested => Some("request.request_changes"),
        RequestState::Refused => Some("request.refuse"),
        RequestState::Revoked => Some("request.revoke"),
        RequestState::Archived => Some("request.archive"),
        _ => None,
    };
    if let Some(action) = closing {
        log(
            conn,
            id("decision"),
            request.updated_at,
            DEMO_INSTRUCTEUR,
            action,
            target,
            request.last_reason.clone(),
        )?;
    }
    Ok(())
}

/// A stable id for demo row `index` of `kind`.
fn demo_id(kind: &str, index: usize) -> String {
    format!("demo-{kind}-{index:03}")
}

/// A stable UUID-shaped token id.
fn demo_uuid(index: usize) -> String {
    format!("0d3e0000-0000-4000-8000-{:012}", index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::siret::Siret;

    #[test]
    fn every_demo_siret_is_valid_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (index, (_, kind, cog, _, _)) in PLACES.iter().enumerate() {
            let prefix = match *kind {
                "ccas" => "26",
                "epci" => "20",
                _ => "21",
            };
            let siret = with_check_digit(&format!("{prefix}{cog}000{:03}", index)).unwrap();
            assert!(Siret::parse(&siret).is_ok(), "{siret}");
            assert!(seen.insert(siret));
        }
        for (_, prefix, ..) in EDITEURS {
            assert!(Siret::parse(&with_check_digit(prefix).unwrap()).is_ok());
        }
    }

    #[test]
    fn plan_covers_every_state() {
        for state in RequestState::ALL {
            assert!(
                (0..PLACES.len()).any(|i| plan(i).is_some_and(|p| p.state == state)),
                "{state:?}"
            );
        }
        assert!((0..PLACES.len()).any(|i| plan(i).is_some_and(|p| p.reopening)));
    }

    #[test]
    fn slugs_are_ascii() {
        assert_eq!(slug("Saint-Dié-des-Vosges"), "saint-die-des-vosges");
        assert_eq!(ascii_lower("Épinal"), "epinal");
        assert_eq!(slug("CCAS de Roubaix"), "ccas-de-roubaix");
    }
}
