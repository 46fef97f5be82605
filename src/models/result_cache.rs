//! Results of reads too costly to repeat on every view (a search's matches in a list's order,
//! the staff search's hits, an éditeur's client collectivités), kept in memory by each
//! application and tagged with the data version: triggers bump one counter (`row_counts`
//! `versions`/`lists`, migration `…000031`) in the transaction of every change to the tables
//! these results read, and a view reuses a result only when it was computed at the version it
//! reads first. Any change drops every result at once; a change committed while a result is
//! computed tags a newer result with the older version, which the next view computes again:
//! never stale. At most [`CAPACITY`] results, the oldest dropped first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use diesel::QueryResult;

use super::counters;
use crate::db::DbConnection;

/// Results kept at most (a search's matches: a few thousand ids, ~150 KB at most each).
pub const CAPACITY: usize = 64;

/// What a search matched in a list, in the list's order.
#[derive(Clone, Debug, Default)]
pub struct Matches {
    /// The ids of the matching rows, in the list's order.
    pub ids: Vec<String>,
    /// The search text is in more documents than a list reads (`search::LIST_CAP`).
    pub capped: bool,
}

impl Matches {
    /// How many rows matched.
    pub fn total(&self) -> i64 {
        i64::try_from(self.ids.len()).unwrap_or(i64::MAX)
    }
}

/// The results one application keeps (one per `AppState` and kind of result, shared by its
/// workers).
pub struct ResultCache<T = Matches> {
    inner: Mutex<Inner<T>>,
}

impl<T> Default for ResultCache<T> {
    fn default() -> Self {
        ResultCache {
            inner: Mutex::new(Inner {
                version: 0,
                entries: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }
}

struct Inner<T> {
    version: i64,
    entries: HashMap<String, Arc<T>>,
    order: VecDeque<String>,
}

impl<T> ResultCache<T> {
    /// The result for `key` at the current data version: the one kept, or `compute`'s (then
    /// kept). `key` names the list and every filter the result depends on (and the day, when
    /// it does).
    pub fn get_or_compute(
        &self,
        conn: &mut DbConnection,
        key: String,
        compute: impl FnOnce(&mut DbConnection) -> QueryResult<T>,
    ) -> QueryResult<Arc<T>> {
        let version = counters::bucket(conn, counters::VERSIONS, counters::LISTS)?;
        if let Some(hit) = self.get(&key, version) {
            return Ok(hit);
        }
        let result = Arc::new(compute(conn)?);
        self.put(key, version, Arc::clone(&result));
        Ok(result)
    }

    fn get(&self, key: &str, version: i64) -> Option<Arc<T>> {
        let inner = self.inner.lock().ok()?;
        if inner.version != version {
            return None;
        }
        inner.entries.get(key).cloned()
    }

    fn put(&self, key: String, version: i64, result: Arc<T>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        // Another version: every result kept is dropped. A newer one after a change; an older
        // one too (a result computed before a change another view has already seen is kept
        // until the next view reads the newer version), and a version that went back (a
        // restored database) never meets results of the data it replaced.
        if version != inner.version {
            inner.version = version;
            inner.entries.clear();
            inner.order.clear();
        }
        if inner.entries.insert(key.clone(), result).is_none() {
            inner.order.push_back(key);
        }
        while inner.order.len() > CAPACITY {
            if let Some(oldest) = inner.order.pop_front() {
                inner.entries.remove(&oldest);
            }
        }
    }
}

/// A cache key: the list's name and its filters' values, each value escaped (`\\`, `\|`) and
/// followed by `|`, so that two different sets of values never share a key.
pub fn key(list: &str, parts: &[&str]) -> String {
    let mut key = String::from(list);
    key.push('|');
    for part in parts {
        for c in part.chars() {
            if matches!(c, '\\' | '|') {
                key.push('\\');
            }
            key.push(c);
        }
        key.push('|');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_different_values_differ() {
        assert_ne!(key("q", &["a|", "b"]), key("q", &["a", "|b"]));
        assert_ne!(key("q", &["a\\", "|"]), key("q", &["a", "\\|"]));
        assert_ne!(key("q", &["ab"]), key("qa", &["b"]));
        assert_eq!(key("q", &["a", "b"]), "q|a|b|");
    }

    fn matches(n: usize) -> Matches {
        Matches {
            ids: (0..n).map(|i| i.to_string()).collect(),
            capped: false,
        }
    }

    #[test]
    fn a_result_is_kept_for_its_version_only() {
        let cache: ResultCache = ResultCache::default();
        cache.put("a".into(), 3, Arc::new(matches(1)));
        assert_eq!(cache.get("a", 3).map(|m| m.total()), Some(1));
        assert!(cache.get("a", 4).is_none());
        // A newer version drops every older result.
        cache.put("c".into(), 5, Arc::new(matches(3)));
        assert!(cache.get("a", 5).is_none() && cache.get("a", 3).is_none());
        assert_eq!(cache.get("c", 5).map(|m| m.total()), Some(3));
        // A version that went back (a restored database) drops them too: when the counter
        // climbs back to 5, the result of the data it replaced is gone.
        cache.put("b".into(), 2, Arc::new(matches(2)));
        assert_eq!(cache.get("b", 2).map(|m| m.total()), Some(2));
        assert!(cache.get("c", 5).is_none());
    }

    #[test]
    fn the_oldest_results_go_first() {
        let cache: ResultCache = ResultCache::default();
        for i in 0..=CAPACITY {
            cache.put(i.to_string(), 1, Arc::new(matches(i)));
        }
        assert!(cache.get("0", 1).is_none());
        assert!(cache.get("1", 1).is_some());
        assert!(cache.get(&CAPACITY.to_string(), 1).is_some());
    }
}
