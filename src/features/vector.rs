//! One message's feature vector, transformed but not yet scaled (the model's metadata holds the
//! scaling fitted at training time). This is also what EVE logs with `log-features: yes`.
use super::schema::{FEATURES, WIDTH};
use crate::flow::{Direction, MessageRecord};
use crate::wire::Body;

pub type RawVector = [f32; WIDTH];

/// Builds the vector of `r` in schema order.
pub fn extract(r: &MessageRecord) -> RawVector {
    let ctx = &r.ctx;
    let fl = &ctx.flow;
    let src = &ctx.source;
    let b = |v: bool| f64::from(u8::from(v));
    // Any refusal; the failed-login counts below count refused credentials only.
    let refused = matches!(&r.msg.body, Body::Connack(c) if c.return_code != 0);
    let raw: [f64; WIDTH] = [
        f64::from(r.msg.header.msg_type),
        b(ctx.direction == Direction::ToClient),
        b(r.events.any_malformation()),
        b(refused),
        fl.msg_rate,
        fl.byte_rate,
        fl.failed_auth as f64,
        fl.qos2_pending_age,
        f64::from(src.failed_auth),
        f64::from(src.refused_secrets),
        f64::from(src.open),
    ];
    let mut out = [0f32; WIDTH];
    for ((o, x), f) in out.iter_mut().zip(raw).zip(FEATURES.iter()) {
        *o = f.transform.apply(x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FEATURES;
    use crate::flow::session::tests::{records, CONNACK_OK, CONNECT_V5, PUBLISH_V5};

    fn index(name: &str) -> usize {
        FEATURES.iter().position(|f| f.name == name).unwrap()
    }

    #[test]
    fn connect_and_publish_vectors() {
        let out = records(Direction::ToServer, &[CONNECT_V5, PUBLISH_V5].concat());
        let connect = extract(&out[0]);
        assert_eq!(connect[index("msgtype")], 1.0);
        assert_eq!(connect[index("direction")], 0.0);
        assert_eq!(connect[index("malformed")], 0.0);
        // Two messages of 18 and 8 bytes at the same instant: 0.2 messages/s, 2.6 bytes/s.
        let publish = extract(&out[1]);
        assert_eq!(publish[index("msgtype")], 3.0);
        assert!((publish[index("flow_msg_rate")] - (1.2f32).ln()).abs() < 1e-6);
        assert!((publish[index("flow_byte_rate")] - (3.6f32).ln()).abs() < 1e-6);
        assert!(publish.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn refused_connack() {
        let out = records(Direction::ToClient, &[0x20, 0x02, 0x00, 0x05]);
        let v = extract(&out[0]);
        assert_eq!(v[index("refused")], 1.0);
        assert_eq!(v[index("direction")], 1.0);
        assert!((v[index("flow_failed_auth")] - (2f32).ln()).abs() < 1e-6);
        let ok = extract(&records(Direction::ToClient, CONNACK_OK)[0]);
        assert_eq!(ok[index("refused")], 0.0);
        // A 3.1.1 broker refusing a 5.0 CONNECT (unacceptable protocol version): refused, but
        // not a failed login.
        let version = extract(&records(Direction::ToClient, &[0x20, 0x02, 0x00, 0x01])[0]);
        assert_eq!(version[index("refused")], 1.0);
        assert_eq!(version[index("flow_failed_auth")], 0.0);
    }
}
