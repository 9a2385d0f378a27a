//! `mqtt-ml rules convert`: rewrites rules that use Suricata's built-in `mqtt.*` keywords into
//! their mqtt-ml equivalents (`mqtt.type` -> `mqtt_ml.type`, ...), which load with the plugin.
//!
//! Every other line (rules without built-in MQTT keywords, comments, blank lines) comes out byte
//! for byte as it went in, and so does a rule that cannot be converted; the [`Conversion`] says
//! which rules those are and why. A converted rule keeps its layout: only keyword names change.

use std::fmt;

use super::keywords::{self, by_suricata_name, IntKeyword, Kind};

/// The result of converting a rules file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Conversion {
    /// The rules file to write.
    pub output: String,
    /// Rules rewritten.
    pub converted: usize,
    /// Rules that use built-in MQTT keywords but could not be converted (left as they were).
    pub unconverted: Vec<Report>,
    /// Converted rules whose meaning is worth a second look.
    pub notes: Vec<Report>,
}

/// One rule the conversion has something to say about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// 1-based line where the rule starts.
    pub line: usize,
    pub sid: Option<u64>,
    pub reason: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(sid) = self.sid {
            write!(f, " (sid {sid})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl Conversion {
    /// The report for stderr: a summary line, then one line per unconverted rule and per note.
    pub fn report(&self) -> String {
        let mut s = format!(
            "converted {} rule(s); {} could not be converted\n",
            self.converted,
            self.unconverted.len()
        );
        for r in &self.unconverted {
            s.push_str(&format!("not converted: {r}\n"));
        }
        for r in &self.notes {
            s.push_str(&format!("note: {r}\n"));
        }
        s
    }
}

/// Converts a rules file (see the module documentation).
pub fn convert_rules(input: &str) -> Conversion {
    let mut out = Conversion {
        output: String::with_capacity(input.len() + input.len() / 16),
        ..Conversion::default()
    };
    let mut lines = input.split_inclusive('\n').peekable();
    let mut line_no = 0;
    while let Some(first) = lines.next() {
        line_no += 1;
        let start_line = line_no;
        let mut rule = String::from(first);
        // A rule continues on the next line after a trailing backslash.
        if !is_comment_or_blank(first) {
            while continues(&rule) {
                let Some(next) = lines.next() else { break };
                line_no += 1;
                rule.push_str(next);
            }
        }
        if is_comment_or_blank(&rule) {
            out.output.push_str(&rule);
            continue;
        }
        match convert_rule(&rule) {
            RuleResult::Untouched => out.output.push_str(&rule),
            RuleResult::Converted { text, notes } => {
                out.converted += 1;
                out.output.push_str(&text);
                let sid = sid_of(&rule);
                out.notes.extend(notes.into_iter().map(|reason| Report {
                    line: start_line,
                    sid,
                    reason,
                }));
            }
            RuleResult::Failed(reason) => {
                out.output.push_str(&rule);
                out.unconverted.push(Report {
                    line: start_line,
                    sid: sid_of(&rule),
                    reason,
                });
            }
        }
    }
    out
}

fn is_comment_or_blank(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

fn continues(rule: &str) -> bool {
    rule.trim_end_matches(['\n', '\r', ' ', '\t'])
        .ends_with('\\')
}

enum RuleResult {
    Untouched,
    Converted { text: String, notes: Vec<String> },
    Failed(String),
}

/// One `name[:value];` option of a rule, as byte ranges into the rule text.
struct RuleOption<'a> {
    name: &'a str,
    name_at: usize,
    value: Option<&'a str>,
}

/// The options between the first `(` and the closing `)`. A value ends at the first `;` not
/// escaped with a backslash (quotes do not protect a `;` in Suricata's syntax either).
fn options(rule: &str) -> Vec<RuleOption<'_>> {
    let mut v = Vec::new();
    let Some(open) = rule.find('(') else {
        return v;
    };
    let b = rule.as_bytes();
    let mut i = open + 1;
    loop {
        // Skip blanks and line continuations between options.
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'\\') {
            i += 1;
        }
        if i >= b.len() || b[i] == b')' {
            break;
        }
        let name_at = i;
        while i < b.len() && !matches!(b[i], b':' | b';' | b')') && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let name = &rule[name_at..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = None;
        if i < b.len() && b[i] == b':' {
            let vstart = i + 1;
            let mut j = vstart;
            while j < b.len() && !(b[j] == b';' && b[j - 1] != b'\\') {
                j += 1;
            }
            value = Some(&rule[vstart..j]);
            i = j;
        }
        v.push(RuleOption {
            name,
            name_at,
            value,
        });
        if i < b.len() && b[i] == b';' {
            i += 1;
        } else if i >= b.len() || b[i] == b')' {
            break;
        }
    }
    v
}

fn sid_of(rule: &str) -> Option<u64> {
    options(rule)
        .iter()
        .find(|o| o.name == "sid")
        .and_then(|o| o.value?.trim().parse().ok())
}

fn convert_rule(rule: &str) -> RuleResult {
    let opts = options(rule);
    let mut renames: Vec<(usize, usize, &str)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    for o in &opts {
        if o.name == "app-layer-event" {
            if let Some(ev) = o.value.map(str::trim).filter(|v| v.starts_with("mqtt.")) {
                problems.push(format!(
                    "app-layer-event:{ev} is an event of Suricata's MQTT parser; mqtt-ml raises its \
                     own events as app-layer-event:mqtt-ml.<name> (docs/events.md)"
                ));
            }
            continue;
        }
        if !o.name.starts_with("mqtt.") {
            continue;
        }
        let Some(kw) = by_suricata_name(o.name) else {
            problems.push(unknown_keyword(o.name));
            continue;
        };
        let arg = o.value.map(str::trim);
        match (kw.kind, arg) {
            (Kind::Buffer(_) | Kind::Multi(_), Some(a)) => problems.push(format!(
                "{} takes no value (it is a sticky buffer), found '{a}'",
                o.name
            )),
            (Kind::Buffer(_) | Kind::Multi(_), None) => {}
            (Kind::Int(_), None) => problems.push(format!("{} needs a value", o.name)),
            (Kind::Int(ik), Some(a)) => {
                let a = a.trim_matches('"');
                if let Err(e) = keywords::parse_int_arg(ik, a) {
                    problems.push(format!("{}: {e} (Suricata refuses it too)", o.name));
                } else if ik == IntKeyword::ConnectFlags
                    && a.split([',', ' ']).any(|f| {
                        let f = f.trim().trim_start_matches('!');
                        f == "will" || f == "will_retain"
                    })
                {
                    notes.push(format!(
                        "{}:{a}: mqtt_ml.connect.flags reads `will` as the will flag (0x04) and \
                         `will_retain` as the will-retain flag (0x20), as documented; Suricata \
                         8.0.7 tests them the other way round",
                        o.name
                    ));
                }
            }
        }
        renames.push((o.name_at, o.name.len(), kw.name));
    }
    if !problems.is_empty() {
        return RuleResult::Failed(problems.join("; "));
    }
    if renames.is_empty() {
        return RuleResult::Untouched;
    }
    let mut text = String::with_capacity(rule.len() + 4 * renames.len());
    let mut at = 0;
    for (start, len, new) in renames {
        text.push_str(&rule[at..start]);
        text.push_str(new);
        at = start + len;
    }
    text.push_str(&rule[at..]);
    RuleResult::Converted { text, notes }
}

fn unknown_keyword(name: &str) -> String {
    let suffix = &name["mqtt.".len()..];
    let hint = if keywords::parse_int_arg(IntKeyword::Type, suffix).is_ok()
        && suffix.chars().all(|c| c.is_ascii_alphabetic())
    {
        format!("; for the message type write mqtt.type:{suffix}")
    } else {
        String::new()
    };
    format!("{name} is not one of Suricata's MQTT keywords, so the rule does not load in Suricata either{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every keyword example of Suricata 8's `doc/userguide/rules/mqtt-keywords.rst`.
    const DOC_EXAMPLES: &[&str] = &[
        "mqtt.protocol_version:5;",
        "mqtt.type:CONNECT;",
        "mqtt.type:PUBLISH;",
        "mqtt.type:2;",
        "mqtt.flags:dup,!retain;",
        "mqtt.flags:retain;",
        "mqtt.qos:0;",
        "mqtt.qos:2;",
        "mqtt.type:UNSUBACK; mqtt.reason_code:17;",
        "mqtt.type:PUBACK; mqtt.reason_code:16;",
        "mqtt.connect.clientid; pcre:\"/^mosq.*/\";",
        "mqtt.connect.clientid; content:\"myclient\";",
        "mqtt.connect.flags:username,password,!will;",
        "mqtt.connect.flags:username,!password;",
        "mqtt.connect.flags:clean_session;",
        "mqtt.connect.password; pcre:\"/^123[0-9]*/\";",
        "mqtt.connect.password; content:\"swordfish\";",
        "mqtt.connect.protocol_string; content:\"MQTT\";",
        "mqtt.connect.protocol_string; content:\"MQIsdp\";",
        "mqtt.connect.username; content:\"benson\";",
        "mqtt.connect.willmessage; pcre:\"/^fooba[rz]/\";",
        "mqtt.connect.willmessage; content:\"hunter2\";",
        "mqtt.connect.willtopic; pcre:\"/^hunter[0-9]/\";",
        "mqtt.type:PUBLISH; mqtt.publish.message; pcre:\"/uid=[0-9]+/\";",
        "mqtt.type:PUBLISH; mqtt.publish.message; content:\"|FF D8 FF E0|\"; startswith;",
        "mqtt.publish.topic; content:\"mytopic\";",
        "mqtt.subscribe.topic; content:\"mytopic\";",
        "mqtt.unsubscribe.topic; content:\"mytopic\";",
        // Not in the documentation's examples (they spell it `mqtt.CONNACK; ...`, below), but
        // its documented values.
        "mqtt.type:CONNACK; mqtt.connack.session_present:true;",
        "mqtt.type:CONNACK; mqtt.connack.session_present:no;",
    ];

    /// The documentation's examples that use `mqtt.CONNACK;`/`mqtt.DISCONNECT;`, not keywords.
    const DOC_BROKEN: &[&str] = &[
        "mqtt.CONNACK; mqtt.reason_code:138;",
        "mqtt.CONNACK; mqtt.reason_code:134;",
        "mqtt.DISCONNECT; mqtt.reason_code:139;",
        "mqtt.CONNACK; mqtt.connack.session_present:true;",
    ];

    fn rule(i: usize, body: &str) -> String {
        format!("alert mqtt any any -> any any (msg:\"example {i}\"; {body} sid:{i}; rev:1;)\n")
    }

    #[test]
    fn documentation_examples_round_trip() {
        let input: String = DOC_EXAMPLES
            .iter()
            .enumerate()
            .map(|(i, b)| rule(i + 1, b))
            .collect();
        let c = convert_rules(&input);
        assert_eq!(c.converted, DOC_EXAMPLES.len());
        assert!(c.unconverted.is_empty(), "{:?}", c.unconverted);
        // Only keyword names changed: renaming them back gives the input again.
        assert_eq!(c.output.replace("mqtt_ml.", "mqtt."), input);
        for (i, line) in c.output.lines().enumerate() {
            assert!(!line.contains(" mqtt."), "line {}: {line}", i + 1);
            assert!(line.contains("mqtt_ml."), "line {}: {line}", i + 1);
        }
        // Converting again changes nothing.
        let again = convert_rules(&c.output);
        assert_eq!(again.output, c.output);
        assert_eq!(again.converted, 0);
        // `will` in connect.flags gets a note.
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        assert_eq!(c.notes[0].sid, Some(13));
    }

    #[test]
    fn documentation_pseudo_keywords_are_reported() {
        let input: String = DOC_BROKEN
            .iter()
            .enumerate()
            .map(|(i, b)| rule(i + 1, b))
            .collect();
        let c = convert_rules(&input);
        assert_eq!(c.output, input);
        assert_eq!(c.converted, 0);
        assert_eq!(c.unconverted.len(), DOC_BROKEN.len());
        let r = &c.unconverted[0];
        assert_eq!((r.line, r.sid), (1, Some(1)));
        assert!(r.reason.contains("mqtt.CONNACK"), "{}", r.reason);
        assert!(r.reason.contains("mqtt.type:CONNACK"), "{}", r.reason);
        assert!(c.report().contains("line 3 (sid 3): mqtt.DISCONNECT"));
    }

    #[test]
    fn everything_else_is_untouched() {
        let input = "# a comment with mqtt.type:CONNECT;\n\
                     \n\
                     alert http any any -> any any (msg:\"mqtt.type in a msg\"; content:\"mqtt.qos\"; sid:1;)\r\n\
                     alert mqtt any any -> any any (msg:\"x\"; mqtt_ml.score:>0.1; sid:2;)\n\
                     \t# alert mqtt any any -> any any (mqtt.type:CONNECT; sid:3;)\n\
                     alert mqtt any any -> any any (msg:\"no newline\"; mqtt.type:CONNECT; sid:4;)";
        let c = convert_rules(input);
        let expected = input.replace(
            "(msg:\"no newline\"; mqtt.type",
            "(msg:\"no newline\"; mqtt_ml.type",
        );
        assert_eq!(c.output, expected);
        assert_eq!(c.converted, 1);
        assert!(c.unconverted.is_empty());
    }

    #[test]
    fn multi_line_rules_keep_their_layout() {
        let input = "alert mqtt any any -> any any (msg:\"a\"; \\\n    mqtt.publish.topic; content:\"x\\;y\"; \\\n    sid:7;)\nalert tcp any any -> any any (sid:8;)\n";
        let c = convert_rules(input);
        assert_eq!(c.output, input.replace("mqtt.publish", "mqtt_ml.publish"));
        assert_eq!(c.converted, 1);
        // The rule after it starts on line 4.
        let bad = format!("{input}alert mqtt any any -> any any (mqtt.qos:3; sid:9;)\n");
        let c = convert_rules(&bad);
        assert_eq!(c.unconverted.len(), 1);
        assert_eq!((c.unconverted[0].line, c.unconverted[0].sid), (5, Some(9)));
        assert!(c.unconverted[0].reason.contains("0, 1 or 2"));
    }

    #[test]
    fn invalid_arguments_and_events_are_reported() {
        let input = "alert mqtt any any -> any any (mqtt.type:BOGUS; sid:1;)\n\
                     alert mqtt any any -> any any (mqtt.connect.clientid:x; sid:2;)\n\
                     alert mqtt any any -> any any (mqtt.flags; sid:3;)\n\
                     alert mqtt any any -> any any (app-layer-event:mqtt.missing_connect; sid:4;)\n\
                     alert mqtt any any -> any any (mqtt.connack.return_code:5; sid:5;)\n";
        let c = convert_rules(input);
        let sids: Vec<_> = c.unconverted.iter().map(|r| r.sid).collect();
        assert_eq!(sids, vec![Some(1), Some(2), Some(3), Some(4)]);
        assert!(c.unconverted[3].reason.contains("mqtt-ml.<name>"));
        // The documented alias becomes mqtt_ml.reason_code.
        assert!(c
            .output
            .ends_with("alert mqtt any any -> any any (mqtt_ml.reason_code:5; sid:5;)\n"));
        assert_eq!(c.converted, 1);
    }
}
