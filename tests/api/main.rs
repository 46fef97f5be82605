//! Integration tests: the real application, started on port 0 with a fresh database per
//! test (SQLite by default, PostgreSQL when `TEST_DATABASE_URL` is set), driven over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod access_api;
mod access_directory;
mod access_hubee;
mod access_instruction;
mod access_kit;
mod access_tokens;
mod architecture;
mod auth;
mod browser;
mod browser_spaces;
mod cli;
mod datapass;
mod demo;
mod directory;
mod editeur_api;
mod editeur_space;
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
mod properties;
mod provisioning;
mod readme;
mod reminders;
mod scale;
mod security;
mod sirene;
mod smtp;
mod staff_search;
mod standins;
mod tokens;
mod view_as;
mod webhook;
