/**
 * `node --import tsx tools/bench/profile/profile-summary.ts FILE.cpuprofile [top] [--stacks NAME]`:
 * where a V8 CPU profile's time went, by self time per function (name, file), and by
 * inclusive time (the function and what it called); idle, GC and (program) show as V8 names
 * them. With --stacks NAME: the heaviest call stacks that end in a function called NAME.
 * What the "profile top N" lines of docs/benchmarks.md come from.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const stacksAt = args.indexOf('--stacks');
const stacksOf = stacksAt >= 0 ? args.splice(stacksAt, 2)[1] : undefined;
const [file, topArg, ...extra] = args;
const top = Number(topArg ?? 25);
// `profile-summary.ts FILE | head` closes the pipe early: stop quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(0);
});
// A second file (node writes one per thread; tsx adds its loader's) would be read as `top`.
if (!file || extra.length > 0 || !Number.isInteger(top) || top < 1) {
  console.error('usage: profile-summary.ts FILE.cpuprofile [top] [--stacks NAME]  (one profile at a time; top: a whole number, 25 when not given)');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n: ProfileNode): string => {
  const { functionName, url } = n.callFrame;
  const where = url ? url.replace(/^.*\/(packages|apps|node_modules|tools)\//, '$1/') : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const stacks = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]!)!;
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  self.set(label(node), (self.get(label(node)) ?? 0) + dt);
  const seen = new Set<string>();
  const chain: string[] = [];
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const l = label(byId.get(id)!);
    chain.push(l);
    if (!seen.has(l)) inclusive.set(l, (inclusive.get(l) ?? 0) + dt);
    seen.add(l);
  }
  if (stacksOf && node.callFrame.functionName === stacksOf) {
    const key = chain.slice(0, 8).join(' < ');
    stacks.set(key, (stacks.get(key) ?? 0) + dt);
  }
}
const pct = (us: number): string => ((100 * us) / total).toFixed(1).padStart(5);
const list = (m: Map<string, number>, n: number): void => {
  for (const [key, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(us)}%  ${key}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled\n-- self time`);
list(self, top);
console.log('-- inclusive time');
list(inclusive, top);
if (stacksOf) {
  console.log(`-- stacks ending in ${stacksOf}`);
  list(stacks, 10);
}
