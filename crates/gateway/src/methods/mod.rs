//! Method handlers, one file per family (as the reference's `server-methods/`).

pub mod agent;
pub mod agents;
pub mod approvals;
pub mod canvas;
pub mod channels;
pub mod commands;
pub mod config;
pub mod cron;
pub mod devices;
pub mod logs;
pub mod models;
pub mod nodes;
pub mod session_events;
pub mod sessions;
pub mod system;
pub mod tools;
pub mod ui;
pub mod web;
pub mod wizard;
