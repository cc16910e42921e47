import { codecs, defineLayout, repository } from '../store.ts'

/**
 * The catalog's store (the layout it has had since it began; version 1 recorded from now on). Keys are `/`
 * separated; a document key is `<signer hex>/<content id>`.
 *
 * | repository | key | value |
 * | --- | --- | --- |
 * | `docs` | `doc/<document key>` | the current release or manifest record |
 * | `seqs` | `seq/<document key>` | its `seq`, as decimal text (kept when the record is taken down) |
 * | `byCid` | `cid/<record cid>` | the document key of a current record |
 * | `withdrawn` | `wd/<record cid>` | hex key of who took the record down (`withdrawn` in takedowns kept before) |
 * | `log` | `log/<n, 16 digits>` | the record cid indexed n-th (the order catching-up catalogs read) |
 * | `counter` | `meta/log-counter` | the last n, as decimal text |
 */
export const CATALOG_LAYOUT = defineLayout({
  role: 'catalog',
  version: 1,
  versionKey: 'meta/layout-version',
  repositories: {
    docs: repository('doc/', codecs.record('consort/release', 'consort/manifest')),
    seqs: repository('seq/', codecs.decimal),
    byCid: repository('cid/', codecs.text),
    withdrawn: repository('wd/', codecs.text),
    log: repository('log/', codecs.text),
    counter: repository('meta/log-counter', codecs.decimal),
  },
})

/** The log's key for the n-th record: 16 digits, so that keys sort by n. */
export const logKey = (n: number): string => n.toString().padStart(16, '0')
