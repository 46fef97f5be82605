//! Background work run on a schedule or from the command line.

pub mod purge;
pub mod reminders;

/// How long a worker holds the jobs it claimed before another may take them over: `calls`
/// requests of at most `timeout` each per job, plus ten seconds for the database. A process
/// that dies mid-call thus delays its jobs by this lease, not by a fixed five minutes; a lease
/// that runs out on a slow job only repeats steps that adopt what already exists.
pub fn lease(timeout: std::time::Duration, calls: u32, jobs: usize) -> chrono::Duration {
    let per_job = timeout.saturating_mul(calls);
    let work = per_job.saturating_mul(u32::try_from(jobs.max(1)).unwrap_or(u32::MAX));
    chrono::Duration::from_std(work + std::time::Duration::from_secs(10))
        .unwrap_or(chrono::Duration::hours(1))
        .min(chrono::Duration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::lease;
    use std::time::Duration;

    #[test]
    fn a_lease_covers_every_call_of_every_claimed_job() {
        assert_eq!(
            lease(Duration::from_secs(2), 2, 1),
            chrono::Duration::seconds(14)
        );
        assert_eq!(
            lease(Duration::from_secs(10), 6, 3),
            chrono::Duration::seconds(190)
        );
        assert_eq!(
            lease(Duration::from_secs(10), 2, 0),
            chrono::Duration::seconds(30)
        );
        assert_eq!(
            lease(Duration::from_secs(3600), 6, 20),
            chrono::Duration::hours(1)
        );
    }
}
