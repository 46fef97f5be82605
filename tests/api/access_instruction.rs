//! Access matrix expectations for the instruction pages (queue, decisions, webhooks log).

use crate::access::{Case, Expect, Fixture};

/// The request and expectations for one route of this area, if it is one of its routes.
pub fn case(route: (&str, &str), f: &Fixture) -> Option<Case> {
    use Expect::*;
    let staff_only = [
        Login, Allowed, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
    ];
    Some(match route {
        // Webhooks authenticate by signature, not by session: an unsigned call is 401 for all.
        ("post", "/webhooks/datapass") => ("/webhooks/datapass".into(), vec![], [Status(401); 7]),
        ("get", "/webhooks/livraisons") => ("/webhooks/livraisons".into(), vec![], staff_only),
        ("get", "/datapass/ecarts") => ("/datapass/ecarts".into(), vec![], staff_only),
        ("get", "/webhooks/livraisons/{id}") => (
            "/webhooks/livraisons/inconnue".into(),
            vec![],
            [
                Login, NotFound, NotFound, Forbidden, Forbidden, Forbidden, Forbidden,
            ],
        ),
        ("post", "/webhooks/livraisons/{id}/rejouer") => (
            "/webhooks/livraisons/inconnue/rejouer".into(),
            vec![],
            [
                Login, NotFound, NotFound, Forbidden, Forbidden, Forbidden, Forbidden,
            ],
        ),
        ("get", "/instruction") => ("/instruction".into(), vec![], staff_only),
        ("get", "/demandes/nouvelle") => ("/demandes/nouvelle".into(), vec![], staff_only),
        // Multipart only: a urlencoded post reaches the guard, which answers first.
        ("post", "/demandes/nouvelle") => (
            "/demandes/nouvelle".into(),
            vec![("siret", "1")],
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
        // A refusal without reason: allowed for staff (400: reason required), nothing changes.
        ("post", "/demandes/{id}/decision") => (
            format!("/demandes/{}/decision", f.request_a),
            vec![("action", "refuse")],
            staff_only,
        ),
        // Request 000 has no uploaded PDF: 404 for those who may see it, 404 for others too.
        ("get", "/demandes/{id}/deliberation") => (
            format!("/demandes/{}/deliberation", f.request_a),
            vec![],
            [
                Login, NotFound, NotFound, NotFound, NotFound, NotFound, NotFound,
            ],
        ),
        ("get", "/modeles-de-motifs") => ("/modeles-de-motifs".into(), vec![], staff_only),
        ("post", "/modeles-de-motifs") => (
            "/modeles-de-motifs".into(),
            vec![("kind", "refuse"), ("title", "")],
            staff_only,
        ),
        ("post", "/modeles-de-motifs/{id}") => (
            "/modeles-de-motifs/demo-reason-000".into(),
            vec![
                ("kind", "request_changes"),
                ("title", "Délibération sans mention du QF"),
                ("body", "Texte mis à jour."),
            ],
            staff_only,
        ),
        ("get", "/modeles-de-motifs/{id}/supprimer") => (
            "/modeles-de-motifs/demo-reason-003/supprimer".into(),
            vec![],
            staff_only,
        ),
        ("post", "/modeles-de-motifs/{id}/supprimer") => (
            "/modeles-de-motifs/inconnu/supprimer".into(),
            vec![],
            [
                Login, NotFound, NotFound, Forbidden, Forbidden, Forbidden, Forbidden,
            ],
        ),
        _ => return None,
    })
}
