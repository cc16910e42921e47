import type { Issues } from './common.ts'
import type { ErnDeal, ErnRelease, ErnResource, ErnSoundRecording } from './model.ts'
import type { El } from './xml.ts'

/** What a version-specific reader hands back before references are resolved across the message. */

export interface ReadRelease {
  release: Omit<ErnRelease, 'trackReferences' | 'resourceReferences'>
  /** `ReleaseResourceReference` elements in playing order (resource groups flattened). */
  resourceRefs: El[]
  /** For ERN 4 track releases without their own title or artist: inherit them from their recording. */
  inheritsFromResource: boolean
}

export interface ReadDeal {
  deal: Omit<ErnDeal, 'releaseReferences'>
  releaseRefs: El[]
}

export interface ReadBody {
  releases: ReadRelease[]
  soundRecordings: Array<{ recording: Omit<ErnSoundRecording, 'trackNumbers'>; el: El }>
  /** Every resource reference in the ResourceList, with its element name (`SoundRecording`, `Image`, ...). */
  resources: Map<string, string>
  /** The resources that are not sound recordings, read for display. */
  otherResources: ErnResource[]
  /** References of releases this importer does not model (ERN 4 `ClipRelease`); deals may still name them. */
  otherReleaseRefs: Set<string>
  deals: ReadDeal[]
}

export interface ReaderContext {
  root: El
  issues: Issues
  /** When the message was created (ERN 4 takedown deals are those that ended by then); `null` if unreadable. */
  createdAtMs: number | null
}

/** Records resource references, refusing duplicates. */
export function registerResource(resources: Map<string, string>, el: El, kind: string, issues: Issues): string | null {
  const refEl = el.one('ResourceReference')
  const ref = refEl?.text ?? ''
  if (ref === '') {
    issues.missing(el, 'ResourceReference')
    return null
  }
  if (resources.has(ref)) {
    issues.add('reference', refEl!.path, ref, `resource reference ${ref} is used by more than one resource`)
    return null
  }
  resources.set(ref, kind)
  return ref
}
