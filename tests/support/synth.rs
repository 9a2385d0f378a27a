//! Captures made by the tests themselves: one TCP connection (handshake, data segments each
//! acknowledged by the other side, FIN exchange) written as a classic pcap of Ethernet/IPv4
//! frames. Checksums are left zero: the tests run Suricata with `-k none`.
use std::path::Path;

/// Who sends a segment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    Client,
    Server,
    /// The capture lost this many bytes the client sent (the server received and ACKs them).
    ClientLost,
}

/// One TCP connection from 10.9.0.1:`client_port` to 10.9.0.2:`server_port`, each payload one
/// segment, acknowledged by the other side 1 ms later.
pub fn write_tcp_pcap(
    path: &Path,
    client_port: u16,
    server_port: u16,
    segments: &[(Side, Vec<u8>)],
) -> std::io::Result<()> {
    let mut w = Writer::new();
    connection(&mut w, [10, 9, 0, 1], client_port, server_port, segments);
    std::fs::write(path, w.out)
}

/// The segments of one connection, in order.
pub type Segments = Vec<(Side, Vec<u8>)>;

/// One client: its address, its source port and what the connection carries.
pub type Client = ([u8; 4], u16, Segments);

/// Several connections one after the other, each from its own client address to 10.9.0.2.
pub fn write_connections_pcap(
    path: &Path,
    server_port: u16,
    connections: &[Client],
) -> std::io::Result<()> {
    let mut w = Writer::new();
    for (client, port, segments) in connections {
        connection(&mut w, *client, *port, server_port, segments);
    }
    std::fs::write(path, w.out)
}

fn connection(
    w: &mut Writer,
    c: [u8; 4],
    client_port: u16,
    server_port: u16,
    segments: &[(Side, Vec<u8>)],
) {
    let s = [10, 9, 0, 2];
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const PSH: u8 = 0x08;
    const FIN: u8 = 0x01;
    let cli = |w: &mut Writer, seq, ack, flags, data: &[u8]| {
        w.frame(c, s, client_port, server_port, seq, ack, flags, data)
    };
    let srv = |w: &mut Writer, seq, ack, flags, data: &[u8]| {
        w.frame(s, c, server_port, client_port, seq, ack, flags, data)
    };
    cli(w, cseq, 0, SYN, &[]);
    srv(w, sseq, cseq + 1, SYN | ACK, &[]);
    cseq += 1;
    sseq += 1;
    cli(w, cseq, sseq, ACK, &[]);
    for (side, data) in segments {
        let n = data.len() as u32;
        match side {
            Side::Client => {
                cli(w, cseq, sseq, PSH | ACK, data);
                cseq = cseq.wrapping_add(n);
                srv(w, sseq, cseq, ACK, &[]);
            }
            Side::ClientLost => cseq = cseq.wrapping_add(n),
            Side::Server => {
                srv(w, sseq, cseq, PSH | ACK, data);
                sseq = sseq.wrapping_add(n);
                cli(w, cseq, sseq, ACK, &[]);
            }
        }
    }
    cli(w, cseq, sseq, FIN | ACK, &[]);
    cseq += 1;
    srv(w, sseq, cseq, FIN | ACK, &[]);
    sseq += 1;
    cli(w, cseq, sseq, ACK, &[]);
}

struct Writer {
    out: Vec<u8>,
    usec: u64,
}

impl Writer {
    fn new() -> Self {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&262_144u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        Writer {
            out,
            usec: 1_700_000_000_000_000,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn frame(
        &mut self,
        src: [u8; 4],
        dst: [u8; 4],
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        data: &[u8],
    ) {
        let ip_len = 20 + 20 + data.len();
        let mut f = Vec::with_capacity(14 + ip_len);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&(ip_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(data);
        self.usec += 1000;
        self.out
            .extend_from_slice(&((self.usec / 1_000_000) as u32).to_le_bytes());
        self.out
            .extend_from_slice(&((self.usec % 1_000_000) as u32).to_le_bytes());
        self.out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&f);
    }
}

/// A 3.1.1 CONNECT with client id `id`, keep-alive 60.
pub fn connect_311(id: &str) -> Vec<u8> {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c];
    body.extend_from_slice(&(id.len() as u16).to_be_bytes());
    body.extend_from_slice(id.as_bytes());
    let mut m = vec![0x10, body.len() as u8];
    m.extend(body);
    m
}

/// A 3.1.1 PUBLISH at QoS 0.
pub fn publish_311(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = (topic.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(topic.as_bytes());
    body.extend_from_slice(payload);
    let mut m = vec![0x30];
    // Remaining length: 7 bits a byte, least significant first.
    let mut n = body.len();
    loop {
        let more = n > 0x7f;
        m.push((n & 0x7f) as u8 | if more { 0x80 } else { 0 });
        n >>= 7;
        if !more {
            break;
        }
    }
    m.extend(body);
    m
}

pub const CONNACK_OK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
pub const PINGREQ: [u8; 2] = [0xC0, 0x00];
