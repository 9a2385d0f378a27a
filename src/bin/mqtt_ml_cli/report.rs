//! What the subcommands print, made from EVE records and Suricata's output (pure functions).
use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

/// The header of `mqtt-ml score`.
pub const CSV_HEADER: &str =
    "ts,src_ip,src_port,dest_ip,dest_port,direction,msg_index,msgtype,score,threshold,anomaly,top_feature";

/// Counts over one eve.json, for the `detect` summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// `mqtt_ml` records: one per MQTT message.
    pub messages: u64,
    /// Distinct flows among those records.
    pub connections: usize,
    /// Records with `anomaly: true`.
    pub anomalies: u64,
    /// Records that carry a score.
    pub scored: u64,
    /// The threshold in force, from the first scored record.
    pub threshold: Option<f64>,
    /// Alerts per attack class.
    pub alerts: BTreeMap<String, u64>,
    /// Anomalous records per client address.
    pub clients: HashMap<String, u64>,
    flows: HashSet<String>,
    /// Lines that were not JSON (a file cut short).
    pub bad_lines: u64,
}

impl Summary {
    pub fn add_line(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(rec) => self.add(&rec),
            Err(_) => self.bad_lines += 1,
        }
    }

    pub fn add(&mut self, rec: &Value) {
        match rec["event_type"].as_str() {
            Some("mqtt_ml") => {
                self.messages += 1;
                if self.flows.insert(rec["flow_id"].to_string()) {
                    self.connections = self.flows.len();
                }
                let m = &rec["mqtt_ml"];
                if m["score"].is_number() {
                    self.scored += 1;
                    if self.threshold.is_none() {
                        self.threshold = m["threshold"].as_f64();
                    }
                }
                if m["anomaly"] == true {
                    self.anomalies += 1;
                    let client = rec["src_ip"].as_str().unwrap_or("?").to_string();
                    *self.clients.entry(client).or_default() += 1;
                }
            }
            Some("alert") => {
                *self.alerts.entry(alert_class(&rec["alert"])).or_default() += 1;
            }
            _ => {}
        }
    }

    pub fn from_text(text: &str) -> Summary {
        let mut s = Summary::default();
        for line in text.lines() {
            s.add_line(line);
        }
        s
    }

    pub fn alerts_total(&self) -> u64 {
        self.alerts.values().sum()
    }

    /// The `n` clients with the most anomalous messages, most first (ties by address).
    pub fn top_clients(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.clients.iter().map(|(k, c)| (k.as_str(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// The table `detect` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let row = |out: &mut String, label: &str, n: String| {
            out.push_str(&format!("{label:<24} {n:>9}\n"));
        };
        row(&mut out, "MQTT messages", self.messages.to_string());
        row(&mut out, "connections", self.connections.to_string());
        let note = match (self.scored, self.threshold) {
            (0, _) if self.messages == 0 => String::new(),
            (0, _) => "  (no scores: scoring is off)".to_string(),
            (_, Some(t)) => format!("  (decided; threshold {t:.6})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{:<24} {:>9}{note}\n",
            "anomalies", self.anomalies
        ));
        row(&mut out, "alerts", self.alerts_total().to_string());
        let mut classes: Vec<(&String, &u64)> = self.alerts.iter().collect();
        classes.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        for (class, n) in classes {
            row(&mut out, &format!("  {}", clip(class, 22)), n.to_string());
        }
        let top = self.top_clients(5);
        if !top.is_empty() {
            out.push_str("top anomalous clients\n");
            for (client, n) in top {
                row(&mut out, &format!("  {}", clip(client, 22)), n.to_string());
            }
        }
        out
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n - 1).collect();
        c.push('~');
        c
    }
}

/// The class an alert counts under: its rule's `mqtt_ml_class` metadata, `event` for the
/// protocol-event rules, else the signature.
pub fn alert_class(alert: &Value) -> String {
    let md = &alert["metadata"];
    let first = |key: &str| -> Option<String> {
        match &md[key] {
            Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_string),
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    };
    if let Some(c) = first("mqtt_ml_class") {
        return c;
    }
    let sid = alert["signature_id"].as_u64().unwrap_or(0);
    if first("mqtt_ml_event").is_some() || (9_100_000..=9_100_099).contains(&sid) {
        return "event".to_string();
    }
    alert["signature"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("sid {sid}"))
}

/// One CSV row of `score` for an EVE record; None for records that are not `mqtt_ml`.
pub fn csv_row(rec: &Value) -> Option<String> {
    if rec["event_type"] != "mqtt_ml" {
        return None;
    }
    let m = &rec["mqtt_ml"];
    let num = |v: &Value| match v {
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_default();
    let ts = m["tcp"]["ts"]
        .as_f64()
        .map(|t| format!("{t:.6}"))
        .unwrap_or_default();
    let anomaly = match &m["anomaly"] {
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    };
    let fields = [
        ts,
        text(&rec["src_ip"]),
        num(&rec["src_port"]),
        text(&rec["dest_ip"]),
        num(&rec["dest_port"]),
        text(&m["direction"]),
        num(&m["msg_index"]),
        text(&m["msgtype_name"]),
        num(&m["score"]),
        num(&m["threshold"]),
        anomaly,
        text(&m["top_features"][0]["name"]),
    ];
    Some(
        fields
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// Quotes a CSV field when it needs it (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Follows a growing eve.json and counts its `mqtt_ml` records, for the progress line.
#[derive(Debug, Default)]
pub struct EveCounter {
    pub offset: u64,
    partial: Vec<u8>,
    pub messages: u64,
}

impl EveCounter {
    /// Takes the bytes appended since the last call.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        let needle = b"\"event_type\":\"mqtt_ml\"";
        for line in self.partial[..end].split(|b| *b == b'\n') {
            if line.windows(needle.len()).any(|w| w == needle) {
                self.messages += 1;
            }
        }
        self.partial.drain(..=end);
    }

    /// Reads what was appended to `path` since the last call.
    pub fn poll(&mut self, path: &std::path::Path) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(path) else {
            return;
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Replaced or truncated: start over.
            *self = EveCounter::default();
        }
        if len == self.offset || f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if f.take(len - self.offset).read_to_end(&mut buf).is_ok() {
            self.feed(&buf);
        }
    }
}

/// The progress line: elapsed time and messages logged.
pub fn progress_line(what: &str, secs: u64, messages: u64) -> String {
    format!("mqtt-ml: {what}: {secs}s, {messages} MQTT messages logged")
}

/// Suricata's error lines (`E: ...` normally, `Error: ...` with -v), in order.
pub fn error_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .map(strip_log_prefix)
        .filter(|l| l.starts_with("E: ") || l.starts_with("Error: "))
        .collect()
}

/// Suricata's file log lines start with `[pid - thread] date time `; the console's do not.
fn strip_log_prefix(line: &str) -> &str {
    if line.starts_with('[') {
        if let Some(i) = line.find("] ") {
            // "[123 - Suricata-Main] 2026-11-21 00:40:48 Error: ..."
            let rest = &line[i + 2..];
            let mut parts = rest.splitn(3, ' ');
            if let (Some(_), Some(_), Some(msg)) = (parts.next(), parts.next(), parts.next()) {
                return msg;
            }
        }
    }
    line
}

/// Which part of the set-up an error line is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Config,
    Model,
    Rules,
}

const MODEL_KEYS: [&str; 4] = [".model:", ".backend:", ".threshold:", ".tflite-library:"];

pub fn classify(line: &str) -> Part {
    let l = line.to_ascii_lowercase();
    if l.contains("mqtt-ml:") && l.contains("invalid value") {
        if MODEL_KEYS.iter().any(|k| l.contains(k)) {
            Part::Model
        } else {
            Part::Config
        }
    } else if l.contains("mqtt-ml:") && (l.contains("model") || l.contains("tflite")) {
        Part::Model
    } else if l.contains("detect")
        || l.contains("signature")
        || l.contains("rule")
        || l.contains("keyword")
    {
        Part::Rules
    } else {
        Part::Config
    }
}

/// From Suricata's "error parsing signature ... from file F at line N": (F, N).
pub fn rule_location(line: &str) -> Option<(String, u64)> {
    let i = line.rfind(" from file ")?;
    let rest = &line[i + " from file ".len()..];
    let j = rest.rfind(" at line ")?;
    let n = rest[j + " at line ".len()..]
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((rest[..j].to_string(), n))
}

/// "N rules successfully loaded, M rules failed" from `suricata -T -v`.
pub fn rules_loaded(output: &str) -> Option<(u64, u64)> {
    for line in output.lines() {
        if let Some(i) = line.find(" rules successfully loaded, ") {
            let loaded = line[..i].rsplit(' ').next()?.parse().ok()?;
            let rest = &line[i + " rules successfully loaded, ".len()..];
            let failed = rest.split(' ').next()?.parse().ok()?;
            return Some((loaded, failed));
        }
    }
    None
}

/// The fix for the first error of a part.
pub fn fix_for(part: Part, first: &str, config: &str) -> String {
    match part {
        Part::Model => {
            if first.contains("not found") {
                "fix: pass --model with the path of an existing .tflite model (its .json beside it), or run scripts/setup.sh".into()
            } else if first.contains("metadata") {
                "fix: put the model's .json metadata beside it (training writes both), or pass --model with another model".into()
            } else if first.to_ascii_lowercase().contains("tflite") && first.contains("librar") {
                "fix: run scripts/setup.sh (it installs the TensorFlow Lite library), or use --backend native".into()
            } else {
                "fix: pass --model with a model trained for this plugin (mqtt-ml train), or --backend native".into()
            }
        }
        Part::Rules => match rule_location(first) {
            Some((file, line)) => format!(
                "fix: correct line {line} of {file}, or leave that file out (--rules chooses the files)"
            ),
            None => "fix: correct the rule named above, or leave its file out (--rules chooses the files)".into(),
        },
        Part::Config => format!(
            "fix: correct the value named above in {config} (or the --set after --), or pass --config with another suricata.yaml"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(flow: u64, client: &str, anomaly: bool) -> Value {
        json!({"event_type": "mqtt_ml", "flow_id": flow, "src_ip": client, "src_port": 5000,
               "dest_ip": "10.0.0.1", "dest_port": 1883,
               "mqtt_ml": {"score": if anomaly {0.5} else {0.001}, "threshold": 0.04,
                           "anomaly": anomaly, "msgtype_name": "connect", "direction": "to_server",
                           "msg_index": 1, "tcp": {"ts": 1700000000.25},
                           "top_features": [{"name": "kalive", "error": 0.3}]}})
    }

    fn alert(md: Value, sid: u64, sig: &str) -> Value {
        json!({"event_type": "alert", "alert": {"signature_id": sid, "signature": sig, "metadata": md}})
    }

    #[test]
    fn summary_counts_messages_connections_anomalies_alerts_and_clients() {
        let lines = [
            rec(1, "10.0.0.2", false),
            rec(1, "10.0.0.2", true),
            rec(2, "10.0.0.3", true),
            rec(3, "10.0.0.3", true),
            rec(4, "10.0.0.4", true),
            json!({"event_type": "flow", "flow_id": 9}),
            alert(json!({"mqtt_ml_class": ["flood"]}), 9100100, "flood"),
            alert(json!({"mqtt_ml_class": ["flood"]}), 9100100, "flood"),
            alert(json!({"mqtt_ml_event": ["truncated"]}), 9100010, "trunc"),
            alert(json!({}), 9100003, "old event rule"),
            alert(Value::Null, 42, "someone else's rule"),
        ];
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let s = Summary::from_text(&(text + "{cut"));
        assert_eq!(s.messages, 5);
        assert_eq!(s.connections, 4);
        assert_eq!(s.anomalies, 4);
        assert_eq!(s.bad_lines, 1);
        assert_eq!(s.alerts_total(), 5);
        assert_eq!(s.alerts["flood"], 2);
        assert_eq!(s.alerts["event"], 2);
        assert_eq!(s.alerts["someone else's rule"], 1);
        assert_eq!(
            s.top_clients(5),
            vec![("10.0.0.3", 2), ("10.0.0.2", 1), ("10.0.0.4", 1)]
        );
        let table = s.render();
        assert!(
            table.contains("MQTT messages                    5\n"),
            "{table}"
        );
        assert!(
            table.contains("connections                      4\n"),
            "{table}"
        );
        assert!(
            table.contains("anomalies                        4  (decided; threshold 0.040000)"),
            "{table}"
        );
        assert!(
            table.contains("alerts                           5\n"),
            "{table}"
        );
        assert!(
            table.contains("  flood                          2\n"),
            "{table}"
        );
        assert!(
            table.contains("top anomalous clients\n  10.0.0.3"),
            "{table}"
        );
    }

    #[test]
    fn summary_without_scores_says_so() {
        let s = Summary::from_text(
            r#"{"event_type":"mqtt_ml","flow_id":1,"src_ip":"a","mqtt_ml":{"msgtype_name":"connect"}}"#,
        );
        assert!(s.render().contains("scoring is off"));
        assert!(!s.render().contains("top anomalous"));
    }

    #[test]
    fn csv_row_in_header_order() {
        assert_eq!(CSV_HEADER.split(',').count(), 12);
        let row = csv_row(&rec(1, "10.0.0.2", true)).unwrap();
        assert_eq!(
            row,
            "1700000000.250000,10.0.0.2,5000,10.0.0.1,1883,to_server,1,connect,0.5,0.04,true,kalive"
        );
        assert_eq!(row.split(',').count(), 12);
        let unscored = json!({"event_type": "mqtt_ml", "mqtt_ml": {"msgtype_name": "publish"}});
        assert_eq!(csv_row(&unscored).unwrap(), ",,,,,,,publish,,,,");
        assert!(csv_row(&json!({"event_type": "flow"})).is_none());
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn eve_counter_counts_whole_lines_only() {
        let mut c = EveCounter::default();
        c.feed(b"{\"event_type\":\"mqtt_ml\",\"a\":1}\n{\"event_type\":\"fl");
        assert_eq!(c.messages, 1);
        c.feed(b"ow\"}\n{\"event_type\":\"mqtt_");
        assert_eq!(c.messages, 1);
        c.feed(b"ml\"}\n");
        assert_eq!(c.messages, 2);
        assert_eq!(c.offset, 78);
        assert_eq!(
            progress_line("running", 3, 2),
            "mqtt-ml: running: 3s, 2 MQTT messages logged"
        );
    }

    #[test]
    fn error_lines_are_classified_with_their_fix() {
        let out = "i: suricata: This is Suricata\n\
                   E: mqtt-ml: model /x.tflite not found: run scripts/setup.sh\n\
                   Error: detect: error parsing signature \"alert x\" from file /r/a.rules at line 7\n\
                   [12 - Suricata-Main] 2026-01-01 00:00:00 Error: suricata: Loading signatures failed.\n";
        let errs = error_lines(out);
        assert_eq!(errs.len(), 3);
        assert_eq!(classify(errs[0]), Part::Model);
        assert_eq!(classify(errs[1]), Part::Rules);
        assert_eq!(rule_location(errs[1]), Some(("/r/a.rules".to_string(), 7)));
        assert!(fix_for(Part::Rules, errs[1], "s.yaml").contains("line 7 of /r/a.rules"));
        assert!(fix_for(Part::Model, errs[0], "s.yaml").contains("--model"));
        assert_eq!(
            classify("E: mqtt-ml: invalid value 'x' for app-layer.protocols.mqtt-ml.max-tx: use"),
            Part::Config
        );
        assert_eq!(
            classify("E: mqtt-ml: invalid value 'x' for app-layer.protocols.mqtt-ml.backend: use"),
            Part::Model
        );
        assert_eq!(
            classify("E: conf-yaml-loader: Failed to parse configuration file"),
            Part::Config
        );
        assert_eq!(
            rules_loaded("Info: detect: 1 rule files processed. 30 rules successfully loaded, 2 rules failed, 0 rules skipped"),
            Some((30, 2))
        );
        assert_eq!(rules_loaded("nothing"), None);
    }
}
