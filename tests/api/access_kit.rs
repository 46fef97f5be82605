//! Access matrix expectations for the form URL, QR code and kit pages. The QR code images
//! are public; the kit page, its files and the éditeur URL builder are for staff, the
//! collectivité's contacts and its éditeur. Request 000 (the fixture's `request_a`) belongs
//! to collectivité 000, whose demandeur is the `demandeur` role and whose éditeur is
//! Mushroom Software (`editeur_a`); Arpège (`editeur_b`) and the demandeur of request 001
//! (`other_contact`) have nothing to do with it.

use qf_backoffice::demo::demo_siret;

use crate::access::{Case, Expect, Fixture};

/// The request and expectations for one route of this area, if it is one of its routes.
pub fn case(route: (&str, &str), _f: &Fixture) -> Option<Case> {
    use Expect::*;
    let siret = demo_siret(0)?;
    let kit_readers = [
        Login, Allowed, Allowed, Allowed, NotFound, Allowed, NotFound,
    ];
    let public = [Status(200); 7];
    Some(match route {
        ("get", "/collectivites/{siret}/qrcode.png") => {
            (format!("/collectivites/{siret}/qrcode.png"), vec![], public)
        }
        ("get", "/collectivites/{siret}/qrcode.jpg") => {
            (format!("/collectivites/{siret}/qrcode.jpg"), vec![], public)
        }
        ("get", "/collectivites/{siret}/qrcode.svg") => {
            (format!("/collectivites/{siret}/qrcode.svg"), vec![], public)
        }
        ("get", "/collectivites/{siret}/kit") => {
            (format!("/collectivites/{siret}/kit"), vec![], kit_readers)
        }
        ("get", "/collectivites/{siret}/kit.zip") => (
            format!("/collectivites/{siret}/kit.zip"),
            vec![],
            kit_readers,
        ),
        ("get", "/collectivites/{siret}/kit/{file}") => (
            format!("/collectivites/{siret}/kit/affiche.pdf"),
            vec![],
            kit_readers,
        ),
        ("get", "/collectivites/{siret}/url-editeur") => (
            format!(
                "/collectivites/{siret}/url-editeur?external_id=famille-1&redirect_uri=https%3A%2F%2Flogiciel.fr%2Fretour"
            ),
            vec![],
            kit_readers,
        ),
        _ => return None,
    })
}
