/** Limits of the web player UI; each with the reason for its value. */

/** Where the UI lives on the control API's origin. */
export const UI_PREFIX = '/ui'

/** A login link works once and only for this long: long enough to copy it into a browser, short if it leaks. */
export const LOGIN_TOKEN_TTL_MS = 10 * 60_000
/** Unused login links kept at once; the oldest is forgotten beyond this (a loop of `consort ui` cannot grow memory). */
export const MAX_LOGIN_TOKENS = 16
/** A browser session ends after this long unused (a listening day); `consort ui` gives a new link. */
export const SESSION_IDLE_MS = 12 * 3600_000
/** Browser sessions at once (a person's few browsers); the least recently used is ended beyond this. */
export const MAX_UI_SESSIONS = 32
/** Bytes of randomness in a login token, a session id and a CSRF token (256 bits: not guessable). */
export const TOKEN_BYTES = 32

/** The session cookie: HttpOnly, SameSite=Lax, scoped to the UI's path. */
export const SESSION_COOKIE = 'consort_ui'

/** Largest form body the UI accepts (a checkout form is a few hundred bytes). */
export const MAX_FORM_BYTES = 8 * 1024

/** Usage events the usage history page lists (the player keeps up to `MAX_USAGE_HISTORY`). */
export const USAGE_PAGE_EVENTS = 200
/** A balance request to the clearinghouse: the page shows "unavailable" rather than hang. */
export const BALANCE_DEADLINE_MS = 5_000
/** Listing the offers of one content id on the checkout page. */
export const CHECKOUT_OFFERS_DEADLINE_MS = 10_000
/** Looking up the titles of the tracks and releases a page names: a page shows the id rather than wait longer. */
export const TITLE_LOOKUP_DEADLINE_MS = 3_000
/** Remembers the page a visitor asked for before logging in (checkout), so that the login link leads back to it. */
export const RETURN_COOKIE = 'consort_ui_return'
/** How long that page is remembered: long enough to run `consort ui` and open its link. */
export const RETURN_COOKIE_MAX_AGE_S = 15 * 60
