//! Clients of outside services, each with a configurable base URL: Sirene (never an error
//! for the caller: an outage is "unknown"), HubEE and the formulaire QF (errors say whether to
//! retry) and DataPass's pull API (for reconciliation).

pub mod datapass;
pub mod form;
pub mod hubee;
pub mod sirene;
