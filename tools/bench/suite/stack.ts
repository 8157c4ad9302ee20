/**
 * A section's row label names the sending stack: a scheduler, optionally with a congestion
 * controller after a plus ("minrtt+bbr"); without one, the apps' default (cubic) applies.
 */
export interface Stack {
  scheduler: string;
  cc?: string;
}

export function parseStack(label: string): Stack {
  const [scheduler, cc] = label.split('+', 2) as [string, string | undefined];
  return cc ? { scheduler, cc } : { scheduler };
}
