//! A local OpenID provider standing in for ProConnect: a real HTTP server (actix-web on a
//! loopback port) with discovery, JWKS, authorize, token, signed-JWT userinfo and
//! end-session, as strict as ProConnect on what it receives (client credentials, redirect
//! URI, PKCE, single-use codes) and able to misbehave on demand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "qf-backoffice-test";
pub const CLIENT_SECRET: &str = "secret-du-client-de-test";
const EC_KID: &str = "cle-ec-de-test";

/// What the provider does wrong, when asked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    None,
    /// The id_token carries another nonce than the one asked for.
    WrongNonce,
    /// The id_token is signed by a key that is not in the JWKS (under the published kid).
    IdTokenOtherKey,
    /// The id_token expired an hour ago.
    ExpiredIdToken,
    /// The userinfo JWT is signed by a key that is not in the JWKS.
    UserinfoBadSignature,
    /// Userinfo answers plain JSON instead of a signed JWT.
    UserinfoUnsigned,
    /// The id_token is meant for another client.
    WrongAudience,
}

/// The person who "signs in" at the provider.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub email: String,
    pub sub: String,
    pub siret: String,
    pub idp_id: String,
    /// `amr` when the default level is asked for; `mfa` is added when `eidas2` is asked for
    /// and `mfa_on_eidas2` is set.
    pub amr: Vec<String>,
    pub mfa_on_eidas2: bool,
}

impl TestUser {
    pub fn new(email: &str) -> TestUser {
        TestUser {
            email: email.to_owned(),
            sub: format!("sub-{}", uuid::Uuid::new_v4().simple()),
            siret: "21740056300011".into(),
            idp_id: "idp-mairie".into(),
            amr: vec!["pwd".into()],
            mfa_on_eidas2: true,
        }
    }
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: String,
    challenge: String,
    acr: String,
    user: TestUser,
    used: bool,
}

/// The signature algorithm of id_tokens and userinfo answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
}

struct Inner {
    key: RsaKeyPair,
    /// The published RSA key's id (changes when the key is rotated).
    kid: String,
    other_key: RsaKeyPair,
    ec_key: EcdsaKeyPair,
    alg: Alg,
    user: TestUser,
    misbehaviour: Misbehaviour,
    grants: HashMap<String, Grant>,
    access_tokens: HashMap<String, TestUser>,
    id_tokens: Vec<String>,
    /// Every authorize query, in order.
    authorize_queries: Vec<HashMap<String, String>>,
    /// Every end-session query, in order.
    end_session_queries: Vec<HashMap<String, String>>,
    /// Token requests refused, with the OAuth error.
    token_errors: Vec<String>,
    /// JWKS downloads.
    jwks_fetches: usize,
}

/// The running provider.
#[derive(Clone)]
pub struct TestProvider {
    pub issuer: String,
    inner: Arc<Mutex<Inner>>,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn sign_rs256(key: &RsaKeyPair, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("RSA signature");
    format!("{input}.{}", b64(signature))
}

fn sign_es256(key: &EcdsaKeyPair, claims: &Value) -> String {
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": EC_KID});
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .expect("ECDSA signature");
    format!("{input}.{}", b64(signature.as_ref()))
}

impl Inner {
    /// Signs with the published key of the current algorithm, or with the unpublished one.
    fn sign(&self, claims: &Value, published: bool) -> String {
        match (self.alg, published) {
            (Alg::Rs256, true) => sign_rs256(&self.key, &self.kid, claims),
            // Under the published kid, so only the signature can tell.
            (_, false) => sign_rs256(&self.other_key, &self.kid, claims),
            (Alg::Es256, true) => sign_es256(&self.ec_key, claims),
        }
    }
}

fn query_map(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn oauth_error(error: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": error}))
}

impl TestProvider {
    /// Starts a provider that signs in `user`.
    pub async fn start(user: TestUser) -> TestProvider {
        let inner = Arc::new(Mutex::new(Inner {
            key: RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key"),
            kid: "cle-rsa-1".into(),
            other_key: RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key"),
            ec_key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key"),
            alg: Alg::Rs256,
            user,
            misbehaviour: Misbehaviour::None,
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            id_tokens: Vec::new(),
            authorize_queries: Vec::new(),
            end_session_queries: Vec::new(),
            token_errors: Vec::new(),
            jwks_fetches: 0,
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("provider port");
        let port = listener.local_addr().expect("provider address").port();
        let issuer = format!("http://127.0.0.1:{port}/api/v2");
        let provider = TestProvider {
            issuer: issuer.clone(),
            inner,
        };
        let data = web::Data::new(provider.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/api/v2/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/api/v2/jwks", web::get().to(jwks))
                .route("/api/v2/authorize", web::get().to(authorize))
                .route("/api/v2/token", web::post().to(token))
                .route("/api/v2/userinfo", web::get().to(userinfo))
                .route("/api/v2/session/end", web::get().to(end_session))
        })
        .workers(1)
        .listen(listener)
        .expect("provider listens")
        .run();
        tokio::spawn(server);
        provider
    }

    /// The settings that point the back office at this provider.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PROCONNECT_ISSUER", self.issuer.clone()),
            ("PROCONNECT_CLIENT_ID", CLIENT_ID.to_owned()),
            ("PROCONNECT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ]
    }

    pub fn set_user(&self, user: TestUser) {
        self.inner.lock().unwrap().user = user;
    }

    pub fn misbehave(&self, misbehaviour: Misbehaviour) {
        self.inner.lock().unwrap().misbehaviour = misbehaviour;
    }

    pub fn use_algorithm(&self, alg: Alg) {
        self.inner.lock().unwrap().alg = alg;
    }

    /// Replaces the RSA signing key, under a new key id.
    pub fn rotate_key(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        inner.kid = format!("cle-rsa-{}", random());
    }

    pub fn jwks_fetches(&self) -> usize {
        self.inner.lock().unwrap().jwks_fetches
    }

    pub fn authorize_queries(&self) -> Vec<HashMap<String, String>> {
        self.inner.lock().unwrap().authorize_queries.clone()
    }

    pub fn end_session_queries(&self) -> Vec<HashMap<String, String>> {
        self.inner.lock().unwrap().end_session_queries.clone()
    }

    pub fn token_errors(&self) -> Vec<String> {
        self.inner.lock().unwrap().token_errors.clone()
    }

    pub fn id_tokens(&self) -> Vec<String> {
        self.inner.lock().unwrap().id_tokens.clone()
    }
}

async fn discovery(provider: web::Data<TestProvider>) -> HttpResponse {
    let i = &provider.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "end_session_endpoint": format!("{i}/session/end"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "scopes_supported": ["openid", "email", "given_name", "usual_name", "siret", "uid", "idp_id"],
        "acr_values_supported": ["eidas1", "eidas2", "eidas3"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "userinfo_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(provider: web::Data<TestProvider>) -> HttpResponse {
    let mut inner = provider.inner.lock().unwrap();
    inner.jwks_fetches += 1;
    let public = inner.key.public_key();
    // Uncompressed point: 0x04, then x and y, 32 bytes each.
    let point = inner.ec_key.public_key().as_ref();
    HttpResponse::Ok().json(json!({"keys": [
        // A key of a kind the client does not use must not disturb it.
        {"kty": "oct", "kid": "ignoree", "k": "c2VjcmV0"},
        {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": inner.kid,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        },
        {
            "kty": "EC",
            "use": "sig",
            "alg": "ES256",
            "crv": "P-256",
            "kid": EC_KID,
            "x": b64(&point[1..33]),
            "y": b64(&point[33..65]),
        }
    ]}))
}

/// Signs the configured user in at once (no login screen) and sends the browser back.
async fn authorize(provider: web::Data<TestProvider>, req: HttpRequest) -> HttpResponse {
    let q = query_map(&req);
    let mut inner = provider.inner.lock().unwrap();
    inner.authorize_queries.push(q.clone());
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let scopes: Vec<&str> = q
        .get("scope")
        .map(|s| s.split(' ').collect())
        .unwrap_or_default();
    let valid = get("response_type") == "code"
        && get("client_id") == CLIENT_ID
        && !get("redirect_uri").is_empty()
        && scopes.contains(&"openid")
        && !get("state").is_empty()
        && !get("nonce").is_empty()
        && get("code_challenge_method") == "S256"
        && get("code_challenge").len() == 43
        && !get("acr_values").is_empty();
    if !valid {
        return HttpResponse::BadRequest().body("requête d'autorisation invalide");
    }
    let code = random();
    let user = inner.user.clone();
    inner.grants.insert(
        code.clone(),
        Grant {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            acr: get("acr_values"),
            user,
            used: false,
        },
    );
    let mut back = url::Url::parse(&get("redirect_uri")).expect("redirect_uri");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"))
        .append_pair("iss", &provider.issuer);
    HttpResponse::Found()
        .insert_header(("Location", back.to_string()))
        .finish()
}

async fn token(provider: web::Data<TestProvider>, body: web::Bytes) -> HttpResponse {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut guard = provider.inner.lock().unwrap();
    let inner = &mut *guard;
    let refuse = |inner: &mut Inner, error: &str| {
        inner.token_errors.push(error.to_owned());
        oauth_error(error)
    };
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return refuse(inner, "invalid_client");
    }
    if get("grant_type") != "authorization_code" {
        return refuse(inner, "unsupported_grant_type");
    }
    let Some(grant) = inner.grants.get_mut(&get("code")) else {
        return refuse(inner, "invalid_grant");
    };
    if grant.used {
        return refuse(inner, "invalid_grant");
    }
    grant.used = true;
    let challenge = b64(Sha256::digest(get("code_verifier").as_bytes()));
    if grant.client_id != get("client_id")
        || grant.redirect_uri != get("redirect_uri")
        || grant.challenge != challenge
    {
        return refuse(inner, "invalid_grant");
    }
    let user = grant.user.clone();
    let mut amr = user.amr.clone();
    if grant.acr == "eidas2" && user.mfa_on_eidas2 && !amr.iter().any(|a| a == "mfa") {
        amr.push("mfa".into());
    }
    let acr = grant.acr.clone();
    let nonce = match inner.misbehaviour {
        Misbehaviour::WrongNonce => "un-autre-nonce".to_owned(),
        _ => grant.nonce.clone(),
    };
    let (iat, exp) = match inner.misbehaviour {
        Misbehaviour::ExpiredIdToken => (now() - 7200, now() - 3600),
        _ => (now(), now() + 60),
    };
    let audience = match inner.misbehaviour {
        Misbehaviour::WrongAudience => "un-autre-client",
        _ => CLIENT_ID,
    };
    let claims = json!({
        "iss": provider.issuer,
        "aud": audience,
        "sub": user.sub,
        "iat": iat,
        "exp": exp,
        "nonce": nonce,
        "acr": acr,
        "amr": amr,
        "idp_id": user.idp_id,
    });
    let id_token = inner.sign(&claims, inner.misbehaviour != Misbehaviour::IdTokenOtherKey);
    let access_token = random();
    inner.access_tokens.insert(access_token.clone(), user);
    inner.id_tokens.push(id_token.clone());
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 60,
        "id_token": id_token,
        "scope": "openid email given_name usual_name siret uid idp_id",
    }))
}

async fn userinfo(provider: web::Data<TestProvider>, req: HttpRequest) -> HttpResponse {
    let bearer = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let inner = provider.inner.lock().unwrap();
    let Some(user) = inner.access_tokens.get(&bearer) else {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_token"}));
    };
    let claims = json!({
        "iss": provider.issuer,
        "aud": CLIENT_ID,
        "sub": user.sub,
        "iat": now(),
        "email": user.email,
        "given_name": "Camille",
        "usual_name": "Martin",
        "uid": "42",
        "siret": user.siret,
        "idp_id": user.idp_id,
    });
    if inner.misbehaviour == Misbehaviour::UserinfoUnsigned {
        return HttpResponse::Ok().json(claims);
    }
    let published = inner.misbehaviour != Misbehaviour::UserinfoBadSignature;
    HttpResponse::Ok()
        .content_type("application/jwt")
        .body(inner.sign(&claims, published))
}

async fn end_session(provider: web::Data<TestProvider>, req: HttpRequest) -> HttpResponse {
    let q = query_map(&req);
    let mut inner = provider.inner.lock().unwrap();
    inner.end_session_queries.push(q.clone());
    let known = q
        .get("id_token_hint")
        .is_some_and(|t| inner.id_tokens.contains(t));
    let (Some(state), Some(back)) = (q.get("state"), q.get("post_logout_redirect_uri")) else {
        return HttpResponse::BadRequest().body("state et post_logout_redirect_uri requis");
    };
    if !known {
        return HttpResponse::BadRequest().body("id_token_hint inconnu");
    }
    let mut back = url::Url::parse(back).expect("post_logout_redirect_uri");
    back.query_pairs_mut().append_pair("state", state);
    HttpResponse::Found()
        .insert_header(("Location", back.to_string()))
        .finish()
}
