// One benign device of scripts/gen-corpus.py on mqtt.js.
//   node mqttjs-client.mjs CONFIG.json
// CONFIG: {"modules", "url", "id", "user", "password", "version": 3|4|5, "keepalive",
//   "clean", "session_expiry", "will": {"topic", "payload", "qos", "retain"}, "seconds",
//   "role": "periodic"|"burst"|"subscriber"|"blob"|"sleepy", "topic", "qos", "interval",
//   "size", "retain", "burst", "count", "props": bool, "fallback": bool, "seed"}
// Prints one JSON line per TCP connection it opens ({"port": local port}). Every loop is
// bounded by "count" and by "seconds", after which it disconnects cleanly and exits.
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const require = createRequire(path.join(cfg.modules, 'package.json'))
const mqtt = require('mqtt')

let seed = cfg.seed >>> 0 || 1
function rnd () { // xorshift32: the same content for the same seed
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0
  return seed / 4294967296
}
const t0 = Date.now()
const end = t0 + cfg.seconds * 1000
const left = () => end - Date.now()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(ms, left()))))

function payload (seq) {
  const body = { id: cfg.id, seq, t: Date.now() / 1000, v: Math.round(rnd() * 10000) / 100 }
  let s = JSON.stringify(body)
  if (cfg.size && s.length < cfg.size) s += ' '.repeat(cfg.size - s.length)
  return s
}

function options (version) {
  const o = {
    clientId: cfg.id,
    protocolVersion: version,
    keepalive: cfg.keepalive,
    clean: cfg.clean !== false,
    reconnectPeriod: 1000,
    connectTimeout: 5000
  }
  if (version === 3) o.protocolId = 'MQIsdp'
  if (cfg.user) { o.username = cfg.user; o.password = cfg.password }
  if (cfg.will) {
    o.will = { topic: cfg.will.topic, payload: Buffer.from(cfg.will.payload), qos: cfg.will.qos, retain: !!cfg.will.retain }
    if (version === 5) o.will.properties = { willDelayInterval: 5, contentType: 'text/plain' }
  }
  if (version === 5) {
    o.properties = {
      sessionExpiryInterval: cfg.session_expiry || 0,
      receiveMaximum: 32,
      maximumPacketSize: 1048576,
      topicAliasMaximum: 8,
      requestResponseInformation: false,
      userProperties: { site: 'corpus', fw: '2.4.1' }
    }
  }
  return o
}

function connect (version) {
  return new Promise((resolve) => {
    const c = mqtt.connect(cfg.url, options(version))
    let done = false
    c.on('connect', () => {
      if (c.stream && c.stream.localPort) console.log(JSON.stringify({ port: c.stream.localPort }))
      if (!done) { done = true; resolve(c) }
    })
    c.on('error', (e) => {
      // A broker that does not speak this protocol version refuses it (CONNACK 1).
      if (!done && (e.code === 1 || /protocol/i.test(String(e.message)))) {
        done = true; c.end(true); resolve(null)
      }
    })
    setTimeout(() => { if (!done) { done = true; resolve(c.connected ? c : null) } }, Math.max(100, Math.min(6000, left())))
  })
}

function pubProps (i) {
  if (cfg.version !== 5 || !cfg.props) return {}
  return {
    properties: {
      payloadFormatIndicator: true,
      messageExpiryInterval: 120,
      contentType: 'application/json',
      userProperties: { seq: String(i) },
      responseTopic: cfg.topic + '/reply',
      correlationData: Buffer.from(`c${i}`)
    }
  }
}

function publish (c, topic, msg, qos, retain, i) {
  return new Promise((resolve) => {
    if (!c.connected && qos === 0) return resolve()
    c.publish(topic, msg, { qos, retain: !!retain, ...pubProps(i) }, () => resolve())
    setTimeout(resolve, 3000)
  })
}

async function main () {
  let version = cfg.version
  let c = null
  if (cfg.fallback && version === 5) {
    // Try MQTT 5 first, as a client library does by default, and fall back to 3.1.1.
    c = await connect(5)
    if (!c) version = 4
  }
  if (!c) c = await connect(version)
  if (!c) { console.error(`${cfg.id}: no CONNACK`); process.exit(2) }
  cfg.version = version
  const status = `${cfg.topic}/status`
  if (cfg.will) await publish(c, status, 'online', 1, true, 0)
  const count = cfg.count || 1000000
  let sent = 0
  if (cfg.role === 'subscriber') {
    const subOpts = { qos: cfg.qos }
    if (version === 5) subOpts.properties = { subscriptionIdentifier: 7 }
    c.subscribe(cfg.topic, subOpts)
    while (left() > 0) await sleep(250)
    await new Promise((resolve) => { c.unsubscribe(cfg.topic, () => resolve()); setTimeout(resolve, 1000) })
  } else if (cfg.role === 'sleepy') {
    while (left() > 500 && sent < count) {
      await publish(c, cfg.topic, payload(sent), cfg.qos, cfg.retain, sent); sent++
      await new Promise((resolve) => c.end(false, {}, resolve))
      await sleep(cfg.interval * 1000 * (0.8 + 0.4 * rnd()))
      if (left() <= 500) return
      c = await connect(version)
      if (!c) return
    }
  } else {
    while (left() > 0 && sent < count) {
      await sleep(cfg.interval * 1000 * (0.7 + 0.6 * rnd()))
      if (left() <= 0) break
      if (cfg.role === 'burst') {
        const n = Math.min(cfg.burst || 20, count - sent)
        const all = []
        for (let k = 0; k < n; k++) all.push(publish(c, cfg.topic + '/' + (k % 4), payload(sent + k), cfg.qos, false, sent + k))
        await Promise.all(all); sent += n
      } else if (cfg.role === 'blob') {
        const blob = Buffer.alloc(cfg.size)
        for (let k = 0; k < blob.length; k++) blob[k] = Math.floor(rnd() * 256)
        await publish(c, cfg.topic, blob, cfg.qos, cfg.retain, sent); sent++
      } else {
        await publish(c, cfg.topic, payload(sent), cfg.qos, cfg.retain, sent); sent++
      }
    }
  }
  if (cfg.will) await publish(c, status, 'offline', 1, true, sent)
  await new Promise((resolve) => { c.end(false, {}, resolve); setTimeout(resolve, 2000) })
}

process.on('SIGTERM', () => process.exit(0))
main().then(() => process.exit(0), (e) => { console.error(String(e)); process.exit(1) })
