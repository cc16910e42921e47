import assert from 'node:assert/strict'
import { MAX_SHARE_LINK_TEXT, SHARE_LINK_SCHEME, shareLink, shareTextOf } from '../../../roles/common/share-links.ts'

/** The places a share's text travels in (decision 0708): every form a person may paste gives the same text. */
describe('share links', () => {
  const text = 'omF2AWR0eXBlbWNvbnNvcnQvc2hhcmU_-'

  it('are consort://share/<text> for a player, <store>/share/<text> for a storefront', () => {
    assert.equal(shareLink(text), `${SHARE_LINK_SCHEME}${text}`)
    assert.equal(shareLink(text, 'http://127.0.0.1:8080/'), `http://127.0.0.1:8080/share/${text}`)
  })

  it('give back the text from every form a person pastes', () => {
    for (const link of [
      text,
      `  ${text}\n`,
      `consort://share/${text}`,
      `https://store.example/share/${text}`,
      `https://store.example/shop/share/${text}/`,
      `http://127.0.0.1:4000/ui/share?share=${text}`,
    ]) {
      assert.deepEqual(shareTextOf(link), { text }, link)
    }
  })

  it('say why what was pasted is not a share link', () => {
    const problem = (link: string) => {
      const found = shareTextOf(link)
      assert.ok('problem' in found, `${link} is refused`)
      return found.problem
    }
    assert.match(problem(''), /empty/)
    assert.match(problem('x'.repeat(MAX_SHARE_LINK_TEXT + 1)), /characters long/)
    assert.match(problem('consort://share/'), /carries no share/)
    assert.match(problem('consort://share/abc+def'), /cut or altered/)
    assert.match(problem('ftp://store.example/share/abc'), /not ftp:/)
    assert.match(problem('https://store.example/track/isrc:1'), /no \/share\/… and no \?share=/)
    assert.match(problem('hello world'), /neither a share link/)
  })
})
