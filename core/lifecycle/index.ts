// The deal lifecycle of every role, as data and pure step functions (see docs/architecture.md, "Lifecycle core").
export * from './facts.ts'
export * from './provider.ts'
export * from './job-creator.ts'
export * from './mediator.ts'
export * from './bridge.ts'
