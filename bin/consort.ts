#!/usr/bin/env node
import { main } from '../node/cli/main.ts'

await main(process.argv)
