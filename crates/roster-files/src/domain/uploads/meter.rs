//! Counting an upload's bytes as they arrive, against its declared size and
//! the service's limit, so nothing past either is ever buffered or stored.

use roster_kit::{Error, Result};

pub(crate) fn too_large(max: u64) -> Error {
    let mut err = Error::invalid_field(
        "header.size",
        format!("the file exceeds the limit of {max} bytes"),
    );
    err.reason = "FILE_TOO_LARGE";
    err
}

fn size_mismatch(declared: u64, description: String) -> Error {
    let mut err = Error::invalid_field(
        "header.size",
        format!("{declared} bytes were declared but {description}"),
    );
    err.reason = "UPLOAD_SIZE_MISMATCH";
    err
}

/// Counts the bytes of an upload against its declared size and the limit.
#[derive(Debug)]
pub(crate) struct Meter {
    declared: u64,
    max: u64,
    received: u64,
}

impl Meter {
    /// A meter for `declared` bytes; refuses a declaration above `max` at once.
    pub(crate) fn new(declared: u64, max: u64) -> Result<Self> {
        if declared > max {
            return Err(too_large(max));
        }
        Ok(Self {
            declared,
            max,
            received: 0,
        })
    }

    /// Counts one chunk; refuses it when it takes the total past the limit or
    /// the declared size.
    pub(crate) fn accept(&mut self, chunk: &[u8]) -> Result<()> {
        let received = self.received.saturating_add(chunk.len() as u64);
        if received > self.max {
            return Err(too_large(self.max));
        }
        if received > self.declared {
            return Err(size_mismatch(self.declared, "more were sent".into()));
        }
        self.received = received;
        Ok(())
    }

    /// At the end of the stream: refuses fewer bytes than declared.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.received < self.declared {
            return Err(size_mismatch(
                self.declared,
                format!("the stream ended after {}", self.received),
            ));
        }
        Ok(())
    }

    pub(crate) fn received(&self) -> u64 {
        self.received
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_meter_accepts_exactly_the_declared_bytes_within_the_limit(
            declared in 0..5_000u64,
            max in 0..5_000u64,
            chunks in proptest::collection::vec(0..700usize, 0..20),
        ) {
            let mut meter = match Meter::new(declared, max) {
                Ok(meter) => meter,
                Err(err) => {
                    prop_assert!(declared > max);
                    prop_assert_eq!(err.reason, "FILE_TOO_LARGE");
                    return Ok(());
                }
            };
            let mut sent = 0u64;
            let mut refused = None;
            for len in chunks {
                sent += len as u64;
                if let Err(err) = meter.accept(&vec![0; len]) {
                    refused = Some(err.reason);
                    break;
                }
            }
            match refused {
                Some(reason) => {
                    prop_assert!(sent > declared.min(max));
                    let expected = if sent > max { "FILE_TOO_LARGE" } else { "UPLOAD_SIZE_MISMATCH" };
                    prop_assert_eq!(reason, expected);
                    // Nothing past the refused chunk was counted.
                    prop_assert!(meter.received() <= declared);
                }
                None => {
                    prop_assert_eq!(meter.received(), sent);
                    let finished = meter.finish();
                    prop_assert_eq!(finished.is_ok(), sent == declared);
                    if let Err(err) = finished {
                        prop_assert_eq!(err.reason, "UPLOAD_SIZE_MISMATCH");
                    }
                }
            }
        }
    }
}
