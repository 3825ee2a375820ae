//! HTTP tests of keeper-server: each starts a real server on 127.0.0.1:0 with a manual clock and
//! talks to it over loopback. One test binary with modules, so the suite links once.

mod bodies;
mod common;
mod concurrency;
mod conformance;
mod content_type;
mod cors;
mod demo;
mod fuzz;
mod ids;
mod lifetime;
mod limits;
mod probe;
mod serve;
mod static_files;
mod store_trait;
