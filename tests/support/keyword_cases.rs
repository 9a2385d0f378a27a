//! Suricata's 17 MQTT keywords against their mqtt-ml equivalents: the same rules run with the
//! built-in parser (stock yaml, plugin absent) and, converted by `mqtt_ml::rules::convert`, with
//! the plugin, on the same captures (pcaps/ and suricata-verify), must give the same alerts.
//!
//! What is compared. Suricata keeps a request and its response in one transaction (CONNECT with
//! its CONNACK, PUBLISH with its PUBACK, ...) and inspects it in the request's direction, while the
//! plugin keeps one transaction per message, inspected in that message's direction. So:
//! - a rule about what the client sends (CONNECT fields, PUBLISH from the client, SUBSCRIBE, the
//!   header flags and QoS, the protocol version) fires in both on the same packet: compared per
//!   alert by sid, connection (its two endpoints, in either order) and packet timestamp;
//! - a rule about a response (CONNACK, SUBACK, PUBACK ... and their reason codes) or about a
//!   message the broker sends fires, in Suricata, on the packet where the request's transaction
//!   is next inspected, and with the plugin on the packet that completes the response: compared
//!   per alert by sid and connection (so the number of alerts on each connection still counts).
//!
//! `flow_id` and `tx_id` are left out: they number different things in the two parsers.
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mqtt_ml::rules::convert::convert_rules;
use serde_json::Value;

use super::{Env, Outcome, Run};
use crate::ensure;

/// How alerts of a rule are compared (see the module documentation).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Packet,
    Connection,
}
use Cmp::{Connection, Packet};

/// Each keyword with the rule bodies that exercise it (Suricata's syntax).
const CASES: [(&str, &[(&str, Cmp)]); 16] = [
    (
        "mqtt.protocol_version",
        &[
            ("mqtt.protocol_version:5; mqtt.type:CONNECT;", Packet),
            ("mqtt.protocol_version:4; mqtt.type:PUBLISH;", Packet),
            ("mqtt.protocol_version:3; mqtt.type:SUBSCRIBE;", Packet),
            ("mqtt.protocol_version:<5; mqtt.type:PINGREQ;", Packet),
            ("mqtt.protocol_version:5; mqtt.type:DISCONNECT;", Packet),
        ],
    ),
    (
        "mqtt.type",
        &[
            ("mqtt.type:CONNECT;", Packet),
            ("mqtt.type:PUBLISH; flow:to_server;", Packet),
            ("mqtt.type:SUBSCRIBE;", Packet),
            ("mqtt.type:3;", Connection),
            ("mqtt.type:CONNACK;", Connection),
            ("mqtt.type:SUBACK;", Connection),
            ("mqtt.type:PINGREQ;", Packet),
            ("mqtt.type:DISCONNECT;", Packet),
            ("mqtt.type:>=12;", Connection),
        ],
    ),
    (
        "mqtt.flags",
        &[
            ("mqtt.flags:retain;", Packet),
            ("mqtt.flags:dup;", Packet),
            ("mqtt.flags:retain,!dup;", Packet),
            ("mqtt.flags:&0x09=0x01;", Packet),
            ("mqtt.flags:!retain; mqtt.type:CONNECT;", Packet),
        ],
    ),
    (
        "mqtt.qos",
        &[
            ("mqtt.qos:1;", Packet),
            ("mqtt.qos:2;", Packet),
            ("mqtt.qos:0; mqtt.type:CONNECT;", Packet),
            ("mqtt.qos:0; mqtt.type:PINGREQ;", Packet),
        ],
    ),
    (
        "mqtt.reason_code",
        &[
            ("mqtt.type:CONNACK; mqtt.reason_code:0;", Connection),
            ("mqtt.type:CONNACK; mqtt.reason_code:5;", Connection),
            ("mqtt.type:CONNACK; mqtt.reason_code:134;", Connection),
            ("mqtt.type:SUBACK; mqtt.reason_code:2;", Connection),
            ("mqtt.type:UNSUBACK; mqtt.reason_code:0;", Connection),
            ("mqtt.type:PUBACK; mqtt.reason_code:0;", Connection),
        ],
    ),
    (
        "mqtt.connect.clientid",
        &[
            (
                "mqtt.connect.clientid; content:\"ml-\"; startswith;",
                Packet,
            ),
            ("mqtt.connect.clientid; pcre:\"/^mosq/\";", Packet),
            (
                "mqtt.connect.clientid; to_uppercase; content:\"SUB\"; fast_pattern;",
                Packet,
            ),
        ],
    ),
    (
        "mqtt.connect.flags",
        &[
            ("mqtt.connect.flags:username,password;", Packet),
            ("mqtt.connect.flags:username,!password;", Packet),
            ("mqtt.connect.flags:clean_session;", Packet),
            ("mqtt.connect.flags:!clean_session;", Packet),
            ("mqtt.connect.flags:0xc2;", Packet),
            ("mqtt.connect.flags:&0x02=0x02;", Packet),
        ],
    ),
    (
        "mqtt.connect.password",
        &[
            ("mqtt.connect.password; content:\"alice\";", Packet),
            ("mqtt.connect.password; content:\"pass\";", Packet),
            ("mqtt.connect.password; pcre:\"/^[a-z]+$/\";", Packet),
        ],
    ),
    (
        "mqtt.connect.protocol_string",
        &[
            ("mqtt.connect.protocol_string; content:\"MQTT\";", Packet),
            (
                "mqtt.connect.protocol_string; content:\"MQIsdp\"; endswith;",
                Packet,
            ),
            ("mqtt.connect.protocol_string; content:\"Foobar\";", Packet),
        ],
    ),
    (
        "mqtt.connect.username",
        &[
            ("mqtt.connect.username; content:\"alice\";", Packet),
            ("mqtt.connect.username; content:\"user\"; bsize:4;", Packet),
            (
                "mqtt.connect.username; content:\"b\"; fast_pattern; startswith;",
                Packet,
            ),
        ],
    ),
    (
        "mqtt.connect.willmessage",
        &[
            ("mqtt.connect.willmessage; content:\"offline\";", Packet),
            ("mqtt.connect.willmessage; pcre:\"/^off/\";", Packet),
        ],
    ),
    (
        "mqtt.connect.willtopic",
        &[
            (
                "mqtt.connect.willtopic; content:\"/status\"; endswith;",
                Packet,
            ),
            ("mqtt.connect.willtopic; pcre:\"/^clients\\//\";", Packet),
        ],
    ),
    (
        "mqtt.publish.message",
        &[
            (
                "mqtt.publish.message; content:\"|FF D8 FF E0|\"; startswith;",
                Connection,
            ),
            (
                "mqtt.publish.message; content:\"|00 01 02 03|\";",
                Connection,
            ),
            // The 300-byte payloads of pcaps/ count 00..ff, then 00..2b: `fd fe ff` lies within
            // the first 256 bytes, `ff 00 01` straddles byte 256 and `2a 2b` ends the payload.
            ("mqtt.publish.message; content:\"|fd fe ff|\";", Connection),
            (
                "mqtt.publish.message; content:\"|ff 00 01|\"; content:\"|2a 2b|\"; distance:0;",
                Connection,
            ),
            ("mqtt.publish.message; content:\"on\"; nocase;", Connection),
            (
                "mqtt.publish.message; flow:to_server; content:\"2\";",
                Packet,
            ),
        ],
    ),
    (
        "mqtt.publish.topic",
        &[
            (
                "mqtt.publish.topic; content:\"sensors/h\"; startswith;",
                Connection,
            ),
            ("mqtt.publish.topic; content:\"topicX\";", Connection),
            (
                "mqtt.publish.topic; flow:to_server; content:\"door\"; fast_pattern;",
                Packet,
            ),
            (
                "mqtt.publish.topic; to_uppercase; content:\"ALERTS\";",
                Connection,
            ),
        ],
    ),
    (
        "mqtt.subscribe.topic",
        &[
            ("mqtt.subscribe.topic; content:\"sensors/#\";", Packet),
            (
                "mqtt.subscribe.topic; content:\"alerts\"; startswith;",
                Packet,
            ),
            ("mqtt.subscribe.topic; pcre:\"/^[a-z]+\\/\\+$/\";", Packet),
            ("mqtt.subscribe.topic; content:\"#\"; endswith;", Packet),
            (
                "mqtt.subscribe.topic; to_uppercase; content:\"SENSORS\"; fast_pattern;",
                Packet,
            ),
        ],
    ),
    (
        "mqtt.unsubscribe.topic",
        &[
            ("mqtt.unsubscribe.topic; content:\"sensors\";", Packet),
            ("mqtt.unsubscribe.topic; content:\"+\"; endswith;", Packet),
            ("mqtt.unsubscribe.topic; content:\"a\";", Packet),
            (
                "mqtt.unsubscribe.topic; content:\"sensors\"; fast_pattern; startswith;",
                Packet,
            ),
        ],
    ),
];

fn sid(case: usize, rule: usize) -> u64 {
    1_000_000 + 100 * case as u64 + rule as u64
}

/// The rules of case `only` (all cases when None), in Suricata's syntax.
fn builtin_rules(only: Option<usize>) -> String {
    let mut s = String::new();
    for (i, (kw, rules)) in CASES.iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        for (j, (body, _)) in rules.iter().enumerate() {
            s.push_str(&format!(
                "alert mqtt any any -> any any (msg:\"{kw} {j}\"; {body} sid:{}; rev:1;)\n",
                sid(i, j)
            ));
        }
    }
    s
}

/// Captures to compare on: the project's and suricata-verify's.
fn captures(env: &Env) -> Result<Vec<PathBuf>, Outcome> {
    let Some(sv) = env.suricata_verify_pcaps() else {
        return Err(Outcome::Skip("dataset not found: suricata-verify".into()));
    };
    let mut v = env.project_pcaps();
    v.extend(sv);
    v.retain(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        !NOT_COMPARABLE.iter().any(|(n, _)| *n == name)
    });
    Ok(v)
}

/// Captures where the two parsers do not see the same messages, so alerts differ for reasons
/// that are not the keywords'.
const NOT_COMPARABLE: [(&str, &str); 5] = [
    (
        "mqtt-otherport.pcap",
        "MQTT on port 18830: the built-in parser probes port 1883 only, the plugin also \
         recognises a CONNECT on any port",
    ),
    (
        "mqtt5-excessiveproplen__input.pcap",
        "a CONNECT whose property length overruns it: the built-in parser drops the message, \
         the plugin keeps its fields and raises oversized_properties",
    ),
    (
        "mqtt-events-missing-connect__input.pcap",
        "a connection without CONNECT: the built-in parser recognises MQTT only from a CONNECT, \
         the plugin from any message on the MQTT port",
    ),
    (
        "gen-flood-a.pcap",
        "hundreds of PUBLISH messages in one TCP segment: Suricata keeps at most 255 alerts per \
         packet, and which survive depends on transaction order, which differs by design",
    ),
    (
        "gen-malformed-a.pcap",
        "invalid MQTT: the built-in parser stops at a message it cannot parse, the plugin flags \
         it and goes on with the next",
    ),
];

/// Suricata keeps at most 15 alerts per packet by default and drops the rest; a segment with
/// many messages would then lose alerts differently in the two runs.
const ALERT_MAX: &str = "packet-alert-max=255";

/// The run's final count of alerts dropped because a packet had too many.
fn alert_overflow(run: &Run) -> u64 {
    run.eve()
        .iter()
        .rev()
        .find(|e| e["event_type"] == "stats")
        .and_then(|e| e["stats"]["detect"]["alert_queue_overflow"].as_u64())
        .unwrap_or(0)
}

/// Suricata with its built-in MQTT parser: the stock yaml and no plugin.
fn run_builtin(env: &Env, name: &str, pcap: &Path, extra: &[&str]) -> Run {
    let dir = env.out_dir(name);
    let out = Command::new(&env.suricata)
        .arg("-c")
        .arg(&env.yaml)
        .args(["-k", "none", "-l"])
        .arg(&dir)
        .arg("-r")
        .arg(pcap)
        .args(extra)
        .current_dir(&env.root)
        .output()
        .expect("run suricata");
    Run::from(out, dir)
}

/// One alert, in the terms the comparison uses.
fn alert_key(a: &Value, cmp: Cmp) -> String {
    let mut ends = [
        format!("{}:{}", a["src_ip"], a["src_port"]),
        format!("{}:{}", a["dest_ip"], a["dest_port"]),
    ];
    ends.sort();
    match cmp {
        Packet => format!("{} {}", ends.join(" "), a["timestamp"]),
        Connection => ends.join(" "),
    }
}

/// Alerts by sid, each as (capture, key), sorted; built-in and plugin.
type BySid = BTreeMap<u64, Vec<String>>;

struct Results {
    builtin: BySid,
    plugin: BySid,
    captures: usize,
}

/// A message the connection's end cut short: the plugin records its header (body unparsed,
/// `truncated`) as a transaction of its own, where Suricata's parser, still waiting for the
/// rest, has none. A documented difference (docs/rules.md), so not compared.
fn cut_by_end_of_stream(a: &Value) -> bool {
    let m = &a["mqtt_ml"];
    m["malformed"] == true
        && m["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == "truncated"))
        && m.get("msg").is_none()
        && m.get("topic").is_none()
        && m.get("clientid").is_none()
}

fn collect(into: &mut BySid, pcap: &Path, alerts: &[Value], cmps: &BTreeMap<u64, Cmp>) {
    let file = pcap.file_name().unwrap_or_default().to_string_lossy();
    for a in alerts {
        let Some(sid) = a["alert"]["signature_id"].as_u64() else {
            continue;
        };
        if cut_by_end_of_stream(a) {
            continue;
        }
        let cmp = cmps.get(&sid).copied().unwrap_or(Packet);
        into.entry(sid)
            .or_default()
            .push(format!("{file} {}", alert_key(a, cmp)));
    }
}

/// Built-in and converted rule files of case `only` (all when None).
fn rule_files(env: &Env, only: Option<usize>) -> Result<(String, String), Outcome> {
    let input = builtin_rules(only);
    let n = input.lines().count();
    let conv = convert_rules(&input);
    if !conv.unconverted.is_empty() || conv.converted != n {
        return Err(Outcome::Fail(format!(
            "conversion incomplete: {}",
            conv.report()
        )));
    }
    let tag = only.map_or("all".to_string(), |i| i.to_string());
    let b = env.write(&format!("keywords-builtin-{tag}.rules"), &input);
    let p = env.write(&format!("keywords-converted-{tag}.rules"), &conv.output);
    Ok((
        b.to_str().unwrap_or_default().to_owned(),
        p.to_str().unwrap_or_default().to_owned(),
    ))
}

/// Alerts of the built-in and the plugin run of `rules` on `pcap`; None when either dropped
/// alerts because a packet had too many.
/// Alerts of the built-in run and of the plugin run.
type AlertPair = (Vec<Value>, Vec<Value>);

fn run_pair(
    env: &Env,
    name: &str,
    pcap: &Path,
    rules: &(String, String),
) -> Result<Option<AlertPair>, Outcome> {
    let b = run_builtin(
        env,
        &format!("{name}-builtin"),
        pcap,
        &["-S", &rules.0, "--set", ALERT_MAX],
    );
    if !b.ok() {
        return Err(Outcome::Fail(format!(
            "built-in on {}: {}",
            pcap.display(),
            b.describe()
        )));
    }
    // The 300-byte payloads of pcaps/ pass the default 256-byte payload capture; raising
    // max-payload-log lets mqtt_ml.publish.message see all of them, as Suricata's does.
    let p = env.run(
        &format!("{name}-plugin"),
        pcap,
        &[
            "-S",
            &rules.1,
            "--set",
            "app-layer.protocols.mqtt-ml.max-payload-log=65536",
            "--set",
            ALERT_MAX,
        ],
    );
    if !p.ok() {
        return Err(Outcome::Fail(format!(
            "plugin on {}: {}",
            pcap.display(),
            p.describe()
        )));
    }
    if alert_overflow(&b) > 0 || alert_overflow(&p) > 0 {
        return Ok(None);
    }
    Ok(Some((b.alerts(), p.alerts())))
}

fn compute(env: &Env) -> Result<Results, Outcome> {
    let pcaps = captures(env)?;
    let all = rule_files(env, None)?;
    // Both rule sets must load completely, or missing alerts would pass as agreement.
    let n = builtin_rules(None).lines().count();
    let check = Command::new(&env.suricata)
        .args(["-T", "-v", "-c"])
        .arg(&env.yaml)
        .args(["-S", &all.0, "-l"])
        .arg(env.out_dir("keywords-builtin-check"))
        .output()
        .expect("run suricata -T");
    let text = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    if !text.contains(&format!("{n} rules successfully loaded")) {
        return Err(Outcome::Fail(format!(
            "built-in rules did not all load: {text}"
        )));
    }
    env.rules_all_load("keywords-converted-check", Path::new(&all.1))
        .map_err(Outcome::Fail)?;

    let mut cmps = BTreeMap::new();
    for (i, (_, rules)) in CASES.iter().enumerate() {
        for (j, (_, c)) in rules.iter().enumerate() {
            cmps.insert(sid(i, j), *c);
        }
    }
    let mut r = Results {
        builtin: BTreeMap::new(),
        plugin: BTreeMap::new(),
        captures: pcaps.len(),
    };
    for (k, pcap) in pcaps.iter().enumerate() {
        let mut pairs = Vec::new();
        match run_pair(env, &format!("kw-{k}"), pcap, &all)? {
            Some(pair) => pairs.push(pair),
            // Too many alerts on one packet with every rule loaded (a flood capture packs
            // dozens of messages in a segment): one keyword's rules at a time.
            None => {
                for (i, (kw, _)) in CASES.iter().enumerate() {
                    let files = rule_files(env, Some(i))?;
                    match run_pair(env, &format!("kw-{k}-{i}"), pcap, &files)? {
                        Some(pair) => pairs.push(pair),
                        None => {
                            return Err(Outcome::Fail(format!(
                                "{}: alerts dropped (alert_queue_overflow) even with the rules \
                                 of {} alone",
                                pcap.display(),
                                kw
                            )))
                        }
                    }
                }
            }
        }
        for (b, p) in pairs {
            collect(&mut r.builtin, pcap, &b, &cmps);
            collect(&mut r.plugin, pcap, &p, &cmps);
        }
    }
    for v in r.builtin.values_mut().chain(r.plugin.values_mut()) {
        v.sort();
    }
    Ok(r)
}

fn results(env: &Env) -> &'static Result<Results, Outcome> {
    static R: OnceLock<Result<Results, Outcome>> = OnceLock::new();
    R.get_or_init(|| compute(env))
}

/// The equivalence test of keyword `keyword`.
fn equivalence(env: &Env, keyword: &str) -> Outcome {
    let r = match results(env) {
        Ok(r) => r,
        Err(Outcome::Skip(s)) => return Outcome::Skip(s.clone()),
        Err(Outcome::Fail(s)) => return Outcome::Fail(s.clone()),
        Err(Outcome::Pass(s)) => return Outcome::Fail(s.clone()),
    };
    let Some(i) = CASES.iter().position(|(k, _)| *k == keyword) else {
        return Outcome::Fail(format!("no case for {keyword}"));
    };
    let empty = Vec::new();
    let mut fired = 0;
    let mut total = 0;
    let mut diffs = Vec::new();
    for (j, (body, _)) in CASES[i].1.iter().enumerate() {
        let s = sid(i, j);
        let b = r.builtin.get(&s).unwrap_or(&empty);
        let p = r.plugin.get(&s).unwrap_or(&empty);
        if b != p {
            let bs: HashSet<&String> = b.iter().collect();
            let ps: HashSet<&String> = p.iter().collect();
            let only_b: Vec<_> = bs.difference(&ps).take(3).collect();
            let only_p: Vec<_> = ps.difference(&bs).take(3).collect();
            diffs.push(format!(
                "{body} built-in {} alerts, plugin {}; only built-in: {only_b:?}; only plugin: {only_p:?}",
                b.len(),
                p.len()
            ));
        }
        fired += usize::from(!b.is_empty());
        total += b.len();
    }
    ensure!(diffs.is_empty(), "{keyword}:\n{}", diffs.join("\n"));
    // A keyword whose rules never fire would agree vacuously.
    ensure!(
        fired > 0,
        "{keyword}: no rule fired on any of {} captures",
        r.captures
    );
    Outcome::Pass(format!(
        "{} rules, {fired} firing, {total} alerts on {} captures, identical",
        CASES[i].1.len(),
        r.captures
    ))
}

macro_rules! equivalence_tests {
    ($($f:ident = $kw:literal),+ $(,)?) => {
        $(pub fn $f(env: &Env) -> Outcome { equivalence(env, $kw) })+
    };
}

equivalence_tests!(
    protocol_version = "mqtt.protocol_version",
    msg_type = "mqtt.type",
    flags = "mqtt.flags",
    qos = "mqtt.qos",
    reason_code = "mqtt.reason_code",
    connect_clientid = "mqtt.connect.clientid",
    connect_flags = "mqtt.connect.flags",
    connect_password = "mqtt.connect.password",
    connect_protocol_string = "mqtt.connect.protocol_string",
    connect_username = "mqtt.connect.username",
    connect_willmessage = "mqtt.connect.willmessage",
    connect_willtopic = "mqtt.connect.willtopic",
    publish_message = "mqtt.publish.message",
    publish_topic = "mqtt.publish.topic",
    subscribe_topic = "mqtt.subscribe.topic",
    unsubscribe_topic = "mqtt.unsubscribe.topic",
);

/// `mqtt_ml.connack.session_present` with each documented value fires on exactly the CONNACKs
/// whose session-present flag the built-in parser logs (EVE `mqtt.connack.session_present`) with
/// that value. Suricata 8.0.7's own keyword refuses `yes`/`true`/`no`/`false` and, with `1`/`0`,
/// loads but never fires (its list is inspected to the client, the transaction to the server).
pub fn session_present(env: &Env) -> Outcome {
    let mut pcaps = match captures(env) {
        Ok(p) => p,
        Err(o) => return o,
    };
    // No capture at hand has a CONNACK with session present set (mosquitto clients ask for a
    // clean session by default): add two connections that resume a session, one that doesn't.
    let resumed = env.tmp.join("session-present.pcap");
    if let Err(e) = std::fs::write(&resumed, session_pcap()) {
        return Outcome::Fail(format!("write {}: {e}", resumed.display()));
    }
    pcaps.push(resumed);
    let rules = "\
alert mqtt any any -> any any (msg:\"sp yes\"; mqtt_ml.connack.session_present:yes; sid:1;)
alert mqtt any any -> any any (msg:\"sp true\"; mqtt_ml.connack.session_present:true; sid:2;)
alert mqtt any any -> any any (msg:\"sp no\"; mqtt_ml.connack.session_present:no; sid:3;)
alert mqtt any any -> any any (msg:\"sp false\"; mqtt_ml.connack.session_present:false; sid:4;)
";
    let path = env.write("session-present.rules", rules);
    if let Err(e) = env.rules_all_load("session-present-load", &path) {
        return Outcome::Fail(e);
    }
    let builtin = env.write(
        "session-present-builtin.rules",
        "alert mqtt any any -> any any (msg:\"sp\"; mqtt.connack.session_present:true; sid:1;)\n",
    );
    let refused = Command::new(&env.suricata)
        .args(["-T", "-c"])
        .arg(&env.yaml)
        .arg("-S")
        .arg(&builtin)
        .arg("-l")
        .arg(env.out_dir("session-present-builtin-check"))
        .output()
        .expect("run suricata -T");
    ensure!(
        !refused.status.success(),
        "Suricata's own mqtt.connack.session_present:true now loads; revisit docs/rules.md"
    );
    // And with `1` it loads but never fires, even on resumed sessions.
    let one = env.write(
        "session-present-builtin-1.rules",
        "alert mqtt any any -> any any (msg:\"sp\"; mqtt.connack.session_present:1; sid:1;)\n",
    );
    let b = run_builtin(
        env,
        "session-present-builtin-1",
        pcaps.last().map(PathBuf::as_path).unwrap_or(Path::new("")),
        &["-S", one.to_str().unwrap_or_default()],
    );
    ensure!(b.ok(), "{}", b.describe());
    ensure!(
        b.alerts().is_empty(),
        "Suricata's own mqtt.connack.session_present:1 now fires; revisit docs/rules.md"
    );
    let (mut seen_true, mut seen_false) = (0, 0);
    for (k, pcap) in pcaps.iter().enumerate() {
        let b = run_builtin(env, &format!("sp-builtin-{k}"), pcap, &[]);
        ensure!(b.ok(), "{}", b.describe());
        // Per connection: how many CONNACKs with the flag set / clear.
        let mut want: BTreeMap<(String, bool), usize> = BTreeMap::new();
        for e in b.eve() {
            if e["event_type"] != "mqtt" {
                continue;
            }
            if let Some(sp) = e["mqtt"]["connack"]["session_present"].as_bool() {
                *want.entry((alert_key(&e, Connection), sp)).or_default() += 1;
            }
        }
        let p = env.run(
            &format!("sp-plugin-{k}"),
            pcap,
            &["-S", path.to_str().unwrap_or_default()],
        );
        ensure!(p.ok(), "{}", p.describe());
        for (sid, value) in [(1, true), (2, true), (3, false), (4, false)] {
            let mut got: BTreeMap<(String, bool), usize> = BTreeMap::new();
            for a in p.alerts() {
                if a["alert"]["signature_id"] == sid {
                    *got.entry((alert_key(&a, Connection), value)).or_default() += 1;
                }
            }
            let expected: BTreeMap<_, _> = want
                .iter()
                .filter(|((_, v), _)| *v == value)
                .map(|(k, n)| (k.clone(), *n))
                .collect();
            ensure!(
                got == expected,
                "{}: sid {sid}: alerts {got:?}, CONNACKs {expected:?}",
                pcap.display()
            );
        }
        seen_true += want
            .iter()
            .filter(|((_, v), _)| *v)
            .map(|(_, n)| n)
            .sum::<usize>();
        seen_false += want
            .iter()
            .filter(|((_, v), _)| !*v)
            .map(|(_, n)| n)
            .sum::<usize>();
    }
    ensure!(
        seen_true > 0 && seen_false > 0,
        "captures lack a CONNACK with session present {}",
        if seen_true == 0 { "set" } else { "clear" }
    );
    Outcome::Pass(format!(
        "{seen_true} CONNACKs with session present, {seen_false} without, on {} captures",
        pcaps.len()
    ))
}

/// A capture of three MQTT 3.1.1 connections (CONNECT, CONNACK, DISCONNECT): two resume a
/// session (clean session off, CONNACK session present 1), one starts clean (session present 0).
fn session_pcap() -> Vec<u8> {
    let mut pcap = Vec::new();
    // pcap header: microsecond timestamps, version 2.4, snap length 65535, Ethernet.
    for (v, n) in [
        (0xa1b2_c3d4u32, 4),
        (2, 2),
        (4, 2),
        (0, 4),
        (0, 4),
        (65535, 4),
        (1, 4),
    ] {
        pcap.extend_from_slice(&v.to_le_bytes()[..n]);
    }
    let mut t = 1_700_000_000u64 * 1_000_000;
    for (conn, resume) in [(0u16, true), (1, false), (2, true)] {
        let flags = if resume { 0x00 } else { 0x02 };
        let mut connect = vec![
            0x10, 0x13, 0, 4, b'M', b'Q', b'T', b'T', 4, flags, 0, 60, 0, 7,
        ];
        connect.extend_from_slice(b"sp-test");
        let connack = [0x20, 0x02, u8::from(resume), 0x00];
        let disconnect = [0xe0, 0x00];
        let port = 40000 + conn;
        let (mut cs, mut ss) = (1000u32, 5000u32);
        let mut pkt = |to_server: bool, fl: u8, seq: u32, ack: u32, data: &[u8]| {
            t += 1000;
            tcp_packet(&mut pcap, t, to_server, port, fl, seq, ack, data);
        };
        const SYN: u8 = 0x02;
        const ACK: u8 = 0x10;
        const PSH: u8 = 0x08;
        const FIN: u8 = 0x01;
        pkt(true, SYN, cs, 0, &[]);
        pkt(false, SYN | ACK, ss, cs + 1, &[]);
        cs += 1;
        ss += 1;
        pkt(true, ACK, cs, ss, &[]);
        pkt(true, PSH | ACK, cs, ss, &connect);
        cs += connect.len() as u32;
        pkt(false, PSH | ACK, ss, cs, &connack);
        ss += connack.len() as u32;
        pkt(true, PSH | ACK, cs, ss, &disconnect);
        cs += disconnect.len() as u32;
        pkt(false, ACK, ss, cs, &[]);
        pkt(true, FIN | ACK, cs, ss, &[]);
        cs += 1;
        pkt(false, FIN | ACK, ss, cs, &[]);
        ss += 1;
        pkt(true, ACK, cs, ss, &[]);
    }
    pcap
}

/// One Ethernet/IPv4/TCP packet between 10.0.0.1:`port` (client) and 10.0.0.2:1883.
#[allow(clippy::too_many_arguments)]
fn tcp_packet(
    pcap: &mut Vec<u8>,
    t_us: u64,
    to_server: bool,
    port: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    data: &[u8],
) {
    let (client, server) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let (src, dst, sport, dport) = if to_server {
        (client, server, port, 1883)
    } else {
        (server, client, 1883, port)
    };
    let mut f = vec![0u8; 12];
    f[5] = u8::from(to_server);
    f[11] = u8::from(!to_server);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 20 + data.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let sum = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    // Data offset 5 words, flags, window 65535, checksum 0 (the runs use -k none), urgent 0.
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(data);
    for v in [
        (t_us / 1_000_000) as u32,
        (t_us % 1_000_000) as u32,
        f.len() as u32,
        f.len() as u32,
    ] {
        pcap.extend_from_slice(&v.to_le_bytes());
    }
    pcap.extend_from_slice(&f);
}

/// Arguments Suricata refuses are refused by the mqtt-ml keywords too, each with an error line
/// naming the keyword; sticky buffers refuse an argument.
pub fn invalid_arguments_refused(env: &Env) -> Outcome {
    let cases = [
        ("mqtt_ml.type:BOGUS;", "mqtt_ml.type: invalid value 'BOGUS'"),
        ("mqtt_ml.type:1-2;", "mqtt_ml.type: invalid value"),
        ("mqtt_ml.flags:dup,!dup;", "mqtt_ml.flags: invalid value"),
        (
            "mqtt_ml.reason_code:256;",
            "mqtt_ml.reason_code: invalid value",
        ),
        (
            "mqtt_ml.protocol_version:>255;",
            "mqtt_ml.protocol_version:",
        ),
        ("mqtt_ml.connect.flags:will,foo;", "mqtt_ml.connect.flags:"),
        (
            "mqtt_ml.connack.session_present:maybe;",
            "use yes, true, no or false",
        ),
        ("mqtt_ml.qos:>>1;", "mqtt_ml.qos: invalid comparison"),
        ("mqtt_ml.publish.topic:x;", "error parsing signature"),
    ];
    for (i, (opt, want)) in cases.iter().enumerate() {
        let rules = env.write(
            &format!("kwbad{i}.rules"),
            &format!(
                "alert mqtt any any -> any any (msg:\"x\"; {opt} sid:{};)\n",
                i + 1
            ),
        );
        let run = env.check(
            &format!("kwbad{i}"),
            &["-S", rules.to_str().unwrap_or_default()],
        );
        ensure!(
            run.code == Some(1),
            "{opt}: expected a load failure: {}",
            run.describe()
        );
        ensure!(
            run.output.contains(want) && run.output.contains("error parsing signature"),
            "{opt}: expected '{want}': {}",
            run.describe()
        );
    }
    Outcome::Pass(format!("{} invalid arguments refused", cases.len()))
}
