//! The kit de communication of a collectivité: everything it needs to tell families about
//! the QF form, each piece carrying its name and its form address.
//!
//! - a text for its website, as an HTML fragment and as plain text (`templates/kit/`);
//! - an e-mail to send to families, subject and body in plain text;
//! - an A4 poster (PDF) with a title, what families gain, the QR code 10 cm wide and the
//!   address in full;
//! - the QR code as PNG and JPEG;
//! - all of the above in one ZIP file.
//!
//! The poster uses the PDF standard fonts Helvetica and Helvetica-Bold with the
//! `WinAnsiEncoding`, which holds every French letter (é, è, à, ç, œ, «, », ’…): no font file is
//! shipped or embedded, and every PDF reader draws them. Text is measured with the metrics
//! printpdf carries for these fonts, to centre and wrap lines. The QR code is drawn as
//! vector rectangles, sharp at any print size.
//!
//! Everything here is CPU work without I/O: handlers run it on the blocking pool.

use std::io::{Cursor, Write};
use std::sync::OnceLock;

use crate::qr::{self, QrFormat, QrMatrix};

/// Why a kit file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("gabarit du kit : {0}")]
    Template(#[from] tera::Error),
    #[error("QR code : {0}")]
    Qr(#[from] qr::QrError),
    #[error("archive ZIP : {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("écriture : {0}")]
    Io(#[from] std::io::Error),
}

/// The collectivité a kit is for.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KitSubject {
    /// Its name, as families know it.
    pub name: String,
    /// Its SIRET (14 digits).
    pub siret: String,
    /// Its form address, without parameters.
    pub form_url: String,
}

/// The files of the kit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KitFile {
    /// `site-internet.html`: a fragment to paste into the website.
    SiteHtml,
    /// `site-internet.txt`: the same text, plain.
    SiteText,
    /// `email-familles.txt`: subject and body of the e-mail to families.
    Email,
    /// `affiche.pdf`: the A4 poster.
    Poster,
    /// `QRCode_<SIRET>.png`.
    QrPng,
    /// `QRCode_<SIRET>.jpg`.
    QrJpeg,
}

impl KitFile {
    /// Every file, in the order of the ZIP archive.
    pub const ALL: [KitFile; 6] = [
        KitFile::SiteHtml,
        KitFile::SiteText,
        KitFile::Email,
        KitFile::Poster,
        KitFile::QrPng,
        KitFile::QrJpeg,
    ];

    /// The file's name (in the archive and as a download).
    pub fn file_name(self, siret: &str) -> String {
        match self {
            KitFile::SiteHtml => "site-internet.html".to_owned(),
            KitFile::SiteText => "site-internet.txt".to_owned(),
            KitFile::Email => "email-familles.txt".to_owned(),
            KitFile::Poster => "affiche.pdf".to_owned(),
            KitFile::QrPng => QrFormat::Png.file_name(siret),
            KitFile::QrJpeg => QrFormat::Jpeg.file_name(siret),
        }
    }

    /// The file's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            KitFile::SiteHtml => "text/html; charset=utf-8",
            KitFile::SiteText | KitFile::Email => "text/plain; charset=utf-8",
            KitFile::Poster => "application/pdf",
            KitFile::QrPng => QrFormat::Png.content_type(),
            KitFile::QrJpeg => QrFormat::Jpeg.content_type(),
        }
    }

    /// The file named `name` in the kit of `siret`, if any.
    pub fn from_file_name(name: &str, siret: &str) -> Option<KitFile> {
        KitFile::ALL
            .into_iter()
            .find(|file| file.file_name(siret) == name)
    }
}

/// The name of the ZIP archive: `kit_<SIRET>.zip`.
pub fn zip_name(siret: &str) -> String {
    format!("kit_{siret}.zip")
}

/// The e-mail to families.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Email {
    pub subject: String,
    pub body: String,
}

fn context(subject: &KitSubject) -> tera::Context {
    let mut context = tera::Context::new();
    context.insert("name", &subject.name);
    context.insert("siret", &subject.siret);
    context.insert("form_url", &subject.form_url);
    context
}

/// The website text as an HTML fragment (names escaped).
pub fn site_html(tera: &tera::Tera, subject: &KitSubject) -> Result<String, KitError> {
    Ok(tera.render("kit/site-internet.html", &context(subject))?)
}

/// The website text, plain.
pub fn site_text(tera: &tera::Tera, subject: &KitSubject) -> Result<String, KitError> {
    Ok(tera.render("kit/site-internet.txt", &context(subject))?)
}

/// The e-mail to families.
pub fn email(tera: &tera::Tera, subject: &KitSubject) -> Result<Email, KitError> {
    let context = context(subject);
    Ok(Email {
        subject: tera
            .render("kit/email-objet.txt", &context)?
            .trim()
            .to_owned(),
        body: tera.render("kit/email-corps.txt", &context)?,
    })
}

/// The e-mail as one text file: `Objet : …`, a blank line, the body.
pub fn email_file(email: &Email) -> String {
    format!("Objet : {}\n\n{}", email.subject, email.body)
}

/// One file of the kit.
pub fn file(tera: &tera::Tera, subject: &KitSubject, which: KitFile) -> Result<Vec<u8>, KitError> {
    Ok(match which {
        KitFile::SiteHtml => site_html(tera, subject)?.into_bytes(),
        KitFile::SiteText => site_text(tera, subject)?.into_bytes(),
        KitFile::Email => email_file(&email(tera, subject)?).into_bytes(),
        KitFile::Poster => poster_pdf(subject)?,
        KitFile::QrPng => qr::png(&subject.form_url)?,
        KitFile::QrJpeg => qr::jpeg(&subject.form_url)?,
    })
}

/// The whole kit as a ZIP archive (deflate), files in [`KitFile::ALL`] order.
pub fn zip(tera: &tera::Tera, subject: &KitSubject) -> Result<Vec<u8>, KitError> {
    let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for which in KitFile::ALL {
        let bytes = file(tera, subject, which)?;
        // Images are already compressed: stored as they are.
        let method = match which {
            KitFile::QrPng | KitFile::QrJpeg => zip::CompressionMethod::Stored,
            _ => zip::CompressionMethod::Deflated,
        };
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .unix_permissions(0o644);
        archive.start_file(which.file_name(&subject.siret), options)?;
        archive.write_all(&bytes)?;
    }
    Ok(archive.finish()?.into_inner())
}

// ---------------------------------------------------------------------------------------
// The poster

/// The poster's fixed texts.
const POSTER_TITLE: &str = "Transmettez votre quotient familial en ligne";
const POSTER_INTRO: &str = "Pour calculer vos tarifs (restauration scolaire, accueil de loisirs, activités…), votre collectivité a besoin de votre quotient familial CAF ou MSA. Transmettez-le en quelques minutes :";
const POSTER_GAINS: [&str; 3] = [
    "aucun justificatif à fournir : vos informations viennent directement de la CAF ou de la MSA ;",
    "avec FranceConnect, ou en renseignant vous-même vos informations ;",
    "vous voyez ce qui sera transmis avant de l'envoyer, et vous bénéficiez du tarif adapté à vos ressources.",
];
const POSTER_SCAN: &str = "Scannez ce QR code avec l'appareil photo de votre téléphone";
const POSTER_OR: &str = "ou saisissez cette adresse dans votre navigateur :";
const POSTER_FOOTER: &str = "Service de transmission administrative des données des particuliers, proposé par l'État (API Particulier, direction interministérielle du numérique).";

/// A4, in points.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 48.0;
const MM: f32 = 72.0 / 25.4;
/// The QR code's side, quiet zone included: 10 cm, never below 8 cm.
const QR_SIDE_MAX: f32 = 100.0 * MM;
const QR_SIDE_MIN: f32 = 80.0 * MM;

/// Blue France (DSFR `#000091`) and the DSFR text grey `#161616`.
const BLUE: (f32, f32, f32) = (0.0, 0.0, 145.0 / 255.0);
const TEXT: (f32, f32, f32) = (22.0 / 255.0, 22.0 / 255.0, 22.0 / 255.0);
const GREY: (f32, f32, f32) = (0.4, 0.4, 0.4);
const WHITE: (f32, f32, f32) = (1.0, 1.0, 1.0);

/// The two standard fonts the poster uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
}

impl Face {
    fn builtin(self) -> printpdf::BuiltinFont {
        match self {
            Face::Regular => printpdf::BuiltinFont::Helvetica,
            Face::Bold => printpdf::BuiltinFont::HelveticaBold,
        }
    }
}

/// Advance widths (thousandths of an em) of the WinAnsi characters, per face, read once from
/// the font data printpdf carries for the standard fonts.
fn widths(face: Face) -> &'static [u16; 256] {
    static REGULAR: OnceLock<[u16; 256]> = OnceLock::new();
    static BOLD: OnceLock<[u16; 256]> = OnceLock::new();
    let cell = match face {
        Face::Regular => &REGULAR,
        Face::Bold => &BOLD,
    };
    cell.get_or_init(|| {
        // Unknown glyphs get Helvetica's typical width rather than nothing.
        let mut table = [556u16; 256];
        // The font data has no glyph for the spaces (nothing to draw): Helvetica's space is
        // 278 thousandths of an em in both faces, the soft hyphen is a hyphen.
        table[0x20] = 278;
        table[0xA0] = 278;
        table[0xAD] = 333;
        if let Some(font) = face.builtin().get_parsed_font() {
            let per_em = f32::from(font.units_per_em.max(1));
            for (byte, slot) in table.iter_mut().enumerate() {
                let Some(c) = win_ansi_char(byte as u8) else {
                    continue;
                };
                if let Some(width) = font
                    .lookup_glyph_index(u32::from(c))
                    .and_then(|gid| font.get_glyph_width(gid))
                {
                    *slot = (f32::from(width) * 1000.0 / per_em).round() as u16;
                }
            }
        }
        table
    })
}

/// The character of a WinAnsi (CP1252) byte, for the printable ones.
fn win_ansi_char(byte: u8) -> Option<char> {
    const HIGH: [char; 32] = [
        '€', '\0', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\0', 'Ž', '\0', '\0',
        '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\0', 'ž', 'Ÿ',
    ];
    match byte {
        0x20..=0x7E | 0xA0..=0xFF => Some(char::from(byte)),
        0x80..=0x9F => Some(HIGH[usize::from(byte - 0x80)]).filter(|c| *c != '\0'),
        _ => None,
    }
}

/// The WinAnsi byte of a character, if it has one.
fn win_ansi_byte(c: char) -> Option<u8> {
    match u32::from(c) {
        code @ (0x20..=0x7E | 0xA0..=0xFF) => u8::try_from(code).ok(),
        _ => (0x80..=0x9Fu8).find(|b| win_ansi_char(*b) == Some(c)),
    }
}

/// `text` with every character the standard fonts can draw: thin and narrow no-break spaces
/// become no-break spaces, non-breaking hyphens hyphens, anything else outside WinAnsi `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{2009}' | '\u{202F}' => '\u{A0}',
            '\u{2010}' | '\u{2011}' => '-',
            c if win_ansi_byte(c).is_some() => c,
            _ => '?',
        })
        .collect()
}

/// Width of `text` (already [`printable`]) in points.
fn text_width(text: &str, face: Face, size: f32) -> f32 {
    let table = widths(face);
    let units: u32 = text
        .chars()
        .map(|c| u32::from(win_ansi_byte(c).map_or(556, |b| table[usize::from(b)])))
        .sum();
    units as f32 * size / 1000.0
}

/// Greedy word wrap of `text` into lines at most `max_width` wide; a word longer than a line
/// is cut where it must.
fn wrap(text: &str, face: Face, size: f32, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, face, size) <= max_width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone: cut it if it still does not fit.
        let mut rest = word.to_owned();
        while text_width(&rest, face, size) > max_width {
            let mut cut = String::new();
            for c in rest.chars() {
                let mut longer = cut.clone();
                longer.push(c);
                if text_width(&longer, face, size) > max_width && !cut.is_empty() {
                    break;
                }
                cut = longer;
            }
            rest = rest[cut.len()..].to_owned();
            lines.push(cut);
        }
        line = rest;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The address cut into lines that fit, preferably after a `/`.
fn wrap_url(url: &str, face: Face, size: f32, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for part in url.split_inclusive('/') {
        let candidate = format!("{line}{part}");
        if line.is_empty() || text_width(&candidate, face, size) <= max_width {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, part.to_owned()));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    // A single part longer than a line (no `/` to cut at): cut by characters.
    lines
        .into_iter()
        .flat_map(|l| {
            if text_width(&l, face, size) <= max_width {
                vec![l]
            } else {
                wrap(&l, face, size, max_width)
            }
        })
        .collect()
}

/// A poster being laid out: its drawing operations.
struct Poster {
    ops: Vec<printpdf::Op>,
}

fn rgb((r, g, b): (f32, f32, f32)) -> printpdf::Color {
    printpdf::Color::Rgb(printpdf::Rgb {
        r,
        g,
        b,
        icc_profile: None,
    })
}

fn point(x: f32, y: f32) -> printpdf::Point {
    printpdf::Point {
        x: printpdf::Pt(x),
        y: printpdf::Pt(y),
    }
}

/// A closed rectangle path from its lower-left corner.
fn ring(x: f32, y: f32, width: f32, height: f32) -> printpdf::PolygonRing {
    let corner = |x, y| printpdf::LinePoint {
        p: point(x, y),
        bezier: false,
    };
    printpdf::PolygonRing {
        points: vec![
            corner(x, y),
            corner(x + width, y),
            corner(x + width, y + height),
            corner(x, y + height),
        ],
    }
}

impl Poster {
    /// One line of text with its baseline at `y`, centred on the page.
    fn centred(&mut self, text: &str, face: Face, size: f32, color: (f32, f32, f32), y: f32) {
        let x = (PAGE_WIDTH - text_width(text, face, size)) / 2.0;
        self.text_at(text, face, size, color, x, y);
    }

    fn text_at(
        &mut self,
        text: &str,
        face: Face,
        size: f32,
        color: (f32, f32, f32),
        x: f32,
        y: f32,
    ) {
        use printpdf::Op;
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: printpdf::PdfFontHandle::Builtin(face.builtin()),
                size: printpdf::Pt(size),
            },
            Op::SetFillColor { col: rgb(color) },
            Op::SetTextCursor { pos: point(x, y) },
            Op::ShowText {
                items: vec![printpdf::TextItem::Text(text.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    /// Filled rectangles (one path, so no seams between them).
    fn fill(&mut self, rings: Vec<printpdf::PolygonRing>, color: (f32, f32, f32)) {
        use printpdf::Op;
        self.ops.extend([
            Op::SaveGraphicsState,
            Op::SetFillColor { col: rgb(color) },
            Op::DrawPolygon {
                polygon: printpdf::Polygon {
                    rings,
                    mode: printpdf::PaintMode::Fill,
                    winding_order: printpdf::WindingOrder::NonZero,
                },
            },
            Op::RestoreGraphicsState,
        ]);
    }

    /// The QR code with its quiet zone in a `side`-wide square whose lower-left corner is
    /// (`x`, `y`).
    fn qr(&mut self, matrix: &QrMatrix, x: f32, y: f32, side: f32) {
        let total = (matrix.width() + 2 * qr::QUIET_ZONE_MODULES) as f32;
        let module = side / total;
        let quiet = qr::QUIET_ZONE_MODULES as f32;
        let rings = matrix
            .dark_runs()
            .into_iter()
            .map(|(row, column, length)| {
                ring(
                    x + (quiet + column as f32) * module,
                    // PDF's y axis goes up: row 0 is at the top.
                    y + side - (quiet + row as f32 + 1.0) * module,
                    length as f32 * module,
                    module,
                )
            })
            .collect();
        self.fill(rings, (0.0, 0.0, 0.0));
    }
}

/// Lines of `text` at the largest of `sizes` that needs at most `max_lines` lines (the
/// smallest size otherwise).
fn fit(text: &str, face: Face, sizes: &[f32], max_lines: usize, width: f32) -> (f32, Vec<String>) {
    let mut chosen = (0.0, Vec::new());
    for &size in sizes {
        chosen = (size, wrap(text, face, size, width));
        if chosen.1.len() <= max_lines {
            break;
        }
    }
    chosen
}

/// The A4 poster of `subject`, as a PDF file.
pub fn poster_pdf(subject: &KitSubject) -> Result<Vec<u8>, KitError> {
    let matrix = QrMatrix::encode(&subject.form_url)?;
    let ops = poster_ops(subject, &matrix).ops;
    let mut doc = printpdf::PdfDocument::new(&printable(&format!(
        "Affiche — formulaire de transmission du quotient familial — {}",
        subject.name
    )));
    doc.metadata.info.author = "API Particulier".to_owned();
    doc.metadata.info.subject = format!("Formulaire QF de {}", subject.name);
    let page = printpdf::PdfPage::new(printpdf::Mm(210.0), printpdf::Mm(297.0), ops);
    let mut warnings = Vec::new();
    let bytes = doc
        .with_pages(vec![page])
        .save(&printpdf::PdfSaveOptions::default(), &mut warnings);
    Ok(bytes)
}

/// Lays the poster out, top to bottom for the texts and bottom to top for the address, the
/// QR code taking the room between them (10 cm, at least 8 cm).
fn poster_ops(subject: &KitSubject, matrix: &QrMatrix) -> Poster {
    let mut poster = Poster { ops: Vec::new() };
    let width = PAGE_WIDTH - 2.0 * MARGIN;
    let name = printable(&subject.name);
    let url = printable(&subject.form_url);

    // The band: the service's name, white on blue France.
    let band = 64.0;
    poster.fill(vec![ring(0.0, PAGE_HEIGHT - band, PAGE_WIDTH, band)], BLUE);
    poster.centred(
        "Formulaire de collecte du quotient familial",
        Face::Bold,
        15.0,
        WHITE,
        PAGE_HEIGHT - 30.0,
    );
    poster.centred(
        "Un service de l'État proposé par API Particulier",
        Face::Regular,
        10.5,
        WHITE,
        PAGE_HEIGHT - 48.0,
    );

    // Title, then the collectivité's name.
    let mut y = PAGE_HEIGHT - band - 24.0;
    let (size, lines) = fit(POSTER_TITLE, Face::Bold, &[28.0, 24.0], 2, width);
    for line in lines {
        y -= size * 1.15;
        poster.centred(&line, Face::Bold, size, TEXT, y);
    }
    y -= 10.0;
    // One line down to 20 points, else two lines (smaller for very long names).
    let (size, lines) = match fit(&name, Face::Bold, &[24.0, 22.0, 20.0], 1, width) {
        one_line if one_line.1.len() <= 1 => one_line,
        _ => fit(&name, Face::Bold, &[24.0, 20.0, 16.0, 13.0], 2, width),
    };
    for line in lines.iter().take(4) {
        y -= size * 1.2;
        poster.centred(line, Face::Bold, size, BLUE, y);
    }

    // What families gain.
    y -= 14.0;
    let size = 13.0;
    let leading = size * 1.35;
    for line in wrap(POSTER_INTRO, Face::Regular, size, width) {
        y -= leading;
        poster.text_at(&line, Face::Regular, size, TEXT, MARGIN, y);
    }
    let indent = 16.0;
    for gain in POSTER_GAINS {
        y -= 4.0;
        for (i, line) in wrap(gain, Face::Regular, size, width - indent)
            .into_iter()
            .enumerate()
        {
            y -= leading;
            if i == 0 {
                poster.text_at("•", Face::Bold, size, BLUE, MARGIN + 3.0, y);
            }
            poster.text_at(&line, Face::Regular, size, TEXT, MARGIN + indent, y);
        }
    }
    let top_of_qr_area = y - 10.0;

    // From the bottom: the footer, the address, the invitation to scan.
    let footer_size = 8.5;
    let mut bottom = 30.0;
    let footer = wrap(POSTER_FOOTER, Face::Regular, footer_size, width);
    for line in footer.iter().rev() {
        poster.centred(line, Face::Regular, footer_size, GREY, bottom);
        bottom += footer_size * 1.3;
    }
    bottom += 14.0;
    // The address on one line if it fits at 10 points or more, else cut after a `/`.
    let url_size = [16.0f32, 15.0, 14.0, 13.0, 12.0, 11.0, 10.0]
        .into_iter()
        .find(|s| text_width(&url, Face::Bold, *s) <= width)
        .unwrap_or(10.0);
    let url_lines = wrap_url(&url, Face::Bold, url_size, width);
    for line in url_lines.iter().rev() {
        poster.centred(line, Face::Bold, url_size, BLUE, bottom);
        bottom += url_size * 1.3;
    }
    bottom += 4.0;
    poster.centred(POSTER_OR, Face::Regular, 11.0, TEXT, bottom);
    bottom += 11.0 * 1.6;
    poster.centred(POSTER_SCAN, Face::Bold, 13.0, TEXT, bottom);
    bottom += 13.0 + 4.0;

    // The QR code, centred in the room left.
    let room = top_of_qr_area - bottom;
    let side = room.clamp(QR_SIDE_MIN, QR_SIDE_MAX);
    let qr_y = bottom + (room - side).max(0.0) / 2.0;
    poster.qr(matrix, (PAGE_WIDTH - side) / 2.0, qr_y, side);
    poster
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(name: &str) -> KitSubject {
        KitSubject {
            name: name.to_owned(),
            siret: "21730650000091".to_owned(),
            form_url: "https://quotient-familial.numerique.gouv.fr/collectivites/21730650000091"
                .to_owned(),
        }
    }

    #[test]
    fn win_ansi_round_trip() {
        for byte in 0x20..=0xFFu8 {
            if let Some(c) = win_ansi_char(byte) {
                assert_eq!(win_ansi_byte(c), Some(byte), "{c}");
            }
        }
        assert_eq!(
            printable("Épinal « œuvre » 3\u{202F}€ ✓"),
            "Épinal « œuvre » 3\u{A0}€ ?"
        );
    }

    #[test]
    fn metrics_come_from_the_fonts() {
        // Helvetica: "i" is narrow, "W" wide, the bold face wider.
        assert!(text_width("i", Face::Regular, 10.0) < text_width("W", Face::Regular, 10.0));
        assert!(
            text_width("Chambéry", Face::Bold, 10.0) > text_width("Chambéry", Face::Regular, 10.0)
        );
        // Helvetica's own widths: e 556, i 222, W 944, m 833, space 278 (thousandths of em).
        for (c, expected) in [
            ("e", 556.0),
            ("é", 556.0),
            ("i", 222.0),
            ("W", 944.0),
            ("m", 833.0),
            (" ", 278.0),
        ] {
            let width = text_width(c, Face::Regular, 1000.0);
            assert!((width - expected).abs() < 2.0, "{c}: {width}");
        }
    }

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        let text = "aucun justificatif à fournir : vos informations viennent directement de la CAF ou de la MSA";
        let lines = wrap(text, Face::Regular, 12.0, 200.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), text);
        assert!(
            lines
                .iter()
                .all(|l| text_width(l, Face::Regular, 12.0) <= 200.0)
        );
        let long = "x".repeat(300);
        let cut = wrap(&long, Face::Bold, 12.0, 100.0);
        assert_eq!(cut.concat(), long);
        let url = "https://quotient-familial.numerique.gouv.fr/collectivites/21730650000091";
        let lines = wrap_url(url, Face::Bold, 16.0, 250.0);
        assert_eq!(lines.concat(), url);
        assert!(lines.len() > 1);
    }

    #[test]
    fn the_qr_code_keeps_at_least_8_cm_even_with_a_long_name() {
        let long = subject(&"Communauté d'agglomération du Grand Territoire ".repeat(4));
        let matrix = QrMatrix::encode(&long.form_url).unwrap();
        for s in [subject("Chambéry"), long] {
            let poster = poster_ops(&s, &matrix);
            let side = poster
                .ops
                .iter()
                .filter_map(|op| match op {
                    printpdf::Op::DrawPolygon { polygon } if polygon.rings.len() > 100 => {
                        let xs: Vec<f32> = polygon
                            .rings
                            .iter()
                            .flat_map(|r| r.points.iter().map(|p| p.p.x.0))
                            .collect();
                        let min = xs.iter().copied().fold(f32::MAX, f32::min);
                        let max = xs.iter().copied().fold(f32::MIN, f32::max);
                        Some(max - min)
                    }
                    _ => None,
                })
                .next()
                .unwrap();
            // The dark modules span the code without its quiet zone.
            let full = side * (matrix.width() + 8) as f32 / matrix.width() as f32;
            assert!(full >= QR_SIDE_MIN - 0.5, "{} mm", full / MM);
        }
    }

    #[test]
    fn the_pdf_is_a_pdf() {
        let pdf = poster_pdf(&subject("Chambéry")).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.len() < 200_000, "{} bytes", pdf.len());
    }

    #[test]
    fn file_names() {
        assert_eq!(KitFile::QrJpeg.file_name("123"), "QRCode_123.jpg");
        assert_eq!(
            KitFile::from_file_name("affiche.pdf", "123"),
            Some(KitFile::Poster)
        );
        assert_eq!(KitFile::from_file_name("autre.pdf", "123"), None);
        assert_eq!(zip_name("123"), "kit_123.zip");
    }
}
