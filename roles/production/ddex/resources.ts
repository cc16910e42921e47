import { avsValue, type Issues, nonEmpty, pickDefault, readDuration, readIsrc, readProprietaryIds } from './common.ts'
import type { ErnResource } from './model.ts'
import type { El } from './xml.ts'

/**
 * Resources other than sound recordings (videos, images, texts, sheet music, software): what an operator needs to
 * see of them, for ERN 3.8.x and 4.x alike. ERN 4 writes `Type`, `ResourceId`, `DisplayTitleText` and
 * `TechnicalDetails` (4.3 inside an `…Edition`); ERN 3 writes `<Kind>Type`, `<Kind>Id`, `ReferenceTitle` and a
 * `<Kind>DetailsByTerritory` with `Technical<Kind>Details`. Consort publishes audio only: these are shown, and the
 * releases that list them are read, but no resource of them is packaged.
 */
export function readOtherResource(el: El, kind: string, reference: string, issues: Issues): ErnResource {
  const editions = el.some(`${kind}Edition`)
  const details = pickDefault(el.all(`${kind}DetailsByTerritory`))
  const idContainers = [
    ...editions.flatMap((e) => e.some('ResourceId')),
    ...el.some('ResourceId'),
    ...el.some(`${kind}Id`),
  ]
  let isrc: string | null = null
  for (const container of idContainers) {
    const isrcEl = container.one('ISRC')
    if (isrcEl !== undefined && isrc === null) isrc = readIsrc(isrcEl, issues)
  }
  const typeEl = el.one('Type') ?? el.one(`${kind}Type`)
  const detailTitle = details?.all('Title').find((t) => t.attr('TitleType') === 'DisplayTitle') ?? details?.one('Title')
  const title =
    nonEmpty(pickDefault(el.all('DisplayTitleText'))?.text) ??
    pickDefault(el.all('DisplayTitle'))?.textOf('TitleText') ??
    detailTitle?.textOf('TitleText') ??
    el.one('ReferenceTitle')?.textOf('TitleText') ??
    null
  const technical = [
    ...editions.flatMap((e) => e.some('TechnicalDetails')),
    ...el.some('TechnicalDetails'),
    ...(details?.some(`Technical${kind}Details`) ?? []),
  ]
  const files: string[] = []
  for (const t of technical) {
    for (const file of [...t.some('DeliveryFile').flatMap((d) => d.some('File')), ...t.some('File')]) {
      const uri = file.textOf('URI') ?? file.textOf('URL')
      const name = file.textOf('FileName')
      if (uri !== null) files.push(uri)
      else if (name !== null) files.push((file.textOf('FilePath') ?? '') + name)
    }
  }
  return {
    reference,
    kind,
    type: typeEl === undefined ? null : nonEmpty(avsValue(typeEl)),
    isrc,
    proprietaryIds: idContainers.flatMap((c) => readProprietaryIds(c.all('ProprietaryId'))),
    title,
    displayArtist:
      nonEmpty(pickDefault(el.all('DisplayArtistName'))?.text) ?? nonEmpty(details?.one('DisplayArtistName')?.text),
    durationMs: readDuration(el.one('Duration'), issues).ms,
    files,
  }
}
