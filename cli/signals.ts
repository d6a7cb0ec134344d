/**
 * A stop request by Ctrl-C or a kill, listened for from the moment this is called. A long-running command calls
 * it before it starts anything: a SIGTERM that arrives once the banner is out (a supervisor, a test, a script
 * that read the banner) must find the handler already there. Registered only after the banner, a prompt SIGTERM
 * met Node's default action and the process died without stopping its node (exit by signal, nothing closed).
 * A stop asked during start-up takes effect once start-up is done; a second signal exits at once (130 / 143), for
 * a start-up or a stop that hangs.
 */
export function stopRequested (say: (line: string) => void = line => { console.error(line) }): Promise<NodeJS.Signals> {
  return new Promise(resolve => {
    let asked = false
    const on = (signal: NodeJS.Signals): void => {
      if (asked) {
        say(`${signal} again: exiting now, without stopping cleanly`)
        process.exit(signal === 'SIGINT' ? 130 : 143)
      }
      asked = true
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}
