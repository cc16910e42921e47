/**
 * DDEX use types in the words a buyer reads: one table, so that the storefront's offer and the web player's
 * checkout, library and history say the same thing ("Stream on demand", never `OnDemandStream`).
 */
const USE_TYPE_WORDS: Readonly<Record<string, string>> = {
  PermanentDownload: 'Download to keep',
  ConditionalDownload: 'Download, on conditions',
  TetheredDownload: 'Download to your devices',
  OnDemandStream: 'Stream on demand',
  NonInteractiveStream: 'Radio-style stream',
  Preview: 'Preview',
}

/** `OnDemandStream` → `Stream on demand`; an unknown use type as it is. */
export function useTypeWords(useType: string): string {
  return USE_TYPE_WORDS[useType] ?? useType
}
