/**
 * The server half of the tunnel benchmark, in its own process (forked by tunnel.ts): an
 * MptcpServer that discards (sink) or echoes what it receives, plus raw dgram and net
 * sinks for the reference figures. Talks to its parent over IPC.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { loadCrypto, keypairFromPrivateKey, decodeKey } from '@mptun/session';
import { MptcpServer, type MptcpSocket, type TransportKind } from '@mptun/node';

const args = JSON.parse(process.argv[2]!) as { serverKey: string; clientPub: string; tls?: { cert: string; key: string } };
const crypto = await loadCrypto();
const keypair = keypairFromPrivateKey(crypto, decodeKey(args.serverKey));
let received = 0;
let mode: 'sink' | 'echo' = 'sink';

const kinds: TransportKind[] = ['udp', 'udp-plain', 'ws', 'wss'];
const server = new MptcpServer({
  listen: kinds.map((transport) => ({ transport, host: '127.0.0.1', port: 0, ...(transport === 'wss' ? { tls: args.tls! } : {}) })),
  keypair,
  authorizedKeys: [args.clientPub],
  crypto,
});
server.on('connection', (s: MptcpSocket) => {
  s.on('error', () => {});
  if (mode === 'echo') s.pipe(s);
  else s.on('data', (d: Buffer) => (received += d.length));
});
const bound = await server.listen();

const udp = dgram.createSocket('udp4');
udp.on('message', (m) => (received += m.length));
await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
const tcp = net.createServer((c) => c.on('data', (d) => (received += d.length)));
await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));

process.on('message', (msg: { cmd: string; mode?: 'sink' | 'echo' }) => {
  if (msg.cmd === 'reset') {
    received = 0;
    if (msg.mode) mode = msg.mode;
    process.send!({ cmd: 'reset' });
  } else if (msg.cmd === 'count') {
    process.send!({ cmd: 'count', received });
  } else if (msg.cmd === 'memory') {
    global.gc?.();
    const m = process.memoryUsage();
    process.send!({ cmd: 'memory', heap: m.heapUsed + m.external + m.arrayBuffers, rss: m.rss, connections: server.connectionCount });
  } else if (msg.cmd === 'close') {
    void server.close().then(() => {
      udp.close();
      tcp.close();
      process.exit(0);
    });
  }
});
process.send!({
  cmd: 'ready',
  ports: Object.fromEntries(bound.map((b) => [b.transport, b.port])),
  udpPort: (udp.address() as { port: number }).port,
  tcpPort: (tcp.address() as { port: number }).port,
});
