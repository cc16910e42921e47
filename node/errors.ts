/** Errors of node assembly, configuration and the data directory. */
export class DataDirLockedError extends Error {
  static override name = 'DataDirLockedError'
  override name = DataDirLockedError.name

  readonly code = 'ERR_DATA_DIR_LOCKED'
  /** The process holding the lock, when known. */
  readonly pid: number | null

  constructor(message: string, pid: number | null = null) {
    super(message)
    this.pid = pid
  }
}

/** The data dir (or a directory in it) belongs to another user. */
export class DataDirPermissionError extends Error {
  static override name = 'DataDirPermissionError'
  override name = DataDirPermissionError.name

  constructor(message = 'the data dir (or a directory in it) belongs to another user', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_DATA_DIR_PERMISSION'
}

export class DataDirNotInitialisedError extends Error {
  static override name = 'DataDirNotInitialisedError'
  override name = DataDirNotInitialisedError.name

  constructor(message = 'data dir not initialised', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_DATA_DIR_NOT_INITIALISED'
}

export class DataDirExistsError extends Error {
  static override name = 'DataDirExistsError'
  override name = DataDirExistsError.name

  constructor(message = 'data dir exists', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_DATA_DIR_EXISTS'
}

/** A configuration value is wrong; `field` names it. */
export class ConfigError extends Error {
  static override name = 'ConfigError'
  override name = ConfigError.name

  readonly code = 'ERR_CONFIG'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

export class NetworkFileError extends Error {
  static override name = 'NetworkFileError'
  override name = NetworkFileError.name

  constructor(message = 'the network file is unreadable or invalid', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_NETWORK_FILE'
}

export class UnknownRoleError extends Error {
  static override name = 'UnknownRoleError'
  override name = UnknownRoleError.name

  constructor(message = 'no such role', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_UNKNOWN_ROLE'
}

/** `node.role(name)` of a role this node does not run (or not yet, or no longer). */
export class RoleNotRunningError extends Error {
  static override name = 'RoleNotRunningError'
  override name = RoleNotRunningError.name

  constructor(
    message = 'node.role(name) of a role this node does not run (or not yet, or no longer)',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_ROLE_NOT_RUNNING'
}

export class DaemonNotRunningError extends Error {
  static override name = 'DaemonNotRunningError'
  override name = DaemonNotRunningError.name

  constructor(message = 'daemon not running', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_DAEMON_NOT_RUNNING'
}

export class ControlApiError extends Error {
  static override name = 'ControlApiError'
  override name = ControlApiError.name

  readonly code: string
  readonly status: number

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export class NodeStoppedError extends Error {
  static override name = 'NodeStoppedError'
  override name = NodeStoppedError.name

  constructor(message = 'node stopped', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_NODE_STOPPED'
}

export class DevnetStoppedError extends Error {
  static override name = 'DevnetStoppedError'
  override name = DevnetStoppedError.name

  constructor(message = 'devnet stopped', options?: ErrorOptions) {
    super(message, options)
  }

  readonly code = 'ERR_DEVNET_STOPPED'
}

/** A node identity file (`consort id --json` output) is unreadable or inconsistent. */
export class IdentityFileError extends Error {
  static override name = 'IdentityFileError'
  override name = IdentityFileError.name

  constructor(
    message = 'A node identity file (consort id --json output) is unreadable or inconsistent',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_IDENTITY_FILE'
}

/** A devnet already runs in that directory (another `consort devnet --dir` holds its lock). */
export class DevnetRunningError extends Error {
  static override name = 'DevnetRunningError'
  override name = DevnetRunningError.name

  constructor(
    message = 'A devnet already runs in that directory (another consort devnet --dir holds its lock)',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_DEVNET_RUNNING'
}

/** The devnet directory holds something this command did not make, or misses what it cannot remake. */
export class DevnetDirError extends Error {
  static override name = 'DevnetDirError'
  override name = DevnetDirError.name

  constructor(
    message = 'the devnet directory holds something this command did not make, or misses what it cannot remake',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_DEVNET_DIR'
}

/** A backup file is not a Consort backup, of an unknown version, truncated or corrupt: the message says which. */
export class BackupCorruptError extends Error {
  static override name = 'BackupCorruptError'
  override name = BackupCorruptError.name

  constructor(
    message = 'A backup file is not a Consort backup, of an unknown version, truncated or corrupt: the message says which',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_BACKUP_CORRUPT'
}

/** A restore has nowhere safe to go (the target data dir is not empty) or nothing to read. */
export class BackupTargetError extends Error {
  static override name = 'BackupTargetError'
  override name = BackupTargetError.name

  constructor(
    message = 'A restore has nowhere safe to go (the target data dir is not empty) or nothing to read',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code = 'ERR_BACKUP_TARGET'
}

/** A key rotation cannot go on: the message says what is wrong and what to do. */
export class KeyRotationError extends Error {
  static override name = 'KeyRotationError'
  override name = KeyRotationError.name

  constructor(
    message = 'A key rotation cannot go on: the message says what is wrong and what to do',
    options?: ErrorOptions,
  ) {
    super(message, options)
  }

  readonly code: string = 'ERR_KEY_ROTATION'
}

/** A role's web pages ask for a path prefix that is malformed, reserved (`/v1`) or taken by another role. */
export class WebPrefixError extends Error {
  static override name = 'WebPrefixError'
  override name = WebPrefixError.name
  readonly code = 'ERR_WEB_PREFIX'

  constructor(message = 'a web prefix is not allowed', options?: ErrorOptions) {
    super(message, options)
  }
}

/** What was asked needs the node's data dir, and this node keeps nothing on disk. */
export class NoDataDirError extends Error {
  static override name = 'NoDataDirError'
  override name = NoDataDirError.name
  readonly code = 'ERR_NO_DATA_DIR'

  constructor(message = 'this node keeps nothing on disk', options?: ErrorOptions) {
    super(message, options)
  }
}
