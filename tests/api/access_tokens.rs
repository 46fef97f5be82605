//! Access matrix expectations for the token and prolongation pages.

use crate::access::{Case, Expect, Fixture};

/// Demo token of request 000 (Chatillon-en-Bois, éditeur A, 547 days left).
const TOKEN_A: &str = "0d3e0000-0000-4000-8000-000000000000";

/// The request and expectations for one route of this area, if it is one of its routes.
pub fn case(route: (&str, &str), _f: &Fixture) -> Option<Case> {
    use Expect::*;
    let staff_only = [
        Login, Allowed, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
    ];
    // Staff, éditeur A and the request's contacts see the token; éditeur B and other
    // contacts get 404.
    let token_people = [
        Login, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
    ];
    Some(match route {
        ("get", "/jetons") => ("/jetons".into(), vec![], staff_only),
        ("get", "/jetons/{id}") => (format!("/jetons/{TOKEN_A}"), vec![], staff_only),
        ("get", "/jetons/{id}/revoquer") => {
            (format!("/jetons/{TOKEN_A}/revoquer"), vec![], staff_only)
        }
        // Without a reason: a 400 for staff, nothing revoked.
        ("post", "/jetons/{id}/revoquer") => (
            format!("/jetons/{TOKEN_A}/revoquer"),
            vec![("reason", "")],
            staff_only,
        ),
        ("get", "/jetons/{id}/prolongation") => (
            format!("/jetons/{TOKEN_A}/prolongation"),
            vec![],
            token_people,
        ),
        // Too early for this token (547 days left): the demandeur is sent to the status page;
        // everyone else who can see the token is refused (only the demandeur may prolong).
        ("post", "/jetons/{id}/prolongation") => (
            format!("/jetons/{TOKEN_A}/prolongation"),
            vec![
                ("collectivite", "oui"),
                ("finalite", "oui"),
                ("contacts", "oui"),
            ],
            [
                Login, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        ("get", "/jetons/{id}/prolongation/confirmee") => (
            format!("/jetons/{TOKEN_A}/prolongation/confirmee"),
            vec![],
            token_people,
        ),
        _ => return None,
    })
}
