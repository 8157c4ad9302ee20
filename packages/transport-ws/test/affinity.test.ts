/**
 * Affinity tokens (src/affinity.ts): a server with a token names itself in its upgrade
 * response and the client's path reports it; a client given a token sends it as the
 * X-Mptun-Affinity header and the mptun-affinity query parameter; bad tokens are refused as
 * configuration and ignored when they come from the network.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AFFINITY_QUERY, affinityOfResponse, isAffinityToken } from '../src/affinity.js';
import { WsTransportError } from '../src/errors.js';
import type { WsPathLink } from '../src/ws-path-link.js';
import { Fixture } from './fixture.js';
import { startUpgradeProxy } from './upgrade-proxy.js';

const fx = new Fixture();
beforeAll(() => fx.init());
afterEach(() => fx.closeAll());

async function rejection(promise: Promise<unknown>): Promise<WsTransportError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(WsTransportError);
  return err as WsTransportError;
}

describe('affinity tokens', () => {
  it("a server's token reaches the client's path; a server without one gives none", async () => {
    const named = await fx.server({}, { affinityToken: 's1' });
    const plain = await fx.server();
    const client = fx.client();
    const a = (await fx.connect(client, '127.0.0.2', named.url)) as WsPathLink;
    const b = (await fx.connect(client, '127.0.0.2', plain.url)) as WsPathLink;
    expect(a.affinity).toBe('s1');
    expect(b.affinity).toBeNull();
  });

  it('a path opened with a token asks for it in a header and in the query, and still authenticates', async () => {
    const server = await fx.server({}, { affinityToken: 'server-2', path: '/mptun' });
    const proxy = fx.track(await startUpgradeProxy(() => server.listener.local.port));
    const { port, seen } = proxy;

    const path = (await fx.connect(fx.client(), '127.0.0.3', `ws://127.0.0.1:${port}/mptun`)) as WsPathLink;
    expect(path.affinity).toBe('server-2');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-mptun-affinity']).toBeUndefined(); // a first path asks for no server

    const client = fx.client();
    const routed = (await fx.track(await client.connect('127.0.0.3', `ws://127.0.0.1:${port}/mptun`, { affinity: 'server-2' }))) as WsPathLink;
    expect(routed.affinity).toBe('server-2');
    expect(seen).toHaveLength(2);
    expect(seen[1]!.headers['x-mptun-affinity']).toBe('server-2');
    const url = new URL(seen[1]!.url, 'http://x');
    expect(url.pathname).toBe('/mptun');
    expect(url.searchParams.get(AFFINITY_QUERY)).toBe('server-2');
    expect(await server.paths.next()).toBeDefined();
  });

  it('refuses a bad token as configuration, on either side', async () => {
    expect((await rejection(fx.server({}, { affinityToken: 'two words' }))).code).toBe('ERR_MPTUN_BAD_CONFIG');
    expect((await rejection(fx.server({}, { affinityToken: '' }))).code).toBe('ERR_MPTUN_BAD_CONFIG');
    const server = await fx.server();
    const client = fx.client();
    expect((await rejection(client.connect('127.0.0.2', server.url, { affinity: 'x'.repeat(65) }))).code).toBe('ERR_MPTUN_BAD_CONFIG');
    expect((await rejection(client.connect('127.0.0.2', server.url, { affinity: 's1\r\nX-Evil: 1' }))).code).toBe('ERR_MPTUN_BAD_CONFIG');
  });

  it("ignores a token in a response that breaks the rule (it comes from the network)", () => {
    expect(affinityOfResponse({ 'x-mptun-affinity': ' s3 ' })).toBe('s3');
    expect(affinityOfResponse({})).toBeNull();
    expect(affinityOfResponse({ 'x-mptun-affinity': 'y'.repeat(65) })).toBeNull();
    expect(affinityOfResponse({ 'x-mptun-affinity': 's1, s2' })).toBeNull();
    expect(affinityOfResponse({ 'x-mptun-affinity': '' })).toBeNull();
    expect(isAffinityToken('y'.repeat(64))).toBe(true);
  });
});
