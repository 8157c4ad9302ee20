/**
 * A section's row label names the sending stack: a scheduler, optionally with a congestion
 * controller after a plus ("minrtt+bbr"), and optionally the transport after an at sign
 * ("minrtt@ws": every path over WebSocket); without them, the apps' defaults (cubic-ld, sealed
 * UDP) apply.
 */
export interface Stack {
  scheduler: string;
  cc?: string;
  transport?: 'udp' | 'ws';
}

export function parseStack(label: string): Stack {
  const [sched, transport] = label.split('@', 2) as [string, string | undefined];
  const [scheduler, cc] = sched.split('+', 2) as [string, string | undefined];
  const stack: Stack = cc ? { scheduler, cc } : { scheduler };
  if (transport === 'ws' || transport === 'udp') stack.transport = transport;
  else if (transport !== undefined) throw new Error(`unknown transport "${transport}" in stack label "${label}"`);
  return stack;
}

/** A section's plan with its stack list replaced by `--stacks`, when given. */
export function withStacks<P extends { schedulers: string[] }>(plan: P, stacks: string[] | undefined): P {
  return stacks ? { ...plan, schedulers: stacks } : plan;
}
