//! Structured logging: JSON lines in Lambda (CloudWatch picks the fields up), text on a terminal.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, log_settings};

/// Installs the global subscriber; call once at the top of `main`.
pub fn init_tracing() {
    let (format, filter) = log_settings();
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
