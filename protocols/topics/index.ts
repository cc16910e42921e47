export * from './bus.ts'
export * from './message.ts'
export * from './names.ts'
