//! Clients of outside services, each with a configurable base URL: Sirene (never an error
//! for the caller: an outage is "unknown") and HubEE (errors say whether to retry).

pub mod hubee;
pub mod sirene;
