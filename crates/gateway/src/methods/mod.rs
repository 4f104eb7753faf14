//! Method handlers, one file per family (as the reference's `server-methods/`).

pub mod agent;
pub mod canvas;
pub mod channels;
pub mod config;
pub mod devices;
pub mod logs;
pub mod nodes;
pub mod system;
