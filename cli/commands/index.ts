import type { CommandEntry } from '../command.ts'

// One line per command; each lives in its own file and is imported only when it runs.
export const commands: CommandEntry[] = [
  { name: 'run', summary: 'Run a job on the Lilypad network (starts the devnet when none is named and none runs)', load: async () => (await import('./run.ts')).run },
  { name: 'jobs', summary: 'List the jobs of the node that owns your key, newest first', load: async () => (await import('./jobs.ts')).jobs },
  { name: 'job', summary: 'Show one job: state, phase, deals, outcome or error, events', load: async () => (await import('./jobs.ts')).job },
  { name: 'cancel', summary: 'Cancel a job (nothing is spent before a deal is agreed; after, the deal runs to its end)', load: async () => (await import('./jobs.ts')).cancel },
  { name: 'logs', summary: 'Show a job\'s events; -f follows until the job ends', load: async () => (await import('./jobs.ts')).logs },
  { name: 'balance', summary: 'LP in your wallet, in the Market deposit, and locked in open deals', load: async () => (await import('./money.ts')).balance },
  { name: 'deposit', summary: 'Move LP from your wallet into the Market deposit that pays for jobs', load: async () => (await import('./money.ts')).deposit },
  { name: 'withdraw', summary: 'Move LP from the Market deposit back to your wallet', load: async () => (await import('./money.ts')).withdraw },
  { name: 'get', summary: 'Fetch and verify the result directory behind a CID from the network', load: async () => (await import('./get.ts')).get },
  { name: 'devnet', summary: 'Run a local network: anvil (chain id 1337), contracts, funded accounts, a provider, a mediator, a job bridge', load: async () => (await import('./devnet.ts')).devnet },
  { name: 'node', summary: 'Run a node with the given roles', load: async () => (await import('./node.ts')).node },
  { name: 'resource-provider', summary: 'Offer this machine\'s compute (= node --roles resource-provider)', load: async () => (await import('./node.ts')).resourceProvider },
  { name: 'solver', summary: 'Match job offers to resource offers (= node --roles solver)', load: async () => (await import('./node.ts')).solver },
  { name: 'mediator', summary: 'Re-run challenged jobs and post verdicts (= node --roles mediator); bond, unbond, withdraw-bond, status: its committee bond', load: async () => (await import('./mediator.ts')).mediator },
  { name: 'job-bridge', aliases: ['jobcreator'], summary: 'Run jobs ordered by contracts, the on-chain job bridge (= node --roles job-bridge)', load: async () => (await import('./node.ts')).jobBridge },
  { name: 'network', summary: 'Create a new private network (swarm key, network file, contracts)', load: async () => (await import('./network.ts')).network },
  { name: 'faucet', summary: 'Claim LP tokens from the network\'s faucet', load: async () => (await import('./faucet.ts')).faucet },
  { name: 'module', summary: 'Render a Lilypad module to its job spec, list its inputs, list or build built-in modules', load: async () => (await import('./module.ts')).module },
  { name: 'rewards', summary: 'Compute, publish and claim the incentivised testnet\'s rewards (amounts in LP)', load: async () => (await import('./rewards.ts')).rewards },
  { name: 'leaderboard', summary: 'Providers by reputation: deals, canaries passed and failed, last epoch\'s reward (in LP)', load: async () => (await import('./leaderboard.ts')).leaderboard },
  { name: 'simulate', summary: 'Run a network simulation (steady, churn, cheaters, partition, spam, rewards)', load: async () => (await import('./simulate.ts')).simulate },
  { name: 'bench', summary: 'Measure every performance target on this machine', load: async () => (await import('./bench.ts')).bench },
  { name: 'version', summary: 'Print the Lilypad version', load: async () => (await import('./version.ts')).version }
]
