/** What went wrong talking to a registry, in terms a caller can act on. */
export type RegistryErrorCode =
  /** 401/403 after trying the credentials we have (or none). */
  | 'ACCESS_DENIED'
  /** The manifest or blob does not exist (404). */
  | 'NOT_FOUND'
  /** Schema 1, Helm charts, signatures, attestations and other non-image artifacts. */
  | 'UNSUPPORTED_MEDIA_TYPE'
  /** An index has no manifest for the wanted platform. */
  | 'PLATFORM_NOT_FOUND'
  /** Content does not match its digest or declared size. */
  | 'DIGEST_MISMATCH'
  /** A manifest or config larger than the client accepts. */
  | 'TOO_LARGE'
  /** Gave up after retries on 5xx/429 or connection errors. */
  | 'UNAVAILABLE'
  /** A request did not finish in time. */
  | 'TIMEOUT'
  /** The registry answered something the protocol does not allow. */
  | 'PROTOCOL';

export class RegistryError extends Error {
  override name = 'RegistryError';
  readonly code: RegistryErrorCode;
  readonly status: number | undefined;

  constructor(
    code: RegistryErrorCode,
    message: string,
    options?: { status?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options?.status;
  }
}
