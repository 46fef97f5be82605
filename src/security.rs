//! Security headers set on every response: a strict Content-Security-Policy (no inline script
//! or style, no framing), HSTS when the public address is https, and `Cache-Control: no-store`
//! on every page that does not choose its own caching (signed-in pages are never stored);
//! and the client IP, read from `X-Forwarded-For` only behind a trusted proxy.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};

use crate::state::AppState;

/// The Content-Security-Policy of every response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// The CSP, with `form-action` also allowing ProConnect's origin and `https:` when ProConnect
/// is configured: the sign-in and sign-out forms are answered with a redirect to ProConnect,
/// which may redirect on to the agent's own identity provider, and browsers check every step
/// of that chain against `form-action`. Forms stay limited to https targets (and the loopback
/// issuer of the tests).
pub fn content_security_policy(extra_form_origin: Option<&str>) -> String {
    match extra_form_origin {
        Some(origin) => CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin} https:"),
        ),
        None => CONTENT_SECURITY_POLICY.to_owned(),
    }
}

/// The origin (`scheme://host[:port]`) of an absolute URL.
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.origin() {
        origin @ url::Origin::Tuple(..) => Some(origin.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// Strict-Transport-Security when served over https (two years, subdomains included).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The middleware.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>();
    let https = state.is_some_and(|state| state.settings.is_https());
    let proconnect_origin = state
        .and_then(|state| state.settings.proconnect.as_ref())
        .and_then(|p| origin_of(&p.issuer));
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    let csp = proconnect_origin
        .and_then(|origin| HeaderValue::from_str(&content_security_policy(Some(&origin))).ok())
        .unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// The client's IP: the peer, or — when the peer is one of `trusted` proxies — the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy. Without trusted proxies the
/// header is ignored (anyone can write it).
pub fn client_ip(req: &HttpRequest, trusted: &[std::net::IpAddr]) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<std::net::IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|ip| ip.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_may_lead_to_proconnect_only_when_configured() {
        assert_eq!(content_security_policy(None), CONTENT_SECURITY_POLICY);
        let origin = origin_of("https://proconnect.gouv.fr/api/v2").unwrap();
        assert_eq!(origin, "https://proconnect.gouv.fr");
        let csp = content_security_policy(Some(&origin));
        assert!(csp.contains("form-action 'self' https://proconnect.gouv.fr https:;"));
        assert!(csp.contains("default-src 'self'"));
        assert_eq!(origin_of("pas une url"), None);
    }
}
