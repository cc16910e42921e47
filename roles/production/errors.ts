/**
 * Errors of the production role. Each has a `code` starting `ERR_` (the control API answers it with that code) and
 * a message naming what is wrong. Match them by `.name` or `.code`.
 */

/** One thing wrong with an import, as `path` (where in the input), `value` (as written) and `message`. */
export interface ImportIssue {
  path: string
  value: string
  message: string
}

/** An import was refused before anything was written: every problem found is in `issues`. */
export class ImportRefusedError extends Error {
  static override name = 'ImportRefusedError'
  override name = ImportRefusedError.name

  static readonly code = 'ERR_IMPORT_REFUSED'
  readonly code = ImportRefusedError.code
  readonly issues: ImportIssue[]

  constructor(issues: ImportIssue[]) {
    const shown = issues.slice(0, 20).map((i) => `${i.path}${i.value === '' ? '' : ` (${i.value})`}: ${i.message}`)
    super(
      `import refused, ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n  ${shown.join('\n  ')}${issues.length > 20 ? '\n  ...' : ''}`,
    )
    this.issues = issues
  }
}

/** The contract was revoked: it can no longer be updated. */
export class ContractRevokedError extends Error {
  static override name = 'ContractRevokedError'
  override name = ContractRevokedError.name

  constructor(message = 'the contract was revoked: it can no longer be updated', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_CONTRACT_REVOKED'
  readonly code = ContractRevokedError.code
}

/** Too many imports are waiting already. */
export class ProductionBusyError extends Error {
  static override name = 'ProductionBusyError'
  override name = ProductionBusyError.name

  constructor(message = 'too many imports are waiting already', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_BUSY'
  readonly code = ProductionBusyError.code
}

/** The role is not started (or stopped while the call ran). */
export class ProductionStoppedError extends Error {
  static override name = 'ProductionStoppedError'
  override name = ProductionStoppedError.name

  constructor(message = 'the role is not started (or stopped while the call ran)', options?: ErrorOptions) {
    super(message, options)
  }

  static readonly code = 'ERR_STOPPED'
  readonly code = ProductionStoppedError.code
}
