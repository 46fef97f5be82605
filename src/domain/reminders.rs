//! Renewal reminder stages: which reminder is due for a token on a given day, and the day
//! the next one becomes due. A token entering the window late gets only the latest due
//! stage; after the expiry day, a missed expiry reminder is still sent for a few days.

use chrono::{Days, NaiveDate};

use super::token::days_left;

/// Days before expiry at which a reminder is sent, earliest first; 0 is the expiry day.
pub const STAGES: [u32; 6] = [90, 60, 30, 15, 7, 0];

/// Days after expiry during which a missed expiry-day reminder is still sent.
pub const GRACE_DAYS: i64 = 7;

/// The reminder due on `today` for a token expiring on `expires_on`: the latest stage whose
/// day has come (the smallest stage ≥ days left), or `None` outside the window.
pub fn due_stage(expires_on: NaiveDate, today: NaiveDate) -> Option<u32> {
    let left = days_left(expires_on, today);
    if left > i64::from(STAGES[0]) || left < -GRACE_DAYS {
        return None;
    }
    if left <= 0 {
        return Some(0);
    }
    STAGES
        .iter()
        .rev()
        .copied()
        .find(|stage| left <= i64::from(*stage))
}

/// The day the reminder after `sent_stage` becomes due (`None` sent yet: the first stage);
/// `None` when the series is over.
pub fn next_due_on(expires_on: NaiveDate, sent_stage: Option<u32>) -> Option<NaiveDate> {
    let next = match sent_stage {
        None => Some(STAGES[0]),
        Some(sent) => STAGES.iter().copied().find(|stage| *stage < sent),
    }?;
    expires_on.checked_sub_days(Days::new(u64::from(next)))
}

/// The French subject phrase for a stage and the days actually left.
pub fn headline_fr(days_left: i64) -> String {
    match days_left {
        d if d > 1 => format!("expire dans {d} jours"),
        1 => "expire demain".to_owned(),
        0 => "expire aujourd'hui".to_owned(),
        -1 => "a expiré hier".to_owned(),
        d => format!("a expiré il y a {} jours", -d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn each_stage_is_due_from_its_day_until_the_next() {
        let expiry = d(2027, 6, 30);
        let at = |left: u64| expiry.checked_sub_days(Days::new(left)).unwrap();
        assert_eq!(due_stage(expiry, at(91)), None);
        assert_eq!(due_stage(expiry, at(90)), Some(90));
        assert_eq!(due_stage(expiry, at(61)), Some(90));
        assert_eq!(due_stage(expiry, at(60)), Some(60));
        assert_eq!(due_stage(expiry, at(31)), Some(60));
        assert_eq!(due_stage(expiry, at(30)), Some(30));
        assert_eq!(due_stage(expiry, at(16)), Some(30));
        assert_eq!(due_stage(expiry, at(15)), Some(15));
        assert_eq!(due_stage(expiry, at(8)), Some(15));
        assert_eq!(due_stage(expiry, at(7)), Some(7));
        assert_eq!(due_stage(expiry, at(1)), Some(7));
        assert_eq!(due_stage(expiry, expiry), Some(0));
        assert_eq!(due_stage(expiry, d(2027, 7, 7)), Some(0), "within grace");
        assert_eq!(due_stage(expiry, d(2027, 7, 8)), None, "too late");
    }

    #[test]
    fn a_late_token_gets_the_latest_stage_only() {
        // Imported with 20 days left: the 30-day reminder, not 90 nor 60.
        let expiry = d(2027, 3, 21);
        assert_eq!(due_stage(expiry, d(2027, 3, 1)), Some(30));
        assert_eq!(next_due_on(expiry, Some(30)), Some(d(2027, 3, 6)));
    }

    #[test]
    fn next_due_days_follow_the_stages_and_end_after_expiry() {
        let expiry = d(2028, 2, 29); // leap day
        assert_eq!(next_due_on(expiry, None), Some(d(2027, 12, 1)));
        assert_eq!(next_due_on(expiry, Some(90)), Some(d(2027, 12, 31)));
        assert_eq!(next_due_on(expiry, Some(60)), Some(d(2028, 1, 30)));
        assert_eq!(next_due_on(expiry, Some(30)), Some(d(2028, 2, 14)));
        assert_eq!(next_due_on(expiry, Some(15)), Some(d(2028, 2, 22)));
        assert_eq!(next_due_on(expiry, Some(7)), Some(expiry));
        assert_eq!(next_due_on(expiry, Some(0)), None);
    }

    #[test]
    fn month_end_expiries_count_days_exactly() {
        // 31 Aug 2025 + 18 months = 28 Feb 2027: the 30-day reminder is on 29 Jan 2027.
        let expiry = crate::domain::token::expiry_date(d(2025, 8, 31));
        assert_eq!(expiry, d(2027, 2, 28));
        assert_eq!(next_due_on(expiry, Some(60)), Some(d(2027, 1, 29)));
        assert_eq!(due_stage(expiry, d(2027, 1, 29)), Some(30));
        assert_eq!(due_stage(expiry, d(2027, 1, 28)), Some(60));
    }

    #[test]
    fn headlines() {
        assert_eq!(headline_fr(90), "expire dans 90 jours");
        assert_eq!(headline_fr(1), "expire demain");
        assert_eq!(headline_fr(0), "expire aujourd'hui");
        assert_eq!(headline_fr(-3), "a expiré il y a 3 jours");
    }
}
