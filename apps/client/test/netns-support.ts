/**
 * What the namespace tests share: processes run inside a network namespace, and the two small
 * programs they run there (a hashing sink and an uploader through a port forward).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { stopAll } from './cli-support.js';

/** After a namespace test: the apps stopped, the helpers killed, namespace `ns` deleted (if it was made). */
export async function cleanUpNamespace(children: ChildProcess[], ns: string): Promise<void> {
  await stopAll();
  for (const c of children.splice(0)) c.kill('SIGKILL');
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // not made (skipped) or already gone
  }
}

/** Why the namespace tests cannot run here (not Linux, not root, no iproute2), or null when they can. */
export function netnsSkipReason(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root: cannot make network namespaces';
  const hasTools = ['ip', 'tc'].every((c) => spawnSync(c, ['-V'], { stdio: 'ignore' }).status === 0);
  return hasTools ? null : 'no `ip` or `tc` (iproute2)';
}

/** A process in namespace `ns`, added to `children` (killed at cleanup); resolves its stdout on exit 0. */
export function inNamespace(children: ChildProcess[], ns: string, argv: string[]): { child: ChildProcess; done: Promise<string> } {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<string>((resolve, reject) => child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')} exited ${code}: ${err}`)))));
  done.catch(() => {}); // a helper killed at cleanup is no failure; callers that await it still see the rejection
  return { child, done };
}

/** The sink's program: for each connection, the byte count and SHA-256 of what arrived, sent back. */
export function sinkProgram(host: string, port: number): string {
  return `require('net').createServer((s)=>{const h=require('crypto').createHash('sha256');let n=0;s.on('data',(d)=>{h.update(d);n+=d.length});s.on('end',()=>s.end(n+' '+h.digest('hex')))}).listen(${port},'${host}',()=>console.log('listening'))`;
}

/** The uploader's program: N (its argument) random bytes to 127.0.0.1:forwardPort, then what the sink says it got. */
export function uploadProgram(forwardPort: number): string {
  return `const net=require('net'),c=require('crypto');const N=Number(process.argv[1]);const h=c.createHash('sha256');let sent=0,reply='';const t0=performance.now();const s=net.connect(${forwardPort},'127.0.0.1');const go=()=>{while(sent<N){const b=c.randomBytes(Math.min(65536,N-sent));h.update(b);sent+=b.length;if(!s.write(b)){s.once('drain',go);return}}s.end()};s.on('connect',go);s.setEncoding('utf8').on('data',(d)=>reply+=d);s.on('end',()=>console.log(JSON.stringify({sent,hash:h.digest('hex'),reply,seconds:(performance.now()-t0)/1000})))`;
}
