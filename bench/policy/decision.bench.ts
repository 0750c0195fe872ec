/**
 * A policy decision as the policy stage takes it for every tagged answer: the client's
 * group by longest CIDR prefix, then the verdict for the app (rules, exemptions, mode).
 */
import { loadConfig } from '../../src/config/load.js';
import { Policy } from '../../src/policy/policy.js';
import { loadDetection } from '../../src/tagging/detection.js';
import { runSuite } from '../support/suite.js';

const config = loadConfig({
  text: `
mode: enforce
policy:
  groups:
${Array.from({ length: 200 }, (_, i) => `    - { name: g${i}, organisation: org ${i}, cidrs: ["10.${64 + (i >> 4)}.${(i & 15) * 16}.0/20"] }`).join('\n')}
    - { name: fiod, organisation: FIOD, cidrs: ["10.99.0.0/16"] }
  exemptions:
    - { id: EX-1, group: fiod, apps: [tiktok], legal_basis: investigation, reason: case work, approved_by: CIO Rijk, expires: 2099-12-31 }
`,
  overrides: { upstream: ['127.0.0.1:1'] },
});
const detection = loadDetection(config);
const policy = Policy.compile(config, detection.catalogue, detection.watchlist);
const tiktok = detection.catalogue.apps.find((app) => app.id === 'tiktok')!;
const clients = Array.from({ length: 256 }, (_, i) => (i % 16 === 0 ? `10.99.1.${i}` : `10.${64 + (i % 12)}.${i}.7`));

let i = 0;
let blocked = 0;
const now = Date.now();
await runSuite('policy-decision', {
  'group of client (201 CIDR groups) + verdict for TikTok': () => {
    const group = policy.groups.groupOf(clients[i++ & 255]!);
    if (policy.decide(group, tiktok, false, now).action === 'block') blocked++;
  },
  'verdict only (group known)': () => {
    if (policy.decide(null, tiktok, false, now).action === 'block') blocked++;
  },
});
if (blocked === 0) throw new Error('nothing was blocked');
