// The web player's script: opens a playback session on this daemon (which counts the play, or plays a share's preview,
// which counts nothing), streams the decrypted audio into the <audio> element (the browser asks for byte ranges as it
// plays and seeks), and closes the session when the track ends or the page goes away, so that the play is reported.
// On a share page the preview starts at once where the browser allows it; a Copy button copies a share link.
;(() => {
  const copy = document.getElementById('copy-share')
  const link = document.getElementById('share-link')
  if (copy != null && link != null) {
    copy.addEventListener('click', async () => {
      const status = document.getElementById('copy-status')
      link.select()
      try {
        await navigator.clipboard.writeText(link.value)
        status.textContent = 'Copied.'
      } catch {
        status.textContent = 'Select the link and copy it (this browser does not let the page copy).'
      }
    })
  }
})()
;(() => {
  const section = document.querySelector('.web-player')
  if (section == null) return
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? ''
  const content = section.dataset.content
  const preview = section.dataset.preview === '1'
  const start = document.getElementById('start')
  const audio = document.getElementById('player')
  const status = document.getElementById('play-status')
  let session = null
  let closed = false

  async function request(path, body) {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(body ?? {}),
      credentials: 'same-origin',
      keepalive: true,
    })
    const answer = await response.json().catch(() => ({}))
    if (!response.ok) throw new Error(answer.message ?? `HTTP ${response.status}`)
    return answer
  }

  async function close() {
    if (session == null || closed) return
    closed = true
    try {
      const answer = await request(`/ui/api/streams/${encodeURIComponent(session)}/close`)
      status.textContent = `Played ${answer.seconds} s. The play is counted and will be reported.`
    } catch (err) {
      status.textContent = `The play could not be closed: ${err.message}`
    }
  }

  start.addEventListener('click', async () => {
    if (session != null && !closed) {
      audio.play().catch(() => {})
      return
    }
    start.disabled = true
    status.textContent = 'Opening the track…'
    try {
      const info = await request('/ui/api/streams', preview ? { content, preview: true } : { content })
      session = info.session
      closed = false
      audio.src = `/ui/stream/${encodeURIComponent(session)}/audio`
      status.textContent = preview ? `Playing the preview of ${info.title}.` : `Playing ${info.title}.`
      await audio.play()
    } catch (err) {
      // Opened, but the browser plays audio only after a click on the page: the button does it.
      status.textContent =
        session != null && err.name === 'NotAllowedError'
          ? 'Ready: press Play to hear it.'
          : `Cannot play: ${err.message}`
      start.disabled = false
    }
  })

  audio.addEventListener('ended', () => {
    start.disabled = false
    close()
  })
  audio.addEventListener('error', () => {
    status.textContent = 'The audio stopped: the player could not serve it.'
  })
  window.addEventListener('pagehide', () => {
    close()
  })
  // A share's preview starts as the page opens; a browser that wants a click first leaves the button to press.
  if (preview && section.dataset.autostart === '1') start.click()
})()
