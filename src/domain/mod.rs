//! Pure domain rules of the back office: SIRET validation, the DataPass request
//! lifecycle, French business days and the API Particulier token lifetime.
//!
//! Nothing here touches the database, the network or the clock: every function
//! takes "today" as an argument when it needs it.

pub mod calendar;
pub mod checks;
pub mod collectivite;
pub mod email;
pub mod form_url;
pub mod hubee;
pub mod identity;
pub mod reminders;
pub mod request_state;
pub mod roles;
pub mod siret;
pub mod token;
