//! Command-line parsing for the subcommands (clap, derive): pure, no file system, no processes.
//!
//! Each subcommand is a variant of [`Command`] with its own argument struct; a new group (e.g.
//! `mqtt-ml rules convert`) is one more variant holding a `#[command(subcommand)]` enum.
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use mqtt_ml::scoring::{Threshold, THRESHOLD_FIX};

/// Every help page starts with its usage line, in the form README.md and docs/cli.md show.
const TEMPLATE: &str = "\
usage: {usage}

{about-with-newline}
{all-args}{after-help}";

const MAIN_ABOUT: &str = "\
Runs Suricata 8.0.7 with the mqtt-ml plugin, the rules and the model, and answers questions about
them.";

const MAIN_AFTER: &str = "\
`mqtt-ml COMMAND --help` describes each command.

--plugin: Suricata 8.0.7 has no --plugin flag of its own; the wrapper turns each into
--set plugins.<name>=<absolute path>. Every other argument goes to suricata unchanged, e.g.:

    mqtt-ml --plugin target/release/libmqtt_ml.so -r capture.pcap -l out/

Environment: SURICATA (path of the suricata binary), SURICATA_YAML (its configuration),
MQTT_ML_PLUGIN (the plugin; default: libmqtt_ml.so next to mqtt-ml, or the installed one),
MQTT_ML_CACHE (setup's cache directory).";

const MAIN_USAGE: &str = "\
mqtt-ml detect <capture.pcap> | -i IFACE [--seconds N] [options]
       mqtt-ml score <capture.pcap> [options]
       mqtt-ml learn <benign.pcap> | -i IFACE --seconds N -o DIR [options]
       mqtt-ml rules convert IN.rules > OUT.rules
       mqtt-ml train [ARGUMENTS ...]
       mqtt-ml check [--config YAML] [--model FILE] [--rules FILE ...]
       mqtt-ml schema
       mqtt-ml install [--prefix DIR]
       mqtt-ml completions bash|zsh|fish
       mqtt-ml --plugin PATH [--plugin PATH ...] [SURICATA ARGUMENTS ...]";

#[derive(Debug, Parser)]
#[command(
    name = "mqtt-ml",
    version,
    about = MAIN_ABOUT,
    override_usage = MAIN_USAGE,
    after_help = MAIN_AFTER,
    help_template = TEMPLATE
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[command(help_template = TEMPLATE)]
pub enum Command {
    /// Run Suricata with the plugin, rules and model; print a summary
    #[command(
        override_usage = "mqtt-ml detect <capture.pcap> [options] [-- SURICATA ARGUMENTS ...]\n       \
                          mqtt-ml detect -i IFACE [--seconds N] [options] [-- SURICATA ARGUMENTS ...]",
        long_about = DETECT_ABOUT,
        after_help = DETECT_AFTER,
        help_template = TEMPLATE
    )]
    Detect(DetectArgs),
    /// Per-message anomaly scores as CSV
    #[command(
        override_usage = "mqtt-ml score <capture.pcap> [options] [-- SURICATA ARGUMENTS ...]",
        long_about = SCORE_ABOUT,
        after_help = "example:\n  mqtt-ml score pcaps/gen-slowite-a.pcap > scores.csv",
        help_template = TEMPLATE
    )]
    Score(ScoreArgs),
    /// Fit the model's scaling and thresholds to a site from its benign traffic
    #[command(
        override_usage = "mqtt-ml learn <benign.pcap> -o DIR [options] [-- SURICATA ARGUMENTS ...]\n       \
                          mqtt-ml learn -i IFACE --seconds N -o DIR [options] [-- SURICATA ARGUMENTS ...]",
        long_about = LEARN_ABOUT,
        after_help = LEARN_AFTER,
        help_template = TEMPLATE
    )]
    Learn(LearnArgs),
    /// Rule tools: convert rules written for Suricata's MQTT keywords
    #[command(subcommand, help_template = TEMPLATE)]
    Rules(RulesCommand),
    /// Train the model (training/run.sh)
    #[command(
        override_usage = "mqtt-ml train [ARGUMENTS ...]",
        long_about = TRAIN_ABOUT,
        after_help = TRAIN_AFTER,
        help_template = TEMPLATE
    )]
    Train(TrainArgs),
    /// Check the configuration, model and rules
    #[command(
        override_usage = "mqtt-ml check [options] [-- SURICATA ARGUMENTS ...]",
        long_about = CHECK_ABOUT,
        after_help = "examples:\n  mqtt-ml check\n  mqtt-ml check --model /tmp/model/mqtt-ml.tflite --rules my.rules",
        help_template = TEMPLATE
    )]
    Check(CheckArgs),
    /// Print the feature schema as JSON
    #[command(
        override_usage = "mqtt-ml schema",
        long_about = "Prints the feature schema the plugin was built with (names, order, \
                      transforms, version) as JSON.",
        help_template = TEMPLATE
    )]
    Schema,
    /// Install the plugin, model, rules and yaml include under a prefix
    #[command(
        override_usage = "mqtt-ml install [--prefix DIR]",
        long_about = INSTALL_ABOUT,
        after_help = "examples:\n  sudo mqtt-ml install\n  mqtt-ml install --prefix $HOME/.local",
        help_template = TEMPLATE
    )]
    Install(InstallArgs),
    /// Print a shell completion script
    #[command(
        override_usage = "mqtt-ml completions bash|zsh|fish",
        long_about = "Prints the completion script for a shell on stdout.",
        after_help = "examples:\n  mqtt-ml completions bash > /etc/bash_completion.d/mqtt-ml\n  \
                      mqtt-ml completions zsh > \"${fpath[1]}/_mqtt-ml\"\n  \
                      mqtt-ml completions fish > ~/.config/fish/completions/mqtt-ml.fish",
        help_template = TEMPLATE
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: Shell,
    },
}

const DETECT_ABOUT: &str = "\
Runs Suricata with the mqtt-ml plugin, the rules and the model on a capture (or live on an
interface), writes DIR/eve.json, then prints a summary: MQTT messages, connections, anomalies,
alerts per attack class and the most anomalous clients.";

const DETECT_AFTER: &str = "\
examples:
  mqtt-ml detect pcaps/gen-flood-a.pcap
  mqtt-ml detect capture.pcap -o out/run1 --threshold p99 --rules my.rules
  sudo mqtt-ml detect -i eth0 --seconds 60
  mqtt-ml detect capture.pcap -- --set app-layer.protocols.mqtt-ml.detection-ports.dp=1884";

const SCORE_ABOUT: &str = "\
Scores every MQTT message of a capture and prints one CSV row per message, in EVE order:

  ts,src_ip,src_port,dest_ip,dest_port,direction,msg_index,msgtype,score,threshold,anomaly,top_feature

(ts: time of the carrying TCP segment, seconds since the epoch; src is the connection's client;
msgtype: the message type's name; top_feature: the feature with the largest reconstruction error.)
Suricata runs in a temporary directory that is removed afterwards.";

const LEARN_ABOUT: &str = "\
Learns what is normal on this site from benign traffic recorded here (a capture, or N seconds
live) and writes a site model into DIR: the same model with its scaling widened to the site's
benign range and its thresholds raised to the site's own percentiles (never lowered). No
TensorFlow is needed: the plugin extracts the features and the native backend scores them. Load
the result with app-layer.protocols.mqtt-ml.model: DIR/mqtt-ml.tflite. Full retraining stays in
`mqtt-ml train`.";

const LEARN_AFTER: &str = "\
examples:
  mqtt-ml learn site-benign.pcap -o /etc/suricata/mqtt-ml-site
  sudo mqtt-ml learn -i eth0 --seconds 600 -o /etc/suricata/mqtt-ml-site";

const TRAIN_ABOUT: &str = "\
Trains the autoencoder: runs training/run.sh of the source tree with the arguments, streaming its
output, and exits with its status. Common arguments:

  --quick                smoke run: small data, 3 epochs, writes $MQTT_ML_CACHE/quick-models
  --seed N               seed (training is deterministic)
  --out DIR              model and report directory (default models/)
  --datasets LIST        comma-separated: mqttset, generated (default both)
  --threshold NAME       the threshold the plugin uses by default: p95, p99 or p999

All of its options: mqtt-ml train -- --help (after --, arguments pass through unchanged).";

const TRAIN_AFTER: &str = "\
examples:
  mqtt-ml train --quick
  mqtt-ml train --out /tmp/model --seed 7";

const CHECK_ABOUT: &str = "\
Checks that Suricata accepts the configuration, the model and the rules (suricata -T with the
plugin), and reports each:

  config ok: /etc/suricata/suricata.yaml
  model ok: models/mqtt-ml.tflite (schema vN, width 28, backend tflite, thresholds ...)
  rules ok: 30 rules loaded from 1 file

or the first error line(s), verbatim, with the fix. Exits 0 only when all three are good.";

const INSTALL_ABOUT: &str = "\
Installs this build under a prefix, where Suricata users expect each file:

  PREFIX/lib/suricata/libmqtt_ml.so            the plugin
  PREFIX/bin/mqtt-ml                           this command
  PREFIX/share/mqtt-ml/mqtt-ml.tflite, .json   the model and its metadata
  PREFIX/share/mqtt-ml/rules/                  the rules, and mqtt-ml-rules.tar.gz for suricata-update
  PREFIX/etc/suricata/mqtt-ml.yaml             the yaml include (installed paths; an edited one is
                                               kept and the new one written beside it as .new)

then prints the two lines to add to suricata.yaml and the suricata-update commands. The plugin
finds the model relative to its own file, so the installed copy needs no source tree.";

/// The options shared by the subcommands that run Suricata.
#[derive(Clone, Debug, Default, PartialEq, Args)]
pub struct Options {
    /// suricata.yaml (default $SURICATA_YAML, else Suricata's own)
    #[arg(short, long, value_name = "YAML")]
    pub config: Option<PathBuf>,
    /// the model (.tflite with its .json beside it; default: the plugin's own)
    #[arg(short, long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// tflite or native
    #[arg(short, long, value_name = "NAME", value_parser = ["tflite", "native"])]
    pub backend: Option<String>,
    /// p95, p99, p999 or a number (default: the model's)
    #[arg(short, long, value_name = "T", value_parser = threshold, allow_negative_numbers = true)]
    pub threshold: Option<Threshold>,
    /// Rules files, for the subcommands that take --rules.
    #[arg(skip)]
    pub rules: Vec<PathBuf>,
    /// Arguments after `--`, for suricata.
    #[arg(skip)]
    pub extra: Vec<String>,
}

fn threshold(s: &str) -> Result<Threshold, &'static str> {
    s.parse().map_err(|_| THRESHOLD_FIX)
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// the capture to read
    #[arg(value_name = "capture.pcap", conflicts_with = "interface")]
    pub capture: Option<PathBuf>,
    /// output directory (default out/detect-<capture or interface name>)
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// a rules file; repeat for more (default: every shipped rules file)
    #[arg(short, long, value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    #[command(flatten)]
    pub opts: Options,
    /// capture live on IFACE (needs root); stop with Ctrl-C
    #[arg(short, long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// with -i: stop after N seconds of capture
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: Option<u64>,
    /// everything after -- goes to suricata unchanged
    #[arg(last = true, value_name = "SURICATA ARGUMENTS")]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// the capture to score
    #[arg(value_name = "capture.pcap", required = true)]
    pub capture: PathBuf,
    #[command(flatten)]
    pub opts: Options,
    /// everything after -- goes to suricata unchanged
    #[arg(last = true, value_name = "SURICATA ARGUMENTS")]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// benign traffic of the site
    #[arg(value_name = "benign.pcap", conflicts_with = "interface")]
    pub capture: Option<PathBuf>,
    /// where the site model goes
    #[arg(short, long, value_name = "DIR", required = true)]
    pub out: PathBuf,
    /// suricata.yaml (default $SURICATA_YAML, else Suricata's own)
    #[arg(short, long, value_name = "YAML")]
    pub config: Option<PathBuf>,
    /// the model to fit (default: the plugin's own)
    #[arg(short, long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// learn live on IFACE (needs root)
    #[arg(short, long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// with -i: how many seconds of traffic to learn from
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: Option<u64>,
    /// everything after -- goes to suricata unchanged
    #[arg(last = true, value_name = "SURICATA ARGUMENTS")]
    pub extra: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Rewrite rules using Suricata's mqtt.* keywords into mqtt_ml.* keywords
    #[command(
        override_usage = "mqtt-ml rules convert IN.rules > OUT.rules",
        long_about = "Rewrites every rule that uses Suricata's built-in MQTT keywords (mqtt.type, \
                      mqtt.connect.clientid, ...) into the mqtt_ml.* equivalents and prints the \
                      result on stdout; every other line is copied unchanged. Each rule that cannot \
                      be converted is kept as it was and reported on stderr with the reason; the \
                      exit status is then 1.",
        help_template = TEMPLATE
    )]
    Convert {
        /// the rules file to convert
        #[arg(value_name = "IN.rules")]
        input: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// arguments for training/run.sh (after --, even --help passes through)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGUMENTS"
    )]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub opts: Options,
    /// a rules file; repeat for more (default: every shipped rules file)
    #[arg(short, long, value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// everything after -- goes to suricata unchanged
    #[arg(last = true, value_name = "SURICATA ARGUMENTS")]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// installation prefix
    #[arg(long, value_name = "DIR", default_value = "/usr/local")]
    pub prefix: PathBuf,
}

/// What Suricata runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Pcap(PathBuf),
    Interface(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Detect {
    pub input: Input,
    pub out: Option<PathBuf>,
    pub seconds: Option<u64>,
    pub opts: Options,
}

/// A parsed command line, checked beyond what clap checks.
#[derive(Debug)]
pub enum Cmd {
    /// Help or version text (stdout, exit 0).
    Print(String),
    Schema,
    Detect(Detect),
    Score {
        pcap: PathBuf,
        opts: Options,
    },
    Train(Vec<String>),
    Check(Options),
    Install {
        prefix: PathBuf,
    },
    Completions(Shell),
    Learn {
        input: Input,
        seconds: Option<u64>,
        out: PathBuf,
        opts: Options,
    },
    RulesConvert {
        input: PathBuf,
    },
}

/// A usage error: one line naming the fix (stderr, exit 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The subcommands (and `help`), for the dispatch between them and the `--plugin` wrapper.
pub fn is_subcommand(first: &str) -> bool {
    first == "help" || Cli::command().find_subcommand(first).is_some()
}

/// The command tree, for help and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Cmd, Usage> {
    let sub = args
        .first()
        .filter(|a| is_subcommand(a) && *a != "help")
        .cloned();
    let usage = |message: &str| {
        let name = sub.as_deref().map(|s| format!(" {s}")).unwrap_or_default();
        Usage(format!(
            "mqtt-ml{name}: {message}; see mqtt-ml{name} --help"
        ))
    };
    let cli = match Cli::try_parse_from(
        std::iter::once("mqtt-ml".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Ok(Cmd::Print(e.render().to_string()))
                }
                _ => Err(usage(&one_line(&e, sub.as_deref()))),
            };
        }
    };
    Ok(match cli.command {
        Command::Detect(d) => {
            let input = match (d.capture, d.interface) {
                (Some(p), None) => Input::Pcap(p),
                (None, Some(i)) => Input::Interface(i),
                // clap refuses both (conflicts_with); neither is ours to say.
                _ => return Err(usage(
                    "give a capture file (mqtt-ml detect capture.pcap) or an interface (-i IFACE)",
                )),
            };
            if d.seconds.is_some() && !matches!(input, Input::Interface(_)) {
                return Err(usage(
                    "--seconds applies to live capture only: add -i IFACE, or drop --seconds",
                ));
            }
            Cmd::Detect(Detect {
                input,
                out: d.out,
                seconds: d.seconds,
                opts: Options {
                    rules: d.rules,
                    extra: d.extra,
                    ..d.opts
                },
            })
        }
        Command::Score(s) => Cmd::Score {
            pcap: s.capture,
            opts: Options {
                extra: s.extra,
                ..s.opts
            },
        },
        Command::Train(t) => Cmd::Train(t.args),
        Command::Check(c) => Cmd::Check(Options {
            rules: c.rules,
            extra: c.extra,
            ..c.opts
        }),
        Command::Schema => Cmd::Schema,
        Command::Install(i) => Cmd::Install { prefix: i.prefix },
        Command::Learn(l) => {
            let input = match (l.capture, l.interface) {
                (Some(p), None) => Input::Pcap(p),
                (None, Some(i)) => Input::Interface(i),
                _ => {
                    return Err(usage(
                        "give a benign capture (mqtt-ml learn site.pcap -o DIR) or an interface (-i IFACE --seconds N)",
                    ))
                }
            };
            match (&input, l.seconds) {
                (Input::Interface(_), None) => {
                    return Err(usage(
                        "learning live needs --seconds N: how much benign traffic to learn from",
                    ))
                }
                (Input::Pcap(_), Some(_)) => {
                    return Err(usage(
                        "--seconds applies to live capture only: add -i IFACE, or drop --seconds",
                    ))
                }
                _ => {}
            }
            Cmd::Learn {
                input,
                seconds: l.seconds,
                out: l.out,
                opts: Options {
                    config: l.config,
                    model: l.model,
                    extra: l.extra,
                    ..Options::default()
                },
            }
        }
        Command::Rules(RulesCommand::Convert { input }) => Cmd::RulesConvert { input },
        Command::Completions { shell } => Cmd::Completions(shell),
    })
}

/// clap's error as one line: its message, and its tip when it has one.
fn one_line(e: &clap::Error, sub: Option<&str>) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let rendered = e.render().to_string();
    // The first paragraph is the message (an invalid value's possible values on its 2nd line).
    let first = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let first = first.trim_start_matches("error: ").to_string();
    let tip = rendered
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("tip: "))
        .map(str::to_string);
    let mut msg = first;
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let dash = matches!(e.get(ContextKind::InvalidArg),
                Some(ContextValue::String(a)) if a.starts_with('-'));
            if dash && matches!(sub, Some("detect" | "check" | "score")) {
                msg.push_str(" (suricata's own options go after --)");
            } else if let Some(t) = tip {
                msg.push_str(&format!(" ({t})"));
            }
        }
        ErrorKind::InvalidSubcommand => {
            let valid: Vec<String> = Cli::command()
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            msg.push_str(&format!(": use {}", valid.join(", ")));
        }
        ErrorKind::MissingRequiredArgument => {
            if let Some(ContextValue::Strings(v)) = e.get(ContextKind::InvalidArg) {
                if v.iter().any(|a| a.contains("capture.pcap")) {
                    msg = format!(
                        "give a capture file: mqtt-ml {} capture.pcap",
                        sub.unwrap_or("score")
                    );
                }
            }
        }
        _ => {
            if let Some(t) = tip {
                msg.push_str(&format!(" ({t})"));
            }
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Cmd, Usage> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn err(args: &[&str]) -> String {
        match p(args) {
            Err(u) => {
                assert_eq!(u.0.lines().count(), 1, "{u}");
                u.0
            }
            Ok(c) => panic!("{args:?} parsed: {c:?}"),
        }
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
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
            "--config",
            "s.yaml",
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
        assert_eq!(d.opts.config, Some("s.yaml".into()));
        assert_eq!(d.opts.backend.as_deref(), Some("native"));
        assert_eq!(d.opts.threshold, Some(Threshold::Value(0.5)));
        assert_eq!(d.opts.extra, vec!["--set", "a=b", "-v"]);
        assert_eq!(d.seconds, None);
        // Short forms.
        let Cmd::Detect(d) = p(&[
            "detect", "-r", "a", "-m", "m", "-b", "tflite", "-t", "p99", "x",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(d.opts.threshold, Some(Threshold::P99));
        assert_eq!(d.input, Input::Pcap("x".into()));
    }

    #[test]
    fn detect_live() {
        let Cmd::Detect(d) = p(&["detect", "-i", "lo", "--seconds", "5"]).unwrap() else {
            panic!()
        };
        assert_eq!(d.input, Input::Interface("lo".into()));
        assert_eq!(d.seconds, Some(5));
        let Cmd::Detect(d) = p(&["detect", "-i", "lo", "-s", "2", "--", "--set", "x=1"]).unwrap()
        else {
            panic!()
        };
        assert_eq!((d.seconds, d.opts.extra.len()), (Some(2), 2));
        assert!(err(&["detect", "x.pcap", "--seconds", "5"]).contains("add -i IFACE"));
        assert!(err(&["detect", "x.pcap", "-i", "lo"]).contains("cannot be used with"));
        assert!(err(&["detect", "-i", "lo", "--seconds", "0"]).contains("'0'"));
        assert!(err(&["detect", "-i", "lo", "--seconds", "x"]).contains("'x'"));
    }

    #[test]
    fn usage_errors_are_one_line_naming_the_fix() {
        let e = err(&["detect"]);
        assert!(e.starts_with("mqtt-ml detect: give a capture"), "{e}");
        assert!(e.ends_with("see mqtt-ml detect --help"), "{e}");
        let e = err(&["detect", "x.pcap", "--threshold", "p42"]);
        assert!(e.contains("'p42'") && e.contains(THRESHOLD_FIX), "{e}");
        let e = err(&["detect", "x.pcap", "--backend", "gpu"]);
        assert!(e.contains("'gpu'") && e.contains("tflite, native"), "{e}");
        let e = err(&["detect", "x.pcap", "--model"]);
        assert!(e.contains("--model <FILE>"), "{e}");
        let e = err(&["detect", "x.pcap", "-v"]);
        assert!(e.contains("after --"), "{e}");
        let e = err(&["detect", "a.pcap", "b.pcap"]);
        assert!(e.contains("'b.pcap'"), "{e}");
        let e = err(&["score"]);
        assert!(e.starts_with("mqtt-ml score: give a capture file"), "{e}");
        assert!(err(&["score", "x.pcap", "--rules", "a.rules"]).contains("'--rules'"));
        assert!(err(&["check", "extra"]).contains("'extra'"));
        assert!(err(&["schema", "x"]).contains("'x'"));
        assert!(err(&["completions", "tcsh"]).contains("'tcsh'"));
        assert!(err(&["install", "--prefix"]).contains("--prefix"));
    }

    #[test]
    fn help_everywhere() {
        for (args, usage) in [
            (vec!["detect", "--help"], "usage: mqtt-ml detect"),
            (vec!["detect", "x.pcap", "-h"], "usage: mqtt-ml detect"),
            (vec!["score", "--help"], "usage: mqtt-ml score"),
            (vec!["check", "--help"], "usage: mqtt-ml check"),
            (vec!["train", "--help"], "usage: mqtt-ml train"),
            (vec!["schema", "--help"], "usage: mqtt-ml schema"),
            (vec!["install", "--help"], "usage: mqtt-ml install"),
            (vec!["completions", "--help"], "usage: mqtt-ml completions"),
            (vec!["help"], "mqtt-ml detect"),
            (vec!["help", "score"], "usage: mqtt-ml score"),
            (vec!["--help"], "mqtt-ml detect"),
        ] {
            match p(&args) {
                Ok(Cmd::Print(text)) => assert!(text.contains(usage), "{args:?}:\n{text}"),
                other => panic!("{args:?}: {other:?}"),
            }
        }
        let Ok(Cmd::Print(text)) = p(&["score", "--help"]) else {
            panic!()
        };
        assert!(text.contains("ts,src_ip,src_port"), "{text}");
        let Ok(Cmd::Print(text)) = p(&["--version"]) else {
            panic!()
        };
        assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    }

    #[test]
    fn train_passes_everything_through() {
        let t = |args: &[&str]| match p(args) {
            Ok(Cmd::Train(a)) => a,
            other => panic!("{args:?}: {other:?}"),
        };
        assert_eq!(
            t(&["train", "--quick", "--seed", "3"]),
            ["--quick", "--seed", "3"]
        );
        assert_eq!(t(&["train", "--", "--help"]), ["--help"]);
        assert_eq!(
            t(&["train", "--out", "/tmp/m", "--help"]),
            ["--out", "/tmp/m", "--help"]
        );
        assert!(t(&["train"]).is_empty());
    }

    #[test]
    fn score_check_install_completions() {
        let Cmd::Score { pcap, opts } = p(&["score", "x.pcap", "-t", "p99"]).unwrap() else {
            panic!()
        };
        assert_eq!(pcap, PathBuf::from("x.pcap"));
        assert_eq!(
            opts,
            Options {
                threshold: Some(Threshold::P99),
                ..Options::default()
            }
        );
        let Cmd::Check(o) = p(&["check", "--config", "s.yaml", "-r", "a", "-r", "b"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(o.config, Some("s.yaml".into()));
        assert_eq!(o.rules.len(), 2);
        let Cmd::Install { prefix } = p(&["install"]).unwrap() else {
            panic!()
        };
        assert_eq!(prefix, PathBuf::from("/usr/local"));
        let Cmd::Install { prefix } = p(&["install", "--prefix", "/opt/x"]).unwrap() else {
            panic!()
        };
        assert_eq!(prefix, PathBuf::from("/opt/x"));
        for (name, shell) in [
            ("bash", Shell::Bash),
            ("zsh", Shell::Zsh),
            ("fish", Shell::Fish),
        ] {
            assert!(matches!(p(&["completions", name]), Ok(Cmd::Completions(s)) if s == shell));
        }
        assert!(matches!(p(&["schema"]), Ok(Cmd::Schema)));
    }

    #[test]
    fn completion_scripts_know_every_subcommand_and_option() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command(), "mqtt-ml", &mut out);
            let script = String::from_utf8(out).unwrap();
            for word in [
                "detect",
                "score",
                "install",
                "completions",
                "threshold",
                "prefix",
            ] {
                assert!(script.contains(word), "{shell:?} script lacks {word}");
            }
        }
    }

    #[test]
    fn subcommands_and_the_plugin_wrapper_are_told_apart() {
        for s in [
            "detect",
            "score",
            "train",
            "check",
            "schema",
            "install",
            "completions",
            "help",
        ] {
            assert!(is_subcommand(s), "{s}");
        }
        for s in ["--plugin", "-r", "x.pcap", "--help"] {
            assert!(!is_subcommand(s), "{s}");
        }
    }
}
