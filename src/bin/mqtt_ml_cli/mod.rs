//! The `mqtt-ml` subcommands: detect, score, train, check (and schema, help).
pub mod args;
pub mod commands;
pub mod report;
pub mod suricata;

use std::process::ExitCode;

use args::Cmd;

/// Runs a subcommand; `args` (without the program name) start with its name.
pub fn main(args: &[String]) -> ExitCode {
    let cmd = match args::parse(args) {
        Ok(c) => c,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match cmd {
        Cmd::Help(topic) => {
            println!("{}", topic.text());
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
        Cmd::Detect(d) => commands::report("detect", commands::detect(d)),
        Cmd::Score { pcap, opts } => commands::report("score", commands::score(&pcap, &opts)),
        Cmd::Train(a) => commands::report("train", commands::train(&a)),
        Cmd::Check(o) => commands::report("check", commands::check(&o)),
    }
}
