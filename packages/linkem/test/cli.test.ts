import { describe, it, expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linkProfiles } from '@mptun/sim';
import { buildProgram, planFromOptions, runLinkem, type CliPlan } from '../src/cli.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const EMULATOR = fileURLToPath(new URL('../src/emulator.ts', import.meta.url));

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close();
});

/** Run the CLI in this process with a stop signal that fires at once; returns code and output. */
async function runQuick(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runLinkem(argv, { out: (l) => out.push(l), err: (l) => err.push(l), stopped: async () => 'test' });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function plan(argv: string[]): Promise<CliPlan> {
  const program = buildProgram().exitOverride();
  program.parse(argv, { from: 'user' });
  return planFromOptions(program.opts());
}

describe('mptun-linkem command line', () => {
  it('--help explains paths, directions, TCP limits, scripts and the control endpoint', async () => {
    const { code, out } = await runQuick(['--help']);
    expect(code).toBe(0);
    for (const text of ['--udp <[name@]listen=target>', '--tcp', '--config', '--profile', '--up-rate', '--down-delay', '--script', '--reset-on-down', '--control', '--seed']) {
      expect(out).toContain(text);
    }
    expect(out).toMatch(/Loss, burst, reorder, duplicate and mtu make no sense on a byte stream/);
    expect(out).toMatch(/POST \/paths\/NAME\/down/);
    for (const name of Object.keys(linkProfiles)) expect(out).toContain(name);
  });

  it('turns flags into per-direction options, a script and defaults', async () => {
    const p = await plan([
      '--udp', 'wifi@127.0.0.2:7000=127.0.0.1:7000',
      '--udp', '127.0.0.3:7000=127.0.0.1:7000',
      '--profile', 'wifi', '--up-rate', '20mbit', '--down-delay', '30ms', '--loss', '1%',
      '--script', '10s down; 12s up', '--seed', '12',
    ]);
    expect(p.config.paths.map((x) => x.name)).toEqual(['wifi', 'udp-127.0.0.3-7000']);
    const wifi = p.config.paths[0]!;
    expect(wifi.up.rateBps).toBe(20e6);
    expect(wifi.down.rateBps).toBe(linkProfiles.wifi.rateBps);
    expect(wifi.down.delayMs).toBe(30);
    expect(wifi.up.delayMs).toBe(linkProfiles.wifi.delayMs);
    expect(wifi.up.loss).toBe(0.01);
    expect(wifi.script.map((s) => s.state)).toEqual(['down', 'up']);
    expect(p.config.seed).toBe(12);
    expect(p.config.control).toEqual({ host: '127.0.0.1', port: 9470 });
    expect((await plan(['--udp', '127.0.0.2:1=127.0.0.1:2', '--no-control'])).config.control).toBeNull();
    expect((await plan(['--udp', '127.0.0.2:1=127.0.0.1:2', '--control', '9999'])).config.control).toEqual({ host: '127.0.0.1', port: 9999 });
  });

  it('reads a config file and adds command-line paths to it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'linkem-'));
    open.push({ close: () => rm(dir, { recursive: true, force: true }) });
    const file = join(dir, 'paths.json');
    await writeFile(
      file,
      JSON.stringify({
        seed: 1,
        control: '127.0.0.1:9555',
        paths: [{ name: 'lte', listen: '127.0.0.3:7000', target: '127.0.0.1:7000', profile: 'lte', down: { rate: '5mbit' } }],
      }),
    );
    const p = await plan(['--config', file, '--tcp', 'ws@127.0.0.2:8443=127.0.0.1:8443', '--rate', '10mbit', '--seed', '2']);
    expect(p.config.paths.map((x) => [x.name, x.protocol])).toEqual([['lte', 'udp'], ['ws', 'tcp']]);
    expect(p.config.paths[0]!.down.rateBps).toBe(5e6);
    expect(p.config.paths[1]!.up.rateBps).toBe(10e6);
    expect(p.config.seed).toBe(2); // the flag wins
    expect(p.config.control).toEqual({ host: '127.0.0.1', port: 9555 });

    await writeFile(file, JSON.stringify({ paths: [{ name: 'x', listen: '127.0.0.2:1', target: '127.0.0.1:2', delay: 'later' }] }));
    const bad = await runQuick(['--config', file]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`--config ${file}: config.paths[0].delay: expected a duration`);
    await writeFile(file, '{"paths": [');
    expect((await runQuick(['--config', file])).err).toMatch(/not valid JSON/);
    expect((await runQuick(['--config', join(dir, 'missing.json')])).err).toMatch(/missing\.json: cannot read it/);
  });

  it('names the flag at fault and what it expected', async () => {
    const cases: [string[], RegExp][] = [
      [['--udp', '127.0.0.2:1=127.0.0.1:2', '--rate', '20mbps'], /^mptun-linkem: --rate: "20mbps" is ambiguous/],
      [['--udp', '127.0.0.2:1=127.0.0.1:2', '--up-delay', 'soon'], /^mptun-linkem: --up-delay: expected a duration/],
      [['--udp', '127.0.0.2:1=127.0.0.1:2', '--down-loss', '7'], /^mptun-linkem: --down-loss: expected a probability like 1%/],
      [['--udp', '127.0.0.2:1=127.0.0.1:2', '--profile', 'modem'], /^mptun-linkem: --profile: expected one of the profiles wifi, lte, 3g, dsl, satellite/],
      [['--udp', '127.0.0.2:1=127.0.0.1:2', '--burst', 'lots'], /^mptun-linkem: --burst: expected burst loss as enter=1%,exit=30%/],
      [['--udp', '127.0.0.2:1=127.0.0.1:2', '--script', '5s explode'], /^mptun-linkem: --script step 1 \("5s explode"\): expected down, up or KEY=VALUE/],
      [['--udp', '127.0.0.2:1=127.0.0.1:2', '--seed', 'abc'], /^mptun-linkem: --seed: expected a whole number from 0 to 4294967295/],
      [['--udp', '127.0.0.2:1=127.0.0.1:2', '--control', 'everywhere'], /^mptun-linkem: --control: expected HOST:PORT/],
      [['--udp', '127.0.0.2:1'], /^mptun-linkem: --udp: expected \[NAME@\]LISTEN=TARGET/],
      [['--tcp', '127.0.0.2:1=127.0.0.1:2', '--loss', '1%', '--reorder', '1%,5ms'], /^mptun-linkem: --loss, --reorder: does not apply to a TCP path/],
      [['--udp', '127.0.0.2:1=127.0.0.1:2', '--reset-on-down'], /^mptun-linkem: --reset-on-down: applies to --tcp paths/],
      [['--rate', '1mbit'], /link flags .* describe the paths given with --udp \/ --tcp, and there are none/],
      [[], /^mptun-linkem: no paths: give --udp LISTEN=TARGET/],
      [['--udp', 'a@127.0.0.2:1=127.0.0.1:2', '--udp', 'a@127.0.0.3:1=127.0.0.1:2'], /two paths are named "a"/],
    ];
    for (const [argv, want] of cases) {
      const r = await runQuick(argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.err, argv.join(' ')).toMatch(want);
    }
    const unknown = await runQuick(['--udp', '127.0.0.2:1=127.0.0.1:2', '--rat', '1mbit']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/unknown option '--rat'[\s\S]*--rate/);
  });

  it('runs until stopped, printing per-path counters with --stats', async () => {
    const out: string[] = [];
    let seen = (): void => {};
    const twoRounds = new Promise<string>((resolve) => {
      seen = () => {
        if (out.filter((l) => /^u \[up\] up /.test(l)).length >= 2) resolve('test stop');
      };
    });
    const code = await runLinkem(['--udp', 'u@127.0.0.2:0=127.0.0.1:9', '--stats', '100ms', '--control', '127.0.0.1:0', '--seed', '4'], {
      out: (l) => {
        out.push(l);
        seen();
      },
      err: (l) => out.push(`ERR ${l}`),
      stopped: () => twoRounds,
    });
    expect(code).toBe(0);
    expect(out).toContain('seed 4');
    expect(out.find((l) => l.startsWith('u [up] up '))).toMatch(/^u \[up\] up 0 bit\/s \(0\/0 delivered, no drops, queue 0 B\) \| down 0 bit\/s/);
    expect(out.slice(-2)).toEqual(['test stop: closing', 'closed']);
  });

  it('reports a listening address that cannot be opened', async () => {
    const blocker = createSocket('udp4');
    await new Promise<void>((r) => blocker.bind(0, '127.0.0.2', r));
    open.push({ close: () => new Promise<void>((r) => blocker.close(() => r())) });
    const taken = blocker.address().port;
    const r = await runQuick(['--udp', `127.0.0.2:${taken}=127.0.0.1:9`, '--no-control']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`cannot listen on udp 127\\.0\\.0\\.2:${taken}: .*EADDRINUSE`));
  });
});

// ---- In a child process: the real entry point, signals, and nothing left open. ----

interface Child {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buffered = '';
  const waiters: (() => void)[] = [];
  const onText = (text: string): void => {
    buffered += text;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.setEncoding('utf8').on('data', onText);
  proc.stderr!.setEncoding('utf8').on('data', onText);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  open.push({ close: () => (proc.exitCode === null && proc.signalCode === null ? proc.kill('SIGKILL') : undefined) });
  const waitFor = async (re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (const line of lines) {
        const m = re.exec(line);
        if (m !== null) return m;
      }
      if (performance.now() > deadline || proc.exitCode !== null) throw new Error(`no line matching ${re} in:\n${lines.join('\n')}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  return { proc, lines, exited, waitFor };
}

/** Resolves with the exit code, or fails if the child is still running after `ms`. */
async function exitWithin(child: Child, ms: number): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms (a handle left open?):\n${child.lines.join('\n')}`)), ms);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('mptun-linkem process', () => {
  it('relays, answers on the control endpoint, and exits by itself on SIGINT with connections open', async () => {
    const udpServer: Socket = createSocket('udp4');
    await new Promise<void>((r) => udpServer.bind(0, '127.0.0.1', r));
    open.push({ close: () => new Promise<void>((r) => udpServer.close(() => r())) });
    udpServer.on('message', (msg, r) => udpServer.send(msg, r.port, r.address));
    const tcpServer: Server = createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => tcpServer.listen(0, '127.0.0.1', r));
    open.push({ close: () => new Promise<void>((r) => tcpServer.close(() => r())) });
    const tcpPort = (tcpServer.address() as { port: number }).port;

    const child = startChild([
      MAIN,
      '--udp', `u@127.0.0.2:0=127.0.0.1:${udpServer.address().port}`,
      '--tcp', `t@127.0.0.2:0=127.0.0.1:${tcpPort}`,
      '--delay', '5ms', '--control', '127.0.0.1:0', '--seed', '5',
    ]);
    const udpPort = Number((await child.waitFor(/^udp u: 127\.0\.0\.2:(\d+) -> /))[1]);
    const relayTcpPort = Number((await child.waitFor(/^tcp t: 127\.0\.0\.2:(\d+) -> /))[1]);
    const controlUrl = (await child.waitFor(/^control (http:\/\/\S+)\/paths$/))[1]!;
    await child.waitFor(/^seed 5$/);
    await child.waitFor(/^running/);

    // UDP through the relay.
    const client = createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
    open.push({ close: () => new Promise<void>((r) => client.close(() => r())) });
    const echoed = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
    client.send('over udp', udpPort, '127.0.0.2');
    expect(await echoed).toBe('over udp');

    // A TCP connection through the relay, left open on purpose.
    const tcp = connect({ host: '127.0.0.2', port: relayTcpPort });
    open.push({ close: () => tcp.destroy() });
    tcp.on('error', () => {});
    const tcpEcho = new Promise<string>((resolve) => tcp.once('data', (d) => resolve(d.toString())));
    tcp.write('over tcp');
    expect(await tcpEcho).toBe('over tcp');

    // The control endpoint.
    const stats = await new Promise<any>((resolve, reject) => {
      request(`${controlUrl}/paths`, { agent: false }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(JSON.parse(text)));
      })
        .on('error', reject)
        .end();
    });
    expect(stats.seed).toBe(5);
    expect(stats.paths.map((p: { name: string }) => p.name)).toEqual(['u', 't']);
    expect(stats.paths[0].up.options.delayMs).toBe(5);
    expect(stats.paths[1].tcp.connections).toBe(1);

    const tcpClosed = new Promise<void>((r) => tcp.on('close', () => r()));
    child.proc.kill('SIGINT');
    expect(await exitWithin(child, 15_000)).toBe(0);
    expect(child.lines).toContain('closed');
    await tcpClosed; // the relay closed the connection on its way out
  });

  it('close() leaves no handle open: a program that closes the emulator exits by itself', async () => {
    const script = `
      import { createSocket } from 'node:dgram';
      import { createServer, connect } from 'node:net';
      // Watch every timer made through the globals (unref'd ones too, which would not keep
      // the process alive and so would not show as a hang): each must be cleared or done.
      const timers = new Set();
      for (const name of ['setTimeout', 'setInterval']) {
        const original = globalThis[name];
        globalThis[name] = (...args) => { const t = original(...args); timers.add(t); return t; };
      }
      const { startLinkEmulator } = await import(${JSON.stringify(EMULATOR)});
      const udp = createSocket('udp4');
      await new Promise((r) => udp.bind(0, '127.0.0.1', r));
      udp.on('message', (m, r) => udp.send(m, r.port, r.address));
      const tcpServer = createServer((s) => { s.on('error', () => {}); s.pipe(s); });
      await new Promise((r) => tcpServer.listen(0, '127.0.0.1', r));
      const em = await startLinkEmulator({ seed: 1, control: 0, paths: [
        { name: 'u', listen: '127.0.0.2:0', target: '127.0.0.1:' + udp.address().port, delay: '20ms', script: '1min down' },
        { name: 't', protocol: 'tcp', listen: '127.0.0.2:0', target: '127.0.0.1:' + tcpServer.address().port, delay: '20ms' },
      ]});
      const client = createSocket('udp4');
      await new Promise((r) => client.bind(0, '127.0.0.1', r));
      const got = new Promise((r) => client.once('message', r));
      client.send('x', em.paths[0].listen.port, '127.0.0.2');
      await got;
      const tcp = connect({ host: '127.0.0.2', port: em.paths[1].listen.port });
      tcp.on('error', () => {});
      await new Promise((r) => tcp.once('connect', r));
      tcp.write('y'.repeat(100000)); // some of it still inside the links when we close
      await new Promise((r) => setTimeout(r, 5));
      await em.close();
      await em.close(); // twice is fine
      await new Promise((r) => tcp.on('close', r));
      await new Promise((r) => client.close(r));
      await new Promise((r) => udp.close(r));
      await new Promise((r) => tcpServer.close(r));
      // Handles leave the list in the loop's close phase, after their 'close' events.
      await new Promise((r) => setTimeout(r, 50));
      console.log('resources ' + JSON.stringify(process.getActiveResourcesInfo()));
      console.log('timers made ' + timers.size + ', still pending ' + [...timers].filter((t) => !t._destroyed).length);
    `;
    const child = startChild(['--input-type=module', '-e', script]);
    expect(await exitWithin(child, 20_000)).toBe(0);
    const line = (await child.waitFor(/^resources (.*)$/))[1]!;
    const resources = JSON.parse(line) as string[];
    for (const kind of ['UDPWrap', 'TCPWrap', 'TCPServerWrap', 'Timeout']) expect(resources, line).not.toContain(kind);
    const [, made, pending] = (await child.waitFor(/^timers made (\d+), still pending (\d+)$/)).map(Number);
    expect(made).toBeGreaterThan(3); // link, script and sweep timers were watched
    expect(pending).toBe(0);
  });
});
