/**
 * `node --conditions=source --import tsx tools/bench/profile/udp-send-cost.ts [MB] [rounds]`
 *
 * CPU per GB of handing datagrams to the kernel on loopback: node:dgram, one send per
 * datagram, against @mptun/node's batch sender (runs of up to 44 datagrams in one sendmsg()
 * with UDP_SEGMENT), as sealed UDP paths send them (1472-byte datagrams, an unconnected
 * socket made outside Node). The receiving socket is never read, so both ways end at the
 * same place (its full queue); what is measured is the sending process's CPU, user and
 * system, interleaved over `rounds`.
 */
import dgram from 'node:dgram';
import { nativeSocket } from '../../../packages/node/src/bind-device.js';
import { udpSegmentSender } from '../../../packages/node/src/udp-gso.js';

const MB = Number(process.argv[2] ?? 256);
const ROUNDS = Number(process.argv[3] ?? 3);
const SIZE = 1472;
const RUN = 44;
const TURN_RUNS = 8; // runs per event-loop turn, then yield as the apps do

const batch = udpSegmentSender();
if (batch === null) {
  console.log('udp-send-cost: skipped: libc cannot be loaded through koffi here (not Linux, or koffi missing)');
  process.exit(0);
}
const rx = dgram.createSocket('udp4');
await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
rx.setRecvBufferSize(64 * 1024);
const port = rx.address().port;
const fd = nativeSocket('udp', '127.0.0.1', { noFragment: true });
const tx = dgram.createSocket('udp4');
await new Promise<void>((r) => tx.bind({ fd }, () => r()));
const block = new Uint8Array(SIZE * RUN).fill(7);
const run = Array.from({ length: RUN }, (_, i) => block.subarray(i * SIZE, (i + 1) * SIZE));
const to = { host: '127.0.0.1', port };
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function measure(mode: 'dgram' | 'segment'): Promise<number> {
  const total = MB * 1e6;
  const c0 = process.cpuUsage();
  let sent = 0;
  while (sent < total) {
    for (let k = 0; k < TURN_RUNS && sent < total; k++) {
      if (mode === 'dgram') for (const d of run) tx.send(d, port, '127.0.0.1');
      else if (batch!(fd, run, SIZE, to) !== 'sent') for (const d of run) tx.send(d, port, '127.0.0.1');
      sent += SIZE * RUN;
    }
    await turn();
    while (tx.getSendQueueCount() > 0) await turn();
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6 / (sent / 1e9);
}

const rows: Record<string, number[]> = { dgram: [], segment: [] };
for (let i = 0; i < ROUNDS; i++) for (const mode of ['dgram', 'segment'] as const) rows[mode]!.push(await measure(mode));
for (const [mode, v] of Object.entries(rows)) console.log(`${mode === 'dgram' ? 'node:dgram, one send per datagram' : 'sendmsg() with UDP_SEGMENT, 44 per call'}: ${v.map((x) => x.toFixed(2)).join(' / ')} CPU s per GB (least ${Math.min(...v).toFixed(2)})`);
tx.close();
rx.close();
