//! The shipped anomaly rules (suricata-rules/mqtt-ml.rules) with the shipped model: every rule
//! loads, each attack-class rule fires on captures of its attack and only on connections labelled
//! as that attack, and no rule fires on benign captures.
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Env, Outcome};
use crate::ensure;

const CLASSES: [&str; 5] = ["bruteforce", "slowite", "flood", "malaria", "malformed"];
/// Classes whose rule the shipped model does not make fire on `pcaps/ns-home/` (see its use).
const KNOWN_MISSES: [&str; 1] = ["malaria"];
/// The same for MQTTset's captures.
const MQTTSET_KNOWN_MISSES: [&str; 1] = ["malformed"];
/// Known false alarm of the shipped rules on a benign device, on every capture of run "b" (which
/// nothing was chosen on): (client address, sid). The home's camera whose password has expired
/// retries every 30 s; in run "b" its first refused CONNACK falls inside the 8 s cut and scores
/// more than 10 times the threshold, an alarm on its own (models/REPORT.md counts the same in
/// the `home` fold). Listed so that the test still fails on any other benign alert, and when this
/// one goes away.
const KNOWN_BENIGN_ALARM: (&str, u64) = ("192.168.77.21", 9100100);

fn rules(env: &Env) -> PathBuf {
    env.root.join("suricata-rules/mqtt-ml.rules")
}

/// (client ip, client port) -> class, from a generated capture's labels.
fn labels(pcap: &Path) -> HashMap<(String, u64), String> {
    let text = std::fs::read_to_string(pcap.with_extension("labels.csv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            Some((
                (c.first()?.to_string(), c.get(1)?.parse().ok()?),
                c.get(5)?.to_string(),
            ))
        })
        .collect()
}

fn class_of(alert: &Value) -> String {
    alert["alert"]["metadata"]["mqtt_ml_class"][0]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn alerts(env: &Env, name: &str, pcap: &Path) -> Result<Vec<Value>, Outcome> {
    let r = rules(env);
    // Address-pair scheduling keeps each client's connections on one worker, so per-client
    // counts (and therefore alerts) do not depend on thread timing.
    let args = [
        "-S",
        r.to_str().unwrap_or_default(),
        "--set",
        "autofp-scheduler=ippair",
    ];
    let run = env.run(name, pcap, &args);
    if !run.ok() {
        return Err(Outcome::Fail(format!("{name}: {}", run.describe())));
    }
    Ok(run.alerts())
}

pub fn shipped_rules(env: &Env) -> Outcome {
    let r = rules(env);
    let n_rules = match env.rules_all_load("rules-load", &r) {
        Ok(n) => n,
        Err(e) => return Outcome::Fail(e),
    };

    let mut report = Vec::new();
    let mut benign_alarms = std::collections::BTreeSet::new();
    let is_known = |a: &Value| {
        a["flow"]["src_ip"].as_str() == Some(KNOWN_BENIGN_ALARM.0)
            && a["alert"]["signature_id"].as_u64() == Some(KNOWN_BENIGN_ALARM.1)
    };
    let mut cross: std::collections::BTreeMap<String, usize> = Default::default();
    // The attack captures whose hosts each have their own address (scripts/gen-corpus.py): the
    // rules pair the model's per-client evidence with per-client facts, which only mean something
    // when the attacker and the benign devices beside it are different clients. (In the loopback
    // captures gen-*.pcap every host is 127.0.0.1, one client for the rules.)
    // Run "a" is the one the rules' numbers were checked on; run "b" (another seed, and attack
    // parameters of its own: scripts/gen-corpus.py --run b) is the one nothing was chosen on.
    for (run, class) in ["a", "b"]
        .iter()
        .flat_map(|r| CLASSES.iter().map(move |c| (*r, *c)))
    {
        let pcap = env.pcap(&format!("ns-home/{class}-{run}.pcap"));
        let found = match alerts(env, &format!("rules-ns-{class}-{run}"), &pcap) {
            Ok(a) => a,
            Err(o) => return o,
        };
        let labels = labels(&pcap);
        let mine: Vec<&Value> = found.iter().filter(|a| class_of(a) == class).collect();
        // Known gap, measured in models/REPORT.md (leave one environment out): the model misses
        // distributed Malaria DoS on networks with one address per host, so its rule stays silent
        // here. The rest of the test still holds for this capture (nothing fires on a benign
        // device), and the moment the rule fires this check fails, so the gap cannot be
        // forgotten once it is closed.
        if KNOWN_MISSES.contains(&class) {
            ensure!(
                mine.is_empty(),
                "ns-home/{class}-{run}.pcap: the {class} rule now fires ({} alerts): remove \
                 {class} from KNOWN_MISSES",
                mine.len()
            );
        } else {
            ensure!(
                !mine.is_empty(),
                "ns-home/{class}-{run}.pcap: the {class} rule did not fire; alerts: {:?}",
                found
                    .iter()
                    .map(|a| a["alert"]["signature_id"].clone())
                    .collect::<Vec<_>>()
            );
        }
        for a in &found {
            let key = (
                a["flow"]["src_ip"].as_str().unwrap_or("").to_owned(),
                a["flow"]["src_port"].as_u64().unwrap_or(0),
            );
            let label = labels.get(&key).map(String::as_str).unwrap_or("?");
            let c = class_of(a);
            // No rule may fire on a benign device (but for the known false alarms above). A class
            // rule firing on another attack's connection is a true alarm with the wrong name:
            // counted and reported, not failed.
            if label == "benign" && is_known(a) {
                benign_alarms.insert(format!("{class}-{run}"));
                continue;
            }
            ensure!(
                label != "benign" && label != "?",
                "ns-home/{class}-{run}.pcap: {c} rule {} fired on a {label} connection {key:?}",
                a["alert"]["signature_id"]
            );
            if c != "anomaly" && c != label {
                *cross.entry(format!("{c} on {label}")).or_insert(0) += 1;
            }
        }
        report.push(format!("{class}-{run} {}", mine.len()));
    }
    let expected: std::collections::BTreeSet<_> =
        CLASSES.iter().map(|c| format!("{c}-b")).collect();
    ensure!(
        benign_alarms == expected,
        "the known false alarm {KNOWN_BENIGN_ALARM:?} is now on {benign_alarms:?}, was on every \
         attack capture of run b: update KNOWN_BENIGN_ALARM"
    );
    // MQTTset, read in place, when present: each attack capture fires its class rule.
    let sets = [
        ("bruteforce", "bruteforce"),
        ("slowite", "slowite"),
        ("flood", "flood"),
        ("malariados", "malaria"),
        ("malformed", "malformed"),
    ];
    let mqttset = env.datasets.join("mqttset-reduced");
    let mut missed = Vec::new();
    if mqttset.is_dir() {
        for (dir, class) in sets {
            let Some(pcap) = std::fs::read_dir(mqttset.join(dir)).ok().and_then(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .find(|p| p.to_string_lossy().contains(".pcap"))
            }) else {
                continue;
            };
            let found = match alerts(env, &format!("rules-mqttset-{dir}"), &pcap) {
                Ok(a) => a,
                Err(o) => return o,
            };
            let n = found.iter().filter(|a| class_of(a) == class).count();
            if n == 0 {
                missed.push(class);
            }
            report.push(format!("mqttset {class} {n}"));
        }
    }
    // MQTTset's malformed capture is caught by the general rule (the decision), but few of its
    // messages raise a parser malformation, so the malformed class rule stays silent: a known
    // gap, held to the same terms as KNOWN_MISSES.
    let expected_missed: Vec<&str> = if mqttset.is_dir() {
        MQTTSET_KNOWN_MISSES.to_vec()
    } else {
        Vec::new()
    };
    ensure!(
        missed == expected_missed,
        "MQTTset captures not detected by their class rule: {missed:?} (known: {expected_missed:?}); {}",
        report.join(", ")
    );
    // Silence on benign captures.
    let mut benign: Vec<PathBuf> = env
        .project_pcaps()
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            // mqtt-auth-fail.pcap holds six refused logins in a row: brute force, by design.
            (n.starts_with("mqtt") && !n.starts_with("mqtt-auth-fail"))
                || n.starts_with("gen-benign")
        })
        .collect();
    benign.push(env.pcap("ns-home/benign-a.pcap"));
    benign.push(env.pcap("ns-home/benign-b.pcap"));
    if mqttset.is_dir() {
        for dir in ["benign", "benign-5mb"] {
            if let Ok(rd) = std::fs::read_dir(mqttset.join(dir)) {
                benign.extend(
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.to_string_lossy().contains(".pcap")),
                );
            }
        }
    }
    let mut seen = HashSet::new();
    for p in &benign {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        ensure!(seen.insert(name.clone()), "duplicate capture name {name}");
        let mut found = match alerts(env, &format!("rules-benign-{name}"), p) {
            Ok(a) => a,
            Err(o) => return o,
        };
        if name == "benign-b.pcap" {
            let before = found.len();
            found.retain(|a| !is_known(a));
            ensure!(
                before - found.len() == 1,
                "benign-b.pcap: the known false alarm {KNOWN_BENIGN_ALARM:?} fired {} times, \
                 not once: update KNOWN_BENIGN_ALARM",
                before - found.len()
            );
        }
        ensure!(
            found.is_empty(),
            "benign {name}: {} alerts, e.g. {}",
            found.len(),
            found[0]["alert"]["signature"]
        );
    }
    Outcome::Pass(format!(
        "{n_rules} rules load; alerts per class: {}; known misses {KNOWN_MISSES:?}; \
         known false alarm {KNOWN_BENIGN_ALARM:?} on run b; class rules on another attack: {cross:?}; \
         {} benign captures silent",
        report.join(", "),
        benign.len()
    ))
}
