import { readFileSync } from 'node:fs'

/** One marked code block of the runbook: what to run, where, and whether it is a long-running daemon. */
export interface RunbookBlock {
  step: string
  /** Host names, or `all`. */
  hosts: string[]
  daemon: boolean
  script: string
  /** The line of the mark in the file, for messages. */
  line: number
}

const MARK = /^<!-- runbook: ([a-z0-9-]+) host=([a-z0-9,-]+)( daemon)? -->$/

/**
 * The runbook's executable blocks: each is a ```sh fence directly after a `<!-- runbook: STEP host=H[,H…] [daemon]
 * -->` mark. A mark without its block, or a block that does not close, is an error (the runbook and its test must
 * not drift apart silently).
 */
export function parseRunbook(text: string, source = 'runbook'): RunbookBlock[] {
  const lines = text.split('\n')
  const blocks: RunbookBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const mark = MARK.exec(lines[i]!.trim())
    if (mark == null) {
      if (lines[i]!.includes('<!-- runbook:') && !lines[i]!.includes('…'))
        throw new Error(`${source}:${i + 1}: malformed runbook mark: ${lines[i]}`)
      continue
    }
    let open = i + 1
    while (open < lines.length && lines[open]!.trim() === '') open++
    if (lines[open]?.trim() !== '```sh') throw new Error(`${source}:${i + 1}: the mark is not followed by a sh block`)
    const close = lines.findIndex((line, n) => n > open && line.trim() === '```')
    if (close < 0) throw new Error(`${source}:${open + 1}: the block does not close`)
    blocks.push({
      step: mark[1]!,
      hosts: mark[2]!.split(','),
      daemon: mark[3] != null,
      script: lines.slice(open + 1, close).join('\n'),
      line: i + 1,
    })
    i = close
  }
  return blocks
}

export function readRunbook(file: string): RunbookBlock[] {
  return parseRunbook(readFileSync(file, 'utf8'), file)
}

/** The blocks of one step for one host (`all` matches every host). */
export function blocksFor(blocks: RunbookBlock[], step: string, host: string): RunbookBlock[] {
  return blocks.filter((b) => b.step === step && (b.hosts.includes(host) || b.hosts.includes('all')))
}
