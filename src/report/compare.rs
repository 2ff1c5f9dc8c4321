//! Line up matching cells of several results. (Being written.)

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `leasebench compare A.json B.json [...] [--out DIR]`.
pub fn cli(_files: &[PathBuf], _out: Option<&Path>) -> Result<i32> {
    Err(Error::Internal("compare is not implemented yet".into()))
}
