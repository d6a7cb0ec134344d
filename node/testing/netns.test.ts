// The namespace lab cleans up after itself: what a multi-host test made (namespaces, veth pairs, a NAT's
// nftables table, /etc/netns files, processes and their children inside) is gone after destroy(), and the
// host's own namespace never saw any of it. Needs root (CI runs as root).
import test from 'ava'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { NetnsLab } from './netns.ts'

const run = promisify(execFile)

async function out (cmd: string, ...args: string[]): Promise<string> { return (await run(cmd, args)).stdout }
const rootLinks = async (): Promise<string[]> => (await out('/usr/sbin/ip', '-o', 'link', 'show')).split('\n').map(l => l.split(': ')[1]?.split('@')[0] ?? '').filter(Boolean)
/** running, i.e. neither gone nor a zombie waiting for its parent */
function running (pid: number): boolean {
  if (!existsSync(`/proc/${pid}/status`)) return false
  try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')) } catch { return false }
}

test('a lab removes its namespaces, veth pairs, nftables rules, /etc/netns files and processes', async t => {
  t.timeout(60_000)
  const lab = await NetnsLab.create()
  t.teardown(async () => { await lab.destroy() })
  const linksBefore = await rootLinks()
  await lab.internet()
  const pub = await lab.publicHost('tdpub', 2)
  const { host: behind, router } = await lab.natHost('tdnat', 3)
  await lab.netnsFile(behind, 'hosts', '11.66.0.2 pub.test\n')
  // a process and a grandchild it leaves behind
  const child = lab.spawn(behind, '/bin/sh', ['-c', 'sleep 600 & sleep 600'], { stdio: 'ignore' })
  await new Promise(resolve => { child.once('spawn', resolve) })
  const namespaces = await NetnsLab.existing(lab.prefix)
  t.deepEqual(namespaces.sort(), [lab.ns('inet'), pub, router, behind].sort())
  t.regex(await out('/usr/sbin/ip', '-n', lab.ns('inet'), '-o', 'link', 'show'), /v-tdpub.*v-tdnat-nat/s)
  t.regex(await out('/usr/sbin/ip', 'netns', 'exec', router, '/usr/sbin/nft', 'list', 'tables'), /lilypad_nat/)
  t.true(existsSync(`/etc/netns/${behind}/hosts`))
  let pids: number[] = []
  // the shell forks its children just after it starts
  while (pids.length < 3) pids = (await out('/usr/sbin/ip', 'netns', 'pids', behind)).split(/\s+/).filter(Boolean).map(Number)
  t.true(pids.every(running))
  // the host's own namespace: none of the lab's interfaces or rules
  t.deepEqual((await rootLinks()).filter(l => !linksBefore.includes(l) && /^(v-td|eth0|lan|br0)/.test(l)), [])
  t.notRegex(await out('/usr/sbin/nft', 'list', 'tables'), /lilypad_nat/)

  await lab.destroy()
  t.deepEqual(await NetnsLab.existing(lab.prefix), [])
  t.false(existsSync(`/etc/netns/${behind}`))
  t.deepEqual(pids.filter(running), [], 'every process in the namespaces was killed')
  t.deepEqual((await rootLinks()).filter(l => !linksBefore.includes(l) && /^(v-td|eth0|lan|br0)/.test(l)), [])
})
