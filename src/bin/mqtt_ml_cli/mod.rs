//! The `mqtt-ml` subcommands: detect, score, learn, train, check, rules convert, schema, install,
//! completions (and help).
pub mod args;
pub mod commands;
pub mod install;
pub mod learn;
pub mod report;
pub mod suricata;

use std::process::ExitCode;

use args::Cmd;

/// Runs a subcommand; `args` (without the program name) start with its name, or are a request
/// for help or the version.
pub fn main(args: &[String]) -> ExitCode {
    let cmd = match args::parse(args) {
        Ok(c) => c,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match cmd {
        Cmd::Print(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Cmd::Schema => {
            let schema = mqtt_ml::features::schema_json();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Cmd::Completions(shell) => {
            let mut cmd = args::command();
            clap_complete::generate(shell, &mut cmd, "mqtt-ml", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Cmd::Detect(d) => commands::report("detect", commands::detect(d)),
        Cmd::Score { pcap, opts } => commands::report("score", commands::score(&pcap, &opts)),
        Cmd::Train(a) => commands::report("train", commands::train(&a)),
        Cmd::Check(o) => commands::report("check", commands::check(&o)),
        Cmd::Install { prefix } => commands::report("install", install::install(&prefix)),
        Cmd::Learn {
            input,
            seconds,
            out,
            opts,
        } => commands::report("learn", learn::learn(&input, seconds, &out, &opts)),
        Cmd::RulesConvert { input } => commands::report("rules convert", commands::convert(&input)),
    }
}
