//! One message's feature vector, transformed but not yet scaled (the model's metadata holds the
//! scaling fitted at training time). This is also what EVE logs with `log-features: yes`.
use super::schema::{FEATURES, WIDTH};
use crate::flow::{Direction, MessageRecord};
use crate::wire::Body;

pub type RawVector = [f32; WIDTH];

/// Builds the vector of `r` in schema order.
pub fn extract(r: &MessageRecord) -> RawVector {
    let h = &r.msg.header;
    let ctx = &r.ctx;
    let fl = &ctx.flow;
    let b = |v: bool| f64::from(u8::from(v));
    let (mut kalive, mut cs, mut un, mut pw, mut will, mut cid, mut ver) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut conack, mut topic_len, mut payload_len) = (0.0, 0.0, 0.0);
    match &r.msg.body {
        Body::Connect(c) => {
            kalive = f64::from(c.keep_alive);
            cs = b(c.clean_session());
            un = b(c.username_flag());
            pw = b(c.password_flag());
            will = b(c.will_flag());
            cid = c.client_id.as_ref().map_or(0.0, |s| f64::from(s.len));
            ver = f64::from(c.ver);
        }
        Body::Connack(c) => conack = f64::from(c.return_code),
        Body::Publish(p) => {
            topic_len = f64::from(p.topic.len);
            payload_len = p.payload_len as f64;
        }
        _ => {}
    }
    let raw: [f64; WIDTH] = [
        f64::from(ctx.tcp_flags),
        f64::from(ctx.tcp_len),
        fl.time_delta,
        f64::from(h.msg_type),
        f64::from(h.qos),
        b(h.dup),
        b(h.retain),
        f64::from(h.remaining_len),
        f64::from(r.msg.msgid().unwrap_or(0)),
        kalive,
        cs,
        un,
        pw,
        will,
        cid,
        ver,
        conack,
        topic_len,
        payload_len,
        b(r.events.any_malformation()),
        fl.time_relative,
        fl.msg_index as f64,
        fl.msg_index as f64 / fl.time_relative.max(1.0),
        fl.failed_auth_rate,
        fl.pending_qos2 as f64,
        f64::from(ctx.source.connects),
        f64::from(ctx.source.failed_auth),
        b(ctx.direction == Direction::ToClient),
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
    use crate::flow::session::tests::{records, CONNECT_V5, PUBLISH_V5};

    fn index(name: &str) -> usize {
        FEATURES.iter().position(|f| f.name == name).unwrap()
    }

    #[test]
    fn connect_and_publish_vectors() {
        let out = records(Direction::ToServer, &[CONNECT_V5, PUBLISH_V5].concat());
        let connect = extract(&out[0]);
        assert_eq!(connect[index("msgtype")], 1.0);
        assert_eq!(connect[index("ver")], 5.0);
        assert!((connect[index("kalive")] - (61f32).ln()).abs() < 1e-6);
        assert_eq!(connect[index("conflag_cleansess")], 1.0);
        assert!((connect[index("clientid_len")] - (4f32).ln()).abs() < 1e-6);
        assert_eq!(connect[index("direction")], 0.0);
        let publish = extract(&out[1]);
        assert_eq!(publish[index("msgtype")], 3.0);
        assert_eq!(publish[index("kalive")], 0.0);
        assert!((publish[index("payload_len")] - (3f32).ln()).abs() < 1e-6);
        assert!((publish[index("flow_msgs")] - (3f32).ln()).abs() < 1e-6);
        assert!(publish.iter().all(|v| v.is_finite()));
    }
}
