//! The integration suite: one binary whose modules mirror the API. Every test talks HTTP to
//! a real server (in-process on port 0, or the `oxbase` binary) over a real SQLite file.

mod access;
mod audit;
mod cli;
mod conditional;
mod connections;
mod differential;
mod docs;
mod embed;
mod error_bodies;
mod errors;
mod fuzz;
mod hardening;
mod health;
mod identity;
mod postgres;
mod postgrest_client;
mod query;
mod read;
mod scale_out;
mod scale_out_gaps;
mod serve;
mod support;
mod write;
