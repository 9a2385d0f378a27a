//! Command-line parsing for the subcommands (pure: no file system, no processes).
use std::path::PathBuf;

pub const DETECT_HELP: &str = "\
usage: mqtt-ml detect <capture.pcap> [options] [-- SURICATA ARGUMENTS ...]
       mqtt-ml detect -i IFACE [--seconds N] [options] [-- SURICATA ARGUMENTS ...]

Runs Suricata with the mqtt-ml plugin, the rules and the model on a capture (or live on an
interface), writes DIR/eve.json, then prints a summary: MQTT messages, connections, anomalies,
alerts per attack class and the most anomalous clients.

options:
  -o, --out DIR          output directory (default out/detect-<capture or interface name>)
  -r, --rules FILE       a rules file; repeat for more (default: every suricata-rules/*.rules)
  -m, --model FILE       the model (.tflite with its .json beside it; default: the plugin's own)
  -b, --backend NAME     tflite or native
  -t, --threshold T      p95, p99, p999 or a number (default: the model's)
  -c, --config YAML      suricata.yaml (default $SURICATA_YAML, else Suricata's own)
  -i, --interface IFACE  capture live on IFACE (needs root); stop with Ctrl-C
  -s, --seconds N        with -i: stop after N seconds of capture
  --                     everything after it goes to suricata unchanged, e.g.
                         -- --set app-layer.protocols.mqtt-ml.detection-ports.dp=1884

examples:
  mqtt-ml detect pcaps/gen-flood-a.pcap
  mqtt-ml detect capture.pcap -o out/run1 --threshold p99 --rules my.rules
  sudo mqtt-ml detect -i eth0 --seconds 60";

pub const SCORE_HELP: &str = "\
usage: mqtt-ml score <capture.pcap> [options] [-- SURICATA ARGUMENTS ...]

Scores every MQTT message of a capture and prints one CSV row per message, in EVE order:

  ts,src_ip,src_port,dest_ip,dest_port,direction,msg_index,msgtype,score,threshold,anomaly,top_feature

(ts: time of the carrying TCP segment, seconds since the epoch; src is the connection's client;
msgtype: the message type's name; top_feature: the feature with the largest reconstruction error.)
Suricata runs in a temporary directory that is removed afterwards.

options:
  -m, --model FILE       the model (default: the plugin's own)
  -b, --backend NAME     tflite or native
  -t, --threshold T      p95, p99, p999 or a number (default: the model's)
  -c, --config YAML      suricata.yaml (default $SURICATA_YAML, else Suricata's own)

example:
  mqtt-ml score pcaps/gen-slowite-a.pcap > scores.csv";

pub const TRAIN_HELP: &str = "\
usage: mqtt-ml train [ARGUMENTS ...]

Trains the autoencoder: runs training/run.sh of the source tree with the arguments, streaming its
output, and exits with its status. Common arguments:

  --quick                smoke run: small data, 3 epochs, writes $MQTT_ML_CACHE/quick-models
  --seed N               seed (training is deterministic)
  --out DIR              model and report directory (default models/)
  --datasets LIST        comma-separated: mqttset, generated (default both)
  --threshold NAME       the threshold the plugin uses by default: p95, p99 or p999

All of its options: mqtt-ml train -- --help (after --, arguments pass through unchanged).

examples:
  mqtt-ml train --quick
  mqtt-ml train --out /tmp/model --seed 7";

pub const CHECK_HELP: &str = "\
usage: mqtt-ml check [options] [-- SURICATA ARGUMENTS ...]

Checks that Suricata accepts the configuration, the model and the rules (suricata -T with the
plugin), and reports each:

  config ok: /etc/suricata/suricata.yaml
  model ok: models/mqtt-ml.tflite (schema vN, width 28, backend tflite, thresholds ...)
  rules ok: 30 rules loaded from 1 file

or the first error line(s), verbatim, with the fix. Exits 0 only when all three are good.

options:
  -c, --config YAML      suricata.yaml (default $SURICATA_YAML, else Suricata's own)
  -m, --model FILE       the model (default: the configured one, else the plugin's own)
  -b, --backend NAME     tflite or native
  -t, --threshold T      p95, p99, p999 or a number
  -r, --rules FILE       a rules file; repeat for more (default: every suricata-rules/*.rules)

examples:
  mqtt-ml check
  mqtt-ml check --model /tmp/model/mqtt-ml.tflite --rules my.rules";

pub const SCHEMA_HELP: &str = "\
usage: mqtt-ml schema

Prints the feature schema the plugin was built with (names, order, transforms, version) as JSON.";

/// Which help text to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Main,
    Detect,
    Score,
    Train,
    Check,
    Schema,
}

impl Topic {
    pub fn text(self) -> &'static str {
        match self {
            Topic::Main => crate::USAGE,
            Topic::Detect => DETECT_HELP,
            Topic::Score => SCORE_HELP,
            Topic::Train => TRAIN_HELP,
            Topic::Check => CHECK_HELP,
            Topic::Schema => SCHEMA_HELP,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Topic::Main => "",
            Topic::Detect => "detect",
            Topic::Score => "score",
            Topic::Train => "train",
            Topic::Check => "check",
            Topic::Schema => "schema",
        }
    }
}

/// What Suricata runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Pcap(PathBuf),
    Interface(String),
}

/// The options shared by the subcommands that run Suricata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub config: Option<PathBuf>,
    pub rules: Vec<PathBuf>,
    pub model: Option<PathBuf>,
    pub backend: Option<String>,
    pub threshold: Option<String>,
    /// Arguments after `--`, for suricata.
    pub extra: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detect {
    pub input: Input,
    pub out: Option<PathBuf>,
    pub seconds: Option<u64>,
    pub opts: Options,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    Help(Topic),
    Schema,
    Detect(Detect),
    Score { pcap: PathBuf, opts: Options },
    Train(Vec<String>),
    Check(Options),
}

/// A usage error: the subcommand it concerns and one line naming the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub topic: Topic,
    pub message: String,
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sub = self.topic.name();
        let space = if sub.is_empty() { "" } else { " " };
        write!(
            f,
            "mqtt-ml{space}{sub}: {}; see mqtt-ml{space}{sub} --help",
            self.message
        )
    }
}

/// The subcommand named by the first argument, if it is one.
pub fn subcommand(first: &str) -> Option<Topic> {
    Some(match first {
        "detect" => Topic::Detect,
        "score" => Topic::Score,
        "train" => Topic::Train,
        "check" => Topic::Check,
        "schema" => Topic::Schema,
        "help" => Topic::Main,
        _ => return None,
    })
}

/// Parses `args` (without the program name), whose first element is a subcommand.
pub fn parse(args: &[String]) -> Result<Cmd, Usage> {
    let Some(topic) = args.first().and_then(|a| subcommand(a)) else {
        return Err(Usage {
            topic: Topic::Main,
            message: format!(
                "unknown command '{}': use detect, score, train, check or schema",
                args.first().map(String::as_str).unwrap_or("")
            ),
        });
    };
    let rest = &args[1..];
    let usage = |message: String| Usage { topic, message };
    match topic {
        Topic::Main => {
            // `mqtt-ml help [COMMAND]`
            let t = match rest.first() {
                None => Topic::Main,
                Some(s) => subcommand(s).ok_or_else(|| {
                    usage(format!(
                        "no help for '{s}': use detect, score, train, check or schema"
                    ))
                })?,
            };
            Ok(Cmd::Help(t))
        }
        Topic::Schema => match rest.first().map(String::as_str) {
            None => Ok(Cmd::Schema),
            Some("-h" | "--help") => Ok(Cmd::Help(Topic::Schema)),
            Some(a) => Err(usage(format!(
                "unexpected argument '{a}': schema takes none"
            ))),
        },
        Topic::Train => {
            // Everything goes to training/run.sh; only a leading --help is ours, and `--` makes
            // even that pass through.
            match rest.first().map(String::as_str) {
                Some("-h" | "--help") => Ok(Cmd::Help(Topic::Train)),
                Some("--") => Ok(Cmd::Train(rest[1..].to_vec())),
                _ => Ok(Cmd::Train(rest.to_vec())),
            }
        }
        Topic::Detect | Topic::Score | Topic::Check => parse_run(topic, rest),
    }
}

fn parse_run(topic: Topic, args: &[String]) -> Result<Cmd, Usage> {
    let usage = |message: String| Usage { topic, message };
    let mut opts = Options::default();
    let mut positional: Vec<String> = Vec::new();
    let mut out = None;
    let mut iface = None;
    let mut seconds = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            opts.extra = args[i..].to_vec();
            break;
        }
        if arg == "-h" || arg == "--help" {
            return Ok(Cmd::Help(topic));
        }
        if !arg.starts_with('-') || arg == "-" {
            positional.push(arg.clone());
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let name = canonical(flag)
            .filter(|n| allowed(topic, n))
            .ok_or_else(|| {
                usage(format!(
                    "unknown option '{flag}'{}",
                    if topic == Topic::Check || topic == Topic::Score {
                        ""
                    } else {
                        " (suricata's own options go after --)"
                    }
                ))
            })?;
        let value = match inline {
            Some(v) => v,
            None => {
                let v = args
                    .get(i)
                    .filter(|v| !v.starts_with('-') || v.len() == 1 || v.parse::<f64>().is_ok())
                    .ok_or_else(|| usage(format!("{flag} needs {}", value_name(name))))?;
                i += 1;
                v.clone()
            }
        };
        if value.is_empty() {
            return Err(usage(format!("{flag} needs {}", value_name(name))));
        }
        match name {
            "out" => out = Some(PathBuf::from(value)),
            "rules" => opts.rules.push(PathBuf::from(value)),
            "model" => opts.model = Some(PathBuf::from(value)),
            "backend" => {
                if !matches!(value.as_str(), "tflite" | "native") {
                    return Err(usage(format!(
                        "unknown backend '{value}': use --backend tflite or --backend native"
                    )));
                }
                opts.backend = Some(value)
            }
            "threshold" => {
                if !valid_threshold(&value) {
                    return Err(usage(format!(
                        "invalid threshold '{value}': use p95, p99, p999 or a non-negative number"
                    )));
                }
                opts.threshold = Some(value)
            }
            "config" => opts.config = Some(PathBuf::from(value)),
            "interface" => iface = Some(value),
            "seconds" => {
                let n = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        usage(format!(
                            "invalid --seconds '{value}': use a whole number of seconds above 0"
                        ))
                    })?;
                seconds = Some(n)
            }
            _ => unreachable!("canonical() returns only the names above"),
        }
    }
    match topic {
        Topic::Detect => {
            let input = match (iface, positional.as_slice()) {
                (Some(_), [p, ..]) => {
                    return Err(usage(format!(
                        "give a capture or -i IFACE, not both (got '{p}' and -i)"
                    )))
                }
                (Some(i), []) => Input::Interface(i),
                (None, [p]) => Input::Pcap(PathBuf::from(p)),
                (None, []) => {
                    return Err(usage(
                        "give a capture file (mqtt-ml detect capture.pcap) or an interface (-i IFACE)"
                            .into(),
                    ))
                }
                (None, [_, extra, ..]) => {
                    return Err(usage(format!(
                        "unexpected argument '{extra}': give one capture (suricata arguments go after --)"
                    )))
                }
            };
            if seconds.is_some() && !matches!(input, Input::Interface(_)) {
                return Err(usage(
                    "--seconds applies to live capture only: add -i IFACE, or drop --seconds"
                        .into(),
                ));
            }
            Ok(Cmd::Detect(Detect {
                input,
                out,
                seconds,
                opts,
            }))
        }
        Topic::Score => match positional.as_slice() {
            [p] => Ok(Cmd::Score {
                pcap: PathBuf::from(p),
                opts,
            }),
            [] => Err(usage(
                "give a capture file: mqtt-ml score capture.pcap".into(),
            )),
            [_, extra, ..] => Err(usage(format!(
                "unexpected argument '{extra}': give one capture"
            ))),
        },
        _ => match positional.first() {
            None => Ok(Cmd::Check(opts)),
            Some(p) => Err(usage(format!(
                "unexpected argument '{p}': use --config, --model or --rules"
            ))),
        },
    }
}

/// Long name of a flag, or None when unknown.
fn canonical(flag: &str) -> Option<&'static str> {
    Some(match flag {
        "-o" | "--out" => "out",
        "-r" | "--rules" => "rules",
        "-m" | "--model" => "model",
        "-b" | "--backend" => "backend",
        "-t" | "--threshold" => "threshold",
        "-c" | "--config" => "config",
        "-i" | "--interface" => "interface",
        "-s" | "--seconds" => "seconds",
        _ => return None,
    })
}

fn allowed(topic: Topic, name: &str) -> bool {
    match topic {
        Topic::Detect => true,
        Topic::Score => matches!(name, "model" | "backend" | "threshold" | "config"),
        Topic::Check => matches!(name, "model" | "backend" | "threshold" | "config" | "rules"),
        _ => false,
    }
}

fn value_name(name: &str) -> &'static str {
    match name {
        "out" => "a directory",
        "rules" => "a rules file",
        "model" => "a .tflite model file",
        "backend" => "tflite or native",
        "threshold" => "p95, p99, p999 or a number",
        "config" => "a suricata.yaml file",
        "interface" => "a network interface, e.g. -i eth0",
        "seconds" => "a number of seconds",
        _ => "a value",
    }
}

/// The model's named percentiles, or a non-negative number (what the plugin accepts).
pub fn valid_threshold(v: &str) -> bool {
    matches!(v, "p95" | "p99" | "p999") || v.parse::<f32>().is_ok_and(|x| x.is_finite() && x >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Cmd, Usage> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn detect_on_a_capture_with_every_option() {
        let cmd = p(&[
            "detect",
            "x.pcap",
            "-o",
            "out/a",
            "--rules",
            "a.rules",
            "--rules=b.rules",
            "--model",
            "m.tflite",
            "--backend",
            "native",
            "--threshold",
            "0.5",
            "--",
            "--set",
            "a=b",
            "-v",
        ])
        .unwrap();
        let Cmd::Detect(d) = cmd else { panic!() };
        assert_eq!(d.input, Input::Pcap("x.pcap".into()));
        assert_eq!(d.out, Some("out/a".into()));
        assert_eq!(
            d.opts.rules,
            vec![PathBuf::from("a.rules"), "b.rules".into()]
        );
        assert_eq!(d.opts.model, Some("m.tflite".into()));
        assert_eq!(d.opts.backend.as_deref(), Some("native"));
        assert_eq!(d.opts.threshold.as_deref(), Some("0.5"));
        assert_eq!(d.opts.extra, vec!["--set", "a=b", "-v"]);
        assert_eq!(d.seconds, None);
    }

    #[test]
    fn detect_live() {
        let Cmd::Detect(d) = p(&["detect", "-i", "lo", "--seconds", "5"]).unwrap() else {
            panic!()
        };
        assert_eq!(d.input, Input::Interface("lo".into()));
        assert_eq!(d.seconds, Some(5));
        let e = p(&["detect", "x.pcap", "--seconds", "5"]).unwrap_err();
        assert!(e.message.contains("-i IFACE"), "{e}");
        let e = p(&["detect", "x.pcap", "-i", "lo"]).unwrap_err();
        assert!(e.message.contains("not both"), "{e}");
        assert!(p(&["detect", "-i", "lo", "--seconds", "0"]).is_err());
        assert!(p(&["detect", "-i", "lo", "--seconds", "x"]).is_err());
    }

    #[test]
    fn usage_errors_name_the_fix() {
        let e = p(&["detect"]).unwrap_err();
        assert_eq!(e.topic, Topic::Detect);
        assert!(
            e.to_string().starts_with("mqtt-ml detect: give a capture"),
            "{e}"
        );
        assert!(e.to_string().ends_with("see mqtt-ml detect --help"), "{e}");
        let e = p(&["detect", "x.pcap", "--threshold", "p42"]).unwrap_err();
        assert!(e.message.contains("p95, p99, p999"), "{e}");
        let e = p(&["detect", "x.pcap", "--backend", "gpu"]).unwrap_err();
        assert!(e.message.contains("--backend native"), "{e}");
        let e = p(&["detect", "x.pcap", "--model"]).unwrap_err();
        assert!(e.message.contains("--model needs a .tflite"), "{e}");
        let e = p(&["detect", "x.pcap", "-v"]).unwrap_err();
        assert!(e.message.contains("after --"), "{e}");
        let e = p(&["detect", "a.pcap", "b.pcap"]).unwrap_err();
        assert!(e.message.contains("'b.pcap'"), "{e}");
        assert!(p(&["score"]).is_err());
        assert!(p(&["score", "x.pcap", "--rules", "a.rules"]).is_err());
        assert!(p(&["check", "extra"]).is_err());
        assert!(p(&["schema", "x"]).is_err());
        assert!(p(&["frobnicate"]).is_err());
    }

    #[test]
    fn help_everywhere() {
        for (args, topic) in [
            (vec!["detect", "--help"], Topic::Detect),
            (vec!["detect", "x.pcap", "-h"], Topic::Detect),
            (vec!["score", "--help"], Topic::Score),
            (vec!["check", "--help"], Topic::Check),
            (vec!["train", "--help"], Topic::Train),
            (vec!["schema", "--help"], Topic::Schema),
            (vec!["help"], Topic::Main),
            (vec!["help", "score"], Topic::Score),
        ] {
            assert_eq!(p(&args).unwrap(), Cmd::Help(topic), "{args:?}");
            assert!(topic.text().contains("usage: mqtt-ml"));
        }
    }

    #[test]
    fn train_passes_everything_through() {
        assert_eq!(
            p(&["train", "--quick", "--seed", "3"]).unwrap(),
            Cmd::Train(vec!["--quick".into(), "--seed".into(), "3".into()])
        );
        assert_eq!(
            p(&["train", "--", "--help"]).unwrap(),
            Cmd::Train(vec!["--help".into()])
        );
    }

    #[test]
    fn score_and_check() {
        assert_eq!(
            p(&["score", "x.pcap", "-t", "p99"]).unwrap(),
            Cmd::Score {
                pcap: "x.pcap".into(),
                opts: Options {
                    threshold: Some("p99".into()),
                    ..Options::default()
                }
            }
        );
        let Cmd::Check(o) = p(&["check", "--config", "s.yaml", "-r", "a", "-r", "b"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(o.config, Some("s.yaml".into()));
        assert_eq!(o.rules.len(), 2);
        assert!(valid_threshold("0"));
        assert!(!valid_threshold("-1"));
        assert!(!valid_threshold("inf"));
    }
}
