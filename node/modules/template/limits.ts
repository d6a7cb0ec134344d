// The limits a template is parsed and executed under. A module template comes from whoever published the
// module and runs on the provider's machine, so everything it can make the renderer spend is bounded. Go's
// text/template bounds only parenthesis depth (10,000) and pipeline length (100,000); steps, output, value
// size, control nesting and time are our additions, set far above what real module templates use (public
// ones run a few hundred steps and render a few kilobytes). Rendering is synchronous, so the step and time
// limits are also what keeps a hostile template from stalling the node's event loop (200,000 steps ≈ 0.2 s).

export interface TemplateLimits {
  /** Size of the template source (bytes). */
  maxTemplateBytes: number
  /** Evaluation steps: nodes visited, commands run, loop iterations. */
  maxSteps: number
  /** Size of the rendered output, and of any single value a function returns (bytes). */
  maxOutputBytes: number
  /** Nested parentheses in one action (Go's maxStackDepth: 10,000 renders, 10,001 is refused). */
  maxParenDepth: number
  /** Commands in one pipeline (Go's maxPipelineCmds). */
  maxPipelineCommands: number
  /** Nested {{if}}/{{with}}/{{range}} (Go has no bound; its stack grows until memory runs out). */
  maxNesting: number
  /** Nested {{range}}: each level multiplies the work. */
  maxRangeNesting: number
  /** Wall-clock time of one execution (ms), checked every few hundred steps. */
  maxTimeMs: number
  /** The clock the time limit reads (ms); tests inject one. */
  now: () => number
}

export const DEFAULT_TEMPLATE_LIMITS: Readonly<TemplateLimits> = Object.freeze({
  maxTemplateBytes: 512 * 1024,
  maxSteps: 200_000,
  maxOutputBytes: 1024 * 1024,
  maxParenDepth: 10_000,
  maxPipelineCommands: 100_000,
  maxNesting: 10_000,
  maxRangeNesting: 100,
  maxTimeMs: 1_000,
  now: () => performance.now()
})

export function limitsOf (partial: Partial<TemplateLimits> = {}): TemplateLimits {
  const out = { ...DEFAULT_TEMPLATE_LIMITS }
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (out as Record<string, unknown>)[k] = v
  return out
}

/** How often (in steps) the clock is read. */
export const CLOCK_EVERY_STEPS = 256
