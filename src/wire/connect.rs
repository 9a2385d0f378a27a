//! CONNECT: protocol name and level, connect flags, keep alive, MQTT 5 properties, then the
//! payload (client id, will properties/topic/message, user name, password) driven by flags.

use super::malformation::Malformation;
use super::properties::{self, Kind, Properties};
use super::publish::check_topic_name;
use super::reader::{Ctx, Stop};
use super::strings::{self, decode_utf8, Bin, Str};
use super::ProtocolVersion;

const RESERVED: u8 = 0x01;
const CLEAN_SESSION: u8 = 0x02;
const WILL_FLAG: u8 = 0x04;
const WILL_RETAIN: u8 = 0x20;
const PASSWORD: u8 = 0x40;
const USERNAME: u8 = 0x80;

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Connect {
    /// Length prefix of the protocol name.
    pub proto_len: u16,
    /// Protocol name, lossy UTF-8 ("MQTT" or "MQIsdp" when well-formed).
    pub protoname: String,
    /// Protocol level byte as sent (bridge bit included). This and the next two are None when the
    /// message ends before them: a CONNECT cut in its variable header keeps what it holds.
    pub ver: Option<u8>,
    /// Connect flags byte; see the accessor methods for each bit.
    pub conflags: Option<u8>,
    pub keep_alive: Option<u16>,
    /// MQTT 5 only.
    pub properties: Option<Box<Properties>>,
    pub client_id: Option<Str>,
    /// MQTT 5 only, when the will flag is set.
    pub will_properties: Option<Box<Properties>>,
    pub will_topic: Option<Str>,
    /// Will message, capped at `Limits::max_payload_capture` (`len` is the full length).
    pub will_msg: Option<Bin>,
    pub username: Option<Str>,
    /// Kept whole (bounded by the message); whether to log it is the caller's decision.
    pub password: Option<Bin>,
}

impl Connect {
    /// The flags byte, 0 when the message ended before it (no flag is then set).
    fn flags(&self) -> u8 {
        self.conflags.unwrap_or(0)
    }
    pub fn reserved_flag(&self) -> bool {
        self.flags() & RESERVED != 0
    }
    pub fn clean_session(&self) -> bool {
        self.flags() & CLEAN_SESSION != 0
    }
    pub fn will_flag(&self) -> bool {
        self.flags() & WILL_FLAG != 0
    }
    pub fn will_qos(&self) -> u8 {
        (self.flags() >> 3) & 3
    }
    pub fn will_retain(&self) -> bool {
        self.flags() & WILL_RETAIN != 0
    }
    pub fn password_flag(&self) -> bool {
        self.flags() & PASSWORD != 0
    }
    pub fn username_flag(&self) -> bool {
        self.flags() & USERNAME != 0
    }
    /// Version announced by the level byte (Unknown when the message ended before it).
    pub fn version(&self) -> ProtocolVersion {
        self.ver
            .map_or(ProtocolVersion::Unknown, ProtocolVersion::from_level)
    }
}

/// Parses with the layout of the version the CONNECT itself announces (and stores it in
/// `ctx.version`), not the one the caller assumed. None only when even the protocol name is cut.
pub(crate) fn parse(i: &[u8], ctx: &mut Ctx) -> Option<Connect> {
    let (i, name) = strings::raw(i, ctx).ok()?;
    let mut c = Connect {
        proto_len: u16::try_from(name.len()).unwrap_or(u16::MAX),
        protoname: decode_utf8(name, ctx),
        ..Connect::default()
    };
    // A Stop means a field ran out; the malformation is recorded and `c` keeps what came
    // before it, whether the cut is in the variable header or in the payload.
    let _ = variable_header_and_payload(i, name, ctx, &mut c);
    Some(c)
}

fn variable_header_and_payload(
    i: &[u8],
    name: &[u8],
    ctx: &mut Ctx,
    c: &mut Connect,
) -> Result<(), Stop> {
    let (i, ver) = ctx.u8(i)?;
    c.ver = Some(ver);
    ctx.version = ProtocolVersion::from_level(ver);
    check_name_and_level(name, ver, ctx);
    let (i, conflags) = ctx.u8(i)?;
    c.conflags = Some(conflags);
    check_flags(c, ctx);
    let (i, keep_alive) = ctx.u16(i)?;
    c.keep_alive = Some(keep_alive);
    payload(i, ctx, c)
}

fn check_name_and_level(name: &[u8], ver: u8, ctx: &mut Ctx) {
    let level = ver & 0x7F;
    let level_ok = match name {
        b"MQTT" => matches!(level, 4 | 5),
        b"MQIsdp" => level == 3,
        _ => {
            ctx.flag(Malformation::InvalidProtocolName);
            matches!(level, 3..=5)
        }
    };
    if !level_ok {
        ctx.flag(Malformation::InvalidProtocolLevel);
    }
}

fn check_flags(c: &Connect, ctx: &mut Ctx) {
    if c.reserved_flag() {
        ctx.flag(Malformation::ConnectReservedFlag);
    }
    if c.will_qos() == 3 {
        ctx.flag(Malformation::InvalidQos);
    }
    if !c.will_flag() && (c.will_qos() != 0 || c.will_retain()) {
        ctx.flag(Malformation::InvalidConnectFlags);
    }
    // MQTT 5 allows a password alone (e.g. for token auth); earlier versions do not.
    if c.password_flag() && !c.username_flag() && !ctx.is_v5() {
        ctx.flag(Malformation::InvalidConnectFlags);
    }
}

fn payload(i: &[u8], ctx: &mut Ctx, c: &mut Connect) -> Result<(), Stop> {
    let mut i = i;
    if ctx.is_v5() {
        let (rest, props) = properties::parse(i, ctx, Kind::Connect)?;
        c.properties = Some(props);
        i = rest;
    }
    let (mut i, client_id) = strings::string(i, ctx)?;
    c.client_id = Some(client_id);
    if c.will_flag() {
        if ctx.is_v5() {
            let (rest, props) = properties::parse(i, ctx, Kind::Will)?;
            c.will_properties = Some(props);
            i = rest;
        }
        let (rest, topic) = strings::string(i, ctx)?;
        check_topic_name(&topic, false, ctx);
        c.will_topic = Some(topic);
        let cap = ctx.limits.max_payload_capture;
        let (rest, msg) = strings::binary(rest, ctx, cap)?;
        c.will_msg = Some(msg);
        i = rest;
    }
    if c.username_flag() {
        let (rest, user) = strings::string(i, ctx)?;
        c.username = Some(user);
        i = rest;
    }
    if c.password_flag() {
        let (rest, pass) = strings::binary(i, ctx, usize::MAX)?;
        c.password = Some(pass);
        i = rest;
    }
    ctx.finish(i);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Limits, Malformations};
    use ProtocolVersion::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|k| u8::from_str_radix(&s[k..k + 2], 16).unwrap())
            .collect()
    }

    fn run(
        body: &[u8],
        assumed: ProtocolVersion,
    ) -> (Option<Connect>, Malformations, ProtocolVersion) {
        let l = Limits::default();
        let mut c = Ctx::new(assumed, &l);
        let r = parse(body, &mut c);
        (r, c.mal, c.version)
    }

    // Bodies (after the fixed header) captured from Mosquitto clients in Suricata's
    // verification pcaps (mqtt31/mqtt311/mqtt5 *-pub-userpass, mqtt5-pub-mosquittoprops).
    const V31: &str = "00064d514973647003c2003c00136d79766f69636569736d7970617373706f7274000475736572000470617373";
    const V311: &str =
        "00044d51545404c2003c00136d79766f69636569736d7970617373706f7274000475736572000470617373";
    const V5_PROPS: &str = "00044d51545405c6003c3c2700002b672100de110000022b22029a2600097573657270726f703100087573657276616c312600097573657270726f703200087573657276616c3200136d79766f69636569736d7970617373706f72744b03000a6d7977696c6c74797065090007313233343536370200000085019008000f726573706f6e73655f746f706963312600097573657270726f703500087573657276616c3518000000c8000977696c6c746f706963000b77696c6c6d657373616765000475736572000470617373";

    #[test]
    fn mosquitto_v31() {
        let (c, mal, v) = run(&hex(V31), Unknown);
        let c = c.unwrap();
        assert!(mal.is_empty(), "{mal:?}");
        assert_eq!(v, V3_1);
        assert_eq!(
            (c.proto_len, c.protoname.as_str(), c.ver),
            (6, "MQIsdp", Some(3))
        );
        assert_eq!(c.conflags, Some(0xC2));
        assert!(c.clean_session() && c.username_flag() && c.password_flag());
        assert!(!c.will_flag());
        assert_eq!(c.keep_alive, Some(60));
        assert_eq!(c.client_id.unwrap().value, "myvoiceismypassport");
        assert_eq!(c.username.unwrap().value, "user");
        assert_eq!(c.password.unwrap().data, b"pass");
        assert!(c.properties.is_none());
    }

    #[test]
    fn mosquitto_v311() {
        let (c, mal, v) = run(&hex(V311), V5);
        let c = c.unwrap();
        assert!(mal.is_empty(), "{mal:?}");
        assert_eq!(v, V3_1_1);
        assert_eq!((c.protoname.as_str(), c.ver), ("MQTT", Some(4)));
        assert_eq!(c.client_id.as_ref().unwrap().len, 19);
        assert_eq!(c.password.unwrap().len, 4);
    }

    #[test]
    fn mosquitto_v5_with_properties_and_will() {
        let (c, mal, v) = run(&hex(V5_PROPS), Unknown);
        let c = c.unwrap();
        assert_eq!(v, V5);
        // The capture really carries payload format indicator 144 in the will properties.
        assert_eq!(
            mal.iter().collect::<Vec<_>>(),
            vec![Malformation::InvalidProperty]
        );
        let p = c.properties.unwrap();
        assert_eq!(p.property_len, 60);
        assert_eq!(p.maximum_packet_size, Some(11111));
        assert_eq!(p.receive_maximum, Some(222));
        assert_eq!(p.session_expiry_interval, Some(555));
        assert_eq!(p.topic_alias_maximum, Some(666));
        assert_eq!(p.user_properties.len(), 2);
        assert_eq!(
            p.user_properties[1],
            ("userprop2".into(), "userval2".into())
        );
        let w = c.will_properties.unwrap();
        assert_eq!(w.property_len, 75);
        assert_eq!(w.content_type.as_deref(), Some("mywilltype"));
        assert_eq!(w.correlation_data_len, Some(7));
        assert_eq!(w.message_expiry_interval, Some(133));
        assert_eq!(w.payload_format_indicator, Some(144));
        assert_eq!(w.response_topic.as_deref(), Some("response_topic1"));
        assert_eq!(w.will_delay_interval, Some(200));
        assert_eq!(c.will_topic.unwrap().value, "willtopic");
        let m = c.will_msg.unwrap();
        assert_eq!((m.len, m.data.as_slice()), (11, &b"willmessage"[..]));
        assert_eq!(c.username.unwrap().value, "user");
    }

    #[test]
    fn will_message_is_capped() {
        let body = [
            0, 4, b'M', b'Q', b'T', b'T', 4, 0x04, 0, 10, 0, 1, b'c', 0, 1, b't', 0, 5, 1, 2, 3, 4,
            5,
        ];
        let l = Limits {
            max_payload_capture: 2,
            ..Limits::default()
        };
        let mut ctx = Ctx::new(Unknown, &l);
        let c = parse(&body, &mut ctx).unwrap();
        assert!(ctx.mal.is_empty());
        let m = c.will_msg.unwrap();
        assert_eq!((m.len, m.data.as_slice()), (5, &[1u8, 2][..]));
    }

    #[test]
    fn flag_violations() {
        // reserved bit, will qos 3 without will flag, password without user name
        let body = [0, 4, b'M', b'Q', b'T', b'T', 4, 0x59, 0, 10, 0, 0, 0, 0];
        let (c, mal, _) = run(&body, Unknown);
        assert!(c.unwrap().reserved_flag());
        for m in [
            Malformation::ConnectReservedFlag,
            Malformation::InvalidQos,
            Malformation::InvalidConnectFlags,
        ] {
            assert!(mal.contains(m), "{m}");
        }
    }

    #[test]
    fn v5_allows_password_alone() {
        let body = [
            0, 4, b'M', b'Q', b'T', b'T', 5, 0x42, 0, 10, 0, 0, 1, b'c', 0, 1, b'p',
        ];
        let (c, mal, _) = run(&body, Unknown);
        assert!(mal.is_empty(), "{mal:?}");
        assert_eq!(c.unwrap().password.unwrap().data, b"p");
    }

    #[test]
    fn name_and_level_mismatches() {
        let (_, mal, v) = run(&[0, 4, b'M', b'Q', b'T', b'T', 3, 2, 0, 0, 0, 0], Unknown);
        assert!(mal.contains(Malformation::InvalidProtocolLevel));
        assert_eq!(v, V3_1);
        let (_, mal, v) = run(&[0, 4, b'H', b'T', b'T', b'P', 4, 2, 0, 0, 0, 0], Unknown);
        assert!(mal.contains(Malformation::InvalidProtocolName));
        assert!(!mal.contains(Malformation::InvalidProtocolLevel));
        assert_eq!(v, V3_1_1);
        let (_, mal, v) = run(&[0, 4, b'M', b'Q', b'T', b'T', 9, 2, 0, 0, 0, 0], V5);
        assert!(mal.contains(Malformation::InvalidProtocolLevel));
        assert_eq!(v, Unknown);
        // bridge bit
        let (_, mal, v) = run(
            &[0, 4, b'M', b'Q', b'T', b'T', 0x84, 2, 0, 0, 0, 0],
            Unknown,
        );
        assert!(mal.is_empty());
        assert_eq!(v, V3_1_1);
    }

    #[test]
    fn truncated_payload_keeps_fixed_part() {
        let mut body = hex(V311);
        body.truncate(body.len() - 3);
        let (c, mal, _) = run(&body, Unknown);
        let c = c.unwrap();
        assert!(mal.contains(Malformation::Truncated));
        assert_eq!(c.username.unwrap().value, "user");
        assert!(c.password.is_none());
    }

    /// A CONNECT cut inside its variable header keeps the fields it holds whole, as Wireshark
    /// shows them (ns-home/malformed-a.pcap frames 1405 and 2055: name and level; name, level
    /// and flags). Only a cut protocol name leaves nothing to keep.
    #[test]
    fn truncated_variable_header_keeps_the_fields_before_the_cut() {
        let (c, mal, v) = run(&[0, 4, b'M', b'Q', b'T', b'T', 4], Unknown);
        let c = c.unwrap();
        assert!(mal.contains(Malformation::Truncated));
        assert_eq!((c.proto_len, c.protoname.as_str()), (4, "MQTT"));
        assert_eq!((c.ver, c.conflags, c.keep_alive), (Some(4), None, None));
        assert_eq!(v, V3_1_1);
        let (c, mal, v) = run(&[0, 4, b'M', b'Q', b'T', b'T', 5, 0xee, 0], Unknown);
        let c = c.unwrap();
        assert!(mal.contains(Malformation::Truncated));
        assert_eq!(
            (c.ver, c.conflags, c.keep_alive),
            (Some(5), Some(0xee), None)
        );
        assert!(c.will_flag() && c.username_flag() && c.password_flag());
        assert_eq!(v, V5);
        assert!(c.client_id.is_none() && c.properties.is_none());
        let (c, mal, _) = run(&[0, 4, b'M', b'Q', b'T'], Unknown);
        assert!(c.is_none());
        assert!(mal.contains(Malformation::Truncated));
    }

    #[test]
    fn trailing_bytes() {
        let mut body = hex(V311);
        body.push(0);
        let (_, mal, _) = run(&body, Unknown);
        assert!(mal.contains(Malformation::TrailingBytes));
    }
}
