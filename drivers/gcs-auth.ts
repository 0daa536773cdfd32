/**
 * OAuth2 access tokens for the GCS calls (gcs-http.ts), from google-auth-library: a service-account
 * key (the `keyfile` or `credentials` parameter) or, with neither and no custom endpoint, Google's
 * default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, the metadata server, workload
 * identity). The headers are cached until shortly before the token expires, so a request costs a
 * comparison, not a call into the library.
 *
 * A service-account key's `token_uri` is honoured: the token request goes there, with it as the JWT
 * audience (RFC 7523 §3), as distribution's GCS driver does (golang.org/x/oauth2/google). gtoken,
 * which google-auth-library uses, would otherwise always post to Google's own token URL.
 */
import { readFile } from 'node:fs/promises';
import { GcsAuthError, isTransientGcsError } from './gcs-http.js';

/** Objects list, get, insert and delete: devstorage.read_write covers all five calls. */
export const GCS_SCOPES = ['https://www.googleapis.com/auth/devstorage.read_write'];

/** A token is replaced this long before it expires (google-auth-library's own default). */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

/** Headers of a token whose expiry is not known are asked for again after this long. */
export const UNKNOWN_EXPIRY_REUSE_MS = 60_000;

export type AuthHeaders = Readonly<Record<string, string>>;

export interface IssuedHeaders {
  readonly headers: AuthHeaders;
  /** Epoch ms when the token expires, when the issuer said. */
  readonly expiresAt?: number;
}

/**
 * When to ask for new headers: `margin` before expiry, but never later than half-way through a token
 * shorter-lived than twice the margin; after UNKNOWN_EXPIRY_REUSE_MS when the expiry is not known.
 */
export function refreshTime(now: number, expiresAt: number | undefined, marginMs: number): number {
  if (expiresAt === undefined || expiresAt <= now) return now + UNKNOWN_EXPIRY_REUSE_MS;
  return expiresAt - Math.min(marginMs, (expiresAt - now) / 2);
}

/** The last issued headers, and one refresh at a time however many requests ask at once. */
export class TokenCache {
  private value: AuthHeaders | undefined;
  private refreshAt = 0;
  private pending: Promise<AuthHeaders> | undefined;

  constructor(
    private readonly issue: () => Promise<IssuedHeaders>,
    private readonly now: () => number = Date.now,
    private readonly marginMs = TOKEN_REFRESH_MARGIN_MS,
  ) {}

  /** The headers for the next request: the cached ones while fresh, else a (shared) refresh. */
  readonly headers = (): AuthHeaders | Promise<AuthHeaders> => {
    if (this.value !== undefined && this.now() < this.refreshAt) return this.value;
    return (this.pending ??= this.refresh());
  };

  private async refresh(): Promise<AuthHeaders> {
    try {
      const got = await this.issue();
      this.value = got.headers;
      this.refreshAt = refreshTime(this.now(), got.expiresAt, this.marginMs);
      return got.headers;
    } finally {
      this.pending = undefined;
    }
  }
}

export interface CredentialSource {
  /** Path of a JSON key. */
  readonly keyFile?: string;
  /** The key's JSON as a map (the `credentials` parameter). */
  readonly credentials?: Readonly<Record<string, unknown>>;
}

/** What of google-auth-library's clients this module uses. */
interface TokenClient {
  getRequestHeaders(): Promise<Record<string, string>>;
  credentials?: { expiry_date?: number | null };
}

async function readKey(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new GcsAuthError(`cannot read the GCS keyfile ${path}: ${(err as Error).message}`, false);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not the parser's message: it quotes the text, which is a private key.
    throw new GcsAuthError(`the GCS keyfile ${path} is not a JSON key`, false);
  }
}

async function tokenClient(source: CredentialSource): Promise<TokenClient> {
  const key =
    source.credentials ?? (source.keyFile === undefined ? undefined : await readKey(source.keyFile));
  const gal = await import('google-auth-library');
  const clientOptions = { eagerRefreshThresholdMillis: TOKEN_REFRESH_MARGIN_MS };
  if (key === undefined) return new gal.GoogleAuth({ scopes: GCS_SCOPES, clientOptions }).getClient();
  const tokenUri = key['token_uri'];
  if (key['type'] === 'service_account' && typeof tokenUri === 'string' && tokenUri !== '') {
    const transport = new gal.DefaultTransporter();
    type Options = Parameters<typeof transport.request>[0];
    return new gal.JWT({
      email: key['client_email'] as string | undefined,
      key: key['private_key'] as string | undefined,
      keyId: key['private_key_id'] as string | undefined,
      scopes: GCS_SCOPES,
      additionalClaims: { aud: tokenUri },
      // This client sends nothing but its token requests.
      transporter: { request: <T>(opts: Options) => transport.request<T>({ ...opts, url: tokenUri }) },
      ...clientOptions,
    });
  }
  // Other key types (authorized_user, external_account...): the library picks the client.
  return new gal.GoogleAuth({ credentials: key, scopes: GCS_SCOPES, clientOptions }).getClient();
}

/**
 * Why getting a token failed, and what to check; without the library's error object, whose request
 * holds the signed assertion.
 */
function authFailure(err: unknown, source: CredentialSource): GcsAuthError {
  if (err instanceof GcsAuthError) return err;
  const e = err as { message?: unknown; status?: unknown; code?: unknown };
  const what = [typeof e?.status === 'number' ? `HTTP ${e.status}` : undefined, e?.code, e?.message]
    .filter((x) => typeof x === 'string' || typeof x === 'number')
    .join(': ');
  const check =
    source.keyFile !== undefined || source.credentials !== undefined
      ? 'check the service-account key (keyfile or credentials) and its token_uri'
      : 'check the default credentials (GOOGLE_APPLICATION_CREDENTIALS, the metadata server), or set keyfile';
  return new GcsAuthError(
    `cannot get a GCS access token: ${what || String(err)}; ${check}`,
    isTransientGcsError(err),
  );
}

/** Cached Authorization (and quota project) headers from `source`, or default credentials. */
export function googleAuthHeaders(source: CredentialSource, now?: () => number): TokenCache {
  let client: Promise<TokenClient> | undefined;
  return new TokenCache(async () => {
    try {
      client ??= tokenClient(source).catch((err: unknown) => {
        client = undefined;
        throw err;
      });
      const c = await client;
      const headers = await c.getRequestHeaders();
      const expiry = c.credentials?.expiry_date;
      return typeof expiry === 'number' ? { headers, expiresAt: expiry } : { headers };
    } catch (err) {
      throw authFailure(err, source);
    }
  }, now);
}
