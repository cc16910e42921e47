export * from '../records/types/share.ts'
export * from './errors.ts'
export * from './share.ts'
