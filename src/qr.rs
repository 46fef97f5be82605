//! QR codes of a collectivité's form address: 480×480 pixels exactly, black on white, error
//! correction level H, with a quiet zone of at least 4 modules, as PNG, JPEG or SVG.
//!
//! Modules are whole pixels (no resampling blur): the module size is the largest that fits
//! the code and its quiet zone in 480 pixels, and the few pixels left over widen the margin.
//! Generation is CPU work: handlers run it on the blocking pool, once per exact input —
//! [`cached`] keeps the latest rendered files (bounded in count and bytes).

use std::io::Cursor;

use image::{GrayImage, ImageEncoder, Luma};
use qrcode::{Color, EcLevel, QrCode};

/// Width and height of the PNG and JPEG images, and of the SVG drawing, in pixels.
pub const SIZE_PX: u32 = 480;
/// The quiet zone around the code, in modules (the QR specification asks for 4).
pub const QUIET_ZONE_MODULES: usize = 4;
/// JPEG quality (1–100).
pub const JPEG_QUALITY: u8 = 90;

/// Why a QR code could not be made.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The text does not fit in a QR code (or not legibly in 480 pixels).
    #[error("texte trop long pour un QR code de 480 pixels")]
    TooLong,
    /// The image encoder failed.
    #[error("encodage de l'image : {0}")]
    Encoding(#[from] image::ImageError),
}

/// The image formats offered for download.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QrFormat {
    Png,
    Jpeg,
    Svg,
}

impl QrFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            QrFormat::Png => "png",
            QrFormat::Jpeg => "jpg",
            QrFormat::Svg => "svg",
        }
    }

    /// The `Content-Type` of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            QrFormat::Png => "image/png",
            QrFormat::Jpeg => "image/jpeg",
            QrFormat::Svg => "image/svg+xml",
        }
    }

    /// The download name: `QRCode_<SIRET>.<ext>`.
    pub fn file_name(self, siret: &str) -> String {
        format!("QRCode_{siret}.{}", self.extension())
    }
}

/// The modules of a QR code, without quiet zone: `width × width`, row by row.
#[derive(Clone, Debug)]
pub struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

impl QrMatrix {
    /// Encodes `text` at error correction level H.
    pub fn encode(text: &str) -> Result<QrMatrix, QrError> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::H)
            .map_err(|_| QrError::TooLong)?;
        let width = code.width();
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        Ok(QrMatrix { width, dark })
    }

    /// Modules per side, without quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at (`x`, `y`) is dark (outside the code: light).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// Each row's runs of dark modules, as (row, first column, length): what vector
    /// renderings draw, one rectangle per run.
    pub fn dark_runs(&self) -> Vec<(usize, usize, usize)> {
        let mut runs = Vec::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if self.is_dark(x, y) {
                    let start = x;
                    while x < self.width && self.is_dark(x, y) {
                        x += 1;
                    }
                    runs.push((y, start, x - start));
                } else {
                    x += 1;
                }
            }
        }
        runs
    }
}

/// Where the code sits in the 480-pixel square: pixels per module and offset of the first
/// module (the quiet zone, at least [`QUIET_ZONE_MODULES`] modules wide).
fn layout(width: usize) -> Result<(u32, u32), QrError> {
    let total = u32::try_from(width + 2 * QUIET_ZONE_MODULES).map_err(|_| QrError::TooLong)?;
    // Below 2 pixels per module a printed code is hard to read: refuse rather than blur.
    let module = SIZE_PX / total;
    if module < 2 {
        return Err(QrError::TooLong);
    }
    let code_px = module * (total - 2 * QUIET_ZONE_MODULES as u32);
    Ok((module, (SIZE_PX - code_px) / 2))
}

/// The 480×480 grayscale image of `text`'s QR code.
pub fn image(text: &str) -> Result<GrayImage, QrError> {
    let matrix = QrMatrix::encode(text)?;
    let (module, offset) = layout(matrix.width())?;
    let mut img = GrayImage::from_pixel(SIZE_PX, SIZE_PX, Luma([255]));
    for (y, x, length) in matrix.dark_runs() {
        // Within bounds: `layout` fits every module inside the square.
        let top = offset + y as u32 * module;
        let left = offset + x as u32 * module;
        for py in top..top + module {
            for px in left..left + module * length as u32 {
                img.put_pixel(px, py, Luma([0]));
            }
        }
    }
    Ok(img)
}

/// The QR code of `text` as a PNG file.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let img = image(text)?;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out).write_image(
        img.as_raw(),
        SIZE_PX,
        SIZE_PX,
        image::ExtendedColorType::L8,
    )?;
    Ok(out)
}

/// The QR code of `text` as a JPEG file (baseline, grayscale, quality [`JPEG_QUALITY`]).
pub fn jpeg(text: &str) -> Result<Vec<u8>, QrError> {
    let img = image(text)?;
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).write_image(
        img.as_raw(),
        SIZE_PX,
        SIZE_PX,
        image::ExtendedColorType::L8,
    )?;
    Ok(out.into_inner())
}

/// The QR code of `text` as an SVG drawing of 480×480 pixels: one path of dark rectangles
/// on a white square, in module units.
pub fn svg(text: &str) -> Result<String, QrError> {
    let matrix = QrMatrix::encode(text)?;
    let total = matrix.width() + 2 * QUIET_ZONE_MODULES;
    let mut path = String::new();
    for (y, x, length) in matrix.dark_runs() {
        path.push_str(&format!(
            "M{} {}h{length}v1h-{length}z",
            x + QUIET_ZONE_MODULES,
            y + QUIET_ZONE_MODULES
        ));
    }
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{SIZE_PX}\" height=\"{SIZE_PX}\" \
         viewBox=\"0 0 {total} {total}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{total}\" height=\"{total}\" fill=\"#ffffff\"/>\
         <path fill=\"#000000\" d=\"{path}\"/></svg>\n"
    ))
}

/// The QR code of `text` in `format`.
pub fn render(text: &str, format: QrFormat) -> Result<Vec<u8>, QrError> {
    match format {
        QrFormat::Png => png(text),
        QrFormat::Jpeg => jpeg(text),
        QrFormat::Svg => svg(text).map(String::into_bytes),
    }
}

/// Rendered files kept by [`cached`] at most.
pub const CACHE_ENTRIES: usize = 512;
/// Bytes of rendered files kept by [`cached`] at most.
pub const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Rendered files by exact input (format, text), with insertion order for eviction.
#[derive(Default)]
struct Cache {
    files: std::collections::HashMap<(QrFormat, String), std::sync::Arc<Vec<u8>>>,
    order: std::collections::VecDeque<(QrFormat, String)>,
    bytes: usize,
}

fn cache() -> &'static std::sync::Mutex<Cache> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<Cache>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The file already rendered for exactly this input, if still kept.
pub fn cached(text: &str, format: QrFormat) -> Option<std::sync::Arc<Vec<u8>>> {
    let cache = cache()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.files.get(&(format, text.to_owned())).cloned()
}

/// The QR code of `text` in `format`, from the cache when this exact input was rendered
/// lately, else rendered and kept (the oldest files leave first once [`CACHE_ENTRIES`] or
/// [`CACHE_BYTES`] is reached).
pub fn render_cached(text: &str, format: QrFormat) -> Result<std::sync::Arc<Vec<u8>>, QrError> {
    if let Some(hit) = cached(text, format) {
        return Ok(hit);
    }
    let file = std::sync::Arc::new(render(text, format)?);
    let mut cache = cache()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (format, text.to_owned());
    if !cache.files.contains_key(&key) && file.len() <= CACHE_BYTES {
        while cache.files.len() >= CACHE_ENTRIES || cache.bytes + file.len() > CACHE_BYTES {
            let Some(oldest) = cache.order.pop_front() else {
                break;
            };
            if let Some(gone) = cache.files.remove(&oldest) {
                cache.bytes -= gone.len();
            }
        }
        cache.bytes += file.len();
        cache.order.push_back(key.clone());
        cache.files.insert(key, file.clone());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://quotient-familial.numerique.gouv.fr/collectivites/21260790000013";

    #[test]
    fn exact_size_whole_modules_and_quiet_zone() {
        let matrix = QrMatrix::encode(URL).unwrap();
        let (module, offset) = layout(matrix.width()).unwrap();
        assert!(module >= 2);
        assert!(offset >= module * QUIET_ZONE_MODULES as u32);
        assert!(offset + module * matrix.width() as u32 <= SIZE_PX);
        let img = image(URL).unwrap();
        assert_eq!(img.dimensions(), (SIZE_PX, SIZE_PX));
        // Only black and white; the quiet zone is white; the top-left finder is black.
        assert!(img.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
        for i in 0..offset {
            assert_eq!(img.get_pixel(i, i).0[0], 255);
            assert_eq!(img.get_pixel(SIZE_PX - 1 - i, SIZE_PX - 1 - i).0[0], 255);
        }
        assert_eq!(img.get_pixel(offset, offset).0[0], 0);
    }

    #[test]
    fn formats() {
        let png = png(URL).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let jpeg = jpeg(URL).unwrap();
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]));
        assert!(jpeg.ends_with(&[0xFF, 0xD9]));
        let svg = svg(URL).unwrap();
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("width=\"480\" height=\"480\""));
        assert_eq!(QrFormat::Jpeg.file_name("123"), "QRCode_123.jpg");
    }

    #[test]
    fn text_too_long_is_refused() {
        assert!(matches!(png(&"a".repeat(5000)), Err(QrError::TooLong)));
    }

    #[test]
    fn cache_returns_the_rendered_bytes_of_the_exact_input_within_bounds() {
        let text = "https://quotient-familial.numerique.gouv.fr/collectivites/21260790000099";
        for format in [QrFormat::Png, QrFormat::Jpeg, QrFormat::Svg] {
            let first = render_cached(text, format).unwrap();
            assert_eq!(*first, render(text, format).unwrap(), "{format:?}");
            let again = render_cached(text, format).unwrap();
            assert!(
                std::sync::Arc::ptr_eq(&first, &again),
                "served from the cache"
            );
            assert_eq!(cached(text, format).as_deref(), Some(&*first));
        }
        // Another input (one character apart) is another file, never the cached one.
        let other = format!("{text}0");
        assert_ne!(
            *render_cached(&other, QrFormat::Png).unwrap(),
            *render_cached(text, QrFormat::Png).unwrap()
        );
        assert_eq!(
            *render_cached(&other, QrFormat::Png).unwrap(),
            render(&other, QrFormat::Png).unwrap()
        );

        // Bounded (one test, as the cache is shared by the whole process).
        for i in 0..(CACHE_ENTRIES + 20) {
            render_cached(&format!("https://exemple.fr/borne/{i}"), QrFormat::Svg).unwrap();
        }
        let cache = cache().lock().unwrap();
        assert!(cache.files.len() <= CACHE_ENTRIES);
        assert_eq!(cache.files.len(), cache.order.len());
        assert_eq!(
            cache.bytes,
            cache.files.values().map(|f| f.len()).sum::<usize>()
        );
        assert!(cache.bytes <= CACHE_BYTES);
        drop(cache);
        // The oldest left first; the newest is kept.
        assert!(cached("https://exemple.fr/borne/0", QrFormat::Svg).is_none());
        let newest = format!("https://exemple.fr/borne/{}", CACHE_ENTRIES + 19);
        assert!(cached(&newest, QrFormat::Svg).is_some());
    }
}
