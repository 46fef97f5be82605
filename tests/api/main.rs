//! Integration tests: the real application, started on port 0 with a fresh database per
//! test (SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set), driven over HTTP.

mod access;
mod access_directory;
mod access_hubee;
mod access_instruction;
mod access_kit;
mod access_tokens;
mod auth;
mod browser;
mod cli;
mod datapass;
mod demo;
mod directory;
mod health;
mod helpers;
mod home;
mod hubee;
mod hubee_client;
mod instruction;
mod kit;
mod mail;
mod migrations;
mod oidc_provider;
mod proconnect;
mod readme;
mod reminders;
mod scale;
mod sirene;
mod smtp;
mod tokens;
mod webhook;
