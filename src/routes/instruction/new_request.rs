//! Requests entered by staff (outside DataPass), with their délibération PDF.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use futures_util::StreamExt;

use super::super::see_other;
use super::{MAX_FORM_PARTS, MAX_PDF_BYTES, MAX_TEXT_BYTES};
use crate::auth::{PageCtx, Staff};
use crate::db::new_id;
use crate::db::schema::{
    deliberation_files, editeur_forms, editeurs, habilitation_requests, request_contacts,
};
use crate::domain::request_state::RequestState;
use crate::error::AppError;
use crate::models::events;
use crate::models::requests::{HabilitationRequest, RequestContact, roles};
use crate::state::AppState;

/// The fields of the staff request form, kept to re-render it after an error.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct NewRequestFields {
    pub siret: String,
    pub name: String,
    pub cog: String,
    pub postal_code: String,
    pub form_uid: String,
    pub deliberation_url: String,
    pub purpose: String,
    pub contacts: std::collections::BTreeMap<String, String>,
}

/// Contact fields of the form (`<role>_<field>`) and their labels.
const CONTACT_FIELDS: [(&str, &str); 5] = [
    ("email", "E-mail"),
    ("given_name", "Prénom"),
    ("family_name", "Nom"),
    ("phone_number", "Téléphone"),
    ("job_title", "Fonction"),
];
const FORM_ROLES: [&str; 4] = [
    roles::DEMANDEUR,
    roles::CONTACT_METIER,
    roles::CONTACT_TECHNIQUE,
    roles::DPD,
];

async fn render_new_form(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    fields: &NewRequestFields,
    errors: &[String],
) -> Result<HttpResponse, AppError> {
    let forms = state
        .db(|conn| {
            Ok(editeur_forms::table
                .inner_join(editeurs::table)
                .order(editeurs::name.asc())
                .select((editeur_forms::form_uid, editeur_forms::name, editeurs::name))
                .load::<(String, String, String)>(conn)?)
        })
        .await?;
    let mut context = page.context();
    context.insert("fields", fields);
    context.insert("errors", errors);
    context.insert("forms", &forms);
    context.insert(
        "generic_form_uid",
        crate::domain::form_url::GENERIC_FORM_UID,
    );
    context.insert(
        "roles",
        &FORM_ROLES
            .iter()
            .map(|r| (r.to_string(), roles::label_fr(r)))
            .collect::<Vec<_>>(),
    );
    context.insert("max_mb", &(MAX_PDF_BYTES / (1024 * 1024)));
    context.insert("contact_fields", &CONTACT_FIELDS);
    state.render_status(status, "instruction/new_request.html", context)
}

/// `GET /demandes/nouvelle`.
pub async fn new_request_form(
    state: web::Data<AppState>,
    Staff { page, .. }: Staff,
) -> Result<HttpResponse, AppError> {
    let fields = NewRequestFields {
        form_uid: crate::domain::form_url::GENERIC_FORM_UID.to_owned(),
        ..Default::default()
    };
    render_new_form(&state, &page, StatusCode::OK, &fields, &[]).await
}

/// Whether bytes are a PDF document (signature at the start, end marker near the end).
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    let start = &bytes[..bytes.len().min(1024)];
    let has_header = start.windows(5).any(|w| w == b"%PDF-");
    let tail = &bytes[bytes.len().saturating_sub(2048)..];
    let has_eof = tail.windows(5).any(|w| w == b"%%EOF");
    has_header && has_eof
}

/// `POST /demandes/nouvelle` (multipart): creates a submitted request for a collectivité
/// that wrote or called.
pub async fn create_request(
    state: web::Data<AppState>,
    Staff { page, user }: Staff,
    mut payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let mut fields = NewRequestFields::default();
    let mut pdf: Option<(String, Vec<u8>)> = None;
    let mut errors: Vec<String> = Vec::new();
    let mut parts = 0usize;
    let mut text_bytes = 0usize;
    while let Some(item) = payload.next().await {
        parts += 1;
        if parts > MAX_FORM_PARTS {
            return Err(AppError::BadRequest(format!(
                "Formulaire refusé : il compte plus de {MAX_FORM_PARTS} champs."
            )));
        }
        let mut field = item.map_err(|_| AppError::BadRequest("Formulaire illisible.".into()))?;
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_owned));
        let mut bytes = Vec::new();
        let limit = if name == "deliberation_file" {
            MAX_PDF_BYTES + 1
        } else {
            64 * 1024
        };
        let mut too_big = false;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| AppError::BadRequest("Envoi interrompu.".into()))?;
            if bytes.len() + chunk.len() > limit {
                too_big = true;
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "deliberation_file" {
            if too_big {
                errors.push(format!(
                    "La délibération dépasse {} Mo : réduisez le PDF ou donnez son adresse web.",
                    MAX_PDF_BYTES / (1024 * 1024)
                ));
            } else if !bytes.is_empty() {
                pdf = Some((
                    file_name.unwrap_or_else(|| "deliberation.pdf".into()),
                    bytes,
                ));
            }
            continue;
        }
        text_bytes += bytes.len();
        if too_big || text_bytes > MAX_TEXT_BYTES {
            return Err(AppError::BadRequest(
                "Formulaire refusé : un champ ou l'ensemble des champs est trop long.".into(),
            ));
        }
        let value = String::from_utf8_lossy(&bytes).trim().to_owned();
        match name.as_str() {
            "siret" => fields.siret = value,
            "name" => fields.name = value,
            "cog" => fields.cog = value,
            "postal_code" => fields.postal_code = value,
            "form_uid" => fields.form_uid = value,
            "deliberation_url" => fields.deliberation_url = value,
            "purpose" => fields.purpose = value,
            other
                if FORM_ROLES.iter().any(|r| {
                    CONTACT_FIELDS.iter().any(|(f, _)| {
                        other.strip_prefix(r).and_then(|x| x.strip_prefix('_')) == Some(f)
                    })
                }) =>
            {
                fields.contacts.insert(other.to_owned(), value);
            }
            _ => {}
        }
    }

    let siret = match crate::domain::siret::Siret::parse(&fields.siret) {
        Ok(s) => Some(s),
        Err(e) => {
            errors.push(format!("SIRET : {e}"));
            None
        }
    };
    if let Some((name, bytes)) = &pdf
        && !looks_like_pdf(bytes)
    {
        errors.push(format!(
            "Le fichier « {name} » n'est pas un PDF : joignez la délibération au format PDF."
        ));
    }
    let url_ok = !fields.deliberation_url.is_empty()
        && url::Url::parse(&fields.deliberation_url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !fields.deliberation_url.is_empty() && !url_ok {
        errors.push(
            "L'adresse de la délibération doit être une URL complète commençant par https://."
                .into(),
        );
    }
    if pdf.is_none() && fields.deliberation_url.is_empty() {
        errors.push(
            "La délibération est obligatoire : joignez le PDF ou donnez son adresse web.".into(),
        );
    }
    let contact = |role: &str, field: &str| {
        fields
            .contacts
            .get(&format!("{role}_{field}"))
            .cloned()
            .unwrap_or_default()
    };
    let mut contacts: Vec<RequestContact> = Vec::new();
    for role in FORM_ROLES {
        let email = crate::mail::normalize_address(&contact(role, "email"));
        if email.is_empty() {
            if role == roles::DEMANDEUR {
                errors.push("L'adresse e-mail du demandeur est obligatoire.".into());
            }
            continue;
        }
        if !crate::mail::is_valid_address(&email) {
            errors.push(format!(
                "{} : « {email} » n'est pas une adresse e-mail valide.",
                roles::label_fr(role)
            ));
            continue;
        }
        let opt = |f: &str| Some(contact(role, f)).filter(|v| !v.is_empty());
        contacts.push(RequestContact {
            id: new_id(),
            request_id: String::new(),
            role: role.to_owned(),
            email,
            given_name: opt("given_name"),
            family_name: opt("family_name"),
            phone_number: opt("phone_number"),
            job_title: opt("job_title"),
        });
    }
    if !errors.is_empty() {
        return render_new_form(&state, &page, StatusCode::BAD_REQUEST, &fields, &errors).await;
    }
    let Some(siret) = siret else {
        return render_new_form(&state, &page, StatusCode::BAD_REQUEST, &fields, &errors).await;
    };

    let now = page.now;
    let form_uid = if fields.form_uid.is_empty() {
        crate::domain::form_url::GENERIC_FORM_UID.to_owned()
    } else {
        fields.form_uid.clone()
    };
    let submitted = fields.clone();
    let created = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let known = crate::models::collectivites::find_by_sirets(
                    conn,
                    &[siret.as_str().to_owned()],
                )?
                .into_iter()
                .next();
                let collectivite_id = match known {
                    Some(collectivite) => collectivite.id,
                    None => {
                        if submitted.name.is_empty() {
                            return Ok(Err(
                                "Collectivité inconnue : indiquez son nom pour la créer."
                                    .to_owned(),
                            ));
                        }
                        let new = crate::models::collectivites::NewCollectivite {
                            siret: siret.as_str().to_owned(),
                            name: submitted.name.clone(),
                            cog: Some(submitted.cog.clone()).filter(|c| !c.is_empty()),
                            postal_code: Some(submitted.postal_code.clone())
                                .filter(|c| !c.is_empty()),
                        };
                        let (id, _) = crate::models::collectivites::find_or_create(conn, new, now)?;
                        events::record(
                            conn,
                            now,
                            &user.email,
                            "collectivite.create",
                            ("collectivite", &id),
                            None,
                        )?;
                        id
                    }
                };
                let editeur_id: Option<String> = editeur_forms::table
                    .filter(editeur_forms::form_uid.eq(&form_uid))
                    .select(editeur_forms::editeur_id)
                    .first(conn)
                    .optional()?;
                let request_id = new_id();
                diesel::insert_into(habilitation_requests::table)
                    .values(HabilitationRequest {
                        id: request_id.clone(),
                        datapass_id: None,
                        collectivite_id,
                        form_uid: form_uid.clone(),
                        editeur_id,
                        state: RequestState::Submitted,
                        reopening: false,
                        scopes: "quotient_familial".into(),
                        purpose: Some(submitted.purpose.clone()).filter(|p| !p.is_empty()),
                        deliberation_url: Some(submitted.deliberation_url.clone())
                            .filter(|u| !u.is_empty()),
                        last_reason: None,
                        created_at: now,
                        last_submitted_at: Some(now),
                        last_validated_at: None,
                        last_event_at: Some(now),
                        updated_at: now,
                    })
                    .execute(conn)?;
                for mut contact in contacts {
                    contact.request_id = request_id.clone();
                    diesel::insert_into(request_contacts::table)
                        .values(&contact)
                        .execute(conn)?;
                }
                if let Some((file_name, bytes)) = &pdf {
                    diesel::insert_into(deliberation_files::table)
                        .values((
                            deliberation_files::request_id.eq(&request_id),
                            deliberation_files::file_name.eq(file_name),
                            deliberation_files::size_bytes.eq(bytes.len() as i64),
                            deliberation_files::content.eq(bytes),
                            deliberation_files::uploaded_at.eq(now),
                            deliberation_files::uploaded_by.eq(&user.email),
                        ))
                        .execute(conn)?;
                }
                events::record(
                    conn,
                    now,
                    &user.email,
                    "request.create_by_staff",
                    ("request", &request_id),
                    Some("demande saisie par l'équipe et soumise".into()),
                )?;
                Ok(Ok(request_id))
            })
        })
        .await?;
    match created {
        Ok(id) => Ok(see_other(&format!("/demandes/{id}"))),
        Err(message) => {
            render_new_form(&state, &page, StatusCode::BAD_REQUEST, &fields, &[message]).await
        }
    }
}
