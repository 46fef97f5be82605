//! SIRET numbers: parsing what people type, the Luhn checksum, and the La Poste
//! exception (establishments of SIREN `356000000` are valid without the checksum).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of digits of a SIRET.
pub const SIRET_LENGTH: usize = 14;

/// Number of digits of a SIREN (the first digits of a SIRET).
pub const SIREN_LENGTH: usize = 9;

/// Prefix of La Poste's SIRETs, which do not follow the Luhn checksum.
pub const LA_POSTE_PREFIX: &str = "356000000";

/// A validated SIRET: exactly 14 ASCII digits with a valid checksum.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Siret(String);

/// Why a string is not a valid SIRET.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SiretError {
    #[error("Le SIRET est obligatoire.")]
    Empty,
    #[error("Le SIRET doit comporter 14 chiffres ({} {}).", .0, entered_word(*.0))]
    WrongLength(usize),
    #[error("Le SIRET ne doit comporter que des chiffres.")]
    NotDigits,
    #[error("La clé de contrôle du SIRET est invalide.")]
    BadChecksum,
}

fn entered_word(count: usize) -> &'static str {
    if count > 1 { "saisis" } else { "saisi" }
}

impl Siret {
    /// Parses a SIRET as typed by a person: surrounding and inner whitespace
    /// (including non-breaking spaces) is ignored.
    pub fn parse(input: &str) -> Result<Siret, SiretError> {
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(SiretError::Empty);
        }
        if !compact.chars().all(|c| c.is_ascii_digit()) {
            return Err(SiretError::NotDigits);
        }
        // All characters are ASCII digits here, so bytes and characters agree.
        if compact.len() != SIRET_LENGTH {
            return Err(SiretError::WrongLength(compact.len()));
        }
        if !compact.starts_with(LA_POSTE_PREFIX) && !luhn_valid(&compact) {
            return Err(SiretError::BadChecksum);
        }
        Ok(Siret(compact))
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SIREN: the first 9 digits, identifying the legal entity.
    pub fn siren(&self) -> &str {
        self.0.get(..SIREN_LENGTH).unwrap_or(&self.0)
    }
}

impl fmt::Display for Siret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Siret {
    type Err = SiretError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Siret::parse(s)
    }
}

impl AsRef<str> for Siret {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Siret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Siret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Siret::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Luhn checksum over a string of ASCII digits: starting from the rightmost
/// digit, every second digit is doubled (minus 9 when above 9), and the sum
/// must be a multiple of 10. Returns false for an empty string or any
/// non-digit character.
pub fn luhn_valid(digits: &str) -> bool {
    luhn_sum(digits).is_some_and(|sum| sum % 10 == 0)
}

fn luhn_sum(digits: &str) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    let mut sum = 0u32;
    for (position, c) in digits.chars().rev().enumerate() {
        let digit = c.to_digit(10)?;
        sum += if position % 2 == 1 {
            let doubled = digit * 2;
            if doubled > 9 { doubled - 9 } else { doubled }
        } else {
            digit
        };
    }
    Some(sum)
}

/// Completes 13 digits with the check digit that makes the Luhn sum valid,
/// giving a 14-digit SIRET. Returns None unless the input is exactly 13 ASCII
/// digits. Used to build deterministic demonstration data.
pub fn with_check_digit(prefix13: &str) -> Option<String> {
    if prefix13.len() != SIRET_LENGTH - 1 || !prefix13.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (0..=9u8).find_map(|digit| {
        let candidate = format!("{prefix13}{digit}");
        luhn_valid(&candidate).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 10] = [
        "21750001600019", // Ville de Paris
        "73282932000074", // Apple France
        "13002526500013", // DINUM
        "11000201100044",
        "21690123100011", // Ville de Lyon
        "21330063500017", // Ville de Bordeaux
        "21130055300016", // Ville de Marseille
        "21310555400017", // Ville de Toulouse
        "55208131766522", // EDF
        "44306184100047", // Google France
    ];

    #[test]
    fn accepts_real_sirets() {
        for input in VALID {
            let siret = Siret::parse(input).unwrap();
            assert_eq!(siret.as_str(), input);
            assert!(luhn_valid(input), "{input}");
        }
    }

    #[test]
    fn accepts_la_poste_with_or_without_checksum() {
        for input in ["35600000000048", "35600000012345", "35600000099999"] {
            let siret = Siret::parse(input).unwrap();
            assert_eq!(siret.as_str(), input);
            assert_eq!(siret.siren(), "356000000");
        }
        assert!(luhn_valid("35600000000048"));
        assert!(!luhn_valid("35600000012345"));
    }

    #[test]
    fn la_poste_still_needs_fourteen_digits() {
        assert_eq!(
            Siret::parse("3560000001234"),
            Err(SiretError::WrongLength(13))
        );
        assert_eq!(
            Siret::parse("356000000123456"),
            Err(SiretError::WrongLength(15))
        );
        assert_eq!(Siret::parse("3560000001234A"), Err(SiretError::NotDigits));
    }

    #[test]
    fn a_near_la_poste_prefix_needs_the_checksum() {
        // 35600000 then a non-zero ninth digit: not La Poste's SIREN.
        assert_eq!(Siret::parse("35600000112345"), Err(SiretError::BadChecksum));
    }

    #[test]
    fn rejects_wrong_checksum() {
        for input in [
            "21750001600018",
            "73282932000075",
            "12345678901234",
            "21750001600091",
        ] {
            assert_eq!(Siret::parse(input), Err(SiretError::BadChecksum), "{input}");
        }
    }

    #[test]
    fn rejects_wrong_lengths() {
        assert_eq!(Siret::parse("1"), Err(SiretError::WrongLength(1)));
        assert_eq!(Siret::parse("217500016"), Err(SiretError::WrongLength(9)));
        assert_eq!(
            Siret::parse("2175000160001"),
            Err(SiretError::WrongLength(13))
        );
        assert_eq!(
            Siret::parse("217500016000190"),
            Err(SiretError::WrongLength(15))
        );
    }

    #[test]
    fn rejects_letters_and_punctuation() {
        for input in [
            "2175000160001A",
            "ABCDEFGHIJKLMN",
            "217-500-016-00019",
            "217.500.016.00019",
            "２１７５０００１６０００１９", // full-width digits
            "21750001600019x",
        ] {
            assert_eq!(Siret::parse(input), Err(SiretError::NotDigits), "{input}");
        }
    }

    #[test]
    fn strips_spaces() {
        for input in [
            "217 500 016 00019",
            "  21750001600019  ",
            "\t217500016 00019\n",
            "217\u{a0}500\u{a0}016\u{a0}00019",
            "217\u{202f}500\u{202f}016\u{202f}00019",
        ] {
            assert_eq!(
                Siret::parse(input).map(|s| s.to_string()),
                Ok("21750001600019".to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(Siret::parse(""), Err(SiretError::Empty));
        assert_eq!(Siret::parse("   "), Err(SiretError::Empty));
        assert_eq!(Siret::parse("\u{a0}\t"), Err(SiretError::Empty));
    }

    #[test]
    fn siren_display_and_from_str() {
        let siret: Siret = "217 500 016 00019".parse().unwrap();
        assert_eq!(siret.siren(), "217500016");
        assert_eq!(siret.to_string(), "21750001600019");
        assert_eq!(format!("{siret}"), "21750001600019");
        assert_eq!(siret.as_ref(), "21750001600019");
        assert_eq!("abc".parse::<Siret>(), Err(SiretError::NotDigits));
    }

    #[test]
    fn deserializes_with_validation() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as ValueError, StrDeserializer};

        let siret = Siret::parse("73282932000074").unwrap();
        let ok: StrDeserializer<'_, ValueError> = "732 829 320 00074".into_deserializer();
        assert_eq!(Siret::deserialize(ok).unwrap(), siret);
        let bad: StrDeserializer<'_, ValueError> = "73282932000075".into_deserializer();
        let err = Siret::deserialize(bad).unwrap_err();
        assert!(err.to_string().contains("clé de contrôle"), "{err}");
    }

    #[test]
    fn error_messages_are_french() {
        assert_eq!(
            SiretError::WrongLength(15).to_string(),
            "Le SIRET doit comporter 14 chiffres (15 saisis)."
        );
        assert_eq!(
            SiretError::WrongLength(1).to_string(),
            "Le SIRET doit comporter 14 chiffres (1 saisi)."
        );
        assert_eq!(
            SiretError::BadChecksum.to_string(),
            "La clé de contrôle du SIRET est invalide."
        );
        assert_eq!(SiretError::Empty.to_string(), "Le SIRET est obligatoire.");
        assert_eq!(
            SiretError::NotDigits.to_string(),
            "Le SIRET ne doit comporter que des chiffres."
        );
    }

    #[test]
    fn luhn_edge_cases() {
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("12a4"));
        assert!(luhn_valid("0"));
        assert!(luhn_valid("79927398713")); // the classic Luhn example
        assert!(!luhn_valid("79927398710"));
    }

    #[test]
    fn builds_check_digits() {
        assert_eq!(
            with_check_digit("2175000160001").as_deref(),
            Some("21750001600019")
        );
        assert_eq!(
            with_check_digit("7328293200007").as_deref(),
            Some("73282932000074")
        );
        assert_eq!(
            with_check_digit("1300252650001").as_deref(),
            Some("13002526500013")
        );
        for n in 0..200u32 {
            let prefix = format!("{:013}", 2_100_000_000_000u64 + u64::from(n) * 7_919);
            let siret = with_check_digit(&prefix).unwrap();
            assert_eq!(siret.len(), 14);
            assert!(siret.starts_with(&prefix));
            assert!(Siret::parse(&siret).is_ok(), "{siret}");
        }
        assert_eq!(with_check_digit(""), None);
        assert_eq!(with_check_digit("217500016000"), None);
        assert_eq!(with_check_digit("21750001600019"), None);
        assert_eq!(with_check_digit("217500016000A"), None);
        assert_eq!(with_check_digit("２１７５０００１６０００１"), None);
    }
}
