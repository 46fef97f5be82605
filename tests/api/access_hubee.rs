//! Access matrix expectations for the HubEE subscription pages.

use crate::access::{Case, Expect, Fixture};

/// Demo subscription of collectivité 000, whose request went through éditeur A's form.
const SUBSCRIPTION: &str = "demo-hubee-000";

/// The request and expectations for one route of this area, if it is one of its routes.
pub fn case(route: (&str, &str), _f: &Fixture) -> Option<Case> {
    use Expect::*;
    let staff_only = [
        Login, Allowed, Allowed, Forbidden, Forbidden, Forbidden, Forbidden,
    ];
    let path = |suffix: &str| format!("/abonnements/{SUBSCRIPTION}{suffix}");
    Some(match route {
        ("get", "/abonnements") => ("/abonnements".into(), vec![], staff_only),
        ("get", "/abonnements/ecarts") => ("/abonnements/ecarts".into(), vec![], staff_only),
        ("post", "/abonnements/ecarts/{id}/resolu") => (
            "/abonnements/ecarts/inconnu/resolu".into(),
            vec![],
            [
                Login, NotFound, NotFound, Forbidden, Forbidden, Forbidden, Forbidden,
            ],
        ),
        // Read-only for its éditeur and the collectivité's contacts.
        ("get", "/abonnements/{id}") => (
            path(""),
            vec![],
            [
                Login, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
            ],
        ),
        ("post", "/abonnements/{id}/mode") => {
            (path("/mode"), vec![("access_mode", "PORTAIL")], staff_only)
        }
        ("post", "/abonnements/{id}/notifications") => (
            path("/notifications"),
            vec![("frequency", "Unitaire"), ("email", "enfance@chatillon.fr")],
            staff_only,
        ),
        ("post", "/abonnements/{id}/activation") => (
            path("/activation"),
            vec![("date", "2999-01-01")],
            staff_only,
        ),
        ("get", "/abonnements/{id}/suspendre") => (path("/suspendre"), vec![], staff_only),
        ("post", "/abonnements/{id}/suspendre") => (path("/suspendre"), vec![], staff_only),
        ("post", "/abonnements/{id}/reactivation") => (path("/reactivation"), vec![], staff_only),
        ("post", "/abonnements/{id}/provisionner") => (path("/provisionner"), vec![], staff_only),
        _ => return None,
    })
}
