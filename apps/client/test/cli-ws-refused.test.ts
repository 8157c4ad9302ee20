/**
 * `mptun-client --transport ws|wss` against an endpoint that refuses it (issue 15, finding 6):
 * the client's log names the URL it tried and the reason — nothing listening
 * (ECONNREFUSED), a wrong URL path (HTTP 404 from the real server), TLS (a server that does
 * not speak it, a certificate nobody vouches for).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeSelfSignedCertificate } from '../../../packages/transport-ws/test/self-signed.js';
import { startApp, stopAll, withKeys, type AppProcess, type KeyFiles } from './cli-support.js';
import { freeTcpPort } from './support.js';

afterEach(stopAll);

/** mptun-server with one WebSocket listener; resolves with its port once it listens. */
async function wsServer(keys: KeyFiles, scheme: 'ws' | 'wss'): Promise<number> {
  const tls: string[] = [];
  if (scheme === 'wss') {
    const cert = makeSelfSignedCertificate();
    writeFileSync(join(keys.dir, 'cert.pem'), cert.cert);
    writeFileSync(join(keys.dir, 'key.pem'), cert.key, { mode: 0o600 });
    tls.push('--tls-cert', join(keys.dir, 'cert.pem'), '--tls-key', join(keys.dir, 'key.pem'));
  }
  const server = startApp('server', ['run', '--listen', `${scheme}://127.0.0.1:0/mptun`, ...tls, '--key', keys.serverKey, '--authorized-keys', keys.authorizedKeys, '--drain', '0s', '--log-format', 'json']);
  const line = await server.waitForLog((l) => l['msg'] === 'listening');
  return Number(String(line['address']).split(':').pop());
}

/** The client's first "path could not be opened" line, as it prints it. */
async function refusal(keys: KeyFiles, transport: 'ws' | 'wss', url: string): Promise<{ client: AppProcess; line: string }> {
  const client = startApp('client', ['run', '--server', '127.0.0.1:4433', '--server-key', keys.serverPublic, '--key', keys.clientKey, '--transport', transport, '--ws-url', url, '--path', '127.0.0.2', '--socks', '127.0.0.1:0']);
  const m = await client.waitFor(/^.*msg="path could not be opened".*$/m, 30_000);
  return { client, line: m[0] };
}

const quoted = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('mptun-client --transport ws: a refused WebSocket names the URL and the reason', () => {
  it('nothing listening: ECONNREFUSED', async () => {
    await withKeys(async (keys) => {
      const port = await freeTcpPort();
      const url = `ws://127.0.0.1:${port}/mptun`;
      const { line } = await refusal(keys, 'ws', url);
      expect(line).toMatch(new RegExp(`cannot open ${quoted(url)} from 127\\.0\\.0\\.2: connection refused \\(ECONNREFUSED\\): nothing listens on TCP 127\\.0\\.0\\.1:${port}`));
    });
  }, 60_000);

  it('a wrong URL path: the real server answers HTTP 404', async () => {
    await withKeys(async (keys) => {
      const port = await wsServer(keys, 'ws');
      const url = `ws://127.0.0.1:${port}/wrong`;
      const { line } = await refusal(keys, 'ws', url);
      expect(line).toContain(`cannot open ${url} from 127.0.0.2: HTTP 404 instead of a WebSocket upgrade: no WebSocket endpoint at /wrong there`);
    });
  }, 60_000);

  it('TLS: wss to a server without TLS, and a self-signed certificate without --tls-insecure', async () => {
    await withKeys(async (keys) => {
      const plainPort = await wsServer(keys, 'ws');
      const noTls = await refusal(keys, 'wss', `wss://127.0.0.1:${plainPort}/mptun`);
      expect(noTls.line).toContain(`cannot open wss://127.0.0.1:${plainPort}/mptun from 127.0.0.2: TLS handshake failed (`);
      expect(noTls.line).toContain(`127.0.0.1:${plainPort} does not speak TLS`);
      const tlsPort = await wsServer(keys, 'wss');
      const untrusted = await refusal(keys, 'wss', `wss://127.0.0.1:${tlsPort}/mptun`);
      expect(untrusted.line).toContain(`cannot open wss://127.0.0.1:${tlsPort}/mptun from 127.0.0.2: TLS: the server's certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT`);
    });
  }, 90_000);
});
