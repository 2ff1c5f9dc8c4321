//! SLA rules from TOML -> verdict per cell -> exit code. (Being written.)

use std::path::Path;

use crate::error::{Error, Result};

/// `leasebench check RESULT [--sla FILE]`: 0 all hold, 1 any fails; bad input is an Err (exit 2).
pub fn cli(_result: &Path, _sla: Option<&Path>) -> Result<i32> {
    Err(Error::Internal("check is not implemented yet".into()))
}
