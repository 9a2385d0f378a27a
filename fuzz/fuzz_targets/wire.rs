//! Feeds arbitrary bytes through the wire parser the way the Suricata glue drives it:
//! consume whole messages, skip oversized ones, resync after an unframeable header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_ml::wire::{parse_message, probe_connect, resync, Body, Limits, Parsed, ProtocolVersion};

const VERSIONS: [ProtocolVersion; 4] = [
    ProtocolVersion::Unknown,
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

fn drive(data: &[u8], limits: &Limits) {
    for v in VERSIONS {
        let mut at = 0usize;
        while let Some(rest) = data.get(at..).filter(|r| !r.is_empty()) {
            match parse_message(rest, v, limits) {
                Parsed::Message { msg, len } => {
                    assert!(len >= 2 && len <= rest.len() && len <= limits.max_msg_len);
                    assert_eq!(len, msg.header.total_len());
                    if let Body::Publish(p) = &msg.body {
                        assert!(p.payload.len() <= limits.max_payload_capture);
                        assert!(p.payload.len() <= p.payload_len);
                    }
                    at += len;
                }
                Parsed::Incomplete { needed } => {
                    assert!(needed.is_none_or(|n| n > rest.len()));
                    break;
                }
                Parsed::Oversized { total_len } => {
                    assert!(total_len > limits.max_msg_len);
                    at = at.saturating_add(total_len);
                }
                // resync never answers 0 after a BadHeader, so `at` always advances
                Parsed::BadHeader(_) => match resync(rest) {
                    Some(k) if k > 0 => at += k,
                    _ => break,
                },
            }
        }
    }
    let _ = resync(data);
    let _ = probe_connect(data);
}

fuzz_target!(|data: &[u8]| {
    drive(data, &Limits::default());
    drive(
        data,
        &Limits {
            max_msg_len: 64,
            max_payload_capture: 4,
        },
    );
});
