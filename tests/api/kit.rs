//! The form URL, QR codes and kit de communication, over HTTP: QR images decoded back to the
//! form address, the poster's text read back from the PDF, the ZIP's contents, the éditeur
//! URL builder (JSON and page) and who may get what.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};

use diesel::prelude::*;
use qf_backoffice::db::schema::request_contacts;
use qf_backoffice::demo::{DEMO_INSTRUCTEUR, demo_siret};

use crate::helpers::{TestApp, Visitor};

const FORM_BASE: &str = "https://quotient-familial.numerique.gouv.fr";

fn siret(index: usize) -> String {
    demo_siret(index).expect("demo collectivité")
}

fn form_url(index: usize) -> String {
    format!("{FORM_BASE}/collectivites/{}", siret(index))
}

fn header(response: &reqwest::Response, name: &str) -> String {
    header_of(response.headers(), name)
}

fn header_of(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The text of the only QR code in an image.
fn decode_qr(bytes: &[u8]) -> String {
    let img = image::load_from_memory(bytes).expect("an image").to_luma8();
    assert_eq!(img.dimensions(), (480, 480));
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(480, 480, |x, y| {
        img.get_pixel(x as u32, y as u32).0[0]
    });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("QR code decodes").1
}

/// The demandeur of a demo request.
async fn demandeur_of(app: &TestApp, request: &'static str) -> String {
    app.with_conn(move |conn| {
        request_contacts::table
            .filter(request_contacts::request_id.eq(request))
            .filter(request_contacts::role.eq("demandeur"))
            .select(request_contacts::email)
            .first(conn)
            .unwrap()
    })
    .await
}

/// A download: its status, headers and body.
struct Download {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Download {
    fn header(&self, name: &str) -> String {
        header_of(&self.headers, name)
    }
}

async fn download(visitor: &Visitor, path: &str) -> Download {
    let response = visitor.get(path).await;
    Download {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        bytes: response.bytes().await.expect("body").to_vec(),
    }
}

#[tokio::test]
async fn qr_codes_are_public_480_pixels_and_decode_to_the_bare_form_url() {
    let app = TestApp::spawn_with_demo().await;
    let anonymous = app.visitor();
    let siret = siret(0);
    for (ext, content_type, magic) in [
        ("png", "image/png", &b"\x89PNG\r\n\x1a\n"[..]),
        ("jpg", "image/jpeg", &[0xFF, 0xD8, 0xFF][..]),
    ] {
        let path = format!("/collectivites/{siret}/qrcode.{ext}");
        let file = download(&anonymous, &path).await;
        assert_eq!(file.status, 200, "{path}");
        assert_eq!(file.header("content-type"), content_type);
        assert_eq!(
            file.header("content-disposition"),
            format!("attachment; filename=\"QRCode_{siret}.{ext}\"")
        );
        assert_eq!(file.header("cache-control"), "public, max-age=86400");
        assert!(file.header("set-cookie").is_empty(), "no session");
        let bytes = file.bytes;
        assert!(bytes.starts_with(magic), "{ext} signature");
        let format = image::guess_format(&bytes).unwrap();
        let expected = if ext == "png" {
            image::ImageFormat::Png
        } else {
            image::ImageFormat::Jpeg
        };
        assert_eq!(format, expected);
        assert_eq!(decode_qr(&bytes), form_url(0));
    }
    let response = anonymous
        .get(&format!("/collectivites/{siret}/qrcode.svg"))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "content-type"), "image/svg+xml");
    assert_eq!(
        header(&response, "content-disposition"),
        format!("attachment; filename=\"QRCode_{siret}.svg\"")
    );
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<?xml"), "{svg}");
    let root = &svg[svg.find("<svg").unwrap()..];
    assert!(root.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(root.contains("width=\"480\" height=\"480\""));
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[tokio::test]
async fn unknown_or_malformed_sirets_are_404() {
    let app = TestApp::spawn_with_demo().await;
    let anonymous = app.visitor();
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    // Luhn-valid but no such collectivité; too short; not digits; bad checksum.
    let unknown = qf_backoffice::domain::siret::with_check_digit("2199999900001").unwrap();
    let known = siret(0);
    let last = known.as_bytes()[13] - b'0';
    let bad_checksum = format!("{}{}", &known[..13], (last + 1) % 10);
    for raw in [
        unknown.as_str(),
        "123",
        "pas-un-siret",
        bad_checksum.as_str(),
    ] {
        for ext in ["png", "jpg", "svg"] {
            let (status, html) = anonymous
                .get_text(&format!("/collectivites/{raw}/qrcode.{ext}"))
                .await;
            assert_eq!(status, 404, "{raw}.{ext}");
            assert!(html.contains("Page introuvable"), "{html}");
        }
        for path in ["kit", "kit.zip", "kit/affiche.pdf", "url-editeur"] {
            let status = staff
                .get(&format!("/collectivites/{raw}/{path}"))
                .await
                .status();
            assert_eq!(status.as_u16(), 404, "{raw}/{path}");
        }
    }
    // A file name that is not in the kit.
    let status = staff
        .get(&format!("/collectivites/{}/kit/autre.pdf", siret(0)))
        .await
        .status();
    assert_eq!(status.as_u16(), 404);
}

#[tokio::test]
async fn the_poster_is_an_a4_pdf_with_the_name_accents_included() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    for (index, name) in [(9, "Chambéry"), (17, "Épinal")] {
        let path = format!("/collectivites/{}/kit/affiche.pdf", siret(index));
        let file = download(&staff, &path).await;
        assert_eq!(file.status, 200, "{path}");
        assert_eq!(file.header("content-type"), "application/pdf");
        assert_eq!(
            file.header("content-disposition"),
            "attachment; filename=\"affiche.pdf\""
        );
        assert!(file.bytes.starts_with(b"%PDF-"));
        let doc = lopdf::Document::load_mem(&file.bytes).expect("the PDF opens");
        let pages = doc.get_pages();
        assert_eq!(pages.len(), 1);
        let page = *pages.values().next().unwrap();
        let media_box = doc
            .get_object(page)
            .and_then(|p| p.as_dict().cloned())
            .and_then(|d| d.get(b"MediaBox").cloned())
            .and_then(|b| b.as_array().cloned())
            .expect("a MediaBox");
        let size: Vec<f32> = media_box
            .iter()
            .map(|v| {
                v.as_float()
                    .or_else(|_| v.as_i64().map(|i| i as f32))
                    .unwrap()
            })
            .collect();
        assert!(
            (size[2] - 595.3).abs() < 1.0 && (size[3] - 841.9).abs() < 1.0,
            "{size:?}"
        );
        let text = doc.extract_text(&[1]).expect("text extracts");
        assert!(text.contains(name), "{name} in {text}");
        assert!(text.contains(&form_url(index)), "URL in {text}");
        assert!(text.contains("quotient familial"), "{text}");
        assert!(!text.contains('?'), "every character is drawn: {text}");
    }
}

#[tokio::test]
async fn the_zip_holds_exactly_the_kit() {
    let app = TestApp::spawn_with_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    // Collectivité 49 has an apostrophe in its name.
    let siret = siret(49);
    let name = "Communauté d'agglomération du Grand Dax";
    let file = download(&staff, &format!("/collectivites/{siret}/kit.zip")).await;
    assert_eq!(file.status, 200);
    assert_eq!(file.header("content-type"), "application/zip");
    assert_eq!(
        file.header("content-disposition"),
        format!("attachment; filename=\"kit_{siret}.zip\"")
    );
    let mut archive = zip::ZipArchive::new(Cursor::new(file.bytes)).expect("a ZIP archive");
    let names: BTreeSet<String> = archive
        .file_names()
        .map(|name| name.expect("a file name").into_owned())
        .collect();
    let expected: BTreeSet<String> = [
        "site-internet.html".to_owned(),
        "site-internet.txt".to_owned(),
        "email-familles.txt".to_owned(),
        "affiche.pdf".to_owned(),
        format!("QRCode_{siret}.png"),
        format!("QRCode_{siret}.jpg"),
    ]
    .into_iter()
    .collect();
    assert_eq!(names, expected);
    let mut read = |file: &str| {
        let mut bytes = Vec::new();
        archive
            .by_name(file)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    };
    let url = form_url(49);
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8");

    let html = text(read("site-internet.html"));
    assert!(
        html.contains("Communauté d&#x27;agglomération du Grand Dax"),
        "{html}"
    );
    assert!(!html.contains(name), "names are escaped in HTML: {html}");
    assert!(
        html.contains(&format!("href=\"{}\"", tera::escape_html(&url))),
        "{html}"
    );
    let site = text(read("site-internet.txt"));
    assert!(site.contains(name) && site.contains(&url), "{site}");
    let email = text(read("email-familles.txt"));
    assert!(email.starts_with(&format!("Objet : {name} : ")), "{email}");
    assert!(email.contains(&url), "{email}");
    assert!(read("affiche.pdf").starts_with(b"%PDF-"));
    assert_eq!(decode_qr(&read(&format!("QRCode_{siret}.png"))), url);
    assert_eq!(decode_qr(&read(&format!("QRCode_{siret}.jpg"))), url);

    // The files one by one are the same as in the archive.
    for file in [
        "site-internet.html",
        "site-internet.txt",
        "email-familles.txt",
    ] {
        let response = staff
            .get(&format!("/collectivites/{siret}/kit/{file}"))
            .await;
        assert_eq!(response.status().as_u16(), 200, "{file}");
        assert_eq!(
            header(&response, "content-disposition"),
            format!("attachment; filename=\"{file}\"")
        );
        assert_eq!(
            response.bytes().await.unwrap().to_vec(),
            read(file),
            "{file}"
        );
    }
}

/// GET the JSON builder: (status, body).
async fn builder(visitor: &Visitor, siret: &str, query: &str) -> (u16, serde_json::Value) {
    let response = visitor
        .get(&format!("/collectivites/{siret}/url-editeur?{query}"))
        .await;
    let status = response.status().as_u16();
    assert!(
        header(&response, "content-type").starts_with("application/json"),
        "{query}"
    );
    (status, response.json().await.expect("JSON"))
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn the_editeur_url_builder_answers_json() {
    let app = TestApp::spawn_with_demo().await;
    let editeur = app.signed_in("equipe@mushroom-software.fr").await;
    let siret = siret(0);

    let (status, body) = builder(&editeur, &siret, "").await;
    assert_eq!(
        (status, body["url"].as_str()),
        (200, Some(form_url(0).as_str()))
    );

    // Spaces, &, #, + and accents travel intact and never break the form's own query.
    let redirect = "https://logiciel.fr/retour?famille=Dupont Martin&tri=a+b&ville=Chambéry#fin";
    let query = format!(
        "external_id=famille-42:A.b_c&redirect_uri={}",
        encode(redirect)
    );
    let (status, body) = builder(&editeur, &siret, &query).await;
    assert_eq!(status, 200, "{body}");
    let built = body["url"].as_str().unwrap();
    assert!(built.starts_with(&format!("{}?", form_url(0))), "{built}");
    assert!(
        built.is_ascii() && !built.contains('#') && !built.contains(' '),
        "{built}"
    );
    assert!(
        built.contains("%26tri%3Da%2Bb%26ville%3DChamb%C3%A9ry%23fin"),
        "{built}"
    );
    let pairs: Vec<(String, String)> = url::Url::parse(built)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("external_id".to_owned(), "famille-42:A.b_c".to_owned()),
            ("redirect_uri".to_owned(), redirect.to_owned()),
        ]
    );

    let long_id = "a".repeat(129);
    let long_uri = format!("https://l.fr/{}", "a".repeat(2100));
    let refusals = [
        ("external_id=".to_owned(), "external_id_empty"),
        (format!("external_id={long_id}"), "external_id_too_long"),
        (
            "external_id=a%20b".to_owned(),
            "external_id_invalid_character",
        ),
        (
            "external_id=h%C3%A9l%C3%A8ne".to_owned(),
            "external_id_invalid_character",
        ),
        (
            "external_id=a%26b".to_owned(),
            "external_id_invalid_character",
        ),
        ("redirect_uri=".to_owned(), "redirect_uri_empty"),
        (
            format!("redirect_uri={}", encode(&long_uri)),
            "redirect_uri_too_long",
        ),
        (
            format!("redirect_uri={}", encode("https://l.fr/\nretour")),
            "redirect_uri_control_character",
        ),
        (
            "redirect_uri=%2Fretour".to_owned(),
            "redirect_uri_not_absolute",
        ),
        (
            format!("redirect_uri={}", encode("http://logiciel.fr/retour")),
            "redirect_uri_not_https",
        ),
        (
            format!("redirect_uri={}", encode("http://localhost:3000/retour")),
            "redirect_uri_not_https",
        ),
        (
            format!("redirect_uri={}", encode("javascript:alert(1)")),
            "redirect_uri_not_https",
        ),
        (
            format!("redirect_uri={}", encode("https://moi:secret@logiciel.fr/")),
            "redirect_uri_credentials",
        ),
        (
            "external_id=a&external_id=b".to_owned(),
            "duplicate_parameter",
        ),
    ];
    for (query, code) in refusals {
        let (status, body) = builder(&editeur, &siret, &query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"], code, "{query}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("L")
                && (message.contains("external_id") || message.contains("redirect_uri")),
            "{query}: {message}"
        );
    }

    // Not for éditeur B; anonymous visitors are sent to sign in.
    let other = app.signed_in("equipe@arpege-citoyen.fr").await;
    let response = other
        .get(&format!("/collectivites/{siret}/url-editeur?external_id=x"))
        .await;
    assert_eq!(response.status().as_u16(), 404);
    let response = app
        .visitor()
        .get(&format!("/collectivites/{siret}/url-editeur?external_id=x"))
        .await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(header(&response, "location"), "/connexion");
}

#[tokio::test]
async fn settings_change_the_address_and_allow_local_http_returns() {
    let app = TestApp::spawn_with(&[
        ("FORM_BASE_URL", "https://qf.exemple.gouv.fr/"),
        ("FORM_ALLOW_HTTP_LOCALHOST_REDIRECT", "1"),
    ])
    .await;
    app.load_demo().await;
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let siret = siret(0);
    let expected = format!("https://qf.exemple.gouv.fr/collectivites/{siret}");
    let png = download(&staff, &format!("/collectivites/{siret}/qrcode.png")).await;
    assert_eq!(decode_qr(&png.bytes), expected);
    let query = format!("redirect_uri={}", encode("http://localhost:3000/retour"));
    let (status, body) = builder(&staff, &siret, &query).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["url"].as_str().unwrap().starts_with(&expected));
    let query = format!("redirect_uri={}", encode("http://logiciel.fr/retour"));
    let (status, body) = builder(&staff, &siret, &query).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("redirect_uri_not_https"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("localhost"),
        "{body}"
    );
}

#[tokio::test]
async fn the_kit_page_gathers_everything_for_those_who_may_see_it() {
    let app = TestApp::spawn_with_demo().await;
    let siret = siret(0);
    let page = format!("/collectivites/{siret}/kit");
    let demandeur = app
        .signed_in(&demandeur_of(&app, "demo-request-000").await)
        .await;
    let (status, html) = demandeur.get_text(&page).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Chatillon-en-Bois"));
    assert!(
        html.contains(&tera::escape_html(&form_url(0))),
        "form URL shown"
    );
    for link in [
        format!("/collectivites/{siret}/qrcode.png"),
        format!("/collectivites/{siret}/qrcode.jpg"),
        format!("/collectivites/{siret}/qrcode.svg"),
        format!("/collectivites/{siret}/kit/site-internet.html"),
        format!("/collectivites/{siret}/kit/site-internet.txt"),
        format!("/collectivites/{siret}/kit/email-familles.txt"),
        format!("/collectivites/{siret}/kit/affiche.pdf"),
        format!("/collectivites/{siret}/kit.zip"),
    ] {
        assert!(html.contains(&format!("\"{link}\"")), "{link}");
    }
    assert!(html.contains("data-testid=\"url-builder\""));
    assert!(html.contains("Réconcilier les identités"));
    assert!(!html.contains("data-testid=\"built-url\""));

    // The builder on the page: the URL, or the refusal in French (400).
    let (status, html) = demandeur
        .get_text(&format!(
            "{page}?external_id=famille-7&redirect_uri={}",
            encode("https://logiciel.fr/retour")
        ))
        .await;
    assert_eq!(status, 200);
    let built = format!(
        "{}?external_id=famille-7&redirect_uri=https%3A%2F%2Flogiciel.fr%2Fretour",
        form_url(0)
    );
    assert!(html.contains(&tera::escape_html(&built)), "{html}");
    let (status, html) = demandeur
        .get_text(&format!(
            "{page}?external_id=&redirect_uri=ftp%3A%2F%2Fx.fr"
        ))
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("data-testid=\"builder-error\""), "{html}");
    let message = tera::escape_html("redirect_uri doit commencer par https://");
    assert!(html.contains(&message), "{html}");

    // Who else: the éditeur yes, another éditeur and another contact no, anonymous to sign in.
    let editeur_a = app.signed_in("equipe@mushroom-software.fr").await;
    assert_eq!(editeur_a.get(&page).await.status().as_u16(), 200);
    let editeur_b = app.signed_in("equipe@arpege-citoyen.fr").await;
    let other = app
        .signed_in(&demandeur_of(&app, "demo-request-001").await)
        .await;
    for visitor in [&editeur_b, &other] {
        for path in [
            page.clone(),
            format!("{page}.zip"),
            format!("{page}/affiche.pdf"),
        ] {
            assert_eq!(visitor.get(&path).await.status().as_u16(), 404, "{path}");
        }
    }
    for path in [
        page.clone(),
        format!("{page}.zip"),
        format!("{page}/email-familles.txt"),
    ] {
        let response = app.visitor().get(&path).await;
        assert_eq!(response.status().as_u16(), 303, "{path}");
        assert_eq!(header(&response, "location"), "/connexion");
    }

    // The page is reachable from the request page and the staff collectivité page.
    let link = format!("href=\"/collectivites/{siret}/kit\"");
    let (_, request_page) = demandeur.get_text("/demandes/demo-request-000").await;
    assert!(
        request_page.contains(&link),
        "request page links to the kit"
    );
    let (_, request_page) = editeur_a.get_text("/demandes/demo-request-000").await;
    assert!(request_page.contains(&link));
    let staff = app.signed_in(DEMO_INSTRUCTEUR).await;
    let (_, collectivite_page) = staff.get_text("/collectivites/demo-collectivite-000").await;
    assert!(
        collectivite_page.contains(&link),
        "collectivité page links to the kit"
    );
    assert_eq!(staff.get(&page).await.status().as_u16(), 200);
}
