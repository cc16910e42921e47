// The storefront's only script: preview playback, and the visitor's player address (kept in this browser's
// localStorage, set from ?player= — a player on this machine only — or the form on /player) that turns Buy links into
// checkout links on that player.
;(() => {
  const KEY = 'consort.player'
  const MAX_URL = 512

  /** An http(s) origin (with an optional path prefix), or null. */
  function normalisePlayer(value) {
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URL) return null
    let url
    try {
      url = new URL(value)
    } catch {
      return null
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
    const path = url.pathname.replace(/\/ui(\/.*)?$/, '').replace(/\/+$/, '')
    return `${url.origin}${path}`
  }

  function storedPlayer() {
    try {
      return normalisePlayer(localStorage.getItem(KEY))
    } catch {
      return null
    }
  }

  function setPlayer(value) {
    const player = normalisePlayer(value)
    if (player == null) return null
    try {
      localStorage.setItem(KEY, player)
    } catch {
      return null
    }
    return player
  }

  function forgetPlayer() {
    try {
      localStorage.removeItem(KEY)
    } catch {}
  }

  function checkoutUrl(player, offer, content, share) {
    const params = new URLSearchParams({ offer, content, store: location.href })
    // Bought from a share's page: the share goes with it into the buyer's signed order (decision 0708).
    if (share) params.set('share', share)
    return `${player}/ui/checkout?${params}`
  }

  function openShareUrl(player, share) {
    return `${player}/ui/share?${new URLSearchParams({ share })}`
  }

  /**
   * Whether a player address is on this machine (loopback): the only kind a link may set. Anyone can send a link, and
   * one that pointed every Buy link of this browser at another site would be an open redirect (issue 11); a player
   * elsewhere is named on /player, typed by the visitor.
   */
  function onThisMachine(value) {
    const player = normalisePlayer(value)
    if (player == null) return false
    const host = new URL(player).hostname
    return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host === '::1'
  }

  // ?player= sets the address (a player on this machine only), then leaves the address bar clean.
  const params = new URLSearchParams(location.search)
  if (params.has('player')) {
    if (onThisMachine(params.get('player'))) setPlayer(params.get('player'))
    params.delete('player')
    const rest = params.toString()
    history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`)
  }

  function wireBuyLinks() {
    const player = storedPlayer()
    for (const link of document.querySelectorAll('a.buy')) {
      const offer = link.dataset.offer
      const content = link.dataset.content
      if (player != null && offer && content) link.href = checkoutUrl(player, offer, content, link.dataset.share)
    }
    for (const link of document.querySelectorAll('a.open-share')) {
      if (player != null && link.dataset.share) link.href = openShareUrl(player, link.dataset.share)
    }
    const nav = document.getElementById('player-link')
    if (nav != null && player != null) nav.title = `Your player at ${player}`
  }

  function wirePlayerPage() {
    const form = document.getElementById('player-form')
    if (form == null) return
    const input = document.getElementById('player-url')
    const status = document.getElementById('player-status')
    const forget = document.getElementById('player-forget')
    const cont = document.getElementById('continue')
    const contLink = document.getElementById('continue-link')
    const offer = params.get('offer')
    const content = params.get('content')
    const share = params.get('share')
    function show() {
      const player = storedPlayer()
      status.textContent =
        player == null ? 'No player address is set in this browser.' : `Buying through your player at ${player}.`
      if (player != null) input.value = player
      if (player != null && offer && content) {
        contLink.href = checkoutUrl(player, offer, content, share)
        cont.hidden = false
      } else if (player != null && share) {
        contLink.href = openShareUrl(player, share)
        contLink.textContent = 'Continue to the share in your player'
        cont.hidden = false
      } else {
        cont.hidden = true
      }
    }
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      if (setPlayer(input.value) == null) {
        status.textContent = 'That is not an http:// or https:// address. Copy it from your player (consort ui).'
        input.setAttribute('aria-invalid', 'true')
        input.focus()
        return
      }
      input.removeAttribute('aria-invalid')
      show()
      wireBuyLinks()
    })
    forget.addEventListener('click', () => {
      forgetPlayer()
      input.value = ''
      show()
    })
    show()
  }

  function wirePreviews() {
    const bar = document.getElementById('previewer')
    const audio = document.getElementById('preview-player')
    const label = document.getElementById('preview-label')
    if (bar == null || audio == null) return
    let current = null
    function reset() {
      if (current != null) current.setAttribute('aria-pressed', 'false')
      current = null
    }
    audio.addEventListener('ended', reset)
    audio.addEventListener('error', () => {
      label.textContent = 'The preview could not be played. Please try again.'
      reset()
    })
    for (const button of document.querySelectorAll('button.preview')) {
      button.setAttribute('aria-pressed', 'false')
      button.addEventListener('click', () => {
        if (current === button && !audio.paused) {
          audio.pause()
          reset()
          return
        }
        reset()
        current = button
        button.setAttribute('aria-pressed', 'true')
        bar.hidden = false
        label.textContent = `Preview: ${button.dataset.title}`
        if (audio.getAttribute('src') !== button.dataset.src) audio.src = button.dataset.src
        audio.play().catch((err) => {
          if (err && err.name === 'AbortError') return
          label.textContent = `The preview could not start (${err?.message ?? 'unknown error'}).`
          reset()
        })
      })
    }
  }

  wireBuyLinks()
  wirePlayerPage()
  wirePreviews()
})()
