import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { MAX_ERN_NESTING } from './constants.ts'
import { ErnFormatError } from './errors.ts'

/**
 * A thin, read-only view of a parsed XML element that knows its own XPath-like path, so that every value read from a
 * message can be blamed on the exact element it came from. Namespace prefixes are stripped from child element names
 * (ERN's child elements are unqualified; a qualified one is read the same way). Attributes keep their names.
 */

type RawElement = { [key: string]: unknown }

const ATTRIBUTES = '@'
const TEXT = '#text'

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: ATTRIBUTES,
  textNodeName: TEXT,
  // Every element becomes an array of element objects, so repeated and single elements read the same way.
  isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
  alwaysCreateTextNode: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: false,
  processEntities: true,
  htmlEntities: false,
  maxNestedTags: MAX_ERN_NESTING,
})

function localName(name: string): string {
  const colon = name.indexOf(':')
  return colon === -1 ? name : name.slice(colon + 1)
}

export class El {
  readonly name: string
  readonly path: string
  readonly #raw: RawElement
  #children: Map<string, RawElement[]> | undefined

  constructor(raw: RawElement, name: string, path: string) {
    this.#raw = raw
    this.name = name
    this.path = path
  }

  #kids(): Map<string, RawElement[]> {
    if (this.#children === undefined) {
      const kids = new Map<string, RawElement[]>()
      for (const [key, value] of Object.entries(this.#raw)) {
        if (key === ATTRIBUTES || key === TEXT || !Array.isArray(value)) continue
        const local = localName(key)
        const list = kids.get(local) ?? []
        for (const item of value) list.push(typeof item === 'object' && item !== null ? (item as RawElement) : {})
        kids.set(local, list)
      }
      this.#children = kids
    }
    return this.#children
  }

  /** The element's own text, trimmed; `''` when it has none. */
  get text(): string {
    const text = this.#raw[TEXT]
    return typeof text === 'string' ? text : typeof text === 'number' ? String(text) : ''
  }

  /** An attribute's value, or `undefined`. */
  attr(name: string): string | undefined {
    const attrs = this.#raw[ATTRIBUTES]
    if (typeof attrs !== 'object' || attrs === null) return undefined
    const value = (attrs as Record<string, unknown>)[name]
    return typeof value === 'string' ? value : undefined
  }

  /** Path of an attribute of this element, for issues. */
  attrPath(name: string): string {
    return `${this.path}/@${name}`
  }

  /** Names of the child elements, in first-seen order. */
  childNames(): string[] {
    return [...this.#kids().keys()]
  }

  /** The first child element called `name`, path without an index. */
  one(name: string): El | undefined {
    const first = this.#kids().get(name)?.[0]
    return first === undefined ? undefined : new El(first, name, `${this.path}/${name}`)
  }

  /** Every child element called `name`, each path with its 1-based index (`Deal[3]`). */
  all(name: string): El[] {
    return (this.#kids().get(name) ?? []).map((raw, i) => new El(raw, name, `${this.path}/${name}[${i + 1}]`))
  }

  /** Every child element called `name`, with an index in the path only when there is more than one. */
  some(name: string): El[] {
    const list = this.#kids().get(name) ?? []
    if (list.length === 1) return [new El(list[0]!, name, `${this.path}/${name}`)]
    return list.map((raw, i) => new El(raw, name, `${this.path}/${name}[${i + 1}]`))
  }

  /** The text of the first child called `name`, or `null` when there is no such child or it is empty. */
  textOf(name: string): string | null {
    const text = this.one(name)?.text ?? ''
    return text === '' ? null : text
  }
}

/** The root element of a document, with its namespace prefix and declarations. */
export interface XmlDocument {
  root: El
  /** The root element's name as written (`ern:NewReleaseMessage`). */
  qualifiedName: string
  /** The namespace URI the root element is in, or `null`. */
  namespace: string | null
}

/** Parses XML text into its root element. Throws `ErnFormatError` (`not-xml`) on anything that is not one XML document. */
/** Line and column (1-based, in characters) just past the last character of `text`. */
export function endPosition(text: string): { line: number; col: number } {
  let line = 1
  let lineStart = 0
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    line++
    lineStart = i + 1
  }
  return { line, col: text.length - lineStart + 1 }
}

/**
 * Says where and why a document is not well-formed. A document cut short (the commonest failure of a real delivery)
 * is named as such with the position where it ends and the elements left open, rather than the validator's report
 * of the unclosed list at line 1, column 1.
 */
function notWellFormed(xml: string, err: { code: string; msg: string; line: number; col: number }): string {
  const end = endPosition(xml)
  const insideTag = !xml.trimEnd().endsWith('>')
  const ends = `the document ends at line ${end.line}, column ${end.col}${insideTag ? ' inside a tag' : ''}`
  const unclosed = /^Invalid '(\[.*\])' found\.$/s.exec(err.msg)
  if (err.code === 'InvalidXml' && unclosed !== null) {
    let open: string[] = []
    try {
      open = (JSON.parse(unclosed[1]!) as unknown[]).map(String)
    } catch {}
    const names = open.map(localName).join(' > ')
    return `not well-formed XML: ${ends} with ${open.length} element${open.length === 1 ? '' : 's'} still open (${names}): cut short?`
  }
  const at = `not well-formed XML at line ${err.line}, column ${err.col}: ${err.msg.replace(/\.$/, '')}`
  return insideTag ? `${at}; ${ends}: cut short?` : at
}

export function parseXml(xml: string): XmlDocument {
  if (/<!DOCTYPE/i.test(xml)) {
    throw new ErnFormatError('not-xml', 'document type declarations (<!DOCTYPE>) are not accepted in ERN messages')
  }
  const valid = XMLValidator.validate(xml)
  if (valid !== true) throw new ErnFormatError('not-xml', notWellFormed(xml, valid.err))
  let parsed: unknown
  try {
    parsed = parser.parse(xml)
  } catch (err) {
    throw new ErnFormatError('not-xml', `not readable as XML: ${(err as Error).message}`, { cause: err })
  }
  const roots = Object.entries(parsed as RawElement).filter(([key]) => key !== TEXT && key !== ATTRIBUTES)
  const [first] = roots
  if (roots.length !== 1 || first === undefined || !Array.isArray(first[1]) || first[1].length !== 1) {
    throw new ErnFormatError('not-xml', 'expected exactly one root element')
  }
  const [qualifiedName, list] = first
  const raw = (typeof list[0] === 'object' && list[0] !== null ? list[0] : {}) as RawElement
  const name = localName(qualifiedName)
  const root = new El(raw, name, `/${name}`)
  const colon = qualifiedName.indexOf(':')
  const declaration = colon === -1 ? 'xmlns' : `xmlns:${qualifiedName.slice(0, colon)}`
  return { root, qualifiedName, namespace: root.attr(declaration) ?? null }
}
