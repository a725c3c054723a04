//! HTTP-level tests of the server: the real router on a temporary database, driven with
//! `oneshot`, and simulated devices holding their own copies of the documents.

mod common;

mod api;
mod blobs;
mod demo;
mod dispatch;
mod live;
mod openapi;
mod operations;
mod postgres;
mod running;
mod schema_check;
mod sync_bad_input;
mod sync_flow;
