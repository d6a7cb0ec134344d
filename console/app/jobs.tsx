// Jobs: the node's jobs with state, cost, provider and deal (refreshed while the page is open), each with its
// page: phases and transactions live over server-sent events, the provider's live log while it runs, then the
// result (stdout/stderr, images and audio inline, every file downloadable, the CID and how to fetch it).
import { useEffect, useRef, useState } from 'preact/hooks'
import { chainLabel, fileBlob, get, multichain, post, readEvents, type Job, type JobEvent, type NodeInfo } from './api.ts'
import { Addr, ErrorBox, StateBadge } from './parts.tsx'
import { ago, bytes, kindOf, ms } from './format.ts'
import './eip1193.ts'

const TERMINAL = new Set(['done', 'failed', 'cancelled'])
const REFRESH_MS = 2000

function CancelButton ({ job, onDone }: { job: Job, onDone: (msg: string) => void }) {
  const [busy, setBusy] = useState(false)
  if (TERMINAL.has(job.state)) return null
  return (
    <button type="button" disabled={busy} aria-label={`Cancel job ${job.id}`} onClick={() => {
      setBusy(true)
      post<{ money: string }>(`/v1/jobs/${job.id}/cancel`).then(r => { onDone(r.money) }, e => { onDone((e as Error).message) }).finally(() => { setBusy(false) })
    }}>Cancel</button>
  )
}

function cost (j: Job): string {
  if (j.deal !== undefined) return `${j.deal.price.lp} LP`
  if (j.request.maxPrice !== undefined) return `≤ ${j.request.maxPrice.lp} LP`
  return '–'
}

export function JobsPage ({ node }: { node: NodeInfo }) {
  const several = multichain(node)
  const [jobs, setJobs] = useState<Job[] | undefined>()
  const [error, setError] = useState<unknown>()
  const [note, setNote] = useState('')
  const [tick, setTick] = useState(0)
  useEffect(() => {
    const ac = new AbortController()
    get<{ jobs: Job[] }>('/v1/jobs?limit=200', ac.signal).then(r => { setJobs(r.jobs); setError(undefined) }, e => { if (!ac.signal.aborted) setError(e) })
    const t = setTimeout(() => { setTick(n => n + 1) }, REFRESH_MS)
    return () => { ac.abort(); clearTimeout(t) }
  }, [tick])
  return (
    <main class="page">
      <h1>Jobs</h1>
      {error !== undefined && <ErrorBox error={error} />}
      {note !== '' && <p role="status" class="note">{note}</p>}
      {jobs === undefined ? <p role="status">Loading…</p> : jobs.length === 0 ? <p>No jobs yet. <a href="#/run">Run one</a>.</p> : (
        <div class="table-wrap">
          <table aria-label="Jobs">
            <thead><tr><th scope="col">Job</th><th scope="col">Module</th><th scope="col">State</th>{several && <th scope="col">Chain</th>}<th scope="col">Cost</th><th scope="col">Provider</th><th scope="col">Deal</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {jobs.map(j => (
                <tr data-job={j.id} data-state={j.state}>
                  <td><a href={`#/jobs/${j.id}`}>{j.id}</a></td>
                  <td>{j.request.module}</td>
                  <td><StateBadge state={j.state} />{j.phase !== undefined && !TERMINAL.has(j.state) ? <small class="muted"> {j.phase}</small> : null}</td>
                  {several && <td data-field="chain">{chainLabel(node, j.chainId)}</td>}
                  <td>{cost(j)}</td>
                  <td><Addr value={j.deal?.provider} /></td>
                  <td>{j.deal !== undefined ? <><Addr value={j.deal.id} /> <small class="muted">{j.deal.phase}</small></> : '–'}</td>
                  <td>{ago(j.createdAt)}</td>
                  <td><CancelButton job={j} onDone={m => { setNote(`${j.id}: ${m}`); setTick(n => n + 1) }} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  )
}

interface FileEntry { name: string, bytes: number }

function ResultView ({ job }: { job: Job }) {
  const [files, setFiles] = useState<FileEntry[] | undefined>()
  const [texts, setTexts] = useState<Record<string, string>>({})
  const [urls, setUrls] = useState<Record<string, string>>({})
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    let made: string[] = []
    let live = true
    void (async () => {
      try {
        const r = await get<{ cid: string, files: FileEntry[] }>(`/v1/jobs/${job.id}/files`)
        if (!live) return
        setFiles(r.files)
        const t: Record<string, string> = {}
        for (const n of ['stdout', 'stderr']) if (r.files.some(f => f.name === n)) t[n] = await (await fileBlob(job.id, n, 'text/plain')).text()
        const u: Record<string, string> = {}
        for (const f of r.files) {
          const k = kindOf(f.name)
          if ((k.kind === 'image' || k.kind === 'audio') && f.bytes <= 20 * 1024 * 1024) u[f.name] = URL.createObjectURL(await fileBlob(job.id, f.name, k.type))
        }
        made = Object.values(u)
        if (!live) { made.forEach(x => { URL.revokeObjectURL(x) }); return }
        setTexts(t)
        setUrls(u)
      } catch (e) { if (live) setError(e) }
    })()
    return () => { live = false; made.forEach(x => { URL.revokeObjectURL(x) }) }
  }, [job.id])

  async function download (f: FileEntry): Promise<void> {
    try {
      // as bytes: a typed blob would have the browser add an extension to the name (stdout → stdout.txt)
      const url = URL.createObjectURL(await fileBlob(job.id, f.name, 'application/octet-stream'))
      const a = document.createElement('a')
      a.href = url
      a.download = f.name.split('/').at(-1) ?? 'file'
      document.body.append(a)
      a.click()
      a.remove()
      setTimeout(() => { URL.revokeObjectURL(url) }, 60_000)
    } catch (e) { setError(e) }
  }

  const o = job.outcome
  if (o === undefined) return null
  return (
    <section aria-labelledby="result-h">
      <h2 id="result-h">Result</h2>
      <dl class="facts">
        <dt>Exit code</dt><dd>{o.exitCode}</dd>
        <dt>Result CID</dt><dd><code class="cid">{o.resultCid}</code></dd>
        <dt>Deal</dt><dd><code class="cid">{o.dealId}</code></dd>
      </dl>
      <p class="muted">Fetch it elsewhere: <code>lilypad get {o.resultCid}</code> (from any node holding it, verified against the CID) or <code>lilypad get {o.dealId}</code> (finds the provider from the chain).</p>
      {error !== undefined && <ErrorBox error={error} />}
      {texts.stdout !== undefined && <><h3>stdout</h3><pre class="out" aria-label="stdout">{texts.stdout}</pre></>}
      {texts.stderr !== undefined && texts.stderr !== '' && <><h3>stderr</h3><pre class="out err" aria-label="stderr">{texts.stderr}</pre></>}
      {Object.entries(urls).map(([name, url]) => kindOf(name).kind === 'image'
        ? <figure><img src={url} alt={`output ${name}`} /><figcaption>{name}</figcaption></figure>
        : <figure><audio controls src={url} aria-label={`output ${name}`} /><figcaption>{name}</figcaption></figure>)}
      {files !== undefined && (
        <>
          <h3>Files</h3>
          <ul class="files">
            {files.map(f => <li><button type="button" class="link" onClick={() => { void download(f) }} aria-label={`Download ${f.name}`}>{f.name}</button> <small class="muted">{bytes(f.bytes)}</small></li>)}
          </ul>
        </>
      )}
    </section>
  )
}

function describe (e: JobEvent): string {
  const d = e.data
  switch (e.type) {
    case 'state': return `state → ${String(d.state)}`
    case 'phase': return `${String(d.phase)}${typeof d.detail === 'string' ? `: ${d.detail}` : ''}`
    case 'tx': return `transaction ${String(d.what)} ${String(d.hash)} (${String(d.gasUsed)} gas)`
    case 'note': return String(d.message)
    case 'sign': return `the wallet ${String(d.account)} is asked to sign the ${String(d.kind)}`
    case 'signed': return 'signed by the wallet'
    case 'send': return `the wallet ${String(d.account)} is asked to send the ${String(d.kind)} transaction`
    case 'sent': return `sent by the wallet: ${String(d.hash)}`
    case 'queued': return `waiting: ${String(d.busyProviders)} fitting provider(s) busy`
    default: return `${e.type} ${JSON.stringify(d).slice(0, 200)}`
  }
}

/** A transaction's hash linked to the network's block explorer, when it names one (a link the user may follow; the page requests nothing from it). */
function TxLink ({ hash, explorer }: { hash: unknown, explorer: string | undefined }) {
  if (explorer === undefined || typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash)) return null
  return <> <a class="tx" href={`${explorer}/tx/${hash}`} target="_blank" rel="noopener noreferrer" aria-label={`transaction ${hash} on the block explorer`}>on the explorer</a></>
}

export function JobPage ({ id, node }: { id: string, node: NodeInfo }) {
  const [job, setJob] = useState<Job | undefined>()
  const [events, setEvents] = useState<JobEvent[]>([])
  const [log, setLog] = useState('')
  const [error, setError] = useState<unknown>()
  const [note, setNote] = useState('')
  const [reload, setReload] = useState(0)
  const logRef = useRef<HTMLPreElement>(null)
  const asked = useRef(new Set<string>())
  // the wallet is the job creator: each signature the job asks for goes to it once, and its answer back to the node
  // (a transaction it is asked to send, a challenge, likewise: `send`, answered by the hash)
  const open = events.filter(e => (e.type === 'sign' && !events.some(x => x.type === 'signed' && x.data.request === e.data.request)) ||
    (e.type === 'send' && !events.some(x => x.type === 'sent' && x.data.request === e.data.request)))
  useEffect(() => {
    const eth = window.ethereum
    if (eth === undefined || TERMINAL.has(job?.state ?? 'queued')) return
    for (const e of open) {
      const request = String(e.data.request)
      if (asked.current.has(request)) continue
      asked.current.add(request)
      void (async () => {
        try {
          if (e.type === 'send') {
            const hash = await eth.request({ method: 'eth_sendTransaction', params: [e.data.transaction] }) as string
            await post(`/v1/jobs/${id}/transactions`, { request, hash })
            return
          }
          const signature = await eth.request({ method: 'eth_signTypedData_v4', params: [String(e.data.account), JSON.stringify(e.data.typedData)] }) as string
          await post(`/v1/jobs/${id}/signatures`, { request, signature })
        } catch (err) { setError(err) }
      })()
    }
  }, [events.length])
  useEffect(() => {
    const ac = new AbortController()
    void (async () => {
      try {
        const j = await get<Job>(`/v1/jobs/${id}`, ac.signal)
        setJob(j)
        const history = j.events ?? []
        setEvents(history)
        setLog(history.filter(e => e.type === 'log').map(e => String(e.data.data)).join(''))
        if (TERMINAL.has(j.state)) return
        const after = history.at(-1)?.seq ?? 0
        await readEvents(`/v1/jobs/${id}/events?after=${after}`, e => {
          if (e.event === 'end') { setJob(JSON.parse(e.data) as Job); setReload(n => n + 1); return }
          const ev = JSON.parse(e.data) as JobEvent
          setEvents(s => [...s, ev])
          if (ev.type === 'log') setLog(s => (s + String(ev.data.data)).slice(-200_000))
          if (ev.type === 'state') setJob(s => s !== undefined ? { ...s, state: ev.data.state as Job['state'] } : s)
          if (ev.type === 'phase') setJob(s => s !== undefined ? { ...s, phase: String(ev.data.phase) } : s)
          // a deal now exists: read the job again for its provider and price
          if (ev.type === 'phase' && (ev.data.phase === 'matched' || ev.data.phase === 'agreed')) setReload(n => n + 1)
        }, ac.signal)
      } catch (e) { if (!ac.signal.aborted) setError(e) }
    })()
    return () => { ac.abort() }
  }, [id])
  // after the stream's end: the whole record (outcome, deal, error)
  useEffect(() => {
    if (reload === 0) return
    get<Job>(`/v1/jobs/${id}`).then(setJob, setError)
  }, [reload])
  useEffect(() => { logRef.current?.scrollTo(0, logRef.current.scrollHeight) }, [log])

  if (job === undefined) return <main class="page">{error !== undefined ? <ErrorBox error={error} /> : <p role="status">Loading…</p>}</main>
  const t0 = events[0]?.at ?? 0
  return (
    <main class="page">
      <p><a href="#/jobs">← Jobs</a></p>
      <h1>Job {job.id}</h1>
      <p aria-live="polite" id="job-state">State: <StateBadge state={job.state} />{job.phase !== undefined && !TERMINAL.has(job.state) ? ` (${job.phase})` : ''} <CancelButton job={job} onDone={m => { setNote(m); setReload(n => n + 1) }} /></p>
      {note !== '' && <p role="status" class="note">{note}</p>}
      {open.length > 0 && !TERMINAL.has(job.state) && <p role="status" class="note" id="sign-status">{window.ethereum === undefined ? 'This job waits for the wallet, and this browser has no wallet.' : open[0].type === 'send' ? `Send the ${String(open[0].data.kind)} transaction from your wallet…` : `Sign the ${String(open[0].data.kind)} in your wallet…`}</p>}
      <dl class="facts">
        <dt>Module</dt><dd>{job.request.module}</dd>
        <dt>Inputs</dt><dd>{Object.entries(job.request.inputs).map(([k, v]) => `${k}=${v}`).join(', ') || '(defaults)'}</dd>
        {job.deal !== undefined && <><dt>Provider</dt><dd><Addr value={job.deal.provider} /></dd><dt>Job creator</dt><dd><code class="addr" id="job-creator">{job.deal.jobCreator}</code></dd><dt>Cost</dt><dd>{job.deal.price.lp} LP (+ {job.deal.mediationFee.lp} LP mediation fee, refunded unless challenged)</dd></>}
        <dt>Chain</dt><dd id="job-chain">{chainLabel(node, job.chainId ?? job.deal?.chainId)}</dd>
      </dl>
      {job.error !== undefined && <ErrorBox error={Object.assign(new Error(job.error.message), job.error)} />}
      {job.state === 'done' && <ResultView job={job} />}
      <section aria-labelledby="events-h">
        <h2 id="events-h">Phases</h2>
        <ol class="events" aria-live="polite">
          {events.filter(e => e.type !== 'log').map(e => <li data-type={e.type}><span class="muted">+{ms(e.at - t0)}</span> {describe(e)}{e.type === 'tx' || e.type === 'sent' ? <TxLink hash={e.data.hash} explorer={node.explorerUrl} /> : null}{e.type === 'phase' && typeof e.data.ms === 'number' ? <small class="muted"> ({ms(e.data.ms)})</small> : null}</li>)}
        </ol>
      </section>
      {log !== '' && <section aria-labelledby="log-h"><h2 id="log-h">Live log</h2><pre class="out" ref={logRef} aria-label="live log">{log}</pre></section>}
      {error !== undefined && <ErrorBox error={error} />}
    </main>
  )
}
