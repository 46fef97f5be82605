//! How long a QR code and a whole kit de communication take to generate: a plain timing loop
//! (no benchmark framework), printed in French. Run with `cargo bench --bench kit`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use qf_backoffice::domain::form_url::form_url;
use qf_backoffice::domain::siret::Siret;
use qf_backoffice::kit::{self, KitSubject};
use qf_backoffice::qr;

/// Runs `work` once to warm up, then `runs` times; returns the mean duration.
fn mean<T>(runs: u32, mut work: impl FnMut() -> T) -> Duration {
    black_box(work());
    let start = Instant::now();
    for _ in 0..runs {
        black_box(work());
    }
    start.elapsed() / runs
}

fn millis(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0).replace('.', ",")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let siret = Siret::parse("21730650000091")?;
    let url = form_url("https://quotient-familial.numerique.gouv.fr", &siret);
    let tera = qf_backoffice::state::load_templates()?;
    let subject = KitSubject {
        name: "Chambéry".to_owned(),
        siret: siret.as_str().to_owned(),
        form_url: url.clone(),
    };
    // Fail early rather than time errors.
    qr::png(&url)?;
    kit::zip(&tera, &subject)?;

    let runs = 50;
    let png = mean(runs, || qr::png(&url));
    println!("QR PNG 480×480 : {} ms en moyenne sur {runs}", millis(png));
    let jpeg = mean(runs, || qr::jpeg(&url));
    println!(
        "QR JPEG 480×480 : {} ms en moyenne sur {runs}",
        millis(jpeg)
    );
    let svg = mean(runs, || qr::svg(&url));
    println!("QR SVG : {} ms en moyenne sur {runs}", millis(svg));
    let poster = mean(runs, || kit::poster_pdf(&subject));
    println!("Affiche PDF : {} ms en moyenne sur {runs}", millis(poster));
    let runs = 20;
    let zip = mean(runs, || kit::zip(&tera, &subject));
    println!("Kit ZIP complet : {} ms en moyenne sur {runs}", millis(zip));
    Ok(())
}
