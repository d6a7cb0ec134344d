// A small authoritative DNS server for tests (UDP, dns-packet): A and TXT records from a table, NXDOMAIN for
// anything else, or silence (to test timeouts). Also runs as a script inside a namespace:
//   node dns-server.ts <ip> <port> '<json records>'   → prints "listening <port>" once bound
import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import dnsPacket from 'dns-packet'

export interface DnsRecords { A?: Record<string, string[]>, TXT?: Record<string, string[]> }

export interface TestDnsServer { port: number, server: string, close: () => Promise<void> }

export async function startDnsServer (records: DnsRecords, opts: { host?: string, port?: number, silent?: boolean } = {}): Promise<TestDnsServer> {
  const socket: Socket = createSocket('udp4')
  socket.on('message', (msg, rinfo) => {
    if (opts.silent === true) return
    let query
    try { query = dnsPacket.decode(msg) } catch { return }
    const answers: dnsPacket.Answer[] = []
    for (const q of query.questions ?? []) {
      const name = q.name.toLowerCase()
      if (q.type === 'A') for (const ip of records.A?.[name] ?? []) answers.push({ type: 'A', name: q.name, ttl: 60, data: ip })
      if (q.type === 'TXT') for (const txt of records.TXT?.[name] ?? []) answers.push({ type: 'TXT', name: q.name, ttl: 60, data: txt })
    }
    const known = (query.questions ?? []).some(q => records.A?.[q.name.toLowerCase()] !== undefined || records.TXT?.[q.name.toLowerCase()] !== undefined)
    const reply = dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.AUTHORITATIVE_ANSWER | (known ? 0 : 3), questions: query.questions, answers })
    socket.send(reply, rinfo.port, rinfo.address)
  })
  socket.bind(opts.port ?? 0, opts.host ?? '127.0.0.1')
  await once(socket, 'listening')
  const port = socket.address().port
  return { port, server: `${opts.host ?? '127.0.0.1'}:${port}`, close: async () => { socket.close(); await once(socket, 'close') } }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [host, port, json] = process.argv.slice(2)
  const s = await startDnsServer(JSON.parse(json) as DnsRecords, { host, port: Number(port) })
  console.log(`listening ${s.port}`)
}
