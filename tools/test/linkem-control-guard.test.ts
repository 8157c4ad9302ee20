/** The link emulator's control API refuses rebound Host names and cross-origin POSTs (real CLI). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type AppProcess } from '../../apps/server/test/cli-apps.js';
import { httpRequest } from '../../packages/local-http/test/http-request.js';

describe('mptun-linkem control endpoint guard', () => {
  let cli: AppProcess;
  let control: string;
  beforeAll(async () => {
    cli = startApp('linkem', ['--udp', 'u@127.0.0.2:0=127.0.0.1:9', '--control', '127.0.0.1:0', '--seed', '3']);
    control = (await cli.waitFor(/control (http:\/\/\S+)\/paths/))[1]!;
  }, 30_000);
  afterAll(() => cli.stop());

  const state = async (): Promise<string> => (JSON.parse((await httpRequest(`${control}/paths/u`)).body) as { state: string }).state;

  it('answers 421 to a Host that is not loopback', async () => {
    const r = await httpRequest(`${control}/paths`, { headers: { Host: 'attacker.example:9470' } });
    expect(r.status).toBe(421);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'ERR_HOST' } });
    expect((await httpRequest(`${control}/paths`)).status).toBe(200);
  });

  it('refuses a cross-origin POST and leaves the path alone; same-origin and curl-style POSTs work', async () => {
    expect(await state()).toBe('up');
    const foreign = await httpRequest(`${control}/paths/u/down`, { method: 'POST', headers: { Origin: 'http://attacker.example' } });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toMatchObject({ error: { code: 'ERR_ORIGIN' } });
    expect(await state()).toBe('up');
    const same = await httpRequest(`${control}/paths/u/down`, { method: 'POST', headers: { Origin: new URL(control).origin } });
    expect(same.status).toBe(200);
    expect(await state()).toBe('down');
    expect((await httpRequest(`${control}/paths/u/up`, { method: 'POST' })).status).toBe(200);
    expect(await state()).toBe('up');
  });
});
