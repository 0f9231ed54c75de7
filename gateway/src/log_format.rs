//! The process's log output: `--log-format text` (tracing's human format, with
//! colours only when stderr is a terminal) or `--log-format json` (one JSON
//! object per line: `timestamp`, `level`, `target`, `message`, the event's fields
//! and those of its spans), and the default filter, which keeps openraft's
//! messages about stale messages it ignores (dozens per node during a normal
//! start: "vote changed", "membership_log_id changed") at debug.

use std::fmt;
use std::io::IsTerminal;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The filter when `RUST_LOG` is unset. `openraft::core::raft_core` warns only
/// about messages it ignores as stale (vote or membership changed meanwhile, a
/// removed replication target): normal during elections and moves.
pub const DEFAULT_FILTER: &str = "info,s3s=off,openraft=warn,openraft::core::raft_core=error";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber writing to stderr.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| DEFAULT_FILTER.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.with_ansi(false).event_format(JsonLines).init(),
    }
}

/// One JSON object per event.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut obj = serde_json::Map::new();
        let now = time::OffsetDateTime::now_utc();
        let stamp = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        obj.insert("timestamp".into(), stamp.into());
        obj.insert("level".into(), meta.level().as_str().into());
        obj.insert("target".into(), meta.target().into());
        // Span fields first (outermost first), so the event's own win.
        if let Some(scope) = ctx.event_scope() {
            let mut spans = Vec::new();
            for span in scope.from_root() {
                spans.push(serde_json::Value::from(span.name()));
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    for (k, v) in parse_text_fields(fields.as_str()) {
                        obj.insert(k, v.into());
                    }
                }
            }
            obj.insert("spans".into(), spans.into());
        }
        let mut visit = JsonVisit(&mut obj);
        event.record(&mut visit);
        let line = serde_json::Value::Object(obj).to_string();
        writeln!(writer, "{line}")
    }
}

/// Span fields as the text formatter stored them (`a=1 b="x y"`), split back
/// into pairs (values as strings).
fn parse_text_fields(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().to_string();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_string(), &quoted[end + 1..]),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.find(' ') {
                Some(end) => (after[..end].to_string(), &after[end..]),
                None => (after.to_string(), ""),
            }
        };
        out.push((key, value));
        rest = next.trim_start();
    }
    out
}

struct JsonVisit<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl Visit for JsonVisit<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_fields_split_back() {
        assert_eq!(
            parse_text_fields(r#"id=7f method=GET path="/a b""#),
            vec![
                ("id".to_string(), "7f".to_string()),
                ("method".to_string(), "GET".to_string()),
                ("path".to_string(), "/a b".to_string()),
            ]
        );
        assert!(parse_text_fields("").is_empty());
    }
}
