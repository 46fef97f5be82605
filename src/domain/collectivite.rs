//! The identity fields of a collectivité: its kind (guessed from the SIREN), commune code
//! (COG), postal code and département, and the one rule giving a département from a COG.

/// The kinds of collectivités: (code, French label).
pub const KINDS: [(&str, &str); 4] = [
    ("commune", "Commune"),
    ("ccas", "CCAS (centre communal d'action sociale)"),
    ("epci", "EPCI (intercommunalité)"),
    ("autre", "Autre"),
];

/// The French label of a kind code.
pub fn kind_label(code: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("Autre", |(_, label)| label)
}

/// The likely kind of a collectivité from its SIREN: communes start with 21, CCAS with 26,
/// intercommunalités with 20 or 24; anything else is `autre`.
pub fn kind_from_siret(siret: &str) -> &'static str {
    match siret.get(..2) {
        Some("21") => "commune",
        Some("26") => "ccas",
        Some("20" | "24") => "epci",
        _ => "autre",
    }
}

/// Checks and normalizes a commune code (COG): 5 characters, digits, or `2A`/`2B` (Corse)
/// followed by 3 digits. Lower-case `2a`/`2b` are accepted; surrounding spaces ignored.
pub fn parse_cog(input: &str) -> Option<String> {
    let cog = input.trim().to_ascii_uppercase();
    let bytes = cog.as_bytes();
    if bytes.len() != 5 {
        return None;
    }
    let corse = bytes.starts_with(b"2A") || bytes.starts_with(b"2B");
    let digits_from = if corse { 2 } else { 0 };
    bytes[digits_from..]
        .iter()
        .all(u8::is_ascii_digit)
        .then_some(cog)
}

/// Checks a postal code: exactly 5 digits (surrounding spaces ignored).
pub fn parse_postal_code(input: &str) -> Option<String> {
    let code = input.trim();
    (code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit())).then(|| code.to_owned())
}

/// The département of a (valid) commune code: its first 2 characters, or 3 overseas (97x).
pub fn departement_from_cog(cog: &str) -> String {
    let length = if cog.starts_with("97") { 3 } else { 2 };
    cog.get(..length).unwrap_or(cog).to_owned()
}

/// Checks and normalizes a département code: 2 digits, `2A`/`2B`, or 3 digits overseas (97x).
pub fn parse_departement(input: &str) -> Option<String> {
    let code = input.trim().to_ascii_uppercase();
    let valid = match code.len() {
        2 => code.bytes().all(|b| b.is_ascii_digit()) || code == "2A" || code == "2B",
        3 => code.starts_with("97") && code.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    };
    valid.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commune_codes() {
        assert_eq!(parse_cog(" 26079 "), Some("26079".to_owned()));
        assert_eq!(parse_cog("2a004"), Some("2A004".to_owned()));
        assert_eq!(parse_cog("2B033"), Some("2B033".to_owned()));
        assert_eq!(parse_cog("97411"), Some("97411".to_owned()));
        for bad in ["", "2607", "260790", "2C004", "2A0B4", "ABCDE", "26 79"] {
            assert_eq!(parse_cog(bad), None, "{bad}");
        }
        assert_eq!(departement_from_cog("26079"), "26");
        assert_eq!(departement_from_cog("2A004"), "2A");
        assert_eq!(departement_from_cog("97411"), "974");
        assert_eq!(departement_from_cog("01053"), "01");
    }

    #[test]
    fn postal_codes_and_departements() {
        assert_eq!(parse_postal_code(" 26410"), Some("26410".to_owned()));
        for bad in ["", "2641", "264100", "2641A", "26 41"] {
            assert_eq!(parse_postal_code(bad), None, "{bad}");
        }
        for (input, expected) in [("26", "26"), ("2a", "2A"), ("974", "974"), (" 01 ", "01")] {
            assert_eq!(parse_departement(input), Some(expected.to_owned()));
        }
        for bad in ["", "2", "2C", "123", "9740", "AB"] {
            assert_eq!(parse_departement(bad), None, "{bad}");
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(kind_from_siret("21260790000013"), "commune");
        assert_eq!(kind_from_siret("26590000000000"), "ccas");
        assert_eq!(kind_from_siret("20004000000000"), "epci");
        assert_eq!(kind_from_siret("24350000000000"), "epci");
        assert_eq!(kind_from_siret("41234567800010"), "autre");
        assert_eq!(
            kind_label("ccas"),
            "CCAS (centre communal d'action sociale)"
        );
        assert_eq!(kind_label("inconnu"), "Autre");
    }
}
