//! The decision an analyst acts on. A message's score says how unusual it is; one unusual but
//! legal message (a large firmware upload, a client with odd options) must not raise an alarm,
//! while a sustained or an extreme one must. So a message is anomalous when its score is above the
//! threshold AND either the score is extreme, or its connection, or its client address, has
//! accumulated enough above-threshold messages recently.
//!
//! Evidence: per connection, an exponentially decayed count of above-threshold messages (time
//! constant `EVIDENCE_TAU_SECS`); per client address, the count of above-threshold messages in
//! the per-source sliding window (`source-window`), across all of its connections, which is what
//! catches attacks that open one short connection per attempt (brute force, SlowITe, Malaria).
//!
//! Echoes do not count: an answer (CONNACK, the PUBLISH acknowledgements, SUBACK, UNSUBACK,
//! PINGRESP) or a DISCONNECT within `ECHO_SECS` of the connection's previous above-threshold
//! message carries that message's traces in the connection's rates, so counting it would turn one
//! odd message into "sustained" evidence. Every other above-threshold message counts, so a flood
//! of PUBLISHes builds evidence at once.
use crate::flow::Micros;

/// Time constant of a connection's evidence, seconds.
pub const EVIDENCE_TAU_SECS: f64 = 60.0;

/// An answer or DISCONNECT this close to the connection's previous above-threshold message is its
/// echo.
pub const ECHO_SECS: f64 = 1.0;

/// When accumulated evidence becomes an alarm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecisionParams {
    /// A score at least this many times the threshold is an alarm on its own.
    pub extreme: f32,
    /// Above-threshold messages on one connection (decayed) that make an alarm: 2.5 is three
    /// within about half a minute.
    pub connection: f32,
    /// Above-threshold messages of one client address in the window that make an alarm.
    pub client: u32,
}

impl Default for DecisionParams {
    fn default() -> Self {
        DecisionParams {
            extreme: 10.0,
            connection: 2.5,
            client: 5,
        }
    }
}

/// What made a message anomalous.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reason {
    /// Not anomalous.
    #[default]
    None,
    /// The score alone (at least `extreme` times the threshold, or not a finite number).
    Extreme,
    /// The connection's accumulated evidence.
    Connection,
    /// The client address's accumulated evidence.
    Client,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::None => "none",
            Reason::Extreme => "extreme",
            Reason::Connection => "connection",
            Reason::Client => "client",
        }
    }
}

/// The evidence behind a decision, as logged.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Evidence {
    /// The connection's decayed count of above-threshold messages, this one included.
    pub connection: f32,
    /// The client address's above-threshold messages in the window, this one included.
    pub client: u32,
    pub reason: Reason,
}

/// A connection's accumulated evidence.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnectionEvidence {
    value: f64,
    at: Option<Micros>,
    /// When the connection's latest above-threshold message was seen.
    last_above: Option<Micros>,
}

impl ConnectionEvidence {
    /// The evidence at `ts`, after adding `amount`.
    fn add(&mut self, amount: f64, ts: Micros) -> f64 {
        let dt = self.at.map_or(0.0, |at| ts.saturating_sub(at) as f64 / 1e6);
        self.value = self.value * (-dt / EVIDENCE_TAU_SECS).exp() + amount;
        self.at = Some(self.at.map_or(ts, |at| at.max(ts)));
        self.value
    }
}

/// Whether a message type only answers or closes (see the module's note on echoes).
pub fn is_answer(msg_type: u8) -> bool {
    use crate::wire::msg_type::*;
    matches!(
        msg_type,
        CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK | PINGRESP | DISCONNECT
    )
}

/// Decides one message. `answer` says it only answers or closes (`is_answer`). `client_before`
/// is the client's count before this message (from the message's per-source counts);
/// `record_client` records an above-threshold message for the client and returns its new count
/// (called only then, so quiet traffic takes no lock).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    score: f32,
    threshold: f32,
    ts: Micros,
    answer: bool,
    connection: &mut ConnectionEvidence,
    client_before: u32,
    record_client: impl FnOnce() -> Option<u32>,
    p: &DecisionParams,
) -> (bool, Evidence) {
    // NaN or infinite: the model could not say what the message is, so it fails closed.
    let above = !score.is_finite() || score > threshold;
    if !above {
        return (
            false,
            Evidence {
                connection: connection.add(0.0, ts) as f32,
                client: client_before,
                reason: Reason::None,
            },
        );
    }
    let echo = answer
        && connection
            .last_above
            .is_some_and(|t| (ts.saturating_sub(t) as f64) < ECHO_SECS * 1e6);
    connection.last_above = Some(connection.last_above.map_or(ts, |t| t.max(ts)));
    let (conn, client) = if !echo {
        (connection.add(1.0, ts) as f32, record_client().unwrap_or(0))
    } else {
        (connection.add(0.0, ts) as f32, client_before)
    };
    let reason = if !score.is_finite() || score >= p.extreme * threshold {
        Reason::Extreme
    } else if conn >= p.connection {
        Reason::Connection
    } else if client >= p.client {
        Reason::Client
    } else {
        Reason::None
    };
    (
        reason != Reason::None,
        Evidence {
            connection: conn,
            client,
            reason,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Micros = 1_000_000;

    fn run(scores: &[(f32, Micros)], client_count: &mut u32) -> Vec<(bool, Evidence)> {
        let typed: Vec<_> = scores.iter().map(|&(s, ts)| (s, ts, false)).collect();
        run_typed(&typed, client_count)
    }

    /// As `run`, each message saying whether it is an answer.
    fn run_typed(scores: &[(f32, Micros, bool)], client_count: &mut u32) -> Vec<(bool, Evidence)> {
        let mut c = ConnectionEvidence::default();
        let p = DecisionParams::default();
        scores
            .iter()
            .map(|&(s, ts, answer)| {
                let before = *client_count;
                decide(
                    s,
                    0.01,
                    ts,
                    answer,
                    &mut c,
                    before,
                    || {
                        *client_count += 1;
                        Some(*client_count)
                    },
                    &p,
                )
            })
            .collect()
    }

    #[test]
    fn one_odd_message_does_not_alarm_but_a_sustained_run_does() {
        let mut client = 0;
        let out = run(
            &[(0.02, SEC), (0.001, 2 * SEC), (0.02, 3 * SEC)],
            &mut client,
        );
        assert!(out.iter().all(|(a, _)| !a), "{out:?}");
        let third = run(&[(0.02, SEC), (0.02, 2 * SEC), (0.02, 3 * SEC)], &mut 0);
        assert!(!third[1].0 && third[2].0);
        assert_eq!(third[2].1.reason, Reason::Connection);
    }

    /// One large upload, one connection each (a camera every 15 s): the PUBLISH, then its PUBACK
    /// and the DISCONNECT, which carry its byte rate. One piece of evidence, not three; and four
    /// uploads a minute stay below the client's level.
    #[test]
    fn echoes_of_one_odd_message_are_not_evidence() {
        let ms = SEC / 1000;
        let mut client = 0;
        for upload in 0..4 {
            let t = upload * 15 * SEC;
            let out = run_typed(
                &[
                    (0.02, t, false),
                    (0.02, t + 2 * ms, true),
                    (0.02, t + 5 * ms, true),
                ],
                &mut client,
            );
            assert!(out.iter().all(|(a, _)| !a), "upload {upload}: {out:?}");
            assert!(out[2].1.connection < 1.01);
        }
        assert_eq!(client, 4, "one client record per upload");
        let out = run(&[(0.02, 60 * SEC)], &mut client);
        assert_eq!((out[0].0, out[0].1.reason), (true, Reason::Client));
        // An answer that echoes nothing recent is evidence of its own.
        let out = run_typed(&[(0.02, SEC, false), (0.02, 3 * SEC, true)], &mut 0);
        assert!(out[1].1.connection > 1.9);
    }

    /// A flood of PUBLISHes a millisecond apart: every one is evidence, the third alarms.
    #[test]
    fn a_flood_builds_evidence_at_once() {
        let ms = SEC / 1000;
        let flood: Vec<_> = (0..100).map(|i| (0.02, SEC + i * ms)).collect();
        let out = run(&flood, &mut 0);
        let first = out.iter().position(|(a, _)| *a).expect("the flood alarms");
        assert_eq!(first, 2);
        assert_eq!(out[first].1.reason, Reason::Connection);
    }

    #[test]
    fn evidence_fades_so_rare_odd_messages_never_add_up() {
        // One odd message an hour for a day: never three "recent" ones.
        let hourly: Vec<_> = (0..24).map(|h| (0.02, h * 3600 * SEC)).collect();
        let mut c = ConnectionEvidence::default();
        let p = DecisionParams::default();
        let out: Vec<_> = hourly
            .iter()
            .map(|&(s, ts)| decide(s, 0.01, ts, false, &mut c, 0, || Some(1), &p))
            .collect();
        assert!(out.iter().all(|(a, _)| !a));
        assert!(out[23].1.connection < 1.01);
    }

    #[test]
    fn extreme_and_non_finite_scores_alarm_alone() {
        let out = run(&[(0.2, SEC)], &mut 0);
        assert_eq!((out[0].0, out[0].1.reason), (true, Reason::Extreme));
        let out = run(&[(f32::NAN, SEC)], &mut 0);
        assert_eq!((out[0].0, out[0].1.reason), (true, Reason::Extreme));
        // Below the threshold nothing is recorded for the client.
        let mut client = 7;
        let out = run(&[(0.001, SEC)], &mut client);
        assert_eq!((out[0].0, out[0].1.client, client), (false, 7, 7));
    }

    #[test]
    fn a_client_with_enough_evidence_alarms_on_its_next_odd_message() {
        // Short connections (one above-threshold message each) from one address.
        let mut client = 0;
        let mut alarms = Vec::new();
        for i in 0..8 {
            let out = run(&[(0.02, i * SEC)], &mut client);
            alarms.push(out[0].0);
        }
        assert_eq!(alarms, [false, false, false, false, true, true, true, true]);
    }
}
