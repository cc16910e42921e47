import { createHash, timingSafeEqual } from 'node:crypto'
import { toHex } from '../../../keys/hex.ts'
import type { Random } from '../../../keys/random.ts'
import type { Clock } from '../../../protocols/clock.ts'
import { LOGIN_TOKEN_TTL_MS, MAX_LOGIN_TOKENS, MAX_UI_SESSIONS, SESSION_IDLE_MS, TOKEN_BYTES } from './constants.ts'

/** A browser session of the web player. */
export interface UiSession {
  /** The cookie's value (kept here only as its hash). */
  readonly id: string
  /** The token every state-changing request must carry (form field or `x-csrf-token` header). */
  readonly csrf: string
  readonly createdAt: number
  lastUsed: number
}

const digest = (token: string): string => createHash('sha256').update(token).digest('hex')

/**
 * Authentication of the web player: one-time login links and session cookies. The control API's bearer token
 * never reaches a browser: `consort ui` (which holds it) asks for a login token; opening the link spends the
 * token and starts a session whose id travels only in an HttpOnly, SameSite=Lax cookie. Tokens and session ids
 * are kept as SHA-256 digests, so a lookup leaks nothing through its timing; both are bounded in number and time.
 */
export class UiAuth {
  readonly #clock: Clock
  readonly #random: Random
  /** digest(token) → expiry. */
  readonly #tokens = new Map<string, number>()
  /** digest(session id) → session. */
  readonly #sessions = new Map<string, UiSession>()

  constructor(clock: Clock, random: Random) {
    this.#clock = clock
    this.#random = random
  }

  get sessions(): number {
    return this.#sessions.size
  }

  /** A fresh one-time login token, valid for `LOGIN_TOKEN_TTL_MS`. */
  issueLoginToken(): { token: string; expiresAt: number } {
    const now = this.#clock.now()
    for (const [key, expiresAt] of this.#tokens) if (expiresAt <= now) this.#tokens.delete(key)
    while (this.#tokens.size >= MAX_LOGIN_TOKENS) this.#tokens.delete(this.#tokens.keys().next().value!)
    const token = toHex(this.#random.bytes(TOKEN_BYTES))
    const expiresAt = now + LOGIN_TOKEN_TTL_MS
    this.#tokens.set(digest(token), expiresAt)
    return { token, expiresAt }
  }

  /** Spend a login token: a new session, or null when the token is unknown, spent or expired. */
  redeem(token: string): UiSession | null {
    const key = digest(token)
    const expiresAt = this.#tokens.get(key)
    this.#tokens.delete(key)
    const now = this.#clock.now()
    if (expiresAt == null || expiresAt <= now) return null
    for (const [k, s] of this.#sessions) if (now - s.lastUsed > SESSION_IDLE_MS) this.#sessions.delete(k)
    while (this.#sessions.size >= MAX_UI_SESSIONS) {
      const oldest = [...this.#sessions.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed)[0]
      if (oldest == null) break
      this.#sessions.delete(oldest[0])
    }
    const session: UiSession = {
      id: toHex(this.#random.bytes(TOKEN_BYTES)),
      csrf: toHex(this.#random.bytes(TOKEN_BYTES)),
      createdAt: now,
      lastUsed: now,
    }
    this.#sessions.set(digest(session.id), session)
    return session
  }

  /** The live session of a cookie value (its idle timer restarts), or null. */
  session(id: string | undefined): UiSession | null {
    if (id == null || id === '') return null
    const key = digest(id)
    const session = this.#sessions.get(key)
    if (session == null) return null
    const now = this.#clock.now()
    if (now - session.lastUsed > SESSION_IDLE_MS) {
      this.#sessions.delete(key)
      return null
    }
    session.lastUsed = now
    return session
  }

  /** Does `presented` equal the session's CSRF token (compared in constant time)? */
  checkCsrf(session: UiSession, presented: string | undefined): boolean {
    if (presented == null) return false
    const a = Buffer.from(presented)
    const b = Buffer.from(session.csrf)
    return a.length === b.length && timingSafeEqual(a, b)
  }

  end(id: string): void {
    this.#sessions.delete(digest(id))
  }
}
