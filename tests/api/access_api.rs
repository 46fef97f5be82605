//! Access matrix expectations for the éditeur space (members only; a key of another éditeur
//! is out of reach: 404) and for the éditeur API and its documentation. A session (whatever
//! the role) is not a key: every data route answers 401 JSON to a browser; the OpenAPI
//! document and its page are public.

use crate::access::{Case, Expect, Fixture};

/// The request and expectations for one route of this area, if it is one of its routes.
pub fn case(route: (&str, &str), f: &Fixture) -> Option<Case> {
    use Expect::*;
    let admin_only = [
        Login, Forbidden, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
    ];
    let members = [
        Login, Forbidden, Forbidden, Allowed, Allowed, Forbidden, Forbidden,
    ];
    let members_of_a = [
        Login, Forbidden, Forbidden, Allowed, NotFound, Forbidden, Forbidden,
    ];
    let key_only = [Status(401); 7];
    let public = [Status(200); 7];
    Some(match route {
        ("get", "/api/v1/clients") => ("/api/v1/clients".into(), vec![], key_only),
        ("get", "/api/v1/clients.csv") => ("/api/v1/clients.csv".into(), vec![], key_only),
        ("get", "/api/v1/clients/{siret}") => {
            ("/api/v1/clients/21260079700012".into(), vec![], key_only)
        }
        ("get", "/api/v1/echeances.ics") => ("/api/v1/echeances.ics".into(), vec![], key_only),
        ("get", "/api/v1/openapi.json") => ("/api/v1/openapi.json".into(), vec![], public),
        ("get", "/api/documentation") => ("/api/documentation".into(), vec![], public),
        ("get", "/editeur") => ("/editeur".into(), vec![], members),
        ("get", "/editeur/clients.csv") => ("/editeur/clients.csv".into(), vec![], members),
        ("post", "/editeur/cles") => ("/editeur/cles".into(), vec![("name", "Matrice")], members),
        ("get", "/editeur/cles/{id}/revoquer") => (
            format!("/editeur/cles/{}/revoquer", f.api_key_a),
            vec![],
            members_of_a,
        ),
        ("post", "/editeur/cles/{id}/revoquer") => (
            format!("/editeur/cles/{}/revoquer", f.api_key_a),
            vec![],
            members_of_a,
        ),
        ("get", "/recherche") => (
            "/recherche?q=chatillon".into(),
            vec![],
            [
                Login, Allowed, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
            ],
        ),
        ("post", "/voir-en-tant-que") => (
            "/voir-en-tant-que".into(),
            vec![("email", "equipe@mushroom-software.fr")],
            [
                Login, Allowed, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
            ],
        ),
        ("post", "/voir-en-tant-que/fin") => {
            ("/voir-en-tant-que/fin".into(), vec![], [Status(303); 7])
        }
        ("get", "/tableau-de-bord") => (
            "/tableau-de-bord".into(),
            vec![],
            [
                Login, Allowed, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
            ],
        ),
        ("post", "/editeurs/{id}/cles") => (
            format!("/editeurs/{}/cles", f.editeur_a),
            vec![("name", "Matrice admin")],
            admin_only,
        ),
        ("get", "/editeurs/{id}/cles/{key}/revoquer") => (
            format!("/editeurs/{}/cles/{}/revoquer", f.editeur_a, f.api_key_a),
            vec![],
            admin_only,
        ),
        ("post", "/editeurs/{id}/cles/{key}/revoquer") => (
            format!("/editeurs/{}/cles/{}/revoquer", f.editeur_a, f.api_key_a),
            vec![],
            admin_only,
        ),
        _ => return None,
    })
}
