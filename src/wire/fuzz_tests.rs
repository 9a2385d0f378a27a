//! Deterministic robustness test: pseudo-random and mutated-valid inputs through the same
//! loop as the cargo-fuzz target, checking no panic and the API's invariants. No extra
//! crates: a xorshift PRNG keeps it reproducible.

use super::test_util::hex;
use super::*;

const VERSIONS: [ProtocolVersion; 4] = [
    ProtocolVersion::Unknown,
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

/// The driving loop shared in spirit with `fuzz/fuzz_targets/wire.rs`.
pub(crate) fn drive(data: &[u8], limits: &Limits) {
    for v in VERSIONS {
        let mut at = 0usize;
        let mut steps = 0usize;
        while at < data.len() {
            steps += 1;
            assert!(steps <= data.len(), "no progress");
            let rest = &data[at..];
            match parse_message(rest, v, limits) {
                Parsed::Message { msg, len } => {
                    check(&msg, len, rest, limits);
                    at += len;
                }
                Parsed::Incomplete { needed } => {
                    if let Some(n) = needed {
                        assert!(n > rest.len());
                    }
                    break;
                }
                Parsed::Oversized { total_len } => {
                    assert!(total_len > limits.max_msg_len);
                    at = at.saturating_add(total_len);
                }
                Parsed::BadHeader(m) => {
                    assert_eq!(m, Malformation::BadRemainingLength);
                    match resync(rest) {
                        Some(k) => {
                            assert!(k > 0 && k < rest.len());
                            at += k;
                        }
                        None => break,
                    }
                }
            }
        }
    }
    if let Some(k) = resync(data) {
        assert!(k < data.len());
    }
    let _ = probe_connect(data);
}

fn check(msg: &Message, len: usize, input: &[u8], limits: &Limits) {
    assert!(len >= 2 && len <= input.len() && len <= limits.max_msg_len);
    assert_eq!(len, msg.header.total_len());
    assert_eq!(msg.header.byte, input[0]);
    assert!(!msg.malformations.contains(Malformation::MessageTooLarge));
    match &msg.body {
        Body::Publish(p) => {
            assert!(p.payload.len() <= limits.max_payload_capture);
            assert!(p.payload.len() <= p.payload_len && p.payload_len < len);
        }
        Body::Connect(c) => {
            if let Some(w) = &c.will_msg {
                assert!(w.data.len() <= limits.max_payload_capture);
            }
        }
        _ => {}
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    [
        "102b00044d51545404c2003c00136d79766f69636569736d7970617373706f7274000475736572000470617373",
        "102d00064d514973647003c2003c00136d79766f69636569736d7970617373706f7274000475736572000470617373",
        "10cc0100044d51545405c6003c3c2700002b672100de110000022b22029a2600097573657270726f703100087573657276616c312600097573657270726f703200087573657276616c3200136d79766f69636569736d7970617373706f72744b03000a6d7977696c6c74797065090007313233343536370200000085019008000f726573706f6e73655f746f706963312600097573657270726f703500087573657276616c3518000000c8000977696c6c746f706963000b77696c6c6d657373616765000475736572000470617373",
        "200600000322000a20020000",
        "325e0006746f706963580001430300066d79747970650900053132333435020000004d015808000f726573706f6e73655f746f706963312300052600097573657270726f703300087573657276616c33626161626161626c61636b7368656570",
        "4003000110500200016202000170020001",
        "820c0001000006746f7069635802900400010002a20b0002000006746f70696358b00400030011",
        "e01d001b110000007a2600097573657270726f703400087573657276616c34",
        "f00c180a1500035343521600 01ab",
        "c000d000e000",
    ]
    .iter()
    .map(|s| hex(s))
    .collect()
}

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => v.truncate(rng.below(v.len() + 1)),
            3 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, [0x00, 0xFF, 0x7F, 0x80][rng.below(4)]);
            }
            4 if !v.is_empty() => {
                v.remove(rng.below(v.len()));
            }
            _ => {
                let s = seeds();
                v.extend_from_slice(&s[rng.below(s.len())]);
            }
        }
    }
    v
}

#[test]
fn no_panic_on_random_and_mutated_input() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let seeds = seeds();
    let small = Limits {
        max_msg_len: 64,
        max_payload_capture: 4,
    };
    let default = Limits::default();
    for round in 0..200_000 {
        let input = if round % 2 == 0 {
            let len = rng.below(48);
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed)
        };
        drive(&input, if round % 5 == 0 { &small } else { &default });
    }
}

#[test]
fn no_panic_on_structured_extremes() {
    let l = Limits::default();
    for first in 0..=255u8 {
        for tail in [
            &[][..],
            &[0x00],
            &[0x7F],
            &[0xFF, 0xFF, 0xFF, 0x7F],
            &[0xFF, 0xFF, 0xFF, 0xFF],
            &[0x80, 0x00],
            &[0x02, 0x00, 0x00],
            &[0x05, 0x00, 0x01, 0x26, 0xFF, 0xFF],
        ] {
            let mut v = vec![first];
            v.extend_from_slice(tail);
            drive(&v, &l);
        }
    }
}
