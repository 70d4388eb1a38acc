//! Errors of the library. Each message says what went wrong and, where it can, what to change.

use std::fmt;

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter matched the requested backend / name filter.
    #[error("no GPU adapter matches backend '{backend}'{filter}; adapters seen: {seen}. Install a Vulkan driver (e.g. `apt-get install mesa-vulkan-drivers`) or relax --backend/--adapter")]
    NoAdapter {
        backend: String,
        filter: String,
        seen: String,
    },
    /// The adapter refused to create a device.
    #[error("could not open a device on adapter '{adapter}': {message}")]
    RequestDevice { adapter: String, message: String },
    /// wgpu reported a validation, out-of-memory or internal error.
    #[error("GPU error during {during}: {message}")]
    Gpu { during: String, message: String },
    /// The device was lost (driver reset, out of memory, device removed).
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    /// A shape that an op cannot accept.
    #[error("{op}: {message}")]
    Shape { op: &'static str, message: String },
    /// A tensor larger than the adapter can hold in one buffer.
    #[error("{what}: {bytes} bytes exceeds the adapter's max buffer size of {limit} bytes")]
    TooLarge {
        what: String,
        bytes: u64,
        limit: u64,
    },
    /// A value that could not be written as JSON.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Bad user-supplied value (flag, environment variable).
    #[error("{0}")]
    Invalid(String),
    /// An error of one step, with where it happened (a model's layer).
    #[error("{place}: {source}")]
    At {
        place: String,
        #[source]
        source: Box<Error>,
    },
    /// A file that cannot be read, parsed or written, or whose content does not fit (weights,
    /// arrays, images). The message names the tensor and the shapes where there are any.
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn file(path: impl AsRef<std::path::Path>, message: impl fmt::Display) -> Self {
        Error::File {
            path: path.as_ref().display().to_string(),
            message: message.to_string(),
        }
    }

    /// Whether this is a usage error (a bad flag, value or input), exit code 2.
    pub fn is_usage(&self) -> bool {
        match self {
            Error::Invalid(_) => true,
            Error::At { source, .. } => source.is_usage(),
            _ => false,
        }
    }

    /// This error, said to have happened at `place`.
    pub(crate) fn at(self, place: impl fmt::Display) -> Self {
        Error::At {
            place: place.to_string(),
            source: Box::new(self),
        }
    }

    pub(crate) fn shape(op: &'static str, message: impl fmt::Display) -> Self {
        Error::Shape {
            op,
            message: message.to_string(),
        }
    }
}
