//! Business days in metropolitan France: public holidays (fixed ones and those
//! derived from Easter), business-day arithmetic, the 3-business-day
//! instruction deadline of habilitation requests, and which day it is: every
//! "day" of the domain (deadlines, reminders, expiries, "today") is a day in
//! Europe/Paris, never a UTC day.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, Weekday};
use serde::{Deserialize, Serialize};

/// The time zone of every day of the domain.
pub const PARIS: chrono_tz::Tz = chrono_tz::Europe::Paris;

/// The calendar day in Europe/Paris at the UTC instant `utc` (timestamps are stored in UTC).
pub fn paris_date(utc: NaiveDateTime) -> NaiveDate {
    utc.and_utc().with_timezone(&PARIS).date_naive()
}

/// The UTC instant at which the day `date` starts in Europe/Paris (midnight always exists
/// there: the clocks change at 2 or 3 a.m.).
pub fn paris_day_start(date: NaiveDate) -> NaiveDateTime {
    use chrono::TimeZone;
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    PARIS
        .from_local_datetime(&midnight)
        .earliest()
        .map_or(midnight, |local| local.naive_utc())
}

/// Today in Europe/Paris: the one place "today" is read from the clock.
pub fn paris_today() -> NaiveDate {
    paris_date(chrono::Utc::now().naive_utc())
}

/// Business days the API Particulier team has to instruct a request.
pub const INSTRUCTION_BUSINESS_DAYS: u32 = 3;

/// Easter Sunday of `year` (Gregorian computus, the "anonymous" algorithm of
/// Meeus, Jones and Butcher). Exact for 1583..=9999; other years get the same
/// arithmetic on the proleptic Gregorian calendar, and years outside chrono's
/// range give `NaiveDate::MIN` or `NaiveDate::MAX`. Never panics.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    // month is 3 or 4 and day 1..=31 by construction.
    let date = u32::try_from(month)
        .ok()
        .zip(u32::try_from(day).ok())
        .and_then(|(month, day)| NaiveDate::from_ymd_opt(year, month, day));
    match date {
        Some(date) => date,
        None if year < 0 => NaiveDate::MIN,
        None => NaiveDate::MAX,
    }
}

/// The public holidays of metropolitan France in `year`, sorted by date, with
/// their French names. Dates chrono cannot represent are left out.
pub fn public_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let fixed = |month: u32, day: u32, name: &'static str| {
        NaiveDate::from_ymd_opt(year, month, day).map(|date| (date, name))
    };
    let easter = easter_sunday(year);
    let movable = |offset: u64, name: &'static str| {
        easter
            .checked_add_days(Days::new(offset))
            .filter(|date| date.year() == year)
            .map(|date| (date, name))
    };
    let mut holidays: Vec<(NaiveDate, &'static str)> = [
        fixed(1, 1, "Jour de l'an"),
        movable(1, "Lundi de Pâques"),
        fixed(5, 1, "Fête du Travail"),
        fixed(5, 8, "Victoire 1945"),
        movable(39, "Ascension"),
        movable(50, "Lundi de Pentecôte"),
        fixed(7, 14, "Fête nationale"),
        fixed(8, 15, "Assomption"),
        fixed(11, 1, "Toussaint"),
        fixed(11, 11, "Armistice 1918"),
        fixed(12, 25, "Noël"),
    ]
    .into_iter()
    .flatten()
    .collect();
    holidays.sort_by_key(|(date, _)| *date);
    holidays
}

/// The French name of the public holiday falling on `date`, if any (the same days and names
/// as [`public_holidays`], without building the year's list: every deadline shown walks
/// several days through it).
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    // A fixed holiday first: when Ascension falls on 1 or 8 May, the day keeps its fixed name,
    // as in `public_holidays`' order.
    let fixed = match (date.month(), date.day()) {
        (1, 1) => Some("Jour de l'an"),
        (5, 1) => Some("Fête du Travail"),
        (5, 8) => Some("Victoire 1945"),
        (7, 14) => Some("Fête nationale"),
        (8, 15) => Some("Assomption"),
        (11, 1) => Some("Toussaint"),
        (11, 11) => Some("Armistice 1918"),
        (12, 25) => Some("Noël"),
        _ => None,
    };
    if fixed.is_some() || !(3..=6).contains(&date.month()) {
        return fixed;
    }
    match (date - easter_sunday(date.year())).num_days() {
        1 => Some("Lundi de Pâques"),
        39 => Some("Ascension"),
        50 => Some("Lundi de Pentecôte"),
        _ => None,
    }
}

/// Whether `date` is a public holiday in metropolitan France.
pub fn is_public_holiday(date: NaiveDate) -> bool {
    holiday_name(date).is_some()
}

/// Whether `date` is a business day: Monday to Friday, not a public holiday.
pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_public_holiday(date)
}

/// The date reached after counting `n` business days strictly after `start`
/// (`start` itself never counts; `n == 0` returns `start`). Stops at
/// `NaiveDate::MAX` rather than panicking.
pub fn add_business_days(start: NaiveDate, n: u32) -> NaiveDate {
    let mut date = start;
    let mut remaining = n;
    while remaining > 0 {
        match date.succ_opt() {
            Some(next) => date = next,
            None => return date,
        }
        if is_business_day(date) {
            remaining -= 1;
        }
    }
    date
}

/// Last day to instruct a request submitted on `submitted_on`.
pub fn instruction_deadline(submitted_on: NaiveDate) -> NaiveDate {
    add_business_days(submitted_on, INSTRUCTION_BUSINESS_DAYS)
}

/// Where a request stands relative to its instruction deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineStatus {
    OnTime,
    DueToday,
    Overdue,
}

impl DeadlineStatus {
    pub const ALL: [DeadlineStatus; 3] = [
        DeadlineStatus::OnTime,
        DeadlineStatus::DueToday,
        DeadlineStatus::Overdue,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            DeadlineStatus::OnTime => "on_time",
            DeadlineStatus::DueToday => "due_today",
            DeadlineStatus::Overdue => "overdue",
        }
    }

    pub const fn label_fr(self) -> &'static str {
        match self {
            DeadlineStatus::OnTime => "Dans les délais",
            DeadlineStatus::DueToday => "À traiter aujourd'hui",
            DeadlineStatus::Overdue => "En retard",
        }
    }
}

/// Compares a deadline with today: before it, on it, or past it.
pub fn deadline_status(deadline: NaiveDate, today: NaiveDate) -> DeadlineStatus {
    match today.cmp(&deadline) {
        std::cmp::Ordering::Less => DeadlineStatus::OnTime,
        std::cmp::Ordering::Equal => DeadlineStatus::DueToday,
        std::cmp::Ordering::Greater => DeadlineStatus::Overdue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    #[test]
    fn easter_known_years() {
        let known = [
            (1583, 4, 10),
            (1818, 3, 22), // earliest possible
            (1943, 4, 25), // latest possible
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
            (2285, 3, 22),
        ];
        for (year, month, day) in known {
            assert_eq!(easter_sunday(year), d(year, month, day), "{year}");
        }
    }

    #[test]
    fn easter_is_a_sunday_within_its_window() {
        for year in 1583..=9999 {
            let easter = easter_sunday(year);
            assert_eq!(easter.weekday(), Weekday::Sun, "{year}");
            assert!(
                easter >= d(year, 3, 22) && easter <= d(year, 4, 25),
                "{year}"
            );
        }
    }

    #[test]
    fn easter_out_of_range_does_not_panic() {
        for year in [
            i32::MIN,
            -300_000,
            -1,
            0,
            1,
            1000,
            1582,
            10_000,
            262_143,
            300_000,
            i32::MAX,
        ] {
            let easter = easter_sunday(year);
            if easter != NaiveDate::MIN && easter != NaiveDate::MAX {
                assert_eq!(easter.year(), year);
            }
            let _ = public_holidays(year);
        }
        assert_eq!(easter_sunday(i32::MAX), NaiveDate::MAX);
        assert_eq!(easter_sunday(i32::MIN), NaiveDate::MIN);
    }

    #[test]
    fn holidays_2026() {
        assert_eq!(
            public_holidays(2026),
            vec![
                (d(2026, 1, 1), "Jour de l'an"),
                (d(2026, 4, 6), "Lundi de Pâques"),
                (d(2026, 5, 1), "Fête du Travail"),
                (d(2026, 5, 8), "Victoire 1945"),
                (d(2026, 5, 14), "Ascension"),
                (d(2026, 5, 25), "Lundi de Pentecôte"),
                (d(2026, 7, 14), "Fête nationale"),
                (d(2026, 8, 15), "Assomption"),
                (d(2026, 11, 1), "Toussaint"),
                (d(2026, 11, 11), "Armistice 1918"),
                (d(2026, 12, 25), "Noël"),
            ]
        );
    }

    #[test]
    fn holidays_are_sorted_and_eleven() {
        // 2008: Ascension (1 May) falls on the Fête du Travail; both are listed.
        for year in [2008, 2024, 2025, 2026, 2027, 2038] {
            let holidays = public_holidays(year);
            assert_eq!(holidays.len(), 11, "{year}");
            assert!(holidays.windows(2).all(|w| w[0].0 <= w[1].0), "{year}");
        }
        let may_first_2008: Vec<_> = public_holidays(2008)
            .into_iter()
            .filter(|(date, _)| *date == d(2008, 5, 1))
            .map(|(_, name)| name)
            .collect();
        assert_eq!(may_first_2008, ["Fête du Travail", "Ascension"]);
    }

    #[test]
    fn ascension_and_whit_monday() {
        let cases = [
            // (year, Ascension, Whit Monday)
            (2024, d(2024, 5, 9), d(2024, 5, 20)),
            (2025, d(2025, 5, 29), d(2025, 6, 9)),
            (2026, d(2026, 5, 14), d(2026, 5, 25)),
            (2027, d(2027, 5, 6), d(2027, 5, 17)),
        ];
        for (year, ascension, whit_monday) in cases {
            let holidays = public_holidays(year);
            assert!(holidays.contains(&(ascension, "Ascension")), "{year}");
            assert!(
                holidays.contains(&(whit_monday, "Lundi de Pentecôte")),
                "{year}"
            );
            assert_eq!(ascension.weekday(), Weekday::Thu);
            assert_eq!(whit_monday.weekday(), Weekday::Mon);
            assert!(is_public_holiday(ascension));
            assert!(is_public_holiday(whit_monday));
            assert!(!is_business_day(ascension));
            assert!(!is_business_day(whit_monday));
        }
        assert_eq!(holiday_name(d(2025, 4, 21)), Some("Lundi de Pâques"));
        assert_eq!(holiday_name(d(2024, 4, 1)), Some("Lundi de Pâques"));
    }

    #[test]
    fn business_days() {
        assert!(is_business_day(d(2026, 6, 5))); // Friday
        assert!(!is_business_day(d(2026, 6, 6))); // Saturday
        assert!(!is_business_day(d(2026, 6, 7))); // Sunday
        assert!(is_business_day(d(2026, 5, 15))); // Ascension bridge: still worked
        assert!(is_business_day(d(2026, 4, 3))); // Good Friday: not a holiday
        assert!(is_business_day(d(2026, 12, 24)));
        assert!(!is_business_day(d(2026, 12, 25)));
        assert!(is_business_day(d(2025, 12, 26))); // Saint-Étienne: Alsace-Moselle only
        assert!(!is_public_holiday(d(2026, 8, 14)));
        assert!(is_public_holiday(d(2026, 8, 15)));
        assert_eq!(holiday_name(d(2026, 6, 5)), None);
    }

    #[test]
    fn zero_business_days_returns_start() {
        for start in [
            d(2026, 6, 5),
            d(2026, 6, 6),
            d(2026, 12, 25),
            d(2026, 5, 14),
        ] {
            assert_eq!(add_business_days(start, 0), start);
        }
    }

    #[test]
    fn holiday_name_agrees_with_the_year_list_day_by_day() {
        // Every day of 1900-2200, including the years where Ascension falls on 1 or 8 May
        // (2008: 1 May; 2036 and 2047: 1 and 8 May).
        let mut day = d(1900, 1, 1);
        let mut holidays = 0;
        while day < d(2201, 1, 1) {
            let expected = public_holidays(day.year())
                .into_iter()
                .find(|(holiday, _)| *holiday == day)
                .map(|(_, name)| name);
            assert_eq!(holiday_name(day), expected, "{day}");
            holidays += usize::from(expected.is_some());
            day = day.succ_opt().unwrap();
        }
        assert!(holidays > 300 * 10, "{holidays}");
        assert_eq!(holiday_name(d(2008, 5, 1)), Some("Fête du Travail"));
    }

    #[test]
    fn add_business_days_counts_strictly_after_start() {
        assert_eq!(add_business_days(d(2026, 6, 5), 1), d(2026, 6, 8));
        assert_eq!(add_business_days(d(2026, 6, 6), 1), d(2026, 6, 8));
        assert_eq!(add_business_days(d(2026, 6, 8), 1), d(2026, 6, 9));
        assert_eq!(add_business_days(d(2026, 6, 8), 5), d(2026, 6, 15));
        // 24, 28, 29, 30, 31 Dec, then 4, 5, 6, 7, 8 Jan.
        assert_eq!(add_business_days(d(2026, 12, 23), 10), d(2027, 1, 8));
    }

    #[test]
    fn add_business_days_stops_at_the_end_of_time() {
        let near_end = NaiveDate::MAX.pred_opt().unwrap();
        assert_eq!(add_business_days(near_end, 10), NaiveDate::MAX);
        assert_eq!(add_business_days(NaiveDate::MAX, 3), NaiveDate::MAX);
    }

    #[test]
    fn deadline_across_a_weekend() {
        // Friday 5 June 2026 → Mon 8, Tue 9, Wed 10.
        assert_eq!(instruction_deadline(d(2026, 6, 5)), d(2026, 6, 10));
        // Monday → Thursday.
        assert_eq!(instruction_deadline(d(2026, 6, 8)), d(2026, 6, 11));
        // Wednesday → Monday.
        assert_eq!(instruction_deadline(d(2026, 6, 10)), d(2026, 6, 15));
    }

    #[test]
    fn deadline_when_submitted_on_a_weekend() {
        assert_eq!(instruction_deadline(d(2026, 6, 6)), d(2026, 6, 10)); // Saturday
        assert_eq!(instruction_deadline(d(2026, 6, 7)), d(2026, 6, 10)); // Sunday
    }

    #[test]
    fn deadline_around_christmas_and_new_year() {
        // Wed 23 Dec 2026 → Thu 24, (Fri 25), Mon 28, Tue 29.
        assert_eq!(instruction_deadline(d(2026, 12, 23)), d(2026, 12, 29));
        // Thu 24 → Mon 28, Tue 29, Wed 30.
        assert_eq!(instruction_deadline(d(2026, 12, 24)), d(2026, 12, 30));
        // Christmas itself (Friday) → Mon 28, Tue 29, Wed 30.
        assert_eq!(instruction_deadline(d(2026, 12, 25)), d(2026, 12, 30));
        // Wed 30 → Thu 31, (Fri 1 Jan), Mon 4, Tue 5.
        assert_eq!(instruction_deadline(d(2026, 12, 30)), d(2027, 1, 5));
        // Thu 31 → Mon 4, Tue 5, Wed 6.
        assert_eq!(instruction_deadline(d(2026, 12, 31)), d(2027, 1, 6));
        // 2025: Christmas on Thursday. Tue 23 → Wed 24, (Thu 25), Fri 26, Mon 29.
        assert_eq!(instruction_deadline(d(2025, 12, 23)), d(2025, 12, 29));
    }

    #[test]
    fn deadline_around_first_and_eighth_of_may_2026() {
        // 1 May and 8 May 2026 are Fridays.
        // Wed 29 Apr → Thu 30, (Fri 1), Mon 4, Tue 5.
        assert_eq!(instruction_deadline(d(2026, 4, 29)), d(2026, 5, 5));
        // Thu 30 Apr → Mon 4, Tue 5, Wed 6.
        assert_eq!(instruction_deadline(d(2026, 4, 30)), d(2026, 5, 6));
        // Mon 4 May → Tue 5, Wed 6, Thu 7.
        assert_eq!(instruction_deadline(d(2026, 5, 4)), d(2026, 5, 7));
        // Tue 5 May → Wed 6, Thu 7, (Fri 8), Mon 11.
        assert_eq!(instruction_deadline(d(2026, 5, 5)), d(2026, 5, 11));
        // Wed 6 May → Thu 7, (Fri 8), Mon 11, Tue 12.
        assert_eq!(instruction_deadline(d(2026, 5, 6)), d(2026, 5, 12));
        // Thu 7 May → Mon 11, Tue 12, Wed 13.
        assert_eq!(instruction_deadline(d(2026, 5, 7)), d(2026, 5, 13));
    }

    #[test]
    fn deadline_around_ascension_and_its_bridge() {
        // Ascension 2026: Thursday 14 May; Friday 15 is an ordinary business day.
        // Tue 12 → Wed 13, (Thu 14), Fri 15, Mon 18.
        assert_eq!(instruction_deadline(d(2026, 5, 12)), d(2026, 5, 18));
        // Wed 13 → Fri 15, Mon 18, Tue 19.
        assert_eq!(instruction_deadline(d(2026, 5, 13)), d(2026, 5, 19));
        // On Ascension itself → Fri 15, Mon 18, Tue 19.
        assert_eq!(instruction_deadline(d(2026, 5, 14)), d(2026, 5, 19));
        // On the bridge Friday → Mon 18, Tue 19, Wed 20.
        assert_eq!(instruction_deadline(d(2026, 5, 15)), d(2026, 5, 20));
        // Ascension 2025: Thursday 29 May. Wed 28 → Fri 30, Mon 2 Jun, Tue 3 Jun.
        assert_eq!(instruction_deadline(d(2025, 5, 28)), d(2025, 6, 3));
    }

    #[test]
    fn deadline_around_whit_monday() {
        // 2024: Whit Monday 20 May. Fri 17 → Tue 21, Wed 22, Thu 23.
        assert_eq!(instruction_deadline(d(2024, 5, 17)), d(2024, 5, 23));
        // 2025: Whit Monday 9 June. Thu 5 → Fri 6, Tue 10, Wed 11.
        assert_eq!(instruction_deadline(d(2025, 6, 5)), d(2025, 6, 11));
        // 2026: Whit Monday 25 May. Thu 21 → Fri 22, Tue 26, Wed 27.
        assert_eq!(instruction_deadline(d(2026, 5, 21)), d(2026, 5, 27));
        // 2027: Whit Monday 17 May. Fri 14 → Tue 18, Wed 19, Thu 20.
        assert_eq!(instruction_deadline(d(2027, 5, 14)), d(2027, 5, 20));
    }

    #[test]
    fn deadline_around_easter_monday() {
        // 2026: Easter Monday 6 April. Thu 2 → Fri 3, Tue 7, Wed 8.
        assert_eq!(instruction_deadline(d(2026, 4, 2)), d(2026, 4, 8));
    }

    #[test]
    fn deadline_around_fourteenth_of_july() {
        // 2026: Tuesday. Mon 13 → Wed 15, Thu 16, Fri 17.
        assert_eq!(instruction_deadline(d(2026, 7, 13)), d(2026, 7, 17));
        // Fri 10 → Mon 13, Wed 15, Thu 16.
        assert_eq!(instruction_deadline(d(2026, 7, 10)), d(2026, 7, 16));
        // 2025: Monday. Fri 11 → Tue 15, Wed 16, Thu 17.
        assert_eq!(instruction_deadline(d(2025, 7, 11)), d(2025, 7, 17));
    }

    #[test]
    fn deadline_around_eleventh_of_november() {
        // 2026: Wednesday. Mon 9 → Tue 10, Thu 12, Fri 13.
        assert_eq!(instruction_deadline(d(2026, 11, 9)), d(2026, 11, 13));
        // 2025: Tuesday (and 1 Nov a Saturday). Fri 7 → Mon 10, Wed 12, Thu 13.
        assert_eq!(instruction_deadline(d(2025, 11, 7)), d(2025, 11, 13));
        // 2026: Toussaint on a Sunday changes nothing. Thu 29 Oct → Fri 30, Mon 2, Tue 3.
        assert_eq!(instruction_deadline(d(2026, 10, 29)), d(2026, 11, 3));
    }

    #[test]
    fn deadline_with_assumption_on_a_saturday() {
        // 15 Aug 2026 is a Saturday. Thu 13 → Fri 14, Mon 17, Tue 18.
        assert_eq!(instruction_deadline(d(2026, 8, 13)), d(2026, 8, 18));
    }

    #[test]
    fn deadline_statuses() {
        let deadline = d(2026, 6, 10);
        assert_eq!(
            deadline_status(deadline, d(2026, 6, 5)),
            DeadlineStatus::OnTime
        );
        assert_eq!(
            deadline_status(deadline, d(2026, 6, 9)),
            DeadlineStatus::OnTime
        );
        assert_eq!(
            deadline_status(deadline, d(2026, 6, 10)),
            DeadlineStatus::DueToday
        );
        assert_eq!(
            deadline_status(deadline, d(2026, 6, 11)),
            DeadlineStatus::Overdue
        );
        assert_eq!(
            deadline_status(deadline, d(2027, 1, 1)),
            DeadlineStatus::Overdue
        );
    }

    #[test]
    fn deadline_status_names() {
        let names = ["on_time", "due_today", "overdue"];
        let labels = ["Dans les délais", "À traiter aujourd'hui", "En retard"];
        for ((status, name), label) in DeadlineStatus::ALL.into_iter().zip(names).zip(labels) {
            assert_eq!(status.as_str(), name);
            assert_eq!(status.label_fr(), label);
        }
    }

    #[test]
    fn constant() {
        assert_eq!(INSTRUCTION_BUSINESS_DAYS, 3);
    }
}

#[cfg(test)]
mod paris_tests {
    use super::*;

    fn utc(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn days_are_paris_days_around_midnight_across_the_spring_change() {
        // 28 March 2027: clocks go from 02:00 CET (UTC+1) to 03:00 CEST (UTC+2).
        // 23:30 on the 27th in Paris (CET) is 22:30 UTC.
        assert_eq!(paris_date(utc("2027-03-27 22:30")), day("2027-03-27"));
        // 00:30 on the 28th in Paris (CET) is 23:30 UTC on the 27th: already the 28th.
        assert_eq!(paris_date(utc("2027-03-27 23:30")), day("2027-03-28"));
        // 23:30 on the 28th in Paris (CEST) is 21:30 UTC.
        assert_eq!(paris_date(utc("2027-03-28 21:30")), day("2027-03-28"));
        // 00:30 on the 29th in Paris (CEST) is 22:30 UTC on the 28th.
        assert_eq!(paris_date(utc("2027-03-28 22:30")), day("2027-03-29"));
    }

    #[test]
    fn days_are_paris_days_around_midnight_across_the_autumn_change() {
        // 25 October 2026: clocks go back from 03:00 CEST to 02:00 CET.
        assert_eq!(paris_date(utc("2026-10-24 21:30")), day("2026-10-24"));
        assert_eq!(paris_date(utc("2026-10-24 22:30")), day("2026-10-25"));
        assert_eq!(paris_date(utc("2026-10-25 22:30")), day("2026-10-25"));
        assert_eq!(paris_date(utc("2026-10-25 23:30")), day("2026-10-26"));
    }

    #[test]
    fn a_deadline_counts_from_the_paris_day_of_submission() {
        // Submitted at 00:30 Paris on Friday 26 March 2027 (23:30 UTC on Thursday): the
        // deadline counts from Friday, not from Thursday.
        let submitted = utc("2027-03-25 23:30");
        assert_eq!(paris_date(submitted), day("2027-03-26"));
        assert_eq!(
            instruction_deadline(paris_date(submitted)),
            instruction_deadline(day("2027-03-26"))
        );
        assert_ne!(
            instruction_deadline(paris_date(submitted)),
            instruction_deadline(submitted.date())
        );
    }
}
