/* Packet and flow facts for mqtt-ml.
 *
 * Suricata 8 hands a parser the reassembled stream, not packets, and it parses a segment when the
 * other side ACKs it. To time each MQTT message by the packet that carried it, a flow update
 * callback (run for every packet before stream handling) passes each TCP packet's timestamp,
 * flags, payload length and sequence number to Rust, which keeps them in flow storage. Packet and
 * flow fields have no exported getters, so this file reads them against the installed headers.
 * Layouts shared with Rust are mirrored in src/suricata/ffi.rs. */
#include "suricata-common.h"
#include "decode.h"
#include "flow.h"
#include "flow-callbacks.h"
#include "flow-storage.h"
#include "stream-tcp-private.h"

typedef struct MqttMlPacketFacts_ {
    uint64_t ts_secs;
    uint32_t ts_usecs;
    uint32_t seq;
    uint16_t payload_len;
    uint8_t tcp_flags;
    uint8_t to_server;
    uint16_t alproto;
} MqttMlPacketFacts;

/* Implemented in Rust (src/suricata/packets.rs). */
extern void mqtt_ml_on_packet(Flow *f, const MqttMlPacketFacts *facts);
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
    /* A CONNECT's type byte: content detection may still find MQTT on this port. */
    return p->payload_len > 0 && p->payload != NULL && p->payload[0] == 0x10;
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
    mqtt_ml_on_packet(f, &facts);
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
