export * from './errors.ts'
export * from './trust.ts'
