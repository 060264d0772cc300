//! Results go to stdout through [`write`]: a failed write there (a full disk, a closed
//! descriptor) is an error, exit 2 with a message, instead of the panic `print!` gives; a closed
//! pipe (`evalrun report r.json | head`) ends the program quietly, as `head` users expect.

use std::io::{ErrorKind, Write as _};

/// The reader of stdout went away (EPIPE): not an error to report.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct ClosedPipe;

/// Writes `text` to stdout and flushes it.
pub fn write(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(ClosedPipe.into()),
        Err(e) => Err(anyhow::anyhow!(
            "cannot write the results to standard output: {e}"
        )),
    }
}
