/** Errors of node assembly, configuration and the data directory. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
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
  override name = 'DataDirPermissionError'
  readonly code = 'ERR_DATA_DIR_PERMISSION'
}

export class DataDirNotInitialisedError extends Error {
  override name = 'DataDirNotInitialisedError'
  readonly code = 'ERR_DATA_DIR_NOT_INITIALISED'
}

export class DataDirExistsError extends Error {
  override name = 'DataDirExistsError'
  readonly code = 'ERR_DATA_DIR_EXISTS'
}

/** A configuration value is wrong; `field` names it. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly code = 'ERR_CONFIG'
  readonly field: string

  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.field = field
  }
}

export class NetworkFileError extends Error {
  override name = 'NetworkFileError'
  readonly code = 'ERR_NETWORK_FILE'
}

export class UnknownRoleError extends Error {
  override name = 'UnknownRoleError'
  readonly code = 'ERR_UNKNOWN_ROLE'
}

/** `node.role(name)` of a role this node does not run (or not yet, or no longer). */
export class RoleNotRunningError extends Error {
  override name = 'RoleNotRunningError'
  readonly code = 'ERR_ROLE_NOT_RUNNING'
}

export class DaemonNotRunningError extends Error {
  override name = 'DaemonNotRunningError'
  readonly code = 'ERR_DAEMON_NOT_RUNNING'
}

export class ControlApiError extends Error {
  override name = 'ControlApiError'
  readonly code: string
  readonly status: number

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export class NodeStoppedError extends Error {
  override name = 'NodeStoppedError'
  readonly code = 'ERR_NODE_STOPPED'
}

export class DevnetStoppedError extends Error {
  override name = 'DevnetStoppedError'
  readonly code = 'ERR_DEVNET_STOPPED'
}

/** A node identity file (`consort id --json` output) is unreadable or inconsistent. */
export class IdentityFileError extends Error {
  override name = 'IdentityFileError'
  readonly code = 'ERR_IDENTITY_FILE'
}

/** A devnet already runs in that directory (another `consort devnet --dir` holds its lock). */
export class DevnetRunningError extends Error {
  override name = 'DevnetRunningError'
  readonly code = 'ERR_DEVNET_RUNNING'
}

/** The devnet directory holds something this command did not make, or misses what it cannot remake. */
export class DevnetDirError extends Error {
  override name = 'DevnetDirError'
  readonly code = 'ERR_DEVNET_DIR'
}

/** A backup file is not a Consort backup, of an unknown version, truncated or corrupt: the message says which. */
export class BackupCorruptError extends Error {
  override name = 'BackupCorruptError'
  readonly code = 'ERR_BACKUP_CORRUPT'
}

/** A restore has nowhere safe to go (the target data dir is not empty) or nothing to read. */
export class BackupTargetError extends Error {
  override name = 'BackupTargetError'
  readonly code = 'ERR_BACKUP_TARGET'
}

/** A key rotation cannot go on: the message says what is wrong and what to do. */
export class KeyRotationError extends Error {
  override name = 'KeyRotationError'
  readonly code: string = 'ERR_KEY_ROTATION'
}

/** A key rotation request to the daemon has a bad field. */
export class BadKeyRotationRequestError extends KeyRotationError {
  override name = 'BadKeyRotationRequestError'
  override readonly code = 'ERR_BAD_REQUEST'
}
