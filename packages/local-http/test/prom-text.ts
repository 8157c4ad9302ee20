/**
 * A parser of the Prometheus text exposition format (version 0.0.4) for tests: families with
 * their HELP and TYPE, samples with labels. It throws on any line that does not parse, on a
 * sample of a family without a TYPE, and on a family declared twice.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''], counter: [''], gauge: [''], untyped: [''] };

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new Error(`bad labels: {${text}}`);
    labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    at = re.lastIndex;
  }
  return labels;
}

/** As Go's strconv.ParseFloat, which Prometheus uses: Inf and NaN in any letter case. */
function parseValue(v: string): number {
  if (/^\+?inf$/i.test(v)) return Infinity;
  if (/^-inf$/i.test(v)) return -Infinity;
  if (/^nan$/i.test(v)) return NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`bad sample value ${v}`);
  return n;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: '', help: '', samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name!)) throw new Error(`bad metric name ${name}`);
      const f = family(name!);
      if (kind === 'TYPE') {
        if (f.type) throw new Error(`TYPE of ${name} given twice`);
        if (!(rest! in SUFFIXES)) throw new Error(`unknown type ${rest} for ${name}`);
        f.type = rest!;
      } else f.help = rest!;
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const sampleName = m[1]!;
    const owner = [...families.values()].find((f) => (SUFFIXES[f.type] ?? ['']).some((s) => f.name + s === sampleName));
    if (!owner || !owner.type) throw new Error(`sample ${sampleName} has no TYPE line before it`);
    owner.samples.push({ name: sampleName, labels: parseLabels(m[2] ?? ''), value: parseValue(m[3]!) });
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; throws if none or several. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const all = [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (all.length !== 1) throw new Error(`${all.length} samples of ${name}${JSON.stringify(labels)}`);
  return all[0]!.value;
}
