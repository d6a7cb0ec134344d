export * from './messages.ts'
export * from './proposal.ts'
export * from './terms.ts'
