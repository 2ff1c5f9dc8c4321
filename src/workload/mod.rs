//! Driving the load: the worker loop (`worker`), the producer that keeps
//! the queue fed (`producer`), and the driver that runs one cell and a
//! whole sweep (`driver`).

pub mod driver;
pub mod producer;
pub mod worker;

pub use driver::{run_cell, BatchOut, CellSession, CellSpec, Interrupt, Progress, Until};
