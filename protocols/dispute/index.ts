export * from './messages.ts'
export * from './verify.ts'
