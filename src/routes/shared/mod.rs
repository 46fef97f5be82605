//! Pieces of pages shared by several route areas (so no area calls into another): the
//! request page, the sign-in page and the clients spreadsheet. No handlers live here.

pub mod csv;
pub mod request_page;
pub mod sign_in;
