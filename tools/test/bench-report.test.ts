import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { main, parseArgs, reproduceCommand, runSuite, usage, UsageError } from '../bench/suite/main.js';
import { formatNumber, machineInfo, renderTable, writeReport, type RunMeta, type SectionRecord } from '../bench/suite/report.js';
import { escapeXml, logTicks, niceTicks, renderSvg, wantsLogAxis } from '../bench/suite/svg.js';
import type { Plot, Section } from '../bench/suite/types.js';

/**
 * A strict, small XML checker written without regular expressions: every tag closes in order,
 * attribute values are double-quoted, `<` never appears raw in text or values, and every `&`
 * starts one of the five named entities or a numeric one. Returns the problem, or null.
 */
function xmlProblem(doc: string): string | null {
  const stack: string[] = [];
  const isNameChar = (c: string): boolean =>
    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c === '-' || c === ':' || c === '_' || c === '.';
  const entityEnd = (at: number): number => {
    const end = doc.indexOf(';', at);
    if (end < 0 || end - at > 8) return -1;
    const name = doc.slice(at + 1, end);
    if (['amp', 'lt', 'gt', 'quot', 'apos'].includes(name)) return end;
    if (name.length > 1 && name[0] === '#' && [...name.slice(1)].every((c) => c >= '0' && c <= '9')) return end;
    return -1;
  };
  let i = 0;
  let roots = 0;
  if (doc.startsWith('<?xml')) {
    i = doc.indexOf('?>');
    if (i < 0) return 'unterminated XML declaration';
    i += 2;
  }
  while (i < doc.length) {
    const c = doc[i]!;
    if (c === '&') {
      const end = entityEnd(i);
      if (end < 0) return `bad entity at ${i}`;
      i = end + 1;
      continue;
    }
    if (c === '>') return `raw ">" in text at ${i}`;
    if (c !== '<') {
      if (stack.length === 0 && c !== '\n' && c !== ' ') return `text outside the root at ${i}`;
      i++;
      continue;
    }
    const closing = doc[i + 1] === '/';
    let j = i + (closing ? 2 : 1);
    const nameStart = j;
    while (j < doc.length && isNameChar(doc[j]!)) j++;
    const name = doc.slice(nameStart, j);
    if (name === '') return `tag without a name at ${i}`;
    if (closing) {
      if (doc[j] !== '>') return `bad closing tag </${name} at ${i}`;
      if (stack.pop() !== name) return `</${name}> closes the wrong element at ${i}`;
      i = j + 1;
      continue;
    }
    // Attributes: name="value", separated by spaces.
    for (;;) {
      while (doc[j] === ' ' || doc[j] === '\n') j++;
      if (doc[j] === '/' && doc[j + 1] === '>') {
        j += 2;
        break;
      }
      if (doc[j] === '>') {
        stack.push(name);
        if (stack.length === 1) roots++;
        j += 1;
        break;
      }
      const attrStart = j;
      while (j < doc.length && isNameChar(doc[j]!)) j++;
      if (j === attrStart) return `bad attribute in <${name}> at ${j}`;
      if (doc[j] !== '=' || doc[j + 1] !== '"') return `unquoted attribute in <${name}> at ${j}`;
      j += 2;
      while (j < doc.length && doc[j] !== '"') {
        if (doc[j] === '<') return `raw "<" in an attribute of <${name}> at ${j}`;
        if (doc[j] === '&') {
          const end = entityEnd(j);
          if (end < 0) return `bad entity in an attribute of <${name}> at ${j}`;
          j = end;
        }
        j++;
      }
      if (j >= doc.length) return `unterminated attribute in <${name}>`;
      j++;
    }
    i = j;
  }
  if (stack.length > 0) return `unclosed <${stack[stack.length - 1]}>`;
  if (roots !== 1) return `${roots} root elements`;
  return null;
}

function expectCleanSvg(svg: string): void {
  expect(xmlProblem(svg)).toBeNull();
  expect(svg.startsWith('<?xml')).toBe(true);
  for (const bad of ['NaN', 'undefined', 'Infinity', 'null']) expect(svg).not.toContain(bad);
}

const NASTY = `a<b & "c" 'd'>`;

const linePlot: Plot = {
  kind: 'line',
  file: 'paths',
  title: `Per-path throughput ${NASTY}`,
  xLabel: 'time (s)',
  yLabel: 'Mbit/s',
  series: [
    { name: `wifi ${NASTY}`, points: [[0, 10], [1, 40], [2, 45], [3, 0], [4, 44]] },
    { name: 'lte', points: [[0, 5], [1, 18], [2, 19], [3, 20], [4, 19]] },
  ],
  markers: [{ x: 2.5, label: `wifi cut ${NASTY}` }],
};

const barPlot: Plot = {
  kind: 'bar',
  file: 'goodput',
  title: 'Goodput per scheduler',
  xLabel: 'scheduler',
  yLabel: 'Mbit/s',
  categories: ['minrtt', `blest ${NASTY}`, 'redundant'],
  series: [
    { name: 'download', values: [60, 55, 48] },
    { name: 'upload', values: [58, 50, 47] },
  ],
  references: [{ y: 70, label: `sum of capacities ${NASTY}` }],
};

const cdfPlot: Plot = {
  kind: 'cdf',
  file: 'latency',
  title: 'Request latency',
  xLabel: 'ms',
  yLabel: 'fraction',
  series: [
    { name: 'minrtt', samples: [21, 22, 25, 30, 31, 40, 95] },
    { name: 'blest', samples: [20, 24, 26, 28, 50] },
  ],
};

describe('svg', () => {
  it('renders every plot kind as well-formed SVG with its text escaped', () => {
    for (const plot of [linePlot, barPlot, cdfPlot]) {
      const svg = renderSvg(plot);
      expectCleanSvg(svg);
      expect(svg).toContain(escapeXml(plot.title));
      expect(svg).not.toContain(NASTY);
    }
    expect(renderSvg(linePlot)).toContain('wifi cut a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;');
    expect(renderSvg(barPlot)).toContain('stroke-dasharray'); // the reference line
    expect(renderSvg(linePlot)).toContain('stroke-dasharray'); // the marker line
  });

  it('the checker itself rejects broken documents', () => {
    expect(xmlProblem('<svg><g></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><text>a < b</text></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><text>a & b</text></svg>')).not.toBeNull();
    expect(xmlProblem('<svg x=1/>')).not.toBeNull();
    expect(xmlProblem('<svg x="a"b"/>')).not.toBeNull();
    expect(xmlProblem('<svg/><svg/>')).not.toBeNull();
    expect(xmlProblem('<svg><text x="1">a &amp; b</text></svg>')).toBeNull();
  });

  it('handles empty series, single points, all-zero and non-finite values without NaN', () => {
    const base = { file: 'x', title: 't', xLabel: 'x', yLabel: 'y' };
    const plots: Plot[] = [
      { ...base, kind: 'line', series: [] },
      { ...base, kind: 'line', series: [{ name: 'empty', points: [] }] },
      { ...base, kind: 'line', series: [{ name: 'one', points: [[3, 7]] }] },
      { ...base, kind: 'line', series: [{ name: 'zero', points: [[0, 0], [0, 0]] }], markers: [{ x: 0, label: 'm' }] },
      { ...base, kind: 'line', series: [{ name: 'bad', points: [[NaN, 1], [1, Infinity], [2, 3]] }] },
      { ...base, kind: 'bar', categories: [], series: [] },
      { ...base, kind: 'bar', categories: ['a'], series: [{ name: 's', values: [0] }] },
      { ...base, kind: 'bar', categories: ['a', 'b'], series: [{ name: 's', values: [NaN, -4] }] },
      { ...base, kind: 'cdf', series: [] },
      { ...base, kind: 'cdf', series: [{ name: 'none', samples: [] }, { name: 'one', samples: [5] }] },
      { ...base, kind: 'cdf', series: [{ name: 'same', samples: [0, 0, 0, NaN] }] },
    ];
    for (const plot of plots) expectCleanSvg(renderSvg(plot));
  });

  it('gives the same bytes for the same plot', () => {
    expect(renderSvg(cdfPlot)).toBe(renderSvg(structuredClone(cdfPlot)));
    expect(renderSvg(linePlot)).toBe(renderSvg(linePlot));
  });

  it('keeps a CDF of many samples small', () => {
    const samples = Array.from({ length: 100_000 }, (_, i) => 1 + ((i * 7919) % 1000));
    const svg = renderSvg({ kind: 'cdf', file: 'big', title: 'big', xLabel: 'ms', yLabel: 'fraction', series: [{ name: 's', samples }] });
    expectCleanSvg(svg);
    expect(svg.length).toBeLessThan(60_000);
  });

  it('chooses a log x axis for CDFs that span more than 50×', () => {
    expect(wantsLogAxis(1, 40)).toBe(false);
    expect(wantsLogAxis(1, 50)).toBe(false);
    expect(wantsLogAxis(1, 51)).toBe(true);
    expect(wantsLogAxis(0, 1000)).toBe(false);
    expect(wantsLogAxis(-1, 1000)).toBe(false);
    const wide: Plot = { ...cdfPlot, series: [{ name: 's', samples: [0.5, 2, 30, 400, 5000] }] };
    expect(renderSvg(wide)).toContain('(log scale)');
    expect(renderSvg(cdfPlot)).not.toContain('(log scale)');
  });
});

describe('ticks', () => {
  it('steps by 1, 2 or 5 × 10^k and encloses the range', () => {
    expect(niceTicks(0, 47)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.1, 0.3)).toEqual([0.1, 0.15, 0.2, 0.25, 0.3]);
    expect(niceTicks(-3, 7)).toEqual([-4, -2, 0, 2, 4, 6, 8]);
    expect(niceTicks(0, 0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(12e6, 61e6)).toEqual([10e6, 20e6, 30e6, 40e6, 50e6, 60e6, 70e6]);
  });

  it('holds for any range (property)', () => {
    const seed = process.env.MPTUN_SEED ? Number(process.env.MPTUN_SEED) : 0x71c5;
    console.log(`niceTicks property seed ${seed}`);
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.double({ min: -1e9, max: 1e9, noNaN: true }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const ticks = niceTicks(lo, hi);
        expect(ticks.length).toBeGreaterThanOrEqual(2);
        expect(ticks.length).toBeLessThanOrEqual(12);
        const step = ticks[1]! - ticks[0]!;
        // Enclosed, up to a rounding allowance far below a pixel.
        expect(ticks[0]!).toBeLessThanOrEqual(lo + step * 1e-6);
        expect(ticks[ticks.length - 1]!).toBeGreaterThanOrEqual(hi - step * 1e-6);
        const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
        expect([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-6)).toBe(true);
        for (let k = 1; k < ticks.length; k++) expect(ticks[k]! - ticks[k - 1]!).toBeCloseTo(step, 6);
      }),
      { seed, numRuns: 1000 },
    );
  });

  it('puts log ticks on decades, with 2 and 5 between them over few decades', () => {
    expect(logTicks(2, 300)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    expect(logTicks(0.3, 4000)).toEqual([0.1, 1, 10, 100, 1000, 10000]);
    expect(logTicks(10, 100)).toEqual([10, 20, 50, 100]);
  });
});

describe('markdown tables', () => {
  it('formats numbers sensibly', () => {
    expect(formatNumber(42)).toBe('42');
    expect(formatNumber(123456789)).toBe('123456789');
    expect(formatNumber(12.3456)).toBe('12.3');
    expect(formatNumber(1.23456)).toBe('1.23');
    expect(formatNumber(0.00123456)).toBe('0.00123');
    expect(formatNumber(1234.56)).toBe('1235');
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(NaN)).toBe('n/a');
    expect(formatNumber(Infinity)).toBe('inf');
    expect(formatNumber(-0)).toBe('0');
  });

  it('renders title, header, right-aligned numeric columns, escaped cells and notes', () => {
    const md = renderTable({
      title: 'Aggregation',
      columns: ['scheduler', 'Mbit/s', 'of sum'],
      rows: [
        ['minrtt', 61.234, '87%'],
        ['a|b\nc', 7, '10%'],
      ],
      notes: ['sum = 70 Mbit/s'],
    });
    expect(md).toBe(
      [
        '**Aggregation**',
        '',
        '| scheduler | Mbit/s | of sum |',
        '|---|---:|---|',
        '| minrtt | 61.2 | 87% |',
        '| a\\|b c | 7 | 10% |',
        '',
        '- sum = 70 Mbit/s',
      ].join('\n'),
    );
  });

  it('pads short rows to the header', () => {
    const md = renderTable({ title: 't', columns: ['a', 'b'], rows: [[1]] });
    expect(md.split('\n')).toContain('| 1 |  |');
  });
});

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mptun-bench-report-'));
  tempDirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of tempDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('report files', () => {
  it('writes report.md, results.json and one SVG per plot', async () => {
    const dir = await tempDir();
    const meta: RunMeta = { date: '2025-01-02T03:04:05.000Z', seed: 77, mode: 'quick', machine: machineInfo(), command: 'pnpm bench --quick --seed 77' };
    const records: SectionRecord[] = [
      {
        id: 'agg',
        title: '1. Aggregation',
        seconds: 12.34,
        result: {
          tables: [{ title: 'Goodput', columns: ['x', 'y'], rows: [['a', 1.5]] }],
          plots: [barPlot, { ...linePlot, file: 'goodput' }, { ...cdfPlot, file: '../escape' }],
          data: { bps: 123n, list: [1, 2] },
        },
      },
      { id: 'kernel', title: '7. Kernel MPTCP', seconds: 0.01, result: { tables: [], plots: [], data: null, skipped: 'not root' } },
      { id: 'boom', title: '8. Boom', seconds: 0.2, result: null, error: 'Error: it broke' },
    ];
    const files = await writeReport(dir, meta, records);
    expect((await readdir(dir)).sort()).toEqual(['escape.svg', 'goodput-2.svg', 'goodput.svg', 'report.md', 'results.json']);
    expect(files.svgs).toHaveLength(3);
    for (const svg of files.svgs) expectCleanSvg(await readFile(svg, 'utf8'));

    const md = await readFile(files.report, 'utf8');
    expect(md).toContain('# mptun benchmark report');
    expect(md).toContain('- Seed: 77');
    expect(md).toContain('- Mode: quick');
    expect(md).toContain('`pnpm bench --quick --seed 77`');
    expect(md).toContain('## 1. Aggregation');
    expect(md).toContain('![Goodput per scheduler](goodput.svg)');
    expect(md).toContain('![Request latency](escape.svg)');
    expect(md).toContain('_Skipped: not root_');
    expect(md).toContain('**Failed** (seed 77)');
    expect(md).toContain('Error: it broke');
    expect(md).toContain('Wall time: 12.3 s');

    const json = JSON.parse(await readFile(files.json, 'utf8')) as {
      meta: RunMeta;
      sections: Array<{ id: string; seconds: number; skipped?: string; error?: string; data: unknown; tables: unknown[]; plots: Array<{ file: string }> }>;
    };
    expect(json.meta.seed).toBe(77);
    expect(json.sections.map((s) => s.id)).toEqual(['agg', 'kernel', 'boom']);
    expect(json.sections[0]!.data).toEqual({ bps: '123', list: [1, 2] });
    expect(json.sections[0]!.plots.map((p) => p.file)).toEqual(['goodput.svg', 'goodput-2.svg', 'escape.svg']);
    expect(json.sections[1]!.skipped).toBe('not root');
    expect(json.sections[2]!.error).toBe('Error: it broke');
    expect(json.sections[2]!.data).toBeNull();
  });
});

// A demo section set for the runner; not in the real registry.
const demo = (id: string, run: Section['run']): Section => ({ id, title: `Demo ${id}`, run });
const demoSections: Section[] = [
  demo('ok', async (opts) => {
    opts.log(`running with seed ${opts.seed}`);
    return { tables: [{ title: 'Demo table', columns: ['k', 'v'], rows: [['quick', String(opts.quick)]] }], plots: [{ ...barPlot, file: 'demo' }], data: { n: 1 } };
  }),
  demo('skip', async () => ({ tables: [], plots: [], data: null, skipped: 'needs root' })),
  demo('throw', async () => {
    throw new Error('demo failure');
  }),
];

describe('argument parsing', () => {
  const now = new Date(2025, 0, 2, 3, 4, 5);

  it('reads every flag', () => {
    expect(parseArgs(['--quick', '--only', 'skip,ok', '--out', 'here', '--seed', '42'], demoSections, {}, now)).toEqual({
      help: false,
      quick: true,
      only: ['skip', 'ok'],
      out: 'here',
      seed: 42,
      stacks: null,
    });
    expect(parseArgs(['--stacks', 'minrtt+cubic,minrtt+bbr', '--stacks=ecf@ws', '--seed', '1'], demoSections, {}, now).stacks).toEqual(['minrtt+cubic', 'minrtt+bbr', 'ecf@ws']);
    expect(parseArgs(['--only=ok', '--only', 'ok,skip', '--out=x', '--seed=0'], demoSections, {}, now)).toMatchObject({ only: ['ok', 'skip'], out: 'x', seed: 0 });
  });

  it('defaults: full mode, all sections, a dated results folder, a seed from MPTUN_SEED or chance', () => {
    const opts = parseArgs([], demoSections, {}, now);
    expect(opts).toMatchObject({ help: false, quick: false, only: null, out: join('results', 'bench-20250102-030405') });
    expect(Number.isInteger(opts.seed) && opts.seed >= 0 && opts.seed <= 0xffffffff).toBe(true);
    expect(parseArgs([], demoSections, { MPTUN_SEED: '9' }, now).seed).toBe(9);
    expect(parseArgs(['--seed', '3'], demoSections, { MPTUN_SEED: '9' }, now).seed).toBe(3);
  });

  it('rejects unknown flags, unknown ids and bad values with a clear message', () => {
    const error = (argv: string[], env: Record<string, string> = {}): string => {
      try {
        parseArgs(argv, demoSections, env, now);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(error(['--fast'])).toBe('unknown argument "--fast" (see --help)');
    expect(error(['quick'])).toBe('unknown argument "quick" (see --help)');
    expect(error(['--only', 'ok,nope,nada'])).toBe('unknown section ids "nope", "nada"; known: ok, skip, throw');
    expect(error(['--only'])).toBe('--only needs a value');
    expect(error(['--only', ','])).toBe('--only needs at least one section id');
    expect(error(['--out', '--quick'])).toBe('--out needs a value');
    expect(error(['--seed', '-1'])).toContain('--seed must be an integer from 0 to 4294967295');
    expect(error(['--seed', '4294967296'])).toContain('--seed must be an integer');
    expect(error(['--seed', '1.5'])).toContain('--seed must be an integer');
    expect(error(['--quick=yes'])).toBe('--quick takes no value');
    expect(error([], { MPTUN_SEED: 'abc' })).toContain('MPTUN_SEED must be an integer');
    expect(error(['--stacks', ','])).toBe('--stacks needs at least one stack label');
    expect(error(['--stacks', 'minrtt+vegas'])).toBe('--stacks: unknown congestion controller "vegas" in "minrtt+vegas"');
    expect(error(['--stacks', 'minrtt@tcp'])).toContain('--stacks: unknown transport "tcp"');
  });

  it('main exits with 2 on bad arguments, before running anything', async () => {
    expect(await main(['--no-such-flag'])).toBe(2);
    expect(await main(['--only', 'no-such-section'])).toBe(2);
  });

  it('help lists every flag and section', () => {
    const text = usage(demoSections);
    for (const word of ['--quick', '--only', '--stacks', '--out', '--seed', '--help', 'MPTUN_SEED', 'ok', 'Demo skip']) expect(text).toContain(word);
    expect(parseArgs(['--help'], demoSections, {}, now).help).toBe(true);
  });

  it('builds the reproducing command', () => {
    expect(reproduceCommand({ quick: true, only: ['a', 'b'], seed: 5 })).toBe('pnpm bench --quick --only a,b --seed 5');
    expect(reproduceCommand({ quick: false, only: null, seed: 0 })).toBe('pnpm bench --seed 0');
    expect(reproduceCommand({ quick: true, only: ['latency'], seed: 2, stacks: ['minrtt+cubic', 'minrtt+bbr'] })).toBe(
      'pnpm bench --quick --only latency --stacks minrtt+cubic,minrtt+bbr --seed 2',
    );
  });
});

describe('runSuite', () => {
  it('runs every section, reports skips and failures with the seed, and exits 1 on a failure', async () => {
    const out = await tempDir();
    const lines: string[] = [];
    const { records, exitCode } = await runSuite({ sections: demoSections, quick: true, seed: 1234, out, command: 'pnpm bench --quick --seed 1234', print: (t) => lines.push(t) });
    const text = lines.join('\n');
    expect(exitCode).toBe(1);
    expect(records.map((r) => r.id)).toEqual(['ok', 'skip', 'throw']);
    expect(text).toContain('seed 1234');
    expect(text).toContain('[ok] running with seed 1234');
    expect(text).toContain('| quick | true |');
    expect(text).toContain('_Skipped: needs root_');
    expect(text).toContain('throw failed (seed 1234)');
    expect(text).toContain('demo failure');
    expect(text).toContain('1 ok, 1 skipped, 1 failed');
    expect((await readdir(out)).sort()).toEqual(['demo.svg', 'report.md', 'results.json']);
  });

  it('hands --stacks to the sections, and nothing when it was not given', async () => {
    const out = await tempDir();
    const seen: Array<string[] | undefined> = [];
    const probe = demo('probe', async (opts) => {
      seen.push(opts.stacks);
      return { tables: [], plots: [], data: null };
    });
    const quiet = (): void => {};
    await runSuite({ sections: [probe], quick: true, seed: 1, out, command: 'c', print: quiet, stacks: ['minrtt+bbr'] });
    await runSuite({ sections: [probe], quick: true, seed: 1, out, command: 'c', print: quiet });
    expect(seen).toEqual([['minrtt+bbr'], undefined]);
  });

  it('exits 0 when sections only run or skip, and 130 after an interrupt without starting more', async () => {
    const out = await tempDir();
    const quiet = (): void => {};
    const ok = await runSuite({ sections: demoSections.slice(0, 2), quick: false, seed: 1, out, command: 'c', print: quiet });
    expect(ok.exitCode).toBe(0);
    let ran = 0;
    let interrupted = false;
    const counting = [1, 2, 3].map((n) =>
      demo(`s${n}`, async () => {
        ran++;
        interrupted = true; // as if Ctrl-C came while the first section ran
        return { tables: [], plots: [], data: null };
      }),
    );
    const stopped = await runSuite({ sections: counting, quick: true, seed: 1, out, command: 'c', print: quiet, interrupted: () => interrupted });
    expect(stopped.exitCode).toBe(130);
    expect(ran).toBe(1);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain('- Interrupted:');
  });

  it('treats a section that returns no result as failed', async () => {
    const out = await tempDir();
    const bad = demo('bad', async () => undefined as never);
    const { records, exitCode } = await runSuite({ sections: [bad], quick: true, seed: 1, out, command: 'c', print: () => {} });
    expect(exitCode).toBe(1);
    expect(records[0]!.error).toContain('returned no');
  });
});
