//! API Particulier token lifetime: expiry 18 months after issue or
//! prolongation, the 90-day expiring window in which prolongation opens, token
//! statuses, and how the remaining time is phrased in French.

use std::fmt;
use std::str::FromStr;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// A token expires this many months after it is issued or prolonged.
pub const TOKEN_LIFETIME_MONTHS: u32 = 18;

/// A token is "expiring", and may be prolonged, from this many days before
/// its expiry.
pub const EXPIRING_WINDOW_DAYS: i64 = 90;

/// The code of a revoked token, as filters (`statut=`) and pages write it.
pub const REVOKED: &str = TokenStatus::Revoked.as_str();

/// Expiry of a token issued or prolonged on `from`: 18 months later, on the
/// last day of the month when that month is shorter (31 Aug 2025 → 28 Feb
/// 2027). Returns `NaiveDate::MAX` when out of range rather than panicking.
pub fn expiry_date(from: NaiveDate) -> NaiveDate {
    from.checked_add_months(Months::new(TOKEN_LIFETIME_MONTHS))
        .unwrap_or(NaiveDate::MAX)
}

/// Days from `today` to `expires_on`: 0 on the expiry day, negative after.
pub fn days_left(expires_on: NaiveDate, today: NaiveDate) -> i64 {
    expires_on.signed_duration_since(today).num_days()
}

/// A token's status, as stored and as exposed by the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expiring,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub const ALL: [TokenStatus; 4] = [
        TokenStatus::Active,
        TokenStatus::Expiring,
        TokenStatus::Expired,
        TokenStatus::Revoked,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expiring => "expiring",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }

    pub const fn label_fr(self) -> &'static str {
        match self {
            TokenStatus::Active => "Actif",
            TokenStatus::Expiring => "Expire bientôt",
            TokenStatus::Expired => "Expiré",
            TokenStatus::Revoked => "Révoqué",
        }
    }
}

impl fmt::Display for TokenStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a token status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Statut de jeton inconnu : « {0} ».")]
pub struct UnknownTokenStatus(pub String);

impl FromStr for TokenStatus {
    type Err = UnknownTokenStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TokenStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownTokenStatus(s.to_owned()))
    }
}

/// The status of a token expiring on `expires_on` (it works until the end of
/// that day), as of `today`.
pub fn token_status(expires_on: NaiveDate, revoked: bool, today: NaiveDate) -> TokenStatus {
    if revoked {
        return TokenStatus::Revoked;
    }
    let left = days_left(expires_on, today);
    if left < 0 {
        TokenStatus::Expired
    } else if left <= EXPIRING_WINDOW_DAYS {
        TokenStatus::Expiring
    } else {
        TokenStatus::Active
    }
}

/// Whether the demandeur may prolong the token today: it is not revoked and
/// at most 90 days are left (prolongation stays open after expiry).
pub fn prolongation_open(expires_on: NaiveDate, revoked: bool, today: NaiveDate) -> bool {
    !revoked && days_left(expires_on, today) <= EXPIRING_WINDOW_DAYS
}

/// The remaining time in French, from the result of [`days_left`]:
/// "expire dans 80 jours", "expire demain", "expire aujourd'hui",
/// "a expiré hier", "a expiré il y a 12 jours".
pub fn expiry_phrase_fr(days: i64) -> String {
    match days {
        2.. => format!("expire dans {days} jours"),
        1 => "expire demain".to_owned(),
        0 => "expire aujourd'hui".to_owned(),
        -1 => "a expiré hier".to_owned(),
        _ => format!("a expiré il y a {} jours", days.unsigned_abs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    #[test]
    fn constants() {
        assert_eq!(TOKEN_LIFETIME_MONTHS, 18);
        assert_eq!(EXPIRING_WINDOW_DAYS, 90);
    }

    #[test]
    fn expiry_is_eighteen_months_later() {
        assert_eq!(expiry_date(d(2025, 1, 15)), d(2026, 7, 15));
        assert_eq!(expiry_date(d(2024, 7, 1)), d(2026, 1, 1));
        assert_eq!(expiry_date(d(2025, 6, 30)), d(2026, 12, 30));
        assert_eq!(expiry_date(d(2025, 12, 31)), d(2027, 6, 30));
    }

    #[test]
    fn expiry_is_month_end_safe() {
        assert_eq!(expiry_date(d(2025, 8, 31)), d(2027, 2, 28));
        assert_eq!(expiry_date(d(2026, 8, 31)), d(2028, 2, 29)); // leap year
        assert_eq!(expiry_date(d(2026, 8, 29)), d(2028, 2, 29));
        assert_eq!(expiry_date(d(2026, 8, 30)), d(2028, 2, 29));
        assert_eq!(expiry_date(d(2025, 11, 30)), d(2027, 5, 30));
        assert_eq!(expiry_date(d(2025, 1, 31)), d(2026, 7, 31));
        assert_eq!(expiry_date(d(2025, 3, 31)), d(2026, 9, 30));
        // From a leap day: August has a 29th.
        assert_eq!(expiry_date(d(2024, 2, 29)), d(2025, 8, 29));
    }

    #[test]
    fn expiry_never_panics() {
        assert_eq!(expiry_date(NaiveDate::MAX), NaiveDate::MAX);
        let late = NaiveDate::MAX.pred_opt().unwrap();
        assert_eq!(expiry_date(late), NaiveDate::MAX);
        assert!(expiry_date(NaiveDate::MIN) > NaiveDate::MIN);
    }

    #[test]
    fn days_left_counts_calendar_days() {
        let expires = d(2026, 3, 31);
        assert_eq!(days_left(expires, d(2026, 3, 31)), 0);
        assert_eq!(days_left(expires, d(2026, 3, 30)), 1);
        assert_eq!(days_left(expires, d(2026, 4, 1)), -1);
        assert_eq!(days_left(expires, d(2026, 4, 12)), -12);
        // 2026-01-01 → 2026-03-31: 30 (to 31 Jan) + 28 (to 28 Feb) + 31 (to 31 Mar).
        assert_eq!(days_left(expires, d(2026, 1, 1)), 89);
        // Across a leap February: 2028-01-31 → 2028-03-01 = 30 days.
        assert_eq!(days_left(d(2028, 3, 1), d(2028, 1, 31)), 30);
        assert!(days_left(NaiveDate::MAX, NaiveDate::MIN) > 0);
    }

    #[test]
    fn status_boundaries() {
        // Expiry 30 June 2026. 90 days before is 1 April 2026
        // (April 29 + May 31 + June 30 = 90 days from 1 April to 30 June).
        let expires = d(2026, 6, 30);
        assert_eq!(days_left(expires, d(2026, 3, 31)), 91);
        assert_eq!(days_left(expires, d(2026, 4, 1)), 90);
        assert_eq!(
            token_status(expires, false, d(2026, 3, 31)),
            TokenStatus::Active
        );
        assert_eq!(
            token_status(expires, false, d(2026, 4, 1)),
            TokenStatus::Expiring
        );
        assert_eq!(
            token_status(expires, false, d(2026, 6, 30)),
            TokenStatus::Expiring
        );
        assert_eq!(
            token_status(expires, false, d(2026, 7, 1)),
            TokenStatus::Expired
        );
        assert_eq!(
            token_status(expires, false, d(2027, 1, 1)),
            TokenStatus::Expired
        );
        assert_eq!(
            token_status(expires, false, d(2024, 12, 31)),
            TokenStatus::Active
        );
    }

    #[test]
    fn revoked_wins() {
        let expires = d(2026, 6, 30);
        for today in [d(2025, 1, 1), d(2026, 4, 1), d(2026, 6, 30), d(2026, 7, 1)] {
            assert_eq!(token_status(expires, true, today), TokenStatus::Revoked);
            assert!(!prolongation_open(expires, true, today));
        }
    }

    #[test]
    fn prolongation_window() {
        let expires = d(2026, 6, 30);
        assert!(!prolongation_open(expires, false, d(2025, 12, 30)));
        assert!(!prolongation_open(expires, false, d(2026, 3, 31))); // 91 days
        assert!(prolongation_open(expires, false, d(2026, 4, 1))); // 90 days
        assert!(prolongation_open(expires, false, d(2026, 6, 30))); // expiry day
        assert!(prolongation_open(expires, false, d(2026, 7, 1))); // expired yesterday
        assert!(prolongation_open(expires, false, d(2028, 1, 1))); // long expired
    }

    #[test]
    fn a_token_issued_today_is_active() {
        let today = d(2026, 6, 1);
        let expires = expiry_date(today);
        assert_eq!(expires, d(2027, 12, 1));
        assert_eq!(token_status(expires, false, today), TokenStatus::Active);
        assert!(!prolongation_open(expires, false, today));
    }

    #[test]
    fn phrases() {
        assert_eq!(expiry_phrase_fr(80), "expire dans 80 jours");
        assert_eq!(expiry_phrase_fr(91), "expire dans 91 jours");
        assert_eq!(expiry_phrase_fr(2), "expire dans 2 jours");
        assert_eq!(expiry_phrase_fr(1), "expire demain");
        assert_eq!(expiry_phrase_fr(0), "expire aujourd'hui");
        assert_eq!(expiry_phrase_fr(-1), "a expiré hier");
        assert_eq!(expiry_phrase_fr(-2), "a expiré il y a 2 jours");
        assert_eq!(expiry_phrase_fr(-12), "a expiré il y a 12 jours");
        assert_eq!(
            expiry_phrase_fr(i64::MIN),
            "a expiré il y a 9223372036854775808 jours"
        );
    }

    #[test]
    fn status_names_round_trip() {
        let names = ["active", "expiring", "expired", "revoked"];
        let labels = ["Actif", "Expire bientôt", "Expiré", "Révoqué"];
        for ((status, name), label) in TokenStatus::ALL.into_iter().zip(names).zip(labels) {
            assert_eq!(status.as_str(), name);
            assert_eq!(status.to_string(), name);
            assert_eq!(status.label_fr(), label);
            assert_eq!(name.parse::<TokenStatus>(), Ok(status));
        }
        assert_eq!(
            "Active".parse::<TokenStatus>(),
            Err(UnknownTokenStatus("Active".to_owned()))
        );
        assert_eq!(
            UnknownTokenStatus("x".to_owned()).to_string(),
            "Statut de jeton inconnu : « x »."
        );
    }

    #[test]
    fn serde_names_match_as_str() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as ValueError, StrDeserializer};

        for status in TokenStatus::ALL {
            let de: StrDeserializer<'_, ValueError> = status.as_str().into_deserializer();
            assert_eq!(TokenStatus::deserialize(de), Ok(status));
        }
    }
}
