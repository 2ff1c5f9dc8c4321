//! Every way a leasebench run can fail, as values.
//!
//! A user mistake (bad flag, bad file, unreachable server) is an [`Error`]
//! whose `Display` is one line that says what is wrong and how to fix it.
//! `Display` never repeats the text of `source()`: the binary prints the
//! chain itself. [`Error::exit_code`] maps usage errors to 2 and runtime
//! failures to 1.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The library's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag, environment variable or config value is wrong.
    #[error("{0}")]
    Usage(String),

    /// A file the user named could not be read, parsed or written.
    #[error("{what} {}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// No Postgres could be reached or started.
    #[error("{0}")]
    NoPostgres(String),

    /// Starting or stopping the throwaway cluster failed.
    #[error("{0}")]
    Cluster(String),

    /// A connection to Postgres failed (the source carries the server's reason).
    #[error("cannot connect to {target}")]
    Connect {
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// A statement failed outside the measured hot path.
    #[error("{context}")]
    Db {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },

    /// The schema leasebench works in is not its own.
    #[error("{0}")]
    Schema(String),

    /// The run was interrupted (Ctrl-C); what was measured has been saved.
    #[error("interrupted: partial results saved to {}", .0.display())]
    Interrupted(PathBuf),

    /// Anything else that is leasebench's fault, not the user's.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Process exit code: 2 for usage errors (the user can fix the command
    /// line or a file, or the server it names), 130 for Ctrl-C, 1 for
    /// runtime failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::File { .. } | Error::NoPostgres(_) => 2,
            Error::Connect { .. } => 2,
            // As a shell reports a process ended by SIGINT.
            Error::Interrupted(_) => 130,
            _ => 1,
        }
    }

    pub(crate) fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    pub(crate) fn db(context: impl Into<String>, source: tokio_postgres::Error) -> Self {
        Error::Db {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn file(
        what: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::File {
            what,
            path: path.into(),
            source: source.into(),
        }
    }
}

/// SQLSTATE classes leasebench counts separately under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// 55P03 lock_not_available
    LockNotAvailable,
    /// 40P01 deadlock_detected
    Deadlock,
    /// 40001 serialization_failure
    SerializationFailure,
    /// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
    AdminShutdown,
    /// 57014 query_canceled
    QueryCanceled,
    /// The connection was closed or broke (no SQLSTATE).
    ConnectionLost,
    /// Anything else.
    Other,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 7] = [
        ErrorClass::LockNotAvailable,
        ErrorClass::Deadlock,
        ErrorClass::SerializationFailure,
        ErrorClass::AdminShutdown,
        ErrorClass::QueryCanceled,
        ErrorClass::ConnectionLost,
        ErrorClass::Other,
    ];

    /// Classify by SQLSTATE, never by message text.
    pub fn of(err: &tokio_postgres::Error) -> ErrorClass {
        use tokio_postgres::error::SqlState;
        match err.code() {
            Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => ErrorClass::LockNotAvailable,
            Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED => ErrorClass::Deadlock,
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE => {
                ErrorClass::SerializationFailure
            }
            Some(c)
                if *c == SqlState::ADMIN_SHUTDOWN
                    || *c == SqlState::CRASH_SHUTDOWN
                    || *c == SqlState::CANNOT_CONNECT_NOW =>
            {
                ErrorClass::AdminShutdown
            }
            Some(c) if *c == SqlState::QUERY_CANCELED => ErrorClass::QueryCanceled,
            Some(_) => ErrorClass::Other,
            None if err.is_closed() => ErrorClass::ConnectionLost,
            None => ErrorClass::ConnectionLost,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::LockNotAvailable => "lock_not_available",
            ErrorClass::Deadlock => "deadlock",
            ErrorClass::SerializationFailure => "serialization_failure",
            ErrorClass::AdminShutdown => "admin_shutdown",
            ErrorClass::QueryCanceled => "query_canceled",
            ErrorClass::ConnectionLost => "connection_lost",
            ErrorClass::Other => "other",
        }
    }
}
