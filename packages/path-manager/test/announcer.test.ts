/** The server-side announcer against fake connections (the simulator test runs it on the engine). */
import { describe, expect, it } from 'vitest';
import type { ConnectionState } from '@mptun/core';
import { AddressAnnouncer, type AnnouncingConnection } from '../src/announcer.js';
import { PathManagerError } from '../src/errors.js';

class FakeServerConnection implements AnnouncingConnection {
  state: ConnectionState = 'connecting';
  /** The engine refuses ADD_ADDR until it knows the peer's key. */
  keysKnown = false;
  readonly announced: Array<[number, string, number | undefined]> = [];
  readonly withdrawn: number[][] = [];
  announceAddress(addressId: number, host: string, port?: number): boolean {
    if (!this.keysKnown) return false;
    this.announced.push([addressId, host, port]);
    return true;
  }
  withdrawAddresses(addressIds: readonly number[]): void {
    this.withdrawn.push([...addressIds]);
  }
}

describe('AddressAnnouncer', () => {
  it('announces once a connection can sign ADD_ADDR, to each connection once', () => {
    const ann = new AddressAnnouncer([{ addressId: 1, host: '10.9.9.10' }, { addressId: 2, host: '2001:db8::9', port: 4433 }]);
    const c = new FakeServerConnection();
    ann.handleEvent({ type: 'incoming', connection: c });
    expect(c.announced).toEqual([]); // not established yet
    c.state = 'established';
    ann.handleEvent({ type: 'subflow-up', connection: c });
    expect(c.announced).toEqual([]); // keys not known: retried on the next event
    c.keysKnown = true;
    ann.handleEvent({ type: 'subflow-up', connection: c });
    ann.handleEvent({ type: 'subflow-up', connection: c });
    expect(c.announced).toEqual([
      [1, '10.9.9.10', undefined],
      [2, '2001:db8:0:0:0:0:0:9', 4433],
    ]);
  });

  it('adds and removes addresses at run time across live connections, and forgets closed ones', () => {
    const ann = new AddressAnnouncer();
    const a = Object.assign(new FakeServerConnection(), { state: 'established' as ConnectionState, keysKnown: true });
    const b = Object.assign(new FakeServerConnection(), { state: 'established' as ConnectionState, keysKnown: true });
    ann.handleEvent({ type: 'subflow-up', connection: a });
    ann.handleEvent({ type: 'subflow-up', connection: b });
    ann.add({ addressId: 5, host: '10.9.9.11' });
    expect(a.announced).toEqual([[5, '10.9.9.11', undefined]]);
    expect(b.announced).toEqual([[5, '10.9.9.11', undefined]]);
    b.state = 'closed';
    ann.handleEvent({ type: 'closed', connection: b });
    expect(ann.remove(5)).toBe(true);
    expect(a.withdrawn).toEqual([[5]]);
    expect(b.withdrawn).toEqual([]);
    expect(ann.remove(5)).toBe(false);
    // Re-using an id for another address withdraws the old one first.
    ann.add({ addressId: 6, host: '10.9.9.12' });
    ann.add({ addressId: 6, host: '10.9.9.13' });
    expect(a.withdrawn).toEqual([[5], [6]]);
    expect(a.announced.at(-1)).toEqual([6, '10.9.9.13', undefined]);
    expect(ann.addresses()).toEqual([{ addressId: 6, host: '10.9.9.13' }]);
  });

  it('refuses id 0, ids past 255, bad ports and non-literal hosts', () => {
    for (const bad of [{ addressId: 0, host: '10.0.0.1' }, { addressId: 256, host: '10.0.0.1' }, { addressId: 1, host: 'server.example' }, { addressId: 1, host: '10.0.0.1', port: -1 }]) {
      try {
        new AddressAnnouncer([bad]);
        expect.unreachable(JSON.stringify(bad));
      } catch (e) {
        expect(e).toBeInstanceOf(PathManagerError);
        expect((e as PathManagerError).code).toBe('ERR_PM_BAD_ADDRESS');
      }
    }
  });
});
