/* Packet and flow facts for mqtt-ml.
 *
 * Suricata 8 hands a parser the reassembled stream, not packets, and it parses a segment when the
 * other side ACKs it. To time each MQTT message by the packet that carried it, a flow update
 * callback (run for every packet before stream handling) passes each TCP packet's timestamp,
 * flags, payload length and sequence number to Rust, which keeps them in flow storage; the same
 * callback sets the protocol-detection event on a flow the plugin's probe refused. Packet and
 * flow fields have no exported getters, so this file reads them against the installed headers.
 * Layouts shared with Rust are mirrored in src/suricata/ffi.rs and asserted below. */
#include "suricata-common.h"
#include "decode.h"
#include "flow.h"
#include "flow-callbacks.h"
#include "flow-storage.h"
#include "stream-tcp-private.h"
#include "app-layer-parser.h"
#include "app-layer-register.h"
#include "app-layer-events.h"
#include "rust.h"
#include <stddef.h>

typedef struct MqttMlPacketFacts_ {
    uint64_t ts_secs;
    uint32_t ts_usecs;
    uint32_t seq;
    uint16_t payload_len;
    uint8_t tcp_flags;
    uint8_t to_server;
    uint16_t alproto;
} MqttMlPacketFacts;

/* The structs src/suricata/ffi.rs declares by hand, checked against the installed headers: the
 * same sizes and offsets are asserted on the Rust side, so a layout change in Suricata (or in the
 * Rust copy) breaks the build instead of the sensor. 64-bit targets. */
#if UINTPTR_MAX == 0xffffffffffffffffu
#define MQTT_ML_SIZE(T, n) _Static_assert(sizeof(T) == (n), "size of " #T " changed: update ffi.rs")
#define MQTT_ML_AT(T, f, n)                                                                        \
    _Static_assert(offsetof(T, f) == (n), "offset of " #T "." #f " changed: update ffi.rs")
MQTT_ML_SIZE(StreamSlice, 24);
MQTT_ML_AT(StreamSlice, input, 0);
MQTT_ML_AT(StreamSlice, input_len, 8);
MQTT_ML_AT(StreamSlice, flags, 12);
MQTT_ML_AT(StreamSlice, offset, 16);
MQTT_ML_SIZE(AppLayerResult, 12);
MQTT_ML_AT(AppLayerResult, status, 0);
MQTT_ML_AT(AppLayerResult, consumed, 4);
MQTT_ML_AT(AppLayerResult, needed, 8);
MQTT_ML_SIZE(AppLayerStateData, 2);
MQTT_ML_AT(AppLayerStateData, file_flags, 0);
MQTT_ML_SIZE(AppLayerTxConfig, 1);
MQTT_ML_SIZE(LoggerFlags, 4);
MQTT_ML_SIZE(AppLayerTxData, 56);
MQTT_ML_AT(AppLayerTxData, config, 0);
MQTT_ML_AT(AppLayerTxData, updated_tc, 1);
MQTT_ML_AT(AppLayerTxData, updated_ts, 2);
MQTT_ML_AT(AppLayerTxData, flags, 3);
MQTT_ML_AT(AppLayerTxData, logged, 4);
MQTT_ML_AT(AppLayerTxData, files_opened, 8);
MQTT_ML_AT(AppLayerTxData, files_logged, 12);
MQTT_ML_AT(AppLayerTxData, files_stored, 16);
MQTT_ML_AT(AppLayerTxData, file_flags, 20);
MQTT_ML_AT(AppLayerTxData, file_tx, 22);
MQTT_ML_AT(AppLayerTxData, guessed_applayer_logged, 23);
MQTT_ML_AT(AppLayerTxData, detect_progress_ts, 24);
MQTT_ML_AT(AppLayerTxData, detect_progress_tc, 25);
MQTT_ML_AT(AppLayerTxData, de_state, 32);
MQTT_ML_AT(AppLayerTxData, events, 40);
MQTT_ML_AT(AppLayerTxData, txbits, 48);
MQTT_ML_SIZE(AppLayerGetFileState, 16);
MQTT_ML_AT(AppLayerGetFileState, fc, 0);
MQTT_ML_AT(AppLayerGetFileState, cfg, 8);
MQTT_ML_SIZE(AppLayerGetTxIterTuple, 24);
MQTT_ML_AT(AppLayerGetTxIterTuple, tx_ptr, 0);
MQTT_ML_AT(AppLayerGetTxIterTuple, tx_id, 8);
MQTT_ML_AT(AppLayerGetTxIterTuple, has_next, 16);
MQTT_ML_SIZE(AppLayerParser, 232);
MQTT_ML_AT(AppLayerParser, name, 0);
MQTT_ML_AT(AppLayerParser, default_port, 8);
MQTT_ML_AT(AppLayerParser, ip_proto, 16);
MQTT_ML_AT(AppLayerParser, ProbeTS, 24);
MQTT_ML_AT(AppLayerParser, ProbeTC, 32);
MQTT_ML_AT(AppLayerParser, min_depth, 40);
MQTT_ML_AT(AppLayerParser, max_depth, 42);
MQTT_ML_AT(AppLayerParser, StateAlloc, 48);
MQTT_ML_AT(AppLayerParser, StateFree, 56);
MQTT_ML_AT(AppLayerParser, ParseTS, 64);
MQTT_ML_AT(AppLayerParser, ParseTC, 72);
MQTT_ML_AT(AppLayerParser, StateGetTxCnt, 80);
MQTT_ML_AT(AppLayerParser, StateGetTx, 88);
MQTT_ML_AT(AppLayerParser, StateTransactionFree, 96);
MQTT_ML_AT(AppLayerParser, complete_ts, 104);
MQTT_ML_AT(AppLayerParser, complete_tc, 108);
MQTT_ML_AT(AppLayerParser, StateGetProgress, 112);
MQTT_ML_AT(AppLayerParser, StateGetEventInfo, 120);
MQTT_ML_AT(AppLayerParser, StateGetEventInfoById, 128);
MQTT_ML_AT(AppLayerParser, LocalStorageAlloc, 136);
MQTT_ML_AT(AppLayerParser, LocalStorageFree, 144);
MQTT_ML_AT(AppLayerParser, GetTxFiles, 152);
MQTT_ML_AT(AppLayerParser, GetTxIterator, 160);
MQTT_ML_AT(AppLayerParser, GetStateData, 168);
MQTT_ML_AT(AppLayerParser, GetTxData, 176);
MQTT_ML_AT(AppLayerParser, ApplyTxConfig, 184);
MQTT_ML_AT(AppLayerParser, flags, 192);
MQTT_ML_AT(AppLayerParser, GetFrameIdByName, 200);
MQTT_ML_AT(AppLayerParser, GetFrameNameById, 208);
MQTT_ML_AT(AppLayerParser, GetStateIdByName, 216);
MQTT_ML_AT(AppLayerParser, GetStateNameById, 224);
MQTT_ML_SIZE(MqttMlPacketFacts, 24);
MQTT_ML_AT(MqttMlPacketFacts, ts_secs, 0);
MQTT_ML_AT(MqttMlPacketFacts, ts_usecs, 8);
MQTT_ML_AT(MqttMlPacketFacts, seq, 12);
MQTT_ML_AT(MqttMlPacketFacts, payload_len, 16);
MQTT_ML_AT(MqttMlPacketFacts, tcp_flags, 18);
MQTT_ML_AT(MqttMlPacketFacts, to_server, 19);
MQTT_ML_AT(MqttMlPacketFacts, alproto, 20);
MQTT_ML_SIZE(AppProto, 2);
#endif

/* Implemented in Rust (src/suricata/packets.rs). Returns 1 when the packet is to carry the
 * protocol-detection event. */
extern int mqtt_ml_on_packet(Flow *f, const MqttMlPacketFacts *facts);
extern void mqtt_ml_flow_data_free(void *data);

static FlowStorageId storage_id = { .id = -1 };

/* Which flows are worth a call into Rust while protocol detection runs. Until the plugin says
 * otherwise every TCP flow is (watch_all); once it knows its protocol id and detection ports, only
 * flows on those ports, or whose payload starts like a CONNECT (content detection on any port),
 * are followed, so other protocols cost a few compares per packet and no allocation. */
static AppProto our_alproto = ALPROTO_UNKNOWN;
static int watch_all = 1;
static uint8_t watched_ports[65536 / 8];

void mqtt_ml_shim_set_alproto(uint16_t alproto)
{
    our_alproto = alproto;
}

void mqtt_ml_shim_watch_port(uint16_t port)
{
    watched_ports[port >> 3] |= (uint8_t)(1u << (port & 7));
    watch_all = 0;
}

static inline int PortWatched(uint16_t port)
{
    return (watched_ports[port >> 3] >> (port & 7)) & 1;
}

/* Whether this packet's facts go to Rust. */
static inline int Follow(const Flow *f, const Packet *p)
{
    if (f->alproto == our_alproto && our_alproto != ALPROTO_UNKNOWN)
        return 1;
    /* Held data of a flow detected as another protocol is freed by Rust. */
    if (FlowGetStorageById(f, storage_id) != NULL)
        return 1;
    if (f->alproto != ALPROTO_UNKNOWN)
        return 0;
    if (watch_all || PortWatched(f->dp) || PortWatched(f->sp))
        return 1;
    if (p->payload_len == 0 || p->payload == NULL)
        return 0;
    /* A CONNECT's type byte: content detection may still find MQTT on this port. */
    if (p->payload[0] == 0x10)
        return 1;
    /* Data after the first byte of a direction whose first byte has not arrived yet (a CONNECT
     * cut in pieces that came out of order): it may carry the CONNECT's last byte, which times
     * the CONNECT. */
    const TcpSession *ssn = (const TcpSession *)f->protoctx;
    if (ssn == NULL)
        return 0;
    const TcpStream *s = (p->flowflags & FLOW_PKT_TOSERVER) ? &ssn->client : &ssn->server;
    const uint32_t first = s->isn + 1;
    return SEQ_GT(SCNtohl(PacketGetTCP(p)->th_seq), first) && s->next_seq == first;
}

static void FlowDataFree(void *data)
{
    if (data != NULL)
        mqtt_ml_flow_data_free(data);
}

static void OnPacket(ThreadVars *tv, Flow *f, Packet *p, void *user)
{
    if (f == NULL || !PacketIsTCP(p) || storage_id.id < 0 || !Follow(f, p))
        return;
    const TCPHdr *tcph = PacketGetTCP(p);
    MqttMlPacketFacts facts = {
        .ts_secs = SCTIME_SECS(p->ts),
        .ts_usecs = (uint32_t)SCTIME_USECS(p->ts),
        .seq = SCNtohl(tcph->th_seq),
        .payload_len = p->payload_len,
        .tcp_flags = tcph->th_flags,
        .to_server = (p->flowflags & FLOW_PKT_TOSERVER) ? 1 : 0,
        .alproto = f->alproto,
    };
    /* The port probe refused the flow's data as not MQTT and no protocol was recognised since:
     * the packet carries Suricata's own event for a flow whose protocol detection gave up ("no
     * side was recognised"). Detection and the EVE anomaly logger run after this callback, so
     * `app-layer-event:applayer_proto_detection_skipped` rules see it and an anomaly record is
     * written for it. */
    if (mqtt_ml_on_packet(f, &facts))
        AppLayerDecoderEventsSetEventRaw(&p->app_layer_events, APPLAYER_PROTO_DETECTION_SKIPPED);
}

/* Called from the plugin's init, before Suricata finalizes flow storage. */
int mqtt_ml_shim_init(void)
{
    storage_id = FlowStorageRegister("mqtt-ml", sizeof(void *), NULL, FlowDataFree);
    if (storage_id.id < 0)
        return -1;
    return SCFlowRegisterUpdateCallback(OnPacket, NULL) ? 0 : -1;
}

void *mqtt_ml_flow_data_get(const Flow *f)
{
    return storage_id.id < 0 ? NULL : FlowGetStorageById(f, storage_id);
}

int mqtt_ml_flow_data_set(Flow *f, void *data)
{
    return storage_id.id < 0 ? -1 : FlowSetStorageById(f, storage_id, data);
}

/* Sequence number of the first payload byte of a direction (ISN + 1), so that a packet's sequence
 * number maps to the stream offset Suricata reports in StreamSlice. Returns 0 when the TCP session
 * is not set up yet. */
int mqtt_ml_flow_base_seq(const Flow *f, int to_server, uint32_t *base)
{
    const TcpSession *ssn = (const TcpSession *)f->protoctx;
    if (ssn == NULL || f->proto != IPPROTO_TCP)
        return 0;
    *base = (to_server ? ssn->client.isn : ssn->server.isn) + 1;
    return 1;
}

void mqtt_ml_flow_start_time(const Flow *f, uint64_t *secs, uint32_t *usecs)
{
    *secs = SCTIME_SECS(f->startts);
    *usecs = (uint32_t)SCTIME_USECS(f->startts);
}

/* The flow's client address (the side that sent the first packet). Returns 4 or 6, or 0. */
int mqtt_ml_flow_client_addr(const Flow *f, uint8_t out[16])
{
    if (FLOW_IS_IPV4(f)) {
        memcpy(out, &f->src.addr_data32[0], 4);
        return 4;
    }
    if (FLOW_IS_IPV6(f)) {
        memcpy(out, &f->src.addr_data32[0], 16);
        return 6;
    }
    return 0;
}

/* Whether the TCP session was picked up without its handshake: the parser must then look for a
 * message boundary instead of assuming one at offset 0. */
int mqtt_ml_flow_is_midstream(const Flow *f)
{
    const TcpSession *ssn = (const TcpSession *)f->protoctx;
    if (ssn == NULL || f->proto != IPPROTO_TCP)
        return 0;
    return (ssn->flags & STREAMTCP_FLAG_MIDSTREAM) ? 1 : 0;
}
