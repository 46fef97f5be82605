//! qf-backoffice: the API Particulier team's back office for the national quotient familial
//! form — habilitation requests, tokens, HubEE subscriptions and the form's kit.

pub mod assets;
pub mod auth;
pub mod clients;
pub mod config;
pub mod db;
pub mod demo;
pub mod demo_scale;
pub mod domain;
pub mod error;
pub mod hubee;
pub mod import;
pub mod instruction;
pub mod jobs;
pub mod kit;
pub mod mail;
pub mod models;
pub mod provisioning;
pub mod qr;
pub mod routes;
pub mod search;
pub mod security;
pub mod startup;
pub mod state;
