"""Labels every message and assigns it to the autoencoder's and the baseline's splits.

The unit of labelling, splitting and per-connection evaluation is the connection, with one
exception: MQTTset's benign capture has only 7 (long-lived) connections, too few to split, so they
are cut into fixed-length segments and the segments are the units. Splits are decided by a seeded
hash of the unit's key, so they are stable across runs and independent of file order.

Autoencoder (AE) splits: benign training and validation data come from benign captures only
(MQTTset benign segments; generated run "a" benign connections); every attack connection, the
MQTTset benign test segments and all of generated run "b" are test data. Attack captures never
feed the autoencoder's training.

Baseline (RF) splits: MQTTset attack connections 70/30 by hash (a capture with a single attack
connection, MQTTset's flood, is split by time: its first 70% of messages train); generated run
"a" trains and run "b" tests.
"""

import hashlib
from dataclasses import dataclass

import numpy as np

from . import config

NONE, TRAIN, VAL, TEST = 0, 1, 2, 3


def unit_hash(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, key)."""
    h = hashlib.sha256(f"mqtt-ml/{seed}/{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


@dataclass
class Corpus:
    """All messages of all captures, with per-message labels and splits, and a unit table."""

    X: np.ndarray         # (n, width) float32 raw features
    cls: np.ndarray       # (n,) int8 index into config.CLASSES
    unit: np.ndarray      # (n,) int32 index into the unit table
    ae: np.ndarray        # (n,) int8 NONE/TRAIN/VAL/TEST
    rf: np.ndarray        # (n,) int8 NONE/TRAIN/TEST
    dataset: np.ndarray   # (n,) str environment: "mqttset", "generated" or a corpus environment
    msgtype: np.ndarray   # (n,) str, e.g. "connect", with "/tc" appended for broker-to-client
    units: list           # dicts: dataset, capture, cls, key, background, ae
    captures: list        # per-capture provenance dicts

    def mask(self, dataset=None, ae=None, rf=None):
        m = np.ones(len(self.cls), dtype=bool)
        if dataset is not None:
            m &= self.dataset == dataset
        if ae is not None:
            m &= self.ae == ae
        if rf is not None:
            m &= self.rf == rf
        return m


def conn_key(msgs, c: int) -> str:
    return f"{msgs.src_ip[c]}:{msgs.src_port[c]}-{msgs.dst_ip[c]}:{msgs.dst_port[c]}"


def label_generated(cap, msgs) -> np.ndarray:
    """Per-connection class from the generator's label rows (4-tuple, then time overlap)."""
    by_tuple = {}
    for r in cap.labels:
        by_tuple.setdefault((r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]), []).append(r)
    out = np.full(len(msgs.flow_id), -1, dtype=np.int8)
    for c in range(len(msgs.flow_id)):
        rows = by_tuple.get((str(msgs.src_ip[c]), int(msgs.src_port[c]), str(msgs.dst_ip[c]),
                             int(msgs.dst_port[c])), [])
        if len(rows) > 1:
            t = msgs.ts[msgs.conn == c]
            rows = [r for r in rows if r["first_ts"] - 1 <= t.min() and t.max() <= r["last_ts"] + 1]
        if len(rows) == 1:
            out[c] = config.CLASSES.index(rows[0]["class"])
    return out


def build(captures, extractor, seed: int, log) -> Corpus:
    parts, units, prov = [], [], []
    mq_benign_clients = set()
    # Benign first: attack captures are checked against the benign capture's client addresses.
    order = sorted(captures, key=lambda c: (c.dataset, c.cls != config.BENIGN))
    prefix_checks = []
    for cap in order:
        msgs = extractor.messages(cap.path, cap.sha256)
        info = {"dataset": cap.dataset, "file": cap.path.name, "sha256": cap.sha256,
                "class": cap.cls, "run": cap.run, "messages": int(msgs.n),
                "connections": int(len(msgs.flow_id))}
        if cap.role == "prefix":
            prefix_checks.append((cap, msgs, info))
            continue
        prov.append(info)
        nconn = len(msgs.flow_id)
        if cap.dataset in ("generated", "corpus"):
            conn_cls = label_generated(cap, msgs)
            unlabelled = int(np.isin(msgs.conn, np.flatnonzero(conn_cls < 0)).sum())
            info["unlabelled_messages"] = unlabelled
            if unlabelled:
                log(f"  {cap.name}: {unlabelled} messages on connections without a label, dropped")
        elif cap.cls == config.BENIGN:
            conn_cls = np.zeros(nconn, dtype=np.int8)
            mq_benign_clients |= set(msgs.src_ip.tolist())
        else:
            # An MQTTset attack connection is background traffic when its client is one of the
            # benign capture's sensors; every other client is the attacker.
            conn_cls = np.array([0 if ip in mq_benign_clients else config.CLASSES.index(cap.cls)
                                 for ip in msgs.src_ip], dtype=np.int8)
            info["attacker_clients"] = sorted(set(msgs.src_ip[conn_cls != 0].tolist()))
            info["background_connections"] = int((conn_cls == 0).sum())
        info["connections_per_class"] = {config.CLASSES[k]: int((conn_cls == k).sum())
                                         for k in np.unique(conn_cls[conn_cls >= 0])}
        parts.append(_assign(cap, msgs, conn_cls, seed, units))
    for cap, msgs, info in prefix_checks:
        info["used"] = False
        info["note"] = _prefix_note(msgs, order, extractor)
        prov.append(info)
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return Corpus(X=cat["X"], cls=cat["cls"], unit=cat["unit"], ae=cat["ae"], rf=cat["rf"],
                  dataset=cat["dataset"], msgtype=cat["msgtype"], units=units, captures=prov)


def _prefix_note(msgs, order, extractor) -> str:
    big = next(c for c in order if c.dataset == "mqttset" and c.cls == config.BENIGN
               and c.role == "use")
    full = extractor.messages(big.path, big.sha256)
    fkeys = {conn_key(full, c): (full.conn == c).sum() for c in range(len(full.flow_id))}
    ok = all(conn_key(msgs, c) in fkeys and (msgs.conn == c).sum() <= fkeys[conn_key(msgs, c)]
             for c in range(len(msgs.flow_id)))
    return (f"not used: its {len(msgs.flow_id)} connections are all in {big.path.name}, which "
            "holds more of each" if ok else "not used (differs from the 5 MB capture)")


def _assign(cap, msgs, conn_cls, seed, units) -> dict:
    n = msgs.n
    cls = conn_cls[msgs.conn].astype(np.int8)
    unit = np.zeros(n, dtype=np.int32)
    ae = np.zeros(n, dtype=np.int8)
    rf = np.zeros(n, dtype=np.int8)
    attack_conns = [c for c in range(len(conn_cls)) if conn_cls[c] > 0]
    for c in range(len(conn_cls)):
        sel = np.flatnonzero(msgs.conn == c)
        if conn_cls[c] < 0 or len(sel) == 0:
            cls[sel] = -1
            continue
        # Suricata's flow_id is randomised per run: the key uses the 4-tuple and first message
        # time instead, so splits are identical whenever the captures are.
        key = f"{cap.dataset}/{cap.name}/{conn_key(msgs, c)}/{msgs.ts[sel].min():.6f}"
        benign = conn_cls[c] == 0
        background = bool(benign and cap.cls != config.BENIGN)
        if cap.dataset == "mqttset" and benign and not background:
            # Segments of a long benign connection are the units (see module docstring).
            seg = np.floor((msgs.ts[sel] - msgs.ts[sel].min()) / config.MQTTSET_SEGMENT_SECONDS)
            for s in np.unique(seg):
                ss = sel[seg == s]
                skey = f"{key}/seg{int(s)}"
                h = unit_hash(seed, skey)
                tr, va = config.MQTTSET_BENIGN_SPLIT
                a = TRAIN if h < tr else VAL if h < tr + va else TEST
                unit[ss] = len(units)
                ae[ss] = a
                rf[ss] = TRAIN if a != TEST else TEST
                units.append(_unit(cap, skey, conn_cls[c], background, a, len(ss)))
            continue
        if cap.dataset == "mqttset":
            a = TEST
            if benign:
                r = TEST
            elif len(attack_conns) == 1:
                r = None  # split by time below
            else:
                r = TRAIN if unit_hash(seed, "rf/" + key) < config.RF_TRAIN_FRACTION else TEST
        elif cap.dataset == "corpus":
            # Benign corpus connections of run "a" train (80/20 by hash); attacks, the
            # background of attack captures and every later run (other seed and attack
            # parameters) are for the leave-one-environment-out evaluation only.
            if cap.cls == config.BENIGN and benign and cap.run == "a":
                a = VAL if unit_hash(seed, key) < config.GENERATED_VAL_FRACTION else TRAIN
            else:
                a = NONE
            r = NONE
        elif cap.run == "a":
            if cap.cls == config.BENIGN:
                a = VAL if unit_hash(seed, key) < config.GENERATED_VAL_FRACTION else TRAIN
            else:
                a = NONE
            r = TRAIN
        else:
            a, r = TEST, TEST
        unit[sel] = len(units)
        ae[sel] = a
        if r is None:
            order = sel[np.lexsort((msgs.msg_index[sel], msgs.ts[sel]))]
            cut = int(round(config.RF_TRAIN_FRACTION * len(order)))
            rf[order[:cut]], rf[order[cut:]] = TRAIN, TEST
        else:
            rf[sel] = r
        units.append(_unit(cap, key, conn_cls[c], background, a, len(sel)))
    keep = cls >= 0
    return {"X": msgs.X[keep], "cls": cls[keep], "unit": unit[keep], "ae": ae[keep],
            "rf": rf[keep], "dataset": np.full(int(keep.sum()), cap.environment),
            "msgtype": np.char.add(msgs.msgtype.astype(str),
                                   np.where(msgs.to_client, "/tc", "/ts"))[keep]}


def _unit(cap, key, cls_idx, background, ae_split, n) -> dict:
    return {"dataset": cap.environment, "capture": cap.name, "cls": int(cls_idx), "key": key,
            "background": background, "ae": int(ae_split), "messages": int(n)}
