// The live JS heap: what V8 keeps after a full collection. The heap in use that status lines report includes garbage
// not collected yet, so its trend says as much about when V8 last collected as about what the program holds. The
// soak forces a full collection every few minutes in each of its processes (a pause of tens of ms) and reads the heap
// then, and how much of it is compiled code (bytecode and machine code, which grows as V8 compiles more of a program
// that keeps running new paths, and is bounded by the program) — so a leak shows as the rest growing.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { isCodeSpace } from '../node/housekeeping/housekeeping.ts'

let gc: (() => void) | undefined

/**
 * `liveBuffersMb`: the ArrayBuffers' backing stores alive after the same collection (Buffers, typed arrays). They live
 * in malloc'd memory outside the JS heap, so a program holding more of them shows in the brk heap, not in the
 * JS heap's figures (issue 20's soak: a native heap profile of a job creator found its malloc growth there).
 */
export interface LiveHeap { liveHeapMb: number, liveCodeMb: number, liveBuffersMb: number }

/** The heap in use right after a full collection, and the code spaces' part of it, in MB (0.1 MB). */
export function liveHeap (): LiveHeap {
  if (gc === undefined) {
    // --expose-gc set at run time: a fresh context then has `gc`
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
  let used = 0
  let code = 0
  for (const s of getHeapSpaceStatistics()) {
    used += s.space_used_size
    if (isCodeSpace(s.space_name)) code += s.space_used_size
  }
  return { liveHeapMb: Math.round(used / 104857.6) / 10, liveCodeMb: Math.round(code / 104857.6) / 10, liveBuffersMb: Math.round(process.memoryUsage().arrayBuffers / 104857.6) / 10 }
}
