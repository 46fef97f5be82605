//! Row-level helpers shared by every query module: the current instant at stored precision,
//! new row ids, `LIKE` patterns, and pagination (one page-count formula for every list).

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time at the precision both backends store (microseconds).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A new text UUID for a row id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` escaped (use with `ESCAPE '\'`).
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Number of pages of `per_page` rows needed for `total` rows (at least 1).
pub fn page_count(total: i64, per_page: i64) -> i64 {
    ((total + per_page - 1) / per_page).max(1)
}

/// `page` brought within 1..=last page: a page past the end shows the last page rather than
/// nothing.
pub fn clamp_page(page: i64, total: i64, per_page: i64) -> i64 {
    page.clamp(1, page_count(total, per_page))
}

/// Offset of a 1-based page.
pub fn offset(page: i64, per_page: i64) -> i64 {
    (page.max(1) - 1) * per_page
}

/// The items of 1-based `page` among `items`, the whole list read in order (a search's
/// matches, counted and paged from one read).
pub fn slice<T>(items: Vec<T>, page: i64, per_page: i64) -> Vec<T> {
    let skip = usize::try_from(offset(page, per_page)).unwrap_or(usize::MAX);
    let take = usize::try_from(per_page).unwrap_or(0);
    items.into_iter().skip(skip).take(take).collect()
}

/// The items of page `page` (1-based) of `items`, borrowed.
pub fn page_of<T>(items: &[T], page: i64, per_page: i64) -> &[T] {
    let skip = usize::try_from(page.max(1).saturating_sub(1).saturating_mul(per_page))
        .unwrap_or(usize::MAX)
        .min(items.len());
    let take = usize::try_from(per_page).unwrap_or(0);
    let rest = &items[skip..];
    &rest[..take.min(rest.len())]
}

/// One page of a longer list.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// 1-based page number.
    pub page: i64,
    /// Rows per page.
    pub per_page: i64,
    /// Rows in the whole list.
    pub total: i64,
    /// Number of pages (at least 1).
    pub pages: i64,
    /// The list comes from a search found in more documents than a list examines
    /// (`crate::search::LIST_CAP`): the page says the list may be incomplete.
    pub truncated: bool,
}

/// What a list page shows around its rows: counts, position, whether it has rows.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PageInfo {
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    pub pages: i64,
    pub truncated: bool,
    /// No row on this page.
    pub empty: bool,
}

impl<T> Page<T> {
    /// The page without its rows (see [`PageInfo`]).
    pub fn info(&self) -> PageInfo {
        PageInfo {
            page: self.page,
            per_page: self.per_page,
            total: self.total,
            pages: self.pages,
            truncated: self.truncated,
            empty: self.items.is_empty(),
        }
    }

    /// Builds a page; `page` is clamped to at least 1.
    pub fn new(items: Vec<T>, page: i64, per_page: i64, total: i64) -> Page<T> {
        Page {
            items,
            page,
            per_page,
            total,
            pages: page_count(total, per_page),
            truncated: false,
        }
    }

    /// Marks the page as drawn from a capped search (see [`Page::truncated`]).
    pub fn truncated(mut self, truncated: bool) -> Page<T> {
        self.truncated = truncated;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_is_the_page_of_the_whole_list() {
        let items: Vec<i32> = (1..=7).collect();
        assert_eq!(slice(items.clone(), 1, 3), vec![1, 2, 3]);
        assert_eq!(slice(items.clone(), 3, 3), vec![7]);
        assert_eq!(slice(items.clone(), 4, 3), Vec::<i32>::new());
        assert_eq!(
            slice(items.clone(), 0, 3),
            vec![1, 2, 3],
            "page 0 is the first"
        );
        for page in 0..6 {
            assert_eq!(
                page_of(&items, page, 3),
                slice(items.clone(), page, 3).as_slice()
            );
        }
        assert!(page_of(&items, i64::MAX, 3).is_empty());
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(contains_pattern(" Saint_%X "), "%saint\\_\\%x%");
    }

    #[test]
    fn page_count_rounds_up() {
        assert_eq!(Page::<()>::new(vec![], 1, 20, 0).pages, 1);
        assert_eq!(Page::<()>::new(vec![], 1, 20, 20).pages, 1);
        assert_eq!(Page::<()>::new(vec![], 1, 20, 21).pages, 2);
        assert_eq!(offset(3, 20), 40);
        assert_eq!(offset(0, 20), 0);
    }

    #[test]
    fn pages_past_the_end_show_the_last_page() {
        assert_eq!(clamp_page(9, 41, 20), 3);
        assert_eq!(clamp_page(0, 41, 20), 1);
        assert_eq!(clamp_page(5, 0, 20), 1);
    }
}
