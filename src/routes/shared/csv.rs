//! The clients of an éditeur as a spreadsheet, for the API and the éditeur space alike.

use crate::models::editeur_clients::ClientRow;

/// The CSV columns, in French.
pub const CSV_HEADERS: [&str; 11] = [
    "SIRET",
    "Collectivité",
    "État de la demande",
    "N° DataPass",
    "Expiration du jeton",
    "Jours restants",
    "Statut du jeton",
    "Abonnement HubEE",
    "Mode d'accès HubEE",
    "URL du formulaire",
    "Formulaire en ligne",
];

/// The client rows as CSV: UTF-8 with BOM, `;`-separated, French headers.
pub fn clients_to_csv(rows: &[ClientRow]) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        writer.write_record(CSV_HEADERS)?;
        for row in rows {
            writer.write_record([
                row.siret.clone(),
                row.name.clone(),
                row.request_state_label.unwrap_or_default().to_owned(),
                row.datapass_id.clone().unwrap_or_default(),
                row.token_expires_on
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                row.token_days_left
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                row.token_status
                    .and_then(|s| s.parse::<crate::domain::token::TokenStatus>().ok())
                    .map(|s| s.label_fr().to_owned())
                    .unwrap_or_default(),
                row.hubee_status_label.unwrap_or_default().to_owned(),
                row.hubee_access_mode.clone().unwrap_or_default(),
                row.form_url.clone(),
                match row.form_live {
                    Some(true) => "oui".to_owned(),
                    Some(false) => "non".to_owned(),
                    None => "inconnu".to_owned(),
                },
            ])?;
        }
        writer.flush()?;
    }
    Ok(out)
}
