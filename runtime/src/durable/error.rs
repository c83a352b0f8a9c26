//! What can go wrong when persisting or settling a durable job.

use std::fmt;

/// Why a durable job could not be persisted (or settled).
#[derive(Debug)]
#[non_exhaustive]
pub enum DurableError {
    /// The job did not serialize to JSON.
    Encode(serde_json::Error),
    /// The store refused or could not be reached.
    Store(Box<dyn std::error::Error + Send + Sync>),
    /// The store took the job but not this process's lock on it; the write was rolled back.
    NotLocked,
}

impl DurableError {
    pub(crate) fn store(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(error))
    }
}

impl fmt::Display for DurableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(error) => write!(f, "the durable job did not serialize: {error}"),
            Self::Store(error) => write!(f, "the durable store failed: {error}"),
            Self::NotLocked => f.write_str(
                "the durable job could not be locked by this process; nothing was persisted",
            ),
        }
    }
}

impl std::error::Error for DurableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Encode(error) => Some(error),
            Self::Store(error) => Some(&**error),
            Self::NotLocked => None,
        }
    }
}
