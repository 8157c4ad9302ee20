/** The torture suite's SSRF check, run whole: it must pass and print its figure. */
import { describe, expect, it } from 'vitest';
import { ssrfCheck } from '../torture/attack-ssrf.js';

describe('torture: ssrf', () => {
  it('no spelling of a loopback or own address passes a broad allow list; the explicit rule does', async () => {
    const r = await ssrfCheck.run({ long: false, seed: 1, log: () => {} });
    console.log(r.lines.join('\n'));
    expect(r.data).toMatchObject({ passedPolicy: 0, reached: 0, controlReached: 1 });
    expect(r.lines[0]).toMatch(/0 passed the policy, 0 reached the target/);
  });
});
