//! Scaling curves and latency CDFs from finished results. (Being written.)

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::results::RunResult;

/// Draw every plot for `run` into `dir`; returns the files written.
pub fn draw_all(_run: &RunResult, _dir: &Path) -> Result<Vec<PathBuf>> {
    Err(Error::Internal("plots are not implemented yet".into()))
}

/// `leasebench plot RESULT [--out DIR]`.
pub fn cli(_result: &Path, _out: Option<&Path>) -> Result<i32> {
    Err(Error::Internal("plot is not implemented yet".into()))
}
