//! Clients of the external services the back office consults (Sirene for now). Each one
//! degrades gracefully: an outage is a value to show, never an error for the caller.

pub mod sirene;
