// The aedes broker of scripts/gen-corpus.py: one listener, users from a JSON config.
//   node aedes-broker.mjs CONFIG.json
// CONFIG: {"modules": dir holding node_modules, "host", "port", "anonymous": bool,
//          "users": {name: password}, "keepalive_limit": seconds (0: none)}
// Clients without a username are accepted when "anonymous" is true; a named user must give its
// password (CONNACK 4, bad user name or password, otherwise). Exits on SIGTERM.
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const require = createRequire(path.join(cfg.modules, 'package.json'))
const { Aedes } = await import(pathToFileURL(require.resolve('aedes')).href)

const broker = await Aedes.createBroker({
  heartbeatInterval: 3600000,
  keepaliveLimit: cfg.keepalive_limit || 0,
  maxClientsIdLength: 64
})
broker.authenticate = (client, username, password, callback) => {
  if (username === undefined || username === null) {
    if (cfg.anonymous) return callback(null, true)
    const err = new Error('anonymous clients are not allowed')
    err.returnCode = 5
    return callback(err, null)
  }
  const want = cfg.users[username]
  if (want !== undefined && password !== undefined && password !== null &&
      password.toString() === want) {
    return callback(null, true)
  }
  const err = new Error('bad user name or password')
  err.returnCode = 4
  return callback(err, null)
}
broker.on('clientError', () => {})
broker.on('connectionError', () => {})

const server = net.createServer(broker.handle)
server.listen(cfg.port, cfg.host, () => {
  process.stderr.write(`aedes ${broker.id} listening on ${cfg.host}:${cfg.port}\n`)
})
function stop () {
  server.close()
  broker.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 1000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
