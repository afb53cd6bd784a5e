/**
 * Typed errors. Every failure the bootstrap reports carries the exit code the
 * CLI ends with and a one-line, secret-free message that says what to do.
 */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  badInput: 2,
  proxyUnavailable: 3,
  proxyRefused: 4,
  drift: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class BootstrapError extends Error {
  readonly exitCode: ExitCode;
  /** What the user should do about it; shown after the message. */
  readonly hint: string | undefined;
  constructor(message: string, exitCode: ExitCode, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = options?.hint;
  }
}

/** Exit 2: a setting, the keys file or an env file is unusable. */
export class ConfigError extends BootstrapError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, ExitCode.badInput, options);
  }
}

/** Exit 2: an env file is missing, unreadable, unwritable or malformed. */
export class EnvFileError extends BootstrapError {
  readonly path: string;
  constructor(path: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, ExitCode.badInput, options);
    this.path = path;
  }
}

/** Exit 3: the proxy was not live/ready (or kept failing transiently) before the deadline. */
export class ProxyUnavailableError extends BootstrapError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, ExitCode.proxyUnavailable, options);
  }
}

/** Exit 4: the proxy answered but refused (master key rejected, no database, ...). */
export class ProxyRefusedError extends BootstrapError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, ExitCode.proxyRefused, options);
  }
}

/**
 * Exit 4: the Kubernetes API refused the service account (401: bad or expired token; 403: RBAC
 * lacks a verb on a resource) or rejected an object. The message names the verb and resource.
 */
export class KubeRefusedError extends BootstrapError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, ExitCode.proxyRefused, options);
  }
}

/** Exit 3: the Kubernetes API could not be reached (or kept failing transiently) before the deadline. */
export class KubeUnavailableError extends BootstrapError {
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, ExitCode.proxyUnavailable, options);
  }
}

/** Exit 5: `--check` found that the plan is not empty. */
export class DriftError extends BootstrapError {
  constructor(message: string, options?: { hint?: string }) {
    super(message, ExitCode.drift, options);
  }
}
