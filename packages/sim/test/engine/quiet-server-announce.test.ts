/**
 * A server that has sent no data announces an address (ADD_ADDR on an ACK without DSS, as
 * the Linux kernel does). Its HMAC needs both keys, so it proves the server holds ours: the
 * client stops repeating MP_CAPABLE on its ACKs (RFC 8684 §3.1) and the echo (§3.4.1) fits.
 */
import { describe, expect, it } from 'vitest';
import { addAddrHmac, type MptcpOption } from '@mptun/core';
import { forgedServerOf } from '../support/forged-peer.js';

const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 31;

describe('ADD_ADDR from a server that has sent nothing', () => {
  it('is echoed on the next ACK, which no longer repeats MP_CAPABLE', () => {
    console.log('seed', seed);
    const { conn, peer } = forgedServerOf(seed);
    peer.synAck(65535);
    expect(peer.clientKey).not.toBeNull();
    const address = new Uint8Array([10, 0, 0, 5]);
    const hmac = addAddrHmac(peer.key, peer.clientKey!, 5, address, undefined);
    const answers = peer.ackWith(0, [{ kind: 'mptcp', option: { type: 'add-addr', echo: false, addressId: 5, address, hmac } }]).concat(peer.idle(100));
    const mptcpOf = (i: number): MptcpOption[] => answers[i]!.options.flatMap((o) => (o.kind === 'mptcp' ? [o.option] : []));
    const echoAt = answers.findIndex((_, i) => mptcpOf(i).some((o) => o.type === 'add-addr' && o.echo && o.addressId === 5));
    expect(echoAt, 'an ACK echoes the announcement').toBeGreaterThanOrEqual(0);
    expect(mptcpOf(echoAt).some((o) => o.type === 'mp-capable'), 'the echoing ACK repeats MP_CAPABLE').toBe(false);
    expect(conn.peerAddressList()).toMatchObject([{ addressId: 5, host: '10.0.0.5' }]);
  });
});
