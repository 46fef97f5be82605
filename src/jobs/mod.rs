//! Background work run on a schedule or from the command line.

pub mod reminders;
