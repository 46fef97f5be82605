//! Background work run on a schedule or from the command line.

pub mod purge;
pub mod reminders;
