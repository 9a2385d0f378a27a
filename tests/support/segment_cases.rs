//! End-to-end cases for records that must not depend on when Suricata frees a flow: the end of
//! a connection is counted when its TCP stream ends.
use std::path::Path;

use super::synth::{self, Side};
use super::{Env, Outcome};
use crate::ensure;

/// A client's connections that end with a FIN exchange (no DISCONNECT) stop counting as open
/// when their TCP stream ends, not when Suricata's flow manager later frees the flow: the third
/// of three consecutive connections from one address sees itself as the only open one. Counting
/// at the free made `src.open`, a model feature, depend on thread timing.
pub fn connection_end_counted_at_stream_end(env: &Env) -> Outcome {
    let pcap = env.tmp.join("sequential-connections.pcap");
    let conn = |id: &str| {
        vec![
            (Side::Client, synth::connect_311(id)),
            (Side::Server, synth::CONNACK_OK.to_vec()),
            (Side::Client, synth::PINGREQ.to_vec()),
        ]
    };
    let client = [10, 9, 0, 7];
    synth::write_connections_pcap(
        &pcap,
        1883,
        &[
            (client, 41001, conn("one")),
            (client, 41002, conn("two")),
            (client, 41003, conn("three")),
        ],
    )
    .expect("write pcap");
    for round in 0..3 {
        let run = env.run(
            &format!("sequential-{round}"),
            Path::new(&pcap),
            &["--runmode", "single"],
        );
        ensure!(run.ok(), "{}", run.describe());
        let connects: Vec<(u64, u64, u64)> = run
            .records()
            .iter()
            .filter(|r| r["mqtt_ml"]["msgtype"] == 1)
            .map(|r| {
                (
                    r["src_port"].as_u64().unwrap_or(0),
                    r["mqtt_ml"]["src"]["connects"].as_u64().unwrap_or(0),
                    r["mqtt_ml"]["src"]["open"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        ensure!(
            connects == vec![(41001, 1, 1), (41002, 2, 1), (41003, 3, 1)],
            "CONNECTs as (port, src.connects, src.open): {connects:?}; expected each \
             connection to see itself only as open"
        );
    }
    Outcome::Pass(String::new())
}
