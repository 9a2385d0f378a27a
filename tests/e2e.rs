//! End-to-end tests: the real Suricata 8.0.7 with the plugin, on real captures.
//!
//! A custom harness (`harness = false`) so that a test can report "skipped" (dataset not present)
//! without being counted as passed. Run through scripts/test.sh, which builds Suricata and the
//! plugin first. Prints one line per test and a summary `e2e: N passed, N failed, N skipped`.
mod support;

use support::*;

/// One end-to-end case: it runs against the discovered environment and says how it went.
type Case = fn(&Env) -> Outcome;

fn main() {
    let env = match Env::discover() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("e2e: cannot run: {e}");
            println!("e2e: 0 passed, 1 failed, 0 skipped");
            std::process::exit(1);
        }
    };
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let tests: &[(&str, Case)] = &[
        (
            "stock_yaml_logs_every_message_of_every_capture",
            cases::stock_yaml_every_capture,
        ),
        (
            "tshark_agreement_project_and_suricata_verify",
            cases::agreement_bundled,
        ),
        ("tshark_agreement_mqttset", cases::agreement_mqttset),
        (
            "features_match_tshark_oracle",
            feature_cases::features_match_tshark,
        ),
        (
            "message_timing_is_the_carrying_packet",
            cases::timing_is_carrying_packet,
        ),
        (
            "alert_mqtt_rules_bind_to_plugin_with_metadata",
            cases::alert_mqtt_binds,
        ),
        (
            "builtin_mqtt_keywords_fail_cleanly",
            cases::builtin_keywords_rejected,
        ),
        ("event_rules_load_and_fire", cases::event_rules),
        (
            "yaml_include_loads_plugin_and_eve_type",
            cases::yaml_include,
        ),
        ("wrapper_plugin_flag", cases::wrapper),
        ("content_detection_on_other_port", cases::other_port),
        ("midstream_pickup", cases::midstream),
        ("bad_config_value_one_error_line", cases::bad_config),
        ("limits_from_yaml_apply", cases::limits_apply),
        (
            "failed_auth_counted_per_flow_and_source",
            cases::failed_auth,
        ),
        (
            "decision_needs_evidence",
            scoring_cases::decision_needs_evidence,
        ),
        (
            "score_rule_fires_where_predicted",
            scoring_cases::score_rule_fires_where_predicted,
        ),
        (
            "score_sticky_buffer_and_anomaly_keyword",
            scoring_cases::sticky_buffer_and_anomaly,
        ),
        (
            "score_keyword_arguments_checked",
            scoring_cases::keyword_arguments_checked,
        ),
        (
            "model_failures_are_one_clear_line",
            scoring_cases::model_failures_are_one_clear_line,
        ),
        (
            "stats_counters_count_scoring",
            scoring_cases::stats_counters,
        ),
        (
            "eve_schema_and_elastic_mapping",
            eve_schema_cases::eve_schema_every_capture,
        ),
        (
            "eve_schema_and_elastic_mapping_scored",
            eve_schema_cases::eve_schema_scored,
        ),
        (
            "shipped_rules_fire_on_attacks_only",
            rules_cases::shipped_rules,
        ),
        ("cli_detect_summary", cli_cases::cli_detect_summary),
        ("cli_score_csv", cli_cases::cli_score_csv),
        ("cli_check", cli_cases::cli_check),
        ("cli_help", cli_cases::cli_help),
        ("cli_live_capture_on_loopback", cli_cases::cli_live_capture),
        (
            "scores_independent_of_thread_count",
            cases::thread_count_independent,
        ),
        ("log_records_anomalies_only", cases::log_anomalies_only),
        ("cli_rules_convert", cli_cases::cli_rules_convert),
        ("cli_learn_site_model", cli_cases::cli_learn_site_model),
        (
            "keyword_equivalence_mqtt.protocol_version",
            keyword_cases::protocol_version,
        ),
        ("keyword_equivalence_mqtt.type", keyword_cases::msg_type),
        ("keyword_equivalence_mqtt.flags", keyword_cases::flags),
        ("keyword_equivalence_mqtt.qos", keyword_cases::qos),
        (
            "keyword_equivalence_mqtt.reason_code",
            keyword_cases::reason_code,
        ),
        (
            "keyword_equivalence_mqtt.connect.clientid",
            keyword_cases::connect_clientid,
        ),
        (
            "keyword_equivalence_mqtt.connect.flags",
            keyword_cases::connect_flags,
        ),
        (
            "keyword_equivalence_mqtt.connect.password",
            keyword_cases::connect_password,
        ),
        (
            "keyword_equivalence_mqtt.connect.protocol_string",
            keyword_cases::connect_protocol_string,
        ),
        (
            "keyword_equivalence_mqtt.connect.username",
            keyword_cases::connect_username,
        ),
        (
            "keyword_equivalence_mqtt.connect.willmessage",
            keyword_cases::connect_willmessage,
        ),
        (
            "keyword_equivalence_mqtt.connect.willtopic",
            keyword_cases::connect_willtopic,
        ),
        (
            "keyword_equivalence_mqtt.publish.message",
            keyword_cases::publish_message,
        ),
        (
            "keyword_equivalence_mqtt.publish.topic",
            keyword_cases::publish_topic,
        ),
        (
            "keyword_equivalence_mqtt.subscribe.topic",
            keyword_cases::subscribe_topic,
        ),
        (
            "keyword_equivalence_mqtt.unsubscribe.topic",
            keyword_cases::unsubscribe_topic,
        ),
        (
            "keyword_connack_session_present_values",
            keyword_cases::session_present,
        ),
        (
            "keyword_invalid_arguments_refused",
            keyword_cases::invalid_arguments_refused,
        ),
        (
            "default_build_is_the_plugin",
            install_cases::default_build_is_the_plugin,
        ),
        (
            "headerless_build_fails_in_one_line",
            install_cases::headerless_build_fails_in_one_line,
        ),
        (
            "installed_copy_runs_without_the_source_tree",
            install_cases::installed_copy_runs_without_the_source_tree,
        ),
        (
            "suricata_update_installs_the_shipped_rules",
            install_cases::suricata_update_installs_the_shipped_rules,
        ),
        (
            "flood_past_segment_cap_keeps_publish",
            hardening_cases::flood_past_segment_cap,
        ),
        (
            "max_tx_drops_nothing_unlogged",
            hardening_cases::max_tx_drops_nothing_unlogged,
        ),
        (
            "source_evictions_counted",
            hardening_cases::source_evictions_counted,
        ),
        (
            "other_protocols_on_mqtt_port_refused",
            hardening_cases::other_protocols_on_mqtt_port,
        ),
        (
            "gap_event_without_later_message",
            hardening_cases::gap_event_without_later_message,
        ),
        (
            "memcap_bounds_and_counts",
            hardening_cases::memcap_bounds_and_counts,
        ),
        (
            "packet_log_under_memcap",
            hardening_cases::packet_log_under_memcap,
        ),
        (
            "segmentation_does_not_change_records",
            segment_cases::segmentation_does_not_change_records,
        ),
        (
            "connection_end_counted_at_stream_end",
            segment_cases::connection_end_counted_at_stream_end,
        ),
    ];
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, f) in tests {
        if filter.as_deref().is_some_and(|p| !name.contains(p)) {
            continue;
        }
        let started = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(|| f(&env))
            .unwrap_or_else(|p| Outcome::Fail(format!("panicked: {}", panic_text(&p))));
        let secs = started.elapsed().as_secs_f64();
        match outcome {
            Outcome::Pass(note) => {
                passed += 1;
                println!("test {name} ... ok ({secs:.1}s){}", fmt_note(&note));
            }
            Outcome::Skip(why) => {
                skipped += 1;
                println!("test {name} ... skipped: {why}");
            }
            Outcome::Fail(why) => {
                failed += 1;
                println!(
                    "test {name} ... FAILED ({secs:.1}s)\n    {}",
                    why.replace('\n', "\n    ")
                );
            }
        }
    }
    println!("e2e: {passed} passed, {failed} failed, {skipped} skipped");
    std::process::exit(if failed > 0 { 1 } else { 0 });
}

fn fmt_note(note: &str) -> String {
    if note.is_empty() {
        String::new()
    } else {
        format!(": {note}")
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
