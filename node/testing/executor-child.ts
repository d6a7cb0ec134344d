// A provider's executor in its own process, for tests that kill it (SIGKILL) with containers running. Reads
// { dataDir, jobs: [{ jobId, spec, resultDir, inputsDir? }], kind?: 'docker' | 'swarm' } as JSON from argv[2], runs every job at once with
// the owner id of dataDir, and prints one JSON line per container start: {"started": jobId, "containerId": …}.
import { Executor, loadExecutorOwner, SwarmExecutor } from '../executor/index.ts'
import type { JobSpec } from '../modules/index.ts'

interface ChildJob { jobId: string, spec: JobSpec, resultDir: string, inputsDir?: string }

const { dataDir, jobs, kind } = JSON.parse(process.argv[2]) as { dataDir: string, jobs: ChildJob[], kind?: 'docker' | 'swarm' }
const owner = await loadExecutorOwner(dataDir)
const ex = kind === 'swarm' ? new SwarmExecutor({ owner }) : new Executor({ owner })
ex.on('container:start', e => { process.stdout.write(JSON.stringify({ started: e.jobId, containerId: e.containerId }) + '\n') })
for (const j of jobs) {
  ex.run(j.spec, { jobId: j.jobId, resultDir: j.resultDir, ...(j.inputsDir !== undefined ? { inputsDir: j.inputsDir } : {}) })
    .then(r => { process.stdout.write(JSON.stringify({ finished: j.jobId, exitCode: r.exitCode }) + '\n') })
    .catch((e: Error) => { process.stdout.write(JSON.stringify({ failed: j.jobId, error: e.name }) + '\n') })
}
// The test that spawned us holds our stdin: when it goes (finished, timed out, killed), so do we, leaving no
// process behind to run jobs beside later tests.
process.stdin.on('end', () => { process.exit(1) })
process.stdin.resume()
