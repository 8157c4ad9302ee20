/**
 * `fuzz-socks`: the client's SOCKS5 parsers (RFC 1928 greeting and request, RFC 1929
 * username/password) and the tunnel header both apps speak (packages/tunnel-common tunnel-header.ts).
 *
 * All five parsers are incremental in the same way: each is called with everything received
 * so far and returns null while it needs more, the message and its length, or throws its
 * typed error (Socks5Error, TunnelHeaderError). So each input is fed whole and also cut into
 * random chunks, the buffer growing chunk by chunk as the SOCKS server and the relay grow it;
 * the answers must agree: the same message at the first prefix that completes it, an error
 * at some prefix exactly when the whole input is refused, null throughout only when the whole
 * input is incomplete. Anything else thrown is a crash.
 */
import { isDeepStrictEqual } from 'node:util';
import { TunnelHeaderError, decodeTunnelReply, decodeTunnelRequest, encodeTunnelReply, encodeTunnelRequest } from '@mptun/tunnel-common';
import type { SeededRandom } from '@mptun/core';
import { Socks5Error, parseCredentials, parseGreeting, parseRequest } from '../../apps/client/src/socks5.js';
import type { TortureCheck } from './types.js';
import { byteInputs, invariant, runFuzzTargets, type ByteSeed, type FuzzCheckOptions, type FuzzTarget } from './fuzz-harness.js';

/** Inputs per target in CI mode. */
export const SOCKS_CI_INPUTS = 30_000;

/** One input: the bytes and where the chunks end (increasing, the last one is the length). */
export interface ChunkedInput {
  bytes: Uint8Array;
  chunkEnds: number[];
}

type Parser = (buf: Uint8Array) => { length: number } | null;

const text = (s: string): number[] => [...new TextEncoder().encode(s)];

/** Chunk boundaries: none (whole), a few random cuts, or byte by byte. */
function chunkEnds(rng: SeededRandom, length: number): number[] {
  const r = rng.next();
  if (r < 0.15 || length === 0) return [length];
  if (r < 0.3) return Array.from({ length }, (_, i) => i + 1);
  const cuts = new Set<number>();
  const n = 1 + rng.int(4);
  for (let k = 0; k < n; k++) cuts.add(1 + rng.int(length));
  cuts.add(length);
  return [...cuts].sort((a, b) => a - b);
}

/**
 * Feeds the growing buffer chunk by chunk and checks it agrees with the whole-input answer.
 * Returns the whole-input answer, or throws the whole-input error (the typed one).
 */
function feedIncrementally(name: string, parse: Parser, isTyped: (e: unknown) => boolean, input: ChunkedInput): unknown {
  const { bytes } = input;
  let whole: { length: number } | null = null;
  let wholeError: unknown = undefined;
  try {
    whole = parse(bytes);
  } catch (err) {
    if (!isTyped(err)) throw err;
    wholeError = err;
  }
  if (whole !== null) invariant(whole.length >= 1 && whole.length <= bytes.length, `${name}: length ${whole.length} of a ${bytes.length}-byte buffer`);

  for (const end of input.chunkEnds) {
    // A copy, as Buffer.concat makes one: a parser must not depend on bytes past the view.
    const prefix = bytes.slice(0, end);
    let got: { length: number } | null;
    try {
      got = parse(prefix);
    } catch (err) {
      if (!isTyped(err)) throw err;
      invariant(wholeError !== undefined, `${name}: a ${end}-byte prefix is refused (${(err as Error).message}) but the whole input is not`);
      throw err;
    }
    if (got !== null) {
      invariant(whole !== null && isDeepStrictEqual(got, whole), `${name}: the ${end}-byte prefix parses differently from the whole input`);
      return got;
    }
  }
  invariant(whole === null && wholeError === undefined, `${name}: the whole input gives an answer that no prefix did`);
  return null;
}

function parserTarget(
  name: string,
  parse: Parser,
  isTyped: (e: unknown) => boolean,
  seeds: ByteSeed[],
  maxRandomLength: number,
  check?: (result: unknown) => void,
): FuzzTarget<ChunkedInput> {
  const draw = byteInputs(seeds, { maxRandomLength });
  return {
    name,
    generate(rng) {
      const { bytes } = draw(rng);
      return { bytes, chunkEnds: chunkEnds(rng, bytes.length) };
    },
    run(input) {
      const result = feedIncrementally(name, parse, isTyped, input);
      check?.(result);
      return result;
    },
    isExpected: isTyped,
    show: (input) => `${Buffer.from(input.bytes).toString('hex')} (${input.bytes.length} bytes) in chunks ending at ${input.chunkEnds.join(',')}`,
    outcome: (r) => (r === null ? 'incomplete' : 'parsed'),
  };
}

/** Socks5Error must carry a real reply code or none (RFC 1928 §6: 0x00..0x08). */
const isSocksError = (e: unknown): boolean => e instanceof Socks5Error && (e.reply === null || (Number.isInteger(e.reply) && e.reply >= 0 && e.reply <= 8));
const isTunnelError = (e: unknown): boolean => e instanceof TunnelHeaderError && e.code === 'ERR_MPTUN_TUNNEL_HEADER';

function greetingSeeds(): ByteSeed[] {
  return [
    { bytes: Uint8Array.of(5, 1, 0), lengthFields: [1] },
    { bytes: Uint8Array.of(5, 2, 0, 2), lengthFields: [1] },
    { bytes: Uint8Array.of(5, 3, 0, 1, 2, 5, 1, 0), lengthFields: [1] }, // with a request behind it
    { bytes: Uint8Array.from([5, 255, ...Array.from({ length: 255 }, (_, i) => i)]), lengthFields: [1] },
  ];
}

function credentialSeeds(): ByteSeed[] {
  const long = 'u'.repeat(255);
  return [
    { bytes: Uint8Array.from([1, 4, ...text('user'), 6, ...text('secret')]), lengthFields: [1, 6] },
    { bytes: Uint8Array.from([1, 255, ...text(long), 1, ...text('p')]), lengthFields: [1, 257] },
    { bytes: Uint8Array.from([1, 6, ...text('jürgen'.slice(0, 5)), 0xc3, 2, ...text('pw')]), lengthFields: [1] },
    { bytes: Uint8Array.of(1, 1, 0x61, 1, 0x62, 5, 1, 0, 1), lengthFields: [1, 3] },
  ];
}

function requestSeeds(): ByteSeed[] {
  const domain = (name: number[]): number[] => [5, 1, 0, 3, name.length, ...name, 0x01, 0xbb];
  return [
    { bytes: Uint8Array.of(5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90), lengthFields: [3] },
    { bytes: Uint8Array.from([5, 1, 0, 4, ...Array.from({ length: 16 }, (_, i) => (i === 15 ? 1 : 0)), 0, 80]), lengthFields: [3] },
    { bytes: Uint8Array.from(domain(text('example.com'))), lengthFields: [3, 4] },
    { bytes: Uint8Array.from(domain(text('bücher.example'))), lengthFields: [3, 4] },
    { bytes: Uint8Array.from(domain(text('a'.repeat(255)))), lengthFields: [3, 4] },
    { bytes: Uint8Array.from([...domain(text('x.y')), 0x47, 0x45, 0x54]), lengthFields: [3, 4] }, // early data
  ];
}

function tunnelRequestSeeds(): ByteSeed[] {
  const targets = [
    { host: '10.1.2.3', port: 443 },
    { host: '2001:db8::1', port: 8443 },
    { host: 'example.com', port: 80 },
    { host: 'ünïcode.example', port: 1 },
    { host: 'h'.repeat(255), port: 65535 },
  ];
  return targets.map((t) => ({ bytes: encodeTunnelRequest(t), lengthFields: [4, 5] }));
}

function tunnelReplySeeds(): ByteSeed[] {
  return [
    { bytes: encodeTunnelReply(0), lengthFields: [2] },
    { bytes: encodeTunnelReply(3, 'connection refused by 10.0.0.1:80'), lengthFields: [2] },
    { bytes: encodeTunnelReply(4, 'é'.repeat(200)), lengthFields: [2] },
    { bytes: Uint8Array.from([...encodeTunnelReply(0), 1, 2, 3]), lengthFields: [2] },
  ];
}

/** A request the relay would act on must name a usable target. */
function checkTunnelRequest(r: unknown): void {
  if (r === null) return;
  const { target } = r as { target: { host: string; port: number } };
  invariant(target.host.length > 0 && Number.isInteger(target.port) && target.port >= 1 && target.port <= 65535, `tunnel target ${JSON.stringify(target)}`);
}

function checkSocksRequest(r: unknown): void {
  if (r === null) return;
  const req = r as { host: string; port: number; command: number };
  invariant(req.command === 1 && req.host.length > 0 && req.port >= 1 && req.port <= 65535, `SOCKS request ${JSON.stringify(req)}`);
}

export function socksTargets(): FuzzTarget<ChunkedInput>[] {
  return [
    parserTarget('socks greeting', parseGreeting, isSocksError, greetingSeeds(), 64),
    parserTarget('socks auth', parseCredentials, isSocksError, credentialSeeds(), 96),
    parserTarget('socks request', parseRequest, isSocksError, requestSeeds(), 96, checkSocksRequest),
    parserTarget('tunnel request', decodeTunnelRequest, isTunnelError, tunnelRequestSeeds(), 96, checkTunnelRequest),
    parserTarget('tunnel reply', decodeTunnelReply, isTunnelError, tunnelReplySeeds(), 96),
  ];
}

export function createFuzzSocksCheck(o: FuzzCheckOptions = {}): TortureCheck {
  return {
    id: 'fuzz-socks',
    title: 'Fuzzing the SOCKS5 parsers and the tunnel header, whole and in chunks',
    run: (opts) => runFuzzTargets('fuzz-socks', socksTargets(), opts, o.inputs ?? (opts.long ? undefined : SOCKS_CI_INPUTS)),
  };
}

export const fuzzSocksCheck = createFuzzSocksCheck();
