//! Reports read finished results (never the live workload): the terminal
//! table, the scaling-curve plots, and comparisons of several runs.

pub mod compare;
pub mod plot;
pub mod table;
