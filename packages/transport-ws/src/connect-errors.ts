/**
 * Why a WebSocket path could not be opened, in words a user can act on: the TCP refusal,
 * the HTTP status that came instead of an upgrade, or the TLS failure, each with its code.
 */

/** OpenSSL's and Node's codes for a certificate this client does not trust. */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** One line for `err` from opening `url`: the reason first, then what probably fixes it. */
export function describeConnectFailure(err: Error & { code?: string }, url: URL): string {
  const code = err.code;
  const where = `${url.hostname}:${url.port || (url.protocol === 'wss:' ? 443 : 80)}`;
  if (code === 'ECONNREFUSED') return `connection refused (ECONNREFUSED): nothing listens on TCP ${where}`;
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `${where} cannot be reached (${code})`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the name ${url.hostname} does not resolve (${code})`;
  // ws reports a non-101 answer to the upgrade this way (no 'unexpected-response' listener).
  const status = /^Unexpected server response: (\d{3})$/.exec(err.message);
  if (status) {
    const hint = status[1] === '404' ? `: no WebSocket endpoint at ${url.pathname} there (check --ws-url against the server's ws listener)` : '';
    return `HTTP ${status[1]} instead of a WebSocket upgrade${hint}`;
  }
  if (code !== undefined && UNTRUSTED_CERTIFICATE.has(code)) {
    return `TLS: the server's certificate is not trusted (${code}: ${err.message}); give its CA, or --tls-insecure for a test server`;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/.test(err.message)) {
    return `TLS handshake failed (${code ?? 'EPROTO'}): ${where} does not speak TLS (a ws:// endpoint?)`;
  }
  if (code?.startsWith('ERR_SSL') || code?.startsWith('ERR_TLS')) return `TLS handshake failed (${code}): ${firstLine(err.message)}`;
  return code ? `${firstLine(err.message)} (${code})` : firstLine(err.message);
}

/** OpenSSL's messages run over several lines with source locations: the first is enough. */
function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}
