export * from './messages.ts'
export * from './proposal.ts'
