/**
 * Content MD5s as object-store listings report them (FileInfo.md5), as lowercase hex.
 *
 * S3 ListObjectsV2 `ETag`: for an object written by one PutObject without SSE-KMS or SSE-C it is the
 * quoted hex MD5 of the content; a multipart upload's is `"<hex>-<parts>"`, no content hash, and gives
 * none here. A 32-hex ETag that is not the content's MD5 (SSE-KMS, SSE-C) cannot be told apart, so a
 * caller may only use the value to CONFIRM content it expects: equality with the MD5 of the expected
 * bytes proves them (short of an MD5 second preimage); any mismatch means "read the object".
 * GCS objects.list `md5Hash`: base64 of the 16 MD5 bytes; composite objects have none.
 */

const HEX_MD5 = /^[0-9a-fA-F]{32}$/;
/** 16 bytes in base64: 22 characters and `==` padding. */
const BASE64_MD5 = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** MD5 from an S3 ETag (quoted or not); undefined for multipart, empty or other ETags. */
export function md5FromETag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const bare = etag.startsWith('"') && etag.endsWith('"') && etag.length >= 2 ? etag.slice(1, -1) : etag;
  return HEX_MD5.test(bare) ? bare.toLowerCase() : undefined;
}

/** MD5 from a GCS `md5Hash` (base64 of 16 bytes); undefined when absent or malformed. */
export function md5FromBase64(md5Hash: string | undefined): string | undefined {
  if (md5Hash === undefined || !BASE64_MD5.test(md5Hash)) return undefined;
  return Buffer.from(md5Hash, 'base64').toString('hex');
}
