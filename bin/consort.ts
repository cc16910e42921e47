#!/usr/bin/env node
// Node's compile cache keeps the compiled code of every module between runs (in the system's temporary directory),
// so that the second and later `consort` commands start in a fraction of the time. It must be on before the CLI's
// modules load, hence the dynamic import below.
import { enableCompileCache } from 'node:module'

enableCompileCache?.()
const { main } = await import('../cli/main.ts')
await main(process.argv)
