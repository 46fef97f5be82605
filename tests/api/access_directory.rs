//! Access matrix expectations for the collectivités and éditeurs pages.

use crate::access::{Case, Fixture};

/// The request and expectations for one route of this area, if it is one of its routes.
pub fn case(route: (&str, &str), _f: &Fixture) -> Option<Case> {
    let _ = route;
    None
}
