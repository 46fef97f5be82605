//! Access matrix expectations for the collectivités and éditeurs pages: staff only (instructeurs
//! and admins alike). Roles run in the order of `access::ROLES` with a fresh session each, so
//! the staff role's POST really happens first and the admin's comes second.

use crate::access::{Case, Expect, Fixture};

/// A SIRET (Luhn-valid) no demo éditeur has: created by the staff role, refused as a
/// duplicate for the admin.
const NEW_EDITEUR_SIRET: &str = "81011122200032";

/// The request and expectations for one route of this area, if it is one of its routes.
pub fn case(route: (&str, &str), _f: &Fixture) -> Option<Case> {
    use Expect::*;
    let staff_only = [
        Login, Allowed, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
    ];
    // A creation: done by the first staff role, refused (400, a duplicate) for the second.
    let created_then_duplicate = [
        Login,
        Status(303),
        Status(400),
        Forbidden,
        Forbidden,
        Forbidden,
        Forbidden,
    ];
    Some(match route {
        ("get", "/collectivites") => (
            "/collectivites?q=a&departement=26&statut=actives&page=1".into(),
            vec![],
            staff_only,
        ),
        ("get", "/collectivites/import") => ("/collectivites/import".into(), vec![], staff_only),
        // Not a multipart upload: staff get the form back with a message (400), others are
        // refused before the body is read.
        ("post", "/collectivites/import") => (
            "/collectivites/import".into(),
            vec![],
            [
                Login,
                Status(400),
                Status(400),
                Forbidden,
                Forbidden,
                Forbidden,
                Forbidden,
            ],
        ),
        ("get", "/collectivites/{id}") => (
            "/collectivites/demo-collectivite-000".into(),
            vec![],
            staff_only,
        ),
        ("get", "/collectivites/{id}/modifier") => (
            "/collectivites/demo-collectivite-000/modifier".into(),
            vec![],
            staff_only,
        ),
        // The demo values of collectivité 000: applying them twice changes nothing.
        // Collectivité 000 has a validated request: provisioning is queued again each time.
        ("post", "/collectivites/{id}/provisionner") => (
            "/collectivites/demo-collectivite-000/provisionner".into(),
            vec![],
            [
                Login,
                Status(303),
                Status(303),
                Forbidden,
                Forbidden,
                Forbidden,
                Forbidden,
            ],
        ),
        ("post", "/collectivites/{id}/modifier") => (
            "/collectivites/demo-collectivite-000/modifier".into(),
            vec![
                ("name", "Chatillon-en-Bois"),
                ("kind", "commune"),
                ("cog", "26079"),
                ("postal_code", "26410"),
                ("departement", "26"),
                ("active", "on"),
                ("had_hubee_account", "on"),
            ],
            [
                Login,
                Status(303),
                Status(303),
                Forbidden,
                Forbidden,
                Forbidden,
                Forbidden,
            ],
        ),
        ("get", "/editeurs") => ("/editeurs?q=mushroom".into(), vec![], staff_only),
        ("post", "/editeurs") => (
            "/editeurs".into(),
            vec![
                ("name", "Éditeur de la matrice"),
                ("siret", NEW_EDITEUR_SIRET),
                ("contact_technique_email", "api@matrice.fr"),
                ("apis", "quotient_familial_v2"),
            ],
            created_then_duplicate,
        ),
        ("get", "/editeurs/{id}") => ("/editeurs/demo-editeur-000".into(), vec![], staff_only),
        // The demo values of éditeur 000: applying them twice changes nothing.
        ("post", "/editeurs/{id}/modifier") => (
            "/editeurs/demo-editeur-000/modifier".into(),
            vec![
                ("name", "Mushroom Software"),
                ("contact_technique_email", "api@mushroom-software.fr"),
                ("apis", "quotient_familial_v2,statut_etudiant"),
            ],
            [
                Login,
                Status(303),
                Status(303),
                Forbidden,
                Forbidden,
                Forbidden,
                Forbidden,
            ],
        ),
        ("post", "/editeurs/{id}/formulaires") => (
            "/editeurs/demo-editeur-002/formulaires".into(),
            vec![
                ("form_uid", "api-particulier-matrice-acces"),
                ("name", "Formulaire de la matrice"),
                (
                    "public_url",
                    "https://datapass.api.gouv.fr/demandes/api-particulier-matrice-acces/nouveau",
                ),
            ],
            created_then_duplicate,
        ),
        // Demo form 003 (Ciril Famille) is used nowhere else in the matrix.
        ("get", "/editeurs/{id}/formulaires/{form_id}/retirer") => (
            "/editeurs/demo-editeur-003/formulaires/demo-form-003/retirer".into(),
            vec![],
            staff_only,
        ),
        // Removed by the staff role; already gone (404) when the admin confirms.
        ("post", "/editeurs/{id}/formulaires/{form_id}/retirer") => (
            "/editeurs/demo-editeur-003/formulaires/demo-form-003/retirer".into(),
            vec![],
            [
                Login,
                Status(303),
                NotFound,
                Forbidden,
                Forbidden,
                Forbidden,
                Forbidden,
            ],
        ),
        _ => return None,
    })
}
