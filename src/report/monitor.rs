//! The two formats monitoring systems read, made from the report like the others:
//! - `--output nagios`: the monitoring-plugin convention (Nagios, Icinga, Zabbix, Sensu): one status line
//!   `OZREPAIR <STATE> - <summary> | <performance data>`, a line per connector after it, and the plugin's
//!   exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN);
//! - `--output prometheus`: the text exposition format for node_exporter's textfile collector, one gauge
//!   per connector and status, the result, whether each provider could be asked, and the check's time.

use super::Report;
use crate::plan::Status;
use crate::verdict::Outcome;

/// A monitoring plugin's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginState {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl PluginState {
    pub fn code(self) -> i32 {
        match self {
            PluginState::Ok => 0,
            PluginState::Warning => 1,
            PluginState::Critical => 2,
            PluginState::Unknown => 3,
        }
    }

    fn word(self) -> &'static str {
        match self {
            PluginState::Ok => "OK",
            PluginState::Warning => "WARNING",
            PluginState::Critical => "CRITICAL",
            PluginState::Unknown => "UNKNOWN",
        }
    }
}

/// The plugin state of a report: the contract's table says it for each result ([`Outcome::row`]); a
/// failure is critical rather than unknown when the IdP is down and ozrepair has no change that fixes it
/// (every check was made: it is the deployment that is broken, not the check). Never OK while a connector
/// is not ok.
pub fn state(r: &Report) -> PluginState {
    let by_table = match r.result.row().nagios {
        "OK" => PluginState::Ok,
        "WARNING" => PluginState::Warning,
        "CRITICAL" => PluginState::Critical,
        _ => PluginState::Unknown,
    };
    match r.result {
        Outcome::Failed => {
            let down = r
                .container
                .as_ref()
                .is_some_and(|c| matches!(c.state_before.as_str(), "restarting" | "exited"))
                && r.discovery.iter().all(|d| d.error.is_none())
                && r.database.is_some();
            if down {
                PluginState::Critical
            } else {
                PluginState::Unknown
            }
        }
        _ if by_table == PluginState::Ok && r.connectors.iter().any(|c| c.status != Status::Ok) => {
            PluginState::Unknown
        }
        _ => by_table,
    }
}

fn count(r: &Report, s: Status) -> usize {
    r.connectors.iter().filter(|c| c.status == s).count()
}

/// The plugin's output and state.
pub fn nagios(r: &Report) -> (String, PluginState) {
    let st = state(r);
    let mismatch = count(r, Status::Mismatch);
    let summary = match (r.result, r.changes.first()) {
        (_, _) if r.error.is_some() => r.error.clone().unwrap_or_default(),
        (Outcome::Pending, Some(c)) if c.source == crate::plan::Source::Explicit => format!(
            "{mismatch} connector(s) mismatch: {} stores {:?}, --issuer sets {:?}",
            c.connector, c.from, c.to
        ),
        (Outcome::Pending, Some(c)) => format!(
            "{mismatch} connector(s) mismatch: {} stores {:?}, the provider publishes {:?}",
            c.connector, c.from, c.to
        ),
        (Outcome::Unchecked, _) => format!(
            "{} of {} connector(s) not checked (no log lines of a start, no provider asked): pass --discover",
            count(r, Status::Unknown),
            r.connectors.len()
        ),
        (Outcome::Pending, None) => r
            .notes
            .last()
            .cloned()
            .unwrap_or_else(|| "a change is pending".into()),
        (Outcome::Fixed, _) => format!("fixed {} change(s)", r.changes.len()),
        _ => {
            let where_ = r
                .container
                .as_ref()
                .map(|c| format!(", container {} {}", c.name, c.state_before))
                .unwrap_or_default();
            format!("{} connector(s) ok{where_}", r.connectors.len())
        }
    };
    let summary: String = summary
        .replace(['\n', '|'], " ")
        .chars()
        .take(300)
        .collect();
    let mut o = format!(
        "OZREPAIR {} - {summary} | connectors={};;;0 mismatch={mismatch};;;0 unknown={};;;0 changes={};;;0\n",
        st.word(),
        r.connectors.len(),
        count(r, Status::Unknown),
        r.changes.len()
    );
    for c in &r.connectors {
        o.push_str(&format!(
            "{} {} {} {}\n",
            c.id,
            c.typ,
            c.status.as_str(),
            c.issuer.as_deref().unwrap_or("-")
        ));
    }
    (o, st)
}

/// A label value in the exposition format: backslash, double quote and line feed escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The report as Prometheus gauges.
pub fn prometheus(r: &Report) -> String {
    let mut o = String::new();
    let mut metric = |name: &str, help: &str, samples: Vec<(String, String)>| {
        o.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            o.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let mut statuses = Vec::new();
    for c in &r.connectors {
        for s in [Status::Ok, Status::Mismatch, Status::Unknown] {
            statuses.push((
                format!(
                    "{{connector=\"{}\",type=\"{}\",status=\"{}\"}}",
                    label(&c.id),
                    label(&c.typ),
                    s.as_str()
                ),
                u8::from(c.status == s).to_string(),
            ));
        }
    }
    metric(
        "ozrepair_connector_status",
        "1 for the status the connector had in the last check, 0 for the others.",
        statuses,
    );
    let results = Outcome::ALL;
    metric(
        "ozrepair_check_result",
        "1 for the result of the last check, 0 for the others.",
        results
            .iter()
            .map(|o| {
                (
                    format!("{{result=\"{}\"}}", o.as_str()),
                    u8::from(*o == r.result).to_string(),
                )
            })
            .collect(),
    );
    metric(
        "ozrepair_discovery_success",
        "1 when the connector's provider answered its discovery document (--discover), 0 when it could not be asked.",
        r.discovery
            .iter()
            .map(|d| {
                (
                    format!("{{connector=\"{}\"}}", label(&d.connector)),
                    u8::from(d.error.is_none()).to_string(),
                )
            })
            .collect(),
    );
    let store_read =
        !r.connectors.is_empty() || r.database.as_ref().is_some_and(|d| d.schema.is_some());
    metric(
        "ozrepair_store_read",
        "1 when the last check read the store's connectors (the connector series are those it read), 0 when it could not.",
        vec![(String::new(), u8::from(store_read).to_string())],
    );
    metric(
        "ozrepair_connectors",
        "How many connectors the last check read, by status (every status, 0 when none).",
        [Status::Ok, Status::Mismatch, Status::Unknown]
            .iter()
            .map(|s| {
                (
                    format!("{{status=\"{}\"}}", s.as_str()),
                    count(r, *s).to_string(),
                )
            })
            .collect(),
    );
    metric(
        "ozrepair_exit_code",
        "The exit code of the last check (0 done, 1 failed, 2 usage, 3 changes pending, 4 not up, 5 unchecked, 6 action needed).",
        vec![(String::new(), r.exit_code.code().to_string())],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    metric(
        "ozrepair_last_check_timestamp_seconds",
        "When the last check ran, in seconds since the Unix epoch.",
        vec![(String::new(), now.to_string())],
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ConnectorView;
    use crate::report::{DiscoveryPart, Trail};
    use crate::verdict::{ExitCode, Verdict};

    fn report(result: Outcome, exit: ExitCode) -> Report {
        let mut r = Report::make("inspect", Trail::default(), Verdict::new(result, exit));
        r.connectors = vec![ConnectorView {
            id: "jc\"1".into(),
            typ: "oidc".into(),
            name: "JumpCloud".into(),
            issuer: Some("https://oauth.id.jumpcloud.com".into()),
            status: if result == Outcome::Healthy {
                Status::Ok
            } else {
                Status::Mismatch
            },
            problem: None,
            endpoints: Default::default(),
            store: "database",
            file: None,
            checked_by: None,
            status_before: None,
        }];
        r
    }

    #[test]
    fn nagios_states_follow_the_plugin_convention() {
        let (text, st) = nagios(&report(Outcome::Healthy, ExitCode::Done));
        assert_eq!(st.code(), 0);
        assert!(text.starts_with("OZREPAIR OK - 1 connector(s) ok | connectors=1;;;0 mismatch=0;;;0 unknown=0;;;0 changes=0;;;0\n"), "{text}");
        assert_eq!(
            text.lines().nth(1),
            Some("jc\"1 oidc ok https://oauth.id.jumpcloud.com")
        );
        // Never OK while a connector is not ok, whatever the result says.
        let mut odd = report(Outcome::Healthy, ExitCode::Done);
        odd.connectors[0].status = Status::Unknown;
        assert_eq!(nagios(&odd).1, PluginState::Unknown);
        // Not checked: unknown; action needed: critical.
        assert_eq!(
            nagios(&report(Outcome::Unchecked, ExitCode::Unchecked)).1,
            PluginState::Unknown
        );
        assert_eq!(
            nagios(&report(Outcome::ActionNeeded, ExitCode::ActionNeeded)).1,
            PluginState::Critical
        );
        assert_eq!(
            nagios(&report(Outcome::Pending, ExitCode::Pending))
                .1
                .code(),
            2
        );
        assert_eq!(
            nagios(&report(Outcome::Unverified, ExitCode::NotUp))
                .1
                .code(),
            1
        );
        let mut unasked = report(Outcome::Failed, ExitCode::Failed);
        unasked.error = Some("the provider could not be asked".into());
        unasked.discovery = vec![DiscoveryPart {
            connector: "jc".into(),
            published: None,
            error: Some("timed out".into()),
        }];
        let (text, st) = nagios(&unasked);
        assert_eq!(st, PluginState::Unknown);
        assert!(
            text.starts_with("OZREPAIR UNKNOWN - the provider could not be asked | "),
            "{text}"
        );
    }

    #[test]
    fn prometheus_gauges_with_escaped_labels() {
        let mut r = report(Outcome::Pending, ExitCode::Pending);
        r.discovery = vec![DiscoveryPart {
            connector: "jc\"1".into(),
            published: Some("https://oauth.id.jumpcloud.com/".into()),
            error: None,
        }];
        let text = prometheus(&r);
        for line in [
            "# TYPE ozrepair_connector_status gauge",
            "ozrepair_connector_status{connector=\"jc\\\"1\",type=\"oidc\",status=\"ok\"} 0",
            "ozrepair_connector_status{connector=\"jc\\\"1\",type=\"oidc\",status=\"mismatch\"} 1",
            "ozrepair_check_result{result=\"pending\"} 1",
            "ozrepair_check_result{result=\"healthy\"} 0",
            "ozrepair_discovery_success{connector=\"jc\\\"1\"} 1",
            "ozrepair_exit_code 3",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in\n{text}"
            );
        }
        assert!(text
            .lines()
            .any(|l| l.starts_with("ozrepair_last_check_timestamp_seconds ")));
    }
}
