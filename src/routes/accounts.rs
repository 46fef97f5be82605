//! Account management (admins): staff members and éditeur members.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel::prelude::*;

use super::see_other;
use crate::auth::{Admin, PageCtx};
use crate::db::DbConnection;
use crate::db::schema::editeurs;
use crate::domain::roles::StaffRole;
use crate::error::AppError;
use crate::mail::{is_valid_address, normalize_address};
use crate::models::accounts;
use crate::models::events;
use crate::state::AppState;

fn editeur_choices(conn: &mut DbConnection) -> QueryResult<Vec<(String, String)>> {
    editeurs::table
        .order(editeurs::name.asc())
        .select((editeurs::id, editeurs::name))
        .load(conn)
}

async fn render_list(
    state: &AppState,
    page: &PageCtx,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let (staff, members, choices) = state
        .db(|conn| {
            Ok((
                accounts::list_staff(conn)?,
                accounts::list_editeur_members(conn)?,
                editeur_choices(conn)?,
            ))
        })
        .await?;
    let mut context = page.context();
    context.insert("staff", &staff);
    context.insert(
        "members",
        &members
            .into_iter()
            .map(|(m, name)| serde_json::json!({"id": m.id, "email": m.email, "editeur": name, "created_at": m.created_at, "created_by": m.created_by}))
            .collect::<Vec<_>>(),
    );
    context.insert("editeurs", &choices);
    context.insert("error", &error);
    context.insert("notice", &notice);
    context.insert(
        "session_idle_hours",
        &(state.settings.session_idle_timeout.as_secs() / 3600),
    );
    context.insert(
        "session_max_hours",
        &(state.settings.session_max_lifetime.as_secs() / 3600),
    );
    state.render_status(status, "accounts/list.html", context)
}

/// `GET /admin/comptes`.
pub async fn list(
    state: web::Data<AppState>,
    Admin { page, .. }: Admin,
) -> Result<HttpResponse, AppError> {
    render_list(&state, &page, StatusCode::OK, None, None).await
}

#[derive(serde::Deserialize)]
pub struct StaffForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/comptes/equipe`: adds a staff member, or changes their role.
pub async fn add_staff(
    state: web::Data<AppState>,
    Admin { page, user: admin }: Admin,
    form: web::Form<StaffForm>,
) -> Result<HttpResponse, AppError> {
    let email = normalize_address(&form.email);
    if !is_valid_address(&email) {
        return render_list(
            &state,
            &page,
            StatusCode::BAD_REQUEST,
            Some("Adresse e-mail invalide : saisissez une adresse complète, par exemple prenom.nom@beta.gouv.fr."),
            None,
        )
        .await;
    }
    let Ok(role) = form.role.parse::<StaffRole>() else {
        return render_list(
            &state,
            &page,
            StatusCode::BAD_REQUEST,
            Some("Rôle inconnu : choisissez instructeur ou administrateur."),
            None,
        )
        .await;
    };
    let now = page.now;
    let target = email.clone();
    let changed = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let demoting_last_admin = role != StaffRole::Admin
                    && accounts::staff_role(conn, &target)? == Some(StaffRole::Admin)
                    && accounts::count_admins(conn)? <= 1;
                if demoting_last_admin {
                    return Ok(false);
                }
                let created = accounts::upsert_staff(conn, &target, role, &admin.email, now)?;
                events::record(
                    conn,
                    now,
                    &admin.email,
                    if created { "staff.add" } else { "staff.role" },
                    ("person", &target),
                    Some(format!("rôle : {role}")),
                )?;
                Ok(true)
            })
        })
        .await?;
    if !changed {
        return render_list(
            &state,
            &page,
            StatusCode::CONFLICT,
            Some("Impossible de retirer son rôle au dernier administrateur : nommez d'abord un autre administrateur."),
            None,
        )
        .await;
    }
    Ok(see_other("/admin/comptes"))
}

/// `GET /admin/comptes/equipe/{id}/retirer`: asks for confirmation.
pub async fn confirm_remove_staff(
    state: web::Data<AppState>,
    Admin { page, .. }: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let member = state
        .db(move |conn| accounts::find_staff(conn, &id)?.ok_or(AppError::NotFound))
        .await?;
    super::render_confirm(
        &state,
        &page,
        &format!("Retirer {} de l'équipe API Particulier ?", member.email),
        "Cette personne n'aura plus accès aux pages de l'équipe. Elle garde ses accès de contact ou d'éditeur, s'il y en a.",
        &format!("/admin/comptes/equipe/{}/retirer", member.id),
        "/admin/comptes",
    )
}

/// `POST /admin/comptes/equipe/{id}/retirer`: never removes the last admin.
pub async fn remove_staff(
    state: web::Data<AppState>,
    Admin { page, user: admin }: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let now = page.now;
    let outcome = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let member = accounts::find_staff(conn, &id)?.ok_or(AppError::NotFound)?;
                if member.role == StaffRole::Admin && accounts::count_admins(conn)? <= 1 {
                    return Ok(false);
                }
                accounts::delete_staff(conn, &id)?;
                crate::auth::session::revoke_person(conn, &member.email)?;
                events::record(
                    conn,
                    now,
                    &admin.email,
                    "staff.remove",
                    ("person", &member.email),
                    None,
                )?;
                Ok(true)
            })
        })
        .await?;
    if !outcome {
        return render_list(
            &state,
            &page,
            StatusCode::CONFLICT,
            Some("Impossible de retirer le dernier administrateur : nommez d'abord un autre administrateur."),
            None,
        )
        .await;
    }
    Ok(see_other("/admin/comptes"))
}

#[derive(serde::Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    editeur_id: String,
}

/// `POST /admin/comptes/editeurs`: attaches an address to an éditeur.
pub async fn add_member(
    state: web::Data<AppState>,
    Admin { page, user: admin }: Admin,
    form: web::Form<MemberForm>,
) -> Result<HttpResponse, AppError> {
    let email = normalize_address(&form.email);
    if !is_valid_address(&email) {
        return render_list(
            &state,
            &page,
            StatusCode::BAD_REQUEST,
            Some("Adresse e-mail invalide : saisissez une adresse complète, par exemple prenom.nom@editeur.fr."),
            None,
        )
        .await;
    }
    let editeur_id = form.editeur_id.clone();
    let now = page.now;
    let target = email.clone();
    let known = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let exists: i64 = editeurs::table.find(&editeur_id).count().get_result(conn)?;
                if exists == 0 {
                    return Ok(false);
                }
                if accounts::add_editeur_member(conn, &editeur_id, &target, &admin.email, now)? {
                    events::record(
                        conn,
                        now,
                        &admin.email,
                        "editeur_member.add",
                        ("editeur", &editeur_id),
                        Some(target.clone()),
                    )?;
                }
                Ok(true)
            })
        })
        .await?;
    if !known {
        return render_list(
            &state,
            &page,
            StatusCode::BAD_REQUEST,
            Some("Éditeur inconnu : choisissez un éditeur dans la liste."),
            None,
        )
        .await;
    }
    Ok(see_other("/admin/comptes"))
}

/// `GET /admin/comptes/editeurs/{id}/retirer`: asks for confirmation.
pub async fn confirm_remove_member(
    state: web::Data<AppState>,
    Admin { page, .. }: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let member = state
        .db(move |conn| accounts::find_editeur_member(conn, &id)?.ok_or(AppError::NotFound))
        .await?;
    super::render_confirm(
        &state,
        &page,
        &format!("Retirer {} des membres de cet éditeur ?", member.email),
        "Cette personne ne verra plus les collectivités clientes de l'éditeur.",
        &format!("/admin/comptes/editeurs/{}/retirer", member.id),
        "/admin/comptes",
    )
}

/// `POST /admin/comptes/editeurs/{id}/retirer`.
pub async fn remove_member(
    state: web::Data<AppState>,
    Admin { page, user: admin }: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let now = page.now;
    state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let member = accounts::find_editeur_member(conn, &id)?.ok_or(AppError::NotFound)?;
                accounts::delete_editeur_member(conn, &id)?;
                crate::auth::session::revoke_person(conn, &member.email)?;
                events::record(
                    conn,
                    now,
                    &admin.email,
                    "editeur_member.remove",
                    ("editeur", &member.editeur_id),
                    Some(member.email.clone()),
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(see_other("/admin/comptes"))
}

/// `POST /admin/comptes/sessions/terminer`: ends every signed-in session but the admin's own.
pub async fn end_all_sessions(
    state: web::Data<AppState>,
    Admin { page, user: admin }: Admin,
) -> Result<HttpResponse, AppError> {
    let now = page.now;
    let ended = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| {
                let ended = crate::auth::session::revoke_all_except(conn, &admin.email)?;
                events::record(
                    conn,
                    now,
                    &admin.email,
                    "sessions.end_all",
                    ("person", &admin.email),
                    Some(format!("{ended} session(s) terminée(s)")),
                )?;
                Ok(ended)
            })
        })
        .await?;
    render_list(
        &state,
        &page,
        StatusCode::OK,
        None,
        Some(&format!(
            "{ended} session(s) terminée(s) : chacun doit se reconnecter."
        )),
    )
    .await
}
