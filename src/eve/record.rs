//! Writes one message's `mqtt_ml` object. Field names follow Wireshark's MQTT dissector
//! (`mqtt.conflag.cleansess` -> `conflag_cleansess`); docs/eve.md documents each one.
//!
//! Two shapes: the default record holds what an analyst reads (score, decision, explanation,
//! message type and key fields, timing, flow and client counters); `eve-record: full` adds every
//! wire field, MQTT 5 properties and the payload. [`write_record`] lists the record's sections in
//! order: a new section (or field) goes there, behind `opt.full` if only the full record has it.
use std::ffi::CStr;

use super::sink::{JsonSink, SinkResult};
use crate::features::{RawVector, FEATURES};
use crate::flow::MessageRecord;
use crate::scoring::Scored;
use crate::wire::{type_name, Body, Connect, Properties};

#[derive(Clone, Copy, Debug, Default)]
pub struct RecordOptions {
    /// Show CONNECT passwords (their length is always shown in the full record).
    pub log_passwords: bool,
    /// Every field (`eve-record: full`), not just the analyst's default set.
    pub full: bool,
}

/// What the model said about a message, and the vector it was given.
#[derive(Clone, Copy, Debug, Default)]
pub struct Assessment<'a> {
    pub scored: Option<&'a Scored>,
    /// Logged only when asked for (`log-features`).
    pub features: Option<&'a RawVector>,
}

/// Writes the `mqtt_ml` object (opened and closed here) for one message.
pub fn write_record(
    s: &mut dyn JsonSink,
    r: &MessageRecord,
    a: Assessment<'_>,
    opt: RecordOptions,
) -> SinkResult {
    s.open_object(c"mqtt_ml")?;
    // The score first: it is what an analyst reads first.
    if let Some(sc) = a.scored {
        write_score(s, sc)?;
    }
    write_header(s, r, opt)?;
    write_body(s, &r.msg.body, opt)?;
    write_events(s, r)?;
    write_context(s, r, opt)?;
    if let Some(f) = a.features {
        s.open_array(c"features")?;
        for v in f {
            s.append_f32(*v)?;
        }
        s.close()?;
    }
    s.close()
}

fn write_score(s: &mut dyn JsonSink, sc: &Scored) -> SinkResult {
    if sc.score.is_finite() {
        s.set_f32(c"score", sc.score)?;
    } else {
        // Scoring failed and the message counts as an anomaly (fails closed); JSON has no
        // infinity, so the largest float stands for it.
        s.set_f32(c"score", f32::MAX)?;
        s.set_bool(c"score_failed", true)?;
    }
    s.set_f32(c"threshold", sc.threshold)?;
    s.set_bool(c"anomaly", sc.anomaly)?;
    s.set_bool(c"above_threshold", sc.above)?;
    s.open_object(c"evidence")?;
    s.set_f32(c"connection", sc.evidence.connection)?;
    s.set_uint(c"client", u64::from(sc.evidence.client))?;
    s.set_str(c"reason", sc.evidence.reason.name())?;
    s.close()?;
    s.open_array(c"top_features")?;
    for (i, err) in sc.top {
        if let Some(f) = FEATURES.get(usize::from(i)).filter(|_| err >= 0.0) {
            s.start_object()?;
            s.set_str(c"name", f.name)?;
            s.set_f32(c"error", err)?;
            s.close()?;
        }
    }
    s.close()
}

/// Type, direction, position and fixed-header fields.
fn write_header(s: &mut dyn JsonSink, r: &MessageRecord, opt: RecordOptions) -> SinkResult {
    let h = &r.msg.header;
    s.set_uint(c"msgtype", u64::from(h.msg_type))?;
    // Type 15 is AUTH in MQTT 5 only; the parser says when it was reserved.
    let name = match r.msg.body {
        Body::Reserved => "reserved",
        _ => type_name(h.msg_type),
    };
    s.set_str(c"msgtype_name", name)?;
    s.set_str(c"direction", r.ctx.direction.as_str())?;
    s.set_uint(c"msg_index", r.ctx.flow.msg_index)?;
    if opt.full {
        s.set_uint(c"hdrflags", u64::from(h.byte))?;
    }
    if h.msg_type == crate::wire::msg_type::PUBLISH {
        if opt.full {
            s.set_bool(c"dupflag", h.dup)?;
        }
        s.set_uint(c"qos", u64::from(h.qos))?;
        s.set_bool(c"retain", h.retain)?;
    }
    if opt.full {
        s.set_uint(c"len", u64::from(h.remaining_len))?;
    }
    if let Some(id) = r.msg.msgid() {
        s.set_uint(c"msgid", u64::from(id))?;
    }
    s.set_uint(c"protocol_version", version_number(r.msg.version))
}

fn write_events(s: &mut dyn JsonSink, r: &MessageRecord) -> SinkResult {
    s.set_bool(c"malformed", r.events.any_malformation())?;
    if !r.events.is_empty() {
        s.open_array(c"events")?;
        for e in r.events.iter() {
            s.append_str(e.name())?;
        }
        s.close()?;
    }
    if r.dropped > 0 {
        s.set_uint(c"dropped", u64::from(r.dropped))?;
    }
    Ok(())
}

fn version_number(v: crate::wire::ProtocolVersion) -> u64 {
    use crate::wire::ProtocolVersion::*;
    match v {
        Unknown => 0,
        V3_1 => 3,
        V3_1_1 => 4,
        V5 => 5,
    }
}

fn write_body(s: &mut dyn JsonSink, body: &Body, opt: RecordOptions) -> SinkResult {
    match body {
        Body::Connect(c) => write_connect(s, c, opt),
        Body::Connack(c) => {
            if opt.full {
                s.set_uint(c"conack_flags", u64::from(c.flags))?;
            }
            s.set_bool(c"conack_flags_sp", c.session_present)?;
            if opt.full {
                s.set_bool(c"conack_flags_reserved", c.reserved != 0)?;
            }
            s.set_uint(c"conack_val", u64::from(c.return_code))?;
            write_properties(s, opt, c"properties", c.properties.as_deref())
        }
        Body::Publish(p) => {
            if opt.full {
                s.set_uint(c"topic_len", u64::from(p.topic.len))?;
            }
            s.set_str(c"topic", &p.topic.value)?;
            s.set_uint(c"msg_len", p.payload_len as u64)?;
            if opt.full {
                s.set_printable(c"msg", &p.payload)?;
                if p.payload.len() < p.payload_len {
                    s.set_bool(c"msg_truncated", true)?;
                }
            }
            write_properties(s, opt, c"properties", p.properties.as_deref())
        }
        Body::Puback(a) | Body::Pubrec(a) | Body::Pubrel(a) | Body::Pubcomp(a) => {
            if let Some(rc) = a.reason_code {
                s.set_uint(c"reason_code", u64::from(rc))?;
            }
            write_properties(s, opt, c"properties", a.properties.as_deref())
        }
        Body::Subscribe(sub) => {
            s.open_array(c"sub_topics")?;
            for t in &sub.topics {
                s.start_object()?;
                s.set_str(c"topic", &t.topic.value)?;
                s.set_uint(c"qos", u64::from(t.options & 3))?;
                s.close()?;
            }
            s.close()?;
            write_properties(s, opt, c"properties", sub.properties.as_deref())
        }
        Body::Suback(a) => {
            s.open_array(c"suback_qos")?;
            for c in &a.return_codes {
                s.append_uint(u64::from(*c))?;
            }
            s.close()?;
            write_properties(s, opt, c"properties", a.properties.as_deref())
        }
        Body::Unsubscribe(u) => {
            s.open_array(c"unsub_topics")?;
            for t in &u.topics {
                s.append_str(&t.value)?;
            }
            s.close()?;
            write_properties(s, opt, c"properties", u.properties.as_deref())
        }
        Body::Unsuback(u) => {
            if !u.reason_codes.is_empty() {
                s.open_array(c"reason_codes")?;
                for c in &u.reason_codes {
                    s.append_uint(u64::from(*c))?;
                }
                s.close()?;
            }
            write_properties(s, opt, c"properties", u.properties.as_deref())
        }
        Body::Disconnect(d) => {
            if let Some(rc) = d.reason_code {
                s.set_uint(c"reason_code", u64::from(rc))?;
            }
            write_properties(s, opt, c"properties", d.properties.as_deref())
        }
        Body::Auth(a) => {
            if let Some(rc) = a.reason_code {
                s.set_uint(c"reason_code", u64::from(rc))?;
            }
            write_properties(s, opt, c"properties", a.properties.as_deref())
        }
        Body::Pingreq | Body::Pingresp | Body::Reserved | Body::Unparsed => Ok(()),
    }
}

fn write_connect(s: &mut dyn JsonSink, c: &Connect, opt: RecordOptions) -> SinkResult {
    if opt.full {
        s.set_uint(c"proto_len", u64::from(c.proto_len))?;
        s.set_str(c"protoname", &c.protoname)?;
        if let Some(ver) = c.ver {
            s.set_uint(c"ver", u64::from(ver))?;
        }
    }
    // A CONNECT cut in its variable header has no flags or keep-alive to log.
    if let Some(flags) = c.conflags {
        s.set_uint(c"conflags", u64::from(flags))?;
    }
    if opt.full && c.conflags.is_some() {
        s.set_bool(c"conflag_reserved", c.reserved_flag())?;
        s.set_bool(c"conflag_cleansess", c.clean_session())?;
        s.set_bool(c"conflag_willflag", c.will_flag())?;
        s.set_uint(c"conflag_qos", u64::from(c.will_qos()))?;
        s.set_bool(c"conflag_retain", c.will_retain())?;
        s.set_bool(c"conflag_passwd", c.password_flag())?;
        s.set_bool(c"conflag_uname", c.username_flag())?;
    }
    if let Some(keep_alive) = c.keep_alive {
        s.set_uint(c"kalive", u64::from(keep_alive))?;
    }
    if let Some(id) = &c.client_id {
        if opt.full {
            s.set_uint(c"clientid_len", u64::from(id.len))?;
        }
        s.set_str(c"clientid", &id.value)?;
    }
    if opt.full {
        if let Some(t) = &c.will_topic {
            s.set_uint(c"willtopic_len", u64::from(t.len))?;
            s.set_str(c"willtopic", &t.value)?;
        }
        if let Some(m) = &c.will_msg {
            s.set_uint(c"willmsg_len", u64::from(m.len))?;
            s.set_printable(c"willmsg", &m.data)?;
        }
    }
    if let Some(u) = &c.username {
        if opt.full {
            s.set_uint(c"username_len", u64::from(u.len))?;
        }
        s.set_str(c"username", &u.value)?;
    }
    if let Some(p) = &c.password {
        if opt.full {
            s.set_uint(c"passwd_len", u64::from(p.len))?;
        }
        if opt.log_passwords {
            s.set_str(c"passwd", &String::from_utf8_lossy(&p.data))?;
        }
    }
    write_properties(s, opt, c"properties", c.properties.as_deref())?;
    write_properties(s, opt, c"will_properties", c.will_properties.as_deref())
}

/// MQTT 5 properties: full record only.
fn write_properties(
    s: &mut dyn JsonSink,
    opt: RecordOptions,
    key: &CStr,
    p: Option<&Properties>,
) -> SinkResult {
    let Some(p) = p.filter(|_| opt.full) else {
        return Ok(());
    };
    s.open_object(key)?;
    s.set_uint(c"property_len", u64::from(p.property_len))?;
    let u8s = [
        (c"payload_format_indicator", p.payload_format_indicator),
        (
            c"request_problem_information",
            p.request_problem_information,
        ),
        (
            c"request_response_information",
            p.request_response_information,
        ),
        (c"maximum_qos", p.maximum_qos),
        (c"retain_available", p.retain_available),
        (
            c"wildcard_subscription_available",
            p.wildcard_subscription_available,
        ),
        (
            c"subscription_identifier_available",
            p.subscription_identifier_available,
        ),
        (
            c"shared_subscription_available",
            p.shared_subscription_available,
        ),
    ];
    let u16s = [
        (c"correlation_data_len", p.correlation_data_len),
        (c"server_keep_alive", p.server_keep_alive),
        (c"authentication_data_len", p.authentication_data_len),
        (c"receive_maximum", p.receive_maximum),
        (c"topic_alias_maximum", p.topic_alias_maximum),
        (c"topic_alias", p.topic_alias),
    ];
    let u32s = [
        (c"message_expiry_interval", p.message_expiry_interval),
        (c"session_expiry_interval", p.session_expiry_interval),
        (c"will_delay_interval", p.will_delay_interval),
        (c"maximum_packet_size", p.maximum_packet_size),
    ];
    let strs = [
        (c"content_type", &p.content_type),
        (c"response_topic", &p.response_topic),
        (c"assigned_client_identifier", &p.assigned_client_identifier),
        (c"authentication_method", &p.authentication_method),
        (c"response_information", &p.response_information),
        (c"server_reference", &p.server_reference),
        (c"reason_string", &p.reason_string),
    ];
    for (k, v) in u8s {
        if let Some(v) = v {
            s.set_uint(k, u64::from(v))?;
        }
    }
    for (k, v) in u16s {
        if let Some(v) = v {
            s.set_uint(k, u64::from(v))?;
        }
    }
    for (k, v) in u32s {
        if let Some(v) = v {
            s.set_uint(k, u64::from(v))?;
        }
    }
    for (k, v) in strs {
        if let Some(v) = v {
            s.set_str(k, v)?;
        }
    }
    if !p.subscription_identifiers.is_empty() {
        s.open_array(c"subscription_identifier")?;
        for id in &p.subscription_identifiers {
            s.append_uint(u64::from(*id))?;
        }
        s.close()?;
    }
    if !p.user_properties.is_empty() {
        s.open_array(c"user_properties")?;
        for (k, v) in &p.user_properties {
            s.start_object()?;
            s.set_str(c"key", k)?;
            s.set_str(c"value", v)?;
            s.close()?;
        }
        s.close()?;
    }
    s.close()
}

/// Packet, flow and client context; the default record leaves out what the others imply.
fn write_context(s: &mut dyn JsonSink, r: &MessageRecord, opt: RecordOptions) -> SinkResult {
    let c = &r.ctx;
    s.open_object(c"tcp")?;
    s.set_uint(c"flags", u64::from(c.tcp_flags))?;
    s.set_uint(c"len", u64::from(c.tcp_len))?;
    s.set_float(c"ts", c.ts_seconds())?;
    if opt.full {
        s.set_bool(c"timed_by_packet", c.timed_by_packet)?;
    }
    s.close()?;
    let f = &c.flow;
    s.open_object(c"flow")?;
    s.set_float(c"time_delta", f.time_delta)?;
    s.set_float(c"time_relative", f.time_relative)?;
    if opt.full {
        s.set_float(c"duration", f.duration)?;
    }
    s.set_uint(c"msg_count", f.msg_index)?;
    if opt.full {
        s.set_uint(c"msg_count_ts", f.msg_count_ts)?;
        s.set_uint(c"msg_count_tc", f.msg_count_tc)?;
    }
    s.set_uint(c"failed_auth", f.failed_auth)?;
    if opt.full {
        s.set_float(c"failed_auth_rate", f.failed_auth_rate)?;
    }
    s.set_uint(c"pending_qos2", f.pending_qos2)?;
    s.set_float(c"qos2_pending_age", f.qos2_pending_age)?;
    s.set_float(c"msg_rate", f.msg_rate)?;
    s.set_float(c"byte_rate", f.byte_rate)?;
    s.close()?;
    let src = &c.source;
    s.open_object(c"src")?;
    s.set_uint(c"connects", u64::from(src.connects))?;
    s.set_uint(c"failed_auth", u64::from(src.failed_auth))?;
    s.set_uint(c"refused_secrets", u64::from(src.refused_secrets))?;
    s.set_uint(c"open", u64::from(src.open))?;
    s.set_uint(c"anomalies", u64::from(src.anomalies))?;
    s.close()
}
