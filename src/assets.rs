//! Static assets: the project's own files (embedded in the binary) and the DSFR design
//! system, fetched once from the npm registry at a pinned version and integrity-checked.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use sha2::{Digest, Sha512};

/// The pinned `@gouvfr/dsfr` version.
pub const DSFR_VERSION: &str = "1.15.3";
/// Where the pinned tarball is downloaded from.
pub const DSFR_TARBALL_URL: &str = "https://registry.npmjs.org/@gouvfr/dsfr/-/dsfr-1.15.3.tgz";
/// The tarball's published integrity (SRI, sha512).
pub const DSFR_INTEGRITY: &str = "sha512-R9AALZc1LfZjtytWZMOaUIOHWTkllBZ/sZlsL8TpKZVgF3qUKXt/uNYh+L1D1Fh4p92ZqWxbtNcebsigBZe5pQ==";

/// The project's own files under `static/`, embedded in release builds.
#[derive(rust_embed::RustEmbed)]
#[folder = "static/"]
#[exclude = "vendor/*"]
pub struct OwnStatic;

/// The page templates under `templates/`, embedded in release builds.
#[derive(rust_embed::RustEmbed)]
#[folder = "templates/"]
pub struct Templates;

/// The folder holding the unpacked `dist/` of the pinned DSFR version under `base`.
pub fn dsfr_dist_dir(base: &Path) -> PathBuf {
    base.join(format!("dsfr-{DSFR_VERSION}"))
}

/// Whether the pinned DSFR is unpacked under `base`.
pub fn dsfr_available(base: &Path) -> bool {
    dsfr_dist_dir(base).join(".complete").is_file()
}

/// Checks a downloaded tarball against the pinned integrity.
pub fn integrity_matches(bytes: &[u8], integrity: &str) -> bool {
    let Some(expected) = integrity.strip_prefix("sha512-") else {
        return false;
    };
    let digest = Sha512::digest(bytes);
    let actual = base64::engine::general_purpose::STANDARD.encode(digest);
    // Not a secret: a plain comparison is fine here.
    actual == expected
}

/// Makes sure the pinned DSFR is unpacked under `base`, downloading it when missing.
/// Returns the folder to serve at `/static/dsfr`.
pub async fn ensure_dsfr(base: &Path, url: &str) -> anyhow::Result<PathBuf> {
    let target = dsfr_dist_dir(base);
    if dsfr_available(base) {
        return Ok(target);
    }
    tracing::info!(
        version = DSFR_VERSION,
        "téléchargement du DSFR depuis le registre npm"
    );
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()?;
    let response = client
        .get(url)
        .send()
        .await
        .context("téléchargement du DSFR impossible")?
        .error_for_status()
        .context("téléchargement du DSFR refusé")?;
    let bytes = response
        .bytes()
        .await
        .context("téléchargement du DSFR interrompu")?;
    if !integrity_matches(&bytes, DSFR_INTEGRITY) {
        anyhow::bail!("le paquet DSFR téléchargé ne correspond pas à l'empreinte attendue");
    }
    let base = base.to_path_buf();
    tokio::task::spawn_blocking(move || unpack_dist(&bytes, &base))
        .await
        .context("décompression du DSFR interrompue")??;
    Ok(target)
}

/// Unpacks `package/dist/` of the tarball into the versioned folder, atomically.
fn unpack_dist(tarball: &[u8], base: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(base)
        .with_context(|| format!("DSFR_DIR : impossible de créer {}", base.display()))?;
    let staging = base.join(format!(".dsfr-{DSFR_VERSION}-{}", uuid::Uuid::new_v4()));
    let decoder = flate2::read::GzDecoder::new(tarball);
    let mut archive = tar::Archive::new(decoder);
    let mut files = 0usize;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Ok(relative) = path.strip_prefix("package/dist") else {
            continue;
        };
        if !wanted(relative) || !entry.header().entry_type().is_file() {
            continue;
        }
        // `strip_prefix` plus the component check keeps every file inside `staging`.
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            continue;
        }
        let destination = staging.join(relative);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content)?;
        std::fs::write(&destination, content)?;
        files += 1;
    }
    if files == 0 {
        anyhow::bail!("le paquet DSFR ne contient pas de dossier dist/");
    }
    std::fs::write(staging.join(".complete"), DSFR_VERSION)?;
    let target = dsfr_dist_dir(base);
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    std::fs::rename(&staging, &target)?;
    tracing::info!(files, dir = %target.display(), "DSFR prêt");
    Ok(())
}

/// The parts of `dist/` a page needs.
fn wanted(relative: &Path) -> bool {
    let text = relative.to_string_lossy();
    matches!(
        text.as_ref(),
        "dsfr.min.css" | "dsfr.module.min.js" | "dsfr.nomodule.min.js" | "utility/utility.min.css"
    ) || ["fonts/", "icons/", "favicon/", "artwork/"]
        .iter()
        .any(|prefix| text.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_check_accepts_the_right_digest_only() {
        let digest = Sha512::digest(b"abc");
        let sri = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert!(integrity_matches(b"abc", &sri));
        assert!(!integrity_matches(b"abd", &sri));
        assert!(!integrity_matches(b"abc", "sha256-xyz"));
    }

    #[test]
    fn only_needed_dist_files_are_kept() {
        assert!(wanted(Path::new("dsfr.min.css")));
        assert!(wanted(Path::new("fonts/Marianne-Regular.woff2")));
        assert!(!wanted(Path::new("component/button/button.css")));
        assert!(!wanted(Path::new("dsfr.css")));
    }
}
