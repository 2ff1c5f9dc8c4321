//! Reports read finished results (never the live workload): the terminal
//! table, and (with later modules) plots and comparisons.

pub mod table;
